"""What a template reads, resolved statically to absolute paths; and the checks that need
the same walk (data variables outside `{{#each}}`, `../` above the top).

The walk follows handlebars.js's context stack: `{{#with x}}` and each `{{#each}}` element
push a context, `{{#if}}`/`{{#unless}}` and every `{{else}}` keep the current one, and a block
whose argument is the current context itself (`{{#with this}}`) pushes nothing.
"""

from __future__ import annotations

from templates_lib.handlebars.errors import TemplateSyntaxError
from templates_lib.handlebars.nodes import Block, Mustache, PathExpr, Program, VariableRef


def check(program: Program) -> None:
    """Raise TemplateSyntaxError for a reference that cannot resolve."""
    _Walker().program(program, ("",), in_each=False)


def references(program: Program) -> list[VariableRef]:
    walker = _Walker()
    walker.program(program, ("",), in_each=False)
    return walker.refs


def _join(base: str, parts: tuple[str, ...]) -> str:
    return ".".join((base, *parts)) if base else ".".join(parts)


class _Walker:
    def __init__(self):
        self.refs: list[VariableRef] = []

    def resolve(
        self, path: PathExpr, stack: tuple[str, ...], in_each: bool, as_block: bool
    ) -> str | None:
        """The absolute path `path` reads (None for @index and friends), recorded."""
        if path.data:
            name = path.parts[0]
            if name != "root":
                if not in_each:
                    raise TemplateSyntaxError(
                        f"@{name} is only available inside {{{{#each}}}}", path.line, path.column
                    )
                return None
            absolute = _join("", path.parts[1:])
        else:
            if path.depth >= len(stack):
                raise TemplateSyntaxError(
                    f"'{path.original}' goes above the top-level context "
                    "({{#if}} and {{#unless}} do not open a new context)",
                    path.line,
                    path.column,
                )
            absolute = _join(stack[-1 - path.depth], path.parts)
        self.refs.append(VariableRef(absolute, path.line, path.column, as_block))
        return absolute

    def program(self, program: Program, stack: tuple[str, ...], in_each: bool) -> None:
        for node in program.body:
            if isinstance(node, Mustache):
                self.resolve(node.path, stack, in_each, as_block=False)
            elif isinstance(node, Block):
                self.block(node, stack, in_each)

    def block(self, block: Block, stack: tuple[str, ...], in_each: bool) -> None:
        target = self.resolve(block.param, stack, in_each, as_block=True)
        inner, inner_each = stack, in_each
        if block.helper == "each":
            inner, inner_each = (*stack, f"{target}[]"), True
        elif block.helper == "with" and target is not None and target != stack[-1]:
            inner = (*stack, target)
        self.program(block.program, inner, inner_each)
        if block.inverse is not None:
            self.program(block.inverse, stack, in_each)
