"""From source to Program: tags checked against the supported subset, blocks matched,
whitespace control applied, then the scope checks (data variables, `../`)."""

from __future__ import annotations

import re
from functools import lru_cache

from templates_lib.handlebars import scopes
from templates_lib.handlebars.errors import TemplateSyntaxError
from templates_lib.handlebars.lexer import Content, Item, Lines, Tag, scan
from templates_lib.handlebars.nodes import Block, Comment, Mustache, PathExpr, Program, Text
from templates_lib.handlebars.paths import SEGMENT_TYPES, read_path
from templates_lib.handlebars.whitespace import (
    MBlock,
    MComment,
    MContent,
    MMustache,
    MProgram,
    strip_whitespace,
)

BLOCK_HELPERS = ("if", "unless", "each", "with")
# handlebars.js calls these helpers for `{{name}}`, whatever the context holds.
_BUILTIN_HELPERS = frozenset(
    {*BLOCK_HELPERS, "log", "lookup", "helperMissing", "blockHelperMissing"}
)
_PATH_TYPES = SEGMENT_TYPES | {"SEP", "DATA", "LITERAL", "STRING"}
_UNSUPPORTED_TAGS = {
    "raw_block": "raw blocks {{{{...}}}} are not supported",
    "partial": "partials {{> ...}} are not supported",
    "partial_block": "partial blocks {{#> ...}} are not supported",
    "inverse_else": "{{^}} is not supported; use {{else}}",
}
_SUPPORTED = ", ".join(BLOCK_HELPERS)


def parse(source: str, *, allow_raw: bool = False) -> Program:
    """Parse a template; TemplateSyntaxError if it is not valid in the supported subset.

    Triple-stash `{{{x}}}` and `{{&x}}` are refused unless `allow_raw`."""
    if not isinstance(source, str):
        raise TypeError(f"template source must be str, not {type(source).__name__}")
    return _parse(source, allow_raw)


@lru_cache(maxsize=1024)
def _parse(source: str, allow_raw: bool) -> Program:
    lines = Lines(source)
    nul = source.find("\x00")
    if nul >= 0:
        raise lines.error("NUL characters are not allowed", nul)
    root = _Builder(source, lines, allow_raw).build()
    strip_whitespace(root)
    program = _freeze(root, lines, (1, 1))
    scopes.check(program)
    return program


class _Frame:
    __slots__ = ("block", "chained", "in_inverse", "open_tag")

    def __init__(self, block: MBlock, open_tag: str, chained: bool = False):
        self.block = block
        self.open_tag = open_tag
        self.chained = chained
        self.in_inverse = False


