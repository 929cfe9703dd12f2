"""Whitespace control: `~` and the "standalone" rule, ported from handlebars.js 4.7.8
(compiler/whitespace-control.js) statement for statement.

The port works on a mutable tree shaped like handlebars.js's AST (chained `{{else if}}`
blocks included) because the rule's outcome depends on that shape and on the order in which
text nodes are trimmed. The regular expressions are replaced by string operations with the
same meaning (and no quadratic backtracking).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from templates_lib.handlebars.lexer import JS_SPACE

Strip = tuple[bool, bool]  # (open, close): `~` after `{{`, `~` before `}}`


@dataclass(slots=True, eq=False)
class MContent:
    original: str
    value: str
    start: int
    left_stripped: bool = False
    right_stripped: bool = False


@dataclass(slots=True, eq=False)
class MMustache:
    path: Any
    escaped: bool
    strip: Strip
    start: int


@dataclass(slots=True, eq=False)
class MComment:
    value: str
    strip: Strip
    start: int


@dataclass(slots=True, eq=False)
class MProgram:
    body: list = field(default_factory=list)
    chained: bool = False


@dataclass(slots=True, eq=False)
class MBlock:
    helper: str
    param: Any
    start: int
    open_strip: Strip
    program: MProgram = field(default_factory=MProgram)
    inverse: MProgram | None = None
    inverse_strip: Strip = (False, False)
    close_strip: Strip = (False, False)
    chained: bool = False


@dataclass(slots=True)
class _StripInfo:
    open: bool = False
    close: bool = False
    open_standalone: bool = False
    close_standalone: bool = False
    inline_standalone: bool = False


def strip_whitespace(root: MProgram) -> None:
    _Visitor().program(root)


class _Visitor:
    def __init__(self):
        self.root_seen = False

    def accept(self, node) -> _StripInfo | None:
        if isinstance(node, MBlock):
            return self.block(node)
        if isinstance(node, MMustache):
            return _StripInfo(open=node.strip[0], close=node.strip[1])
        if isinstance(node, MComment):
            return _StripInfo(open=node.strip[0], close=node.strip[1], inline_standalone=True)
        return None

    def program(self, program: MProgram) -> None:
        is_root = not self.root_seen
        self.root_seen = True
        body = program.body
        for i, current in enumerate(body):
            strip = self.accept(current)
            if strip is None:
                continue
            prev_ws = _is_prev_whitespace(body, i, is_root)
            next_ws = _is_next_whitespace(body, i, is_root)
            if strip.close:
                _omit_right(body, i, multiple=True)
            if strip.open:
                _omit_left(body, i, multiple=True)
            if strip.inline_standalone and prev_ws and next_ws:
                _omit_right(body, i)
                _omit_left(body, i)
            if strip.open_standalone and prev_ws:
                _omit_right(current.program.body)
                _omit_left(body, i)
            if strip.close_standalone and next_ws:
                _omit_right(body, i)
                inner = current.inverse if current.inverse is not None else current.program
                _omit_left(inner.body)

    def block(self, block: MBlock) -> _StripInfo:
        self.program(block.program)
        if block.inverse is not None:
            self.program(block.inverse)
        program, inverse = block.program, block.inverse
        first_inverse = last_inverse = inverse
        if inverse is not None and inverse.chained:
            first_inverse = inverse.body[0].program
            # As handlebars.js does: this stops at the first chained block's program.
            while last_inverse.chained:
                last_inverse = last_inverse.body[-1].program
        strip = _StripInfo(
            open=block.open_strip[0],
            close=block.close_strip[1],
            open_standalone=bool(_is_next_whitespace(program.body)),
            close_standalone=bool(
                _is_prev_whitespace((program if first_inverse is None else first_inverse).body)
            ),
        )
        if block.open_strip[1]:
            _omit_right(program.body, multiple=True)
        if inverse is not None:
            if block.inverse_strip[0]:
                _omit_left(program.body, multiple=True)
            if block.inverse_strip[1]:
                _omit_right(first_inverse.body, multiple=True)
            if block.close_strip[0]:
                _omit_left(last_inverse.body, multiple=True)
            # A standalone {{else}}.
            if _is_prev_whitespace(program.body) and _is_next_whitespace(first_inverse.body):
                _omit_left(program.body)
                _omit_right(first_inverse.body)
        elif block.close_strip[0]:
            _omit_left(program.body, multiple=True)
        return strip


def _leading_space(text: str) -> str:
    return text[: len(text) - len(text.lstrip(JS_SPACE))]


def _trailing_space(text: str) -> str:
    return text[len(text.rstrip(JS_SPACE)) :]


def _is_prev_whitespace(body: list, i: int | None = None, is_root: bool = False) -> bool | None:
    if i is None:
        i = len(body)
    prev = body[i - 1] if i >= 1 else None
    if prev is None:
        return is_root
    if not isinstance(prev, MContent):
        return None
    # /\r?\n\s*?$/, or at the very start of the root: /(^|\r?\n)\s*?$/
    tail = _trailing_space(prev.original)
    first_of_root = is_root and i < 2
    return "\n" in tail or (first_of_root and len(tail) == len(prev.original))


def _is_next_whitespace(body: list, i: int | None = None, is_root: bool = False) -> bool | None:
    if i is None:
        i = -1
    nxt = body[i + 1] if i + 1 < len(body) else None
    if nxt is None:
        return is_root
    if not isinstance(nxt, MContent):
        return None
    # /^\s*?\r?\n/, or at the very end of the root: /^\s*?(\r?\n|$)/
    head = _leading_space(nxt.original)
    last_of_root = is_root and i + 2 >= len(body)
    return "\n" in head or (last_of_root and len(head) == len(nxt.original))


def _omit_right(body: list, i: int | None = None, *, multiple: bool = False) -> None:
    index = 0 if i is None else i + 1
    current = body[index] if index < len(body) else None
    if not isinstance(current, MContent) or (not multiple and current.right_stripped):
        return
    original = current.value
    if multiple:  # /^\s+/
        current.value = original.lstrip(JS_SPACE)
    else:  # /^[ \t]*\r?\n?/
        value = original.lstrip(" \t")
        value = value[1:] if value.startswith("\r") else value
        current.value = value[1:] if value.startswith("\n") else value
    current.right_stripped = current.value != original


def strip_trailing_blanks(value: str) -> str:
    """/[ \\t]+$/ replaced by "" (a module-level function so tests can emulate js2py)."""
    return value.rstrip(" \t")


def _omit_left(body: list, i: int | None = None, *, multiple: bool = False) -> bool | None:
    index = len(body) - 1 if i is None else i - 1
    current = body[index] if index >= 0 else None
    if not isinstance(current, MContent) or (not multiple and current.left_stripped):
        return None
    original = current.value
    # /\s+$/ or /[ \t]+$/
    current.value = original.rstrip(JS_SPACE) if multiple else strip_trailing_blanks(original)
    current.left_stripped = current.value != original
    return current.left_stripped
