"""Rendering a Program with handlebars.js 4.7.8's runtime semantics.

The context stack mirrors handlebars.js's `depths`: a block's program pushes its context only
when it differs (JavaScript `!=`) from the top, which is why `../` inside `{{#if}}` reaches
past the `if`. A helper called on a null context gets NULL_CONTEXT as `this`, as in
handlebars.js.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates_lib.handlebars.jsvalues import (
    NULL_CONTEXT,
    escape_expression,
    is_empty,
    is_truthy,
    lookup,
    loose_equals,
    object_keys,
    to_string,
)
from templates_lib.handlebars.nodes import Block, Mustache, PathExpr, Program, Text
from templates_lib.handlebars.parser import parse

# depths as a linked list: (context, rest) ... None
Depths = tuple[Any, Any] | None


def render(source_or_program: str | Program, context: Mapping, *, escape: bool = True) -> str:
    """Render a template. Missing values render as ""; rendering never raises for data.

    With `escape=False` every `{{x}}` is output unescaped (subjects, plain-text bodies)."""
    if isinstance(source_or_program, str):
        program = parse(source_or_program)
    elif isinstance(source_or_program, Program):
        program = source_or_program
    else:
        raise TypeError(f"expected a template source or Program, not {source_or_program!r}")
    if not isinstance(context, Mapping):
        raise TypeError(f"the context must be a mapping, not {type(context).__name__}")
    out: list[str] = []
    _Renderer(out, escape).run(program, context, (context, None), {"root": context})
    return "".join(out)


class _Renderer:
    __slots__ = ("escape", "out")

    def __init__(self, out: list[str], escape: bool):
        self.out = out
        self.escape = escape

    def run(self, program: Program, context: Any, depths: Depths, data: dict) -> None:
        out = self.out
        for node in program.body:
            kind = type(node)
            if kind is Text:
                out.append(node.value)
            elif kind is Mustache:
                value = _resolve(node.path, context, depths, data)
                if node.escaped and self.escape:
                    out.append(escape_expression(value))
                elif value is not None:
                    out.append(to_string(value))
            elif kind is Block:
                self.block(node, context, depths, data)

    def call(self, program: Program | None, context: Any, depths: Depths, data: dict) -> None:
        """A block's program or inverse, called with `context` (handlebars.js's wrapProgram)."""
        if program is None:
            return
        top = depths[0] if depths is not None else None
        if (
            (context is not top or isinstance(context, float))  # NaN != NaN
            and not loose_equals(context, top)
            and not (context is NULL_CONTEXT and top is None)
        ):
            depths = (context, depths)
        self.run(program, context, depths, data)

    def block(self, block: Block, context: Any, depths: Depths, data: dict) -> None:
        value = _resolve(block.param, context, depths, data)
        this = NULL_CONTEXT if context is None else context
        helper = block.helper
        if helper == "if" or helper == "unless":
            truthy = is_truthy(value) and not (isinstance(value, (list, tuple)) and not value)
            chosen = block.program if truthy == (helper == "if") else block.inverse
            self.call(chosen, this, depths, data)
        elif helper == "with":
            if is_empty(value):
                self.call(block.inverse, this, depths, data)
            else:
                self.call(block.program, value, depths, data)
        elif not self.each(block, value, depths, data):
            self.call(block.inverse, this, depths, data)

    def each(self, block: Block, value: Any, depths: Depths, data: dict) -> bool:
        """Run the program per element; False if there was none."""
        if isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, Mapping):
            items = [(js_key, value[key]) for js_key, key in object_keys(value)]
        else:  # strings, numbers, booleans: nothing to iterate
            return False
        if not items:
            return False
        frame = dict(data)
        last = len(items) - 1
        for index, (key, item) in enumerate(items):
            frame["key"] = key
            frame["index"] = index
            frame["first"] = index == 0
            frame["last"] = index == last
            self.call(block.program, item, depths, frame)
        return True


def _resolve(path: PathExpr, context: Any, depths: Depths, data: dict) -> Any:
    parts = path.parts
    if path.data:
        # handlebars.js reads data paths with `&&`: a falsy step is the result.
        value = data.get(parts[0])
        for name in parts[1:]:
            if not is_truthy(value):
                return value
            value = lookup(value, name)
        return value
    if path.depth:
        for _ in range(path.depth):
            depths = depths[1] if depths is not None else None
        value = depths[0] if depths is not None else None
    else:
        value = context
    for name in parts:
        if value is None:
            return None
        value = lookup(value, name)
    return value