class _Builder:
    def __init__(self, source: str, lines: Lines, allow_raw: bool):
        self.source = source
        self.lines = lines
        self.allow_raw = allow_raw
        self.root = MProgram()
        self.stack: list[_Frame] = []

    def error(self, message: str, offset: int) -> TemplateSyntaxError:
        return self.lines.error(message, offset)

    @property
    def body(self) -> list:
        if not self.stack:
            return self.root.body
        frame = self.stack[-1]
        block = frame.block
        return block.inverse.body if frame.in_inverse else block.program.body

    def build(self) -> MProgram:
        for token in scan(self.source, self.lines):
            if isinstance(token, Content):
                self.body.append(MContent(token.text, token.text, token.start))
            else:
                self.tag(token)
        for frame in reversed(self.stack):
            if not frame.chained:
                raise self.error(f"unclosed {frame.open_tag} block", frame.block.start)
        return self.root

    def tag(self, tag: Tag) -> None:
        kind = tag.kind
        strip = tag.strip_flags(self.source)
        if kind in _UNSUPPORTED_TAGS:
            raise self.error(_UNSUPPORTED_TAGS[kind], tag.start)
        if "*" in tag.opener:
            raise self.error("decorators {{* ...}} are not supported", tag.start)
        if kind in ("comment", "long_comment"):
            self.body.append(MComment(_comment_text(tag.text(self.source)), strip, tag.start))
            return
        if kind == "inverse":
            name = tag.items[0].text if tag.items else "name"
            raise self.error(
                f"inverse sections {{{{^{name}}}}} are not supported; use {{{{#unless {name}}}}}",
                tag.start,
            )
        self.check_closer(tag)
        if kind in ("open", "unescaped", "amp"):
            self.mustache(tag, strip)
        elif kind == "block":
            self.open_block(tag, strip)
        elif kind == "else":
            self.else_(tag, strip)
        elif kind == "else_chain":
            self.else_chain(tag, strip)
        elif kind == "close":
            self.close_block(tag, strip)
        else:  # pragma: no cover - every opener kind is handled above
            raise self.error(f"unexpected {tag.opener}", tag.start)

    def check_closer(self, tag: Tag) -> None:
        if tag.closer == "CLOSE_RAW":
            raise self.error("unexpected '}}}}'", tag.end - 4)
        if tag.kind == "unescaped" and tag.closer != "CLOSE_UNESCAPED":
            raise self.error("'{{{' must be closed with '}}}'", tag.start)
        if tag.kind != "unescaped" and tag.closer == "CLOSE_UNESCAPED":
            raise self.error(
                f"'}}}}}}' closes {{{{{{...}}}}}}, but this tag opens with '{tag.opener}'; "
                "put a space before the third '}'",
                tag.end - 3 - (self.source[tag.end - 3] == "~"),
            )

    def mustache(self, tag: Tag, strip) -> None:
        escaped = tag.kind == "open"
        if not escaped and not self.allow_raw:
            raise self.error(
                f"unescaped output {tag.text(self.source)} is not allowed here; "
                "use {{...}} so the value is HTML-escaped",
                tag.start,
            )
        if not tag.items:
            raise self.error("empty mustache {{}}", tag.start)
        path, rest = self.path(tag.items, 0)
        if rest < len(tag.items):
            self.no_arguments(tag.items, rest, f"{{{{{path.original}}}}}")
        if (
            not path.data
            and path.depth == 0
            and len(path.parts) == 1
            and path.original == path.parts[0]
            and path.parts[0] in _BUILTIN_HELPERS
        ):
            raise self.error(
                f"'{path.parts[0]}' is a Handlebars helper, not a variable; "
                f"write {{{{this.{path.parts[0]}}}}} to read a variable of that name",
                tag.items[0].start,
            )
        self.body.append(MMustache(path, escaped, strip, tag.start))

    def helper_call(self, tag: Tag, opener: str) -> tuple[str, PathExpr]:
        """The helper name and its one argument, for `{{#x ...}}` and `{{else x ...}}`."""
        items = tag.items
        if not items:
            raise self.error(
                f"{{{{{opener}}}}} needs a block helper name ({_SUPPORTED})", tag.start
            )
        name, rest = self.path(items, 0)
        if name.original not in BLOCK_HELPERS:
            raise self.error(
                f"unknown block helper '{name.original}' (supported: {_SUPPORTED})",
                items[0].start,
            )
        helper = name.original
        params = []
        while rest < len(items):
            self.reject_extras(items, rest)
            param, rest = self.path(items, rest)
            params.append(param)
        if len(params) != 1:
            raise self.error(
                f"{{{{{opener}{helper}}}}} takes exactly one argument, got {len(params)}",
                tag.start,
            )
        param = params[0]
        if helper in ("each", "with") and param.data and param.parts[0] != "root":
            raise self.error(
                f"{{{{{opener}{helper}}}}} needs an object or a list, not {param.original}",
                _offset(self.lines, param),
            )
        return helper, param

    def open_block(self, tag: Tag, strip) -> None:
        helper, param = self.helper_call(tag, "#")
        block = MBlock(helper, param, tag.start, strip)
        self.body.append(block)
        self.stack.append(_Frame(block, f"{{{{#{helper}}}}}"))

    def current_frame(self, tag: Tag, what: str) -> _Frame:
        if not self.stack:
            raise self.error(f"{what} outside a block", tag.start)
        frame = self.stack[-1]
        if frame.in_inverse:
            root = self.root_frame()
            line, column = self.lines.locate(root.block.start)
            raise self.error(
                f"{what} after {{{{else}}}} in the {root.open_tag} block opened at line {line}, "
                f"column {column}",
                tag.start,
            )
        return frame

    def root_frame(self) -> _Frame:
        """The block a chain of {{else x}} belongs to."""
        index = len(self.stack) - 1
        while self.stack[index].chained:
            index -= 1
        return self.stack[index]

    def else_(self, tag: Tag, strip) -> None:
        frame = self.current_frame(tag, "{{else}}")
        frame.block.inverse = MProgram()
        frame.block.inverse_strip = strip
        frame.in_inverse = True

    def else_chain(self, tag: Tag, strip) -> None:
        frame = self.current_frame(tag, "{{else ...}}")
        helper, param = self.helper_call(tag, "else ")
        # handlebars.js's prepareBlock leaves a chained block this close strip unless it is the
        # first of its chain (which gets the real closing tag's, below).
        chained = MBlock(helper, param, tag.start, strip, close_strip=strip, chained=True)
        frame.block.inverse = MProgram([chained], chained=True)
        frame.block.inverse_strip = strip
        frame.in_inverse = True
        self.stack.append(_Frame(chained, f"{{{{else {helper}}}}}", chained=True))

    def close_block(self, tag: Tag, strip) -> None:
        items = tag.items
        if not items:
            raise self.error("{{/}} needs the name of the block it closes", tag.start)
        name, rest = self.path(items, 0)
        if rest < len(items):
            self.no_arguments(items, rest, f"{{{{/{name.original}}}}}")
        close_tag = f"{{{{/{name.original}}}}}"
        if not self.stack:
            raise self.error(f"{close_tag} without a matching {{{{#{name.original}}}}}", tag.start)
        first_chained = None
        while self.stack[-1].chained:
            first_chained = self.stack.pop()
        frame = self.stack.pop()
        if frame.block.helper != name.original:
            line, column = self.lines.locate(frame.block.start)
            raise self.error(
                f"{close_tag} does not match {frame.open_tag} opened at line {line}, "
                f"column {column}",
                tag.start,
            )
        frame.block.close_strip = strip
        if first_chained is not None:
            first_chained.block.close_strip = strip

    def reject_extras(self, items: list[Item], index: int) -> None:
        """Errors for argument forms outside the subset: hashes, sub-expressions, block
        parameters."""
        item = items[index]
        nxt = items[index + 1] if index + 1 < len(items) else None
        if item.type == "ID" and nxt is not None and nxt.type == "EQUALS":
            raise self.error(f"hash arguments ({item.text}=...) are not supported", item.start)
        if item.type == "OPEN_SEXPR":
            raise self.error("sub-expressions (...) are not supported", item.start)
        if item.type == "BLOCK_PARAMS":
            raise self.error("block parameters (as |...|) are not supported", item.start)

    def no_arguments(self, items: list[Item], index: int, tag_text: str) -> None:
        self.reject_extras(items, index)
        item = items[index]
        raise self.error(
            f"unexpected '{item.text}' in {tag_text}: helpers and arguments are not supported",
            item.start,
        )

    def path(self, items: list[Item], index: int) -> tuple[PathExpr, int]:
        """Read the path starting at items[index]: the run of tokens with no space between."""
        first = items[index]
        self.reject_extras(items, index)
        if first.type in ("STRING", "LITERAL"):
            raise self.error(
                f"literal value {first.text} is not supported; use a variable", first.start
            )
        if first.type == "INVALID":
            end = index + 1
            while end < len(items) and items[end].start == items[end - 1].end:
                end += 1
            word = self.source[first.start : items[end - 1].end]
            raise self.error(f"'{word}' is not a valid variable name", first.start)
        if first.type not in _PATH_TYPES:
            raise self.error(f"unexpected '{first.text}'", first.start)
        end = index + 1
        while (
            end < len(items)
            and items[end].start == items[end - 1].end
            and items[end].type in _PATH_TYPES
        ):
            end += 1
        run = items[index:end]
        return read_path(run, self.source[first.start : run[-1].end], self.lines), end


def _offset(lines: Lines, path: PathExpr) -> int:
    return lines.starts[path.line - 1] + path.column - 1


def _comment_text(text: str) -> str:
    """handlebars.js's stripComment."""
    text = re.sub(r"^\{\{~?!-?-?", "", text)
    return re.sub(r"-?-?~?\}\}\Z", "", text)


def _freeze(program: MProgram, lines: Lines, where: tuple[int, int]) -> Program:
    body = []
    for node in program.body:
        if isinstance(node, MContent):
            if node.value:
                body.append(Text(node.value, *lines.locate(node.start)))
        elif isinstance(node, MMustache):
            body.append(Mustache(node.path, node.escaped, *lines.locate(node.start)))
        elif isinstance(node, MComment):
            body.append(Comment(node.value, *lines.locate(node.start)))
        else:
            position = lines.locate(node.start)
            inverse = node.inverse
            body.append(
                Block(
                    node.helper,
                    node.param,
                    _freeze(node.program, lines, position),
                    None if inverse is None else _freeze(inverse, lines, position),
                    node.chained,
                    *position,
                )
            )
    return Program(tuple(body), *where)
