"""The syntax tree `parse` returns, and the small records the analysis functions return.

Nodes are immutable. Text nodes hold their text after whitespace control (`~` and the
"standalone" rule) has been applied, so rendering is a plain walk.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PathExpr:
    """A value reference: `a.b`, `this`, `../x`, `@index`, `@root.x`.

    `parts` are the names looked up in turn (for data variables the first is the variable,
    e.g. ("root", "x")); `depth` counts the leading `../`."""

    original: str
    parts: tuple[str, ...]
    depth: int
    data: bool
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Text:
    value: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Comment:
    value: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Mustache:
    """`{{path}}` (escaped) or `{{{path}}}` / `{{&path}}` (raw)."""

    path: PathExpr
    escaped: bool
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Block:
    """`{{#helper param}}program{{else}}inverse{{/helper}}`.

    `{{else if x}}` chains are a Block with `chained=True`, alone in the inverse Program of
    the block before it, as in handlebars.js."""

    helper: str
    param: PathExpr
    program: Program
    inverse: Program | None
    chained: bool
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Program:
    body: tuple[Text | Comment | Mustache | Block, ...]
    line: int = 1
    column: int = 1


Node = Text | Comment | Mustache | Block


@dataclass(frozen=True, slots=True)
class VariableRef:
    """A variable a template reads, as an absolute dotted path from the root context.

    `[]` marks an element of something iterated by `{{#each}}` (`items[].name`); `as_block`
    is true for the argument of a block helper. The root context itself is the path ""."""

    path: str
    line: int
    column: int
    as_block: bool


@dataclass(frozen=True, slots=True)
class TokenSpan:
    """Character offsets `[start, end)` of one tag in the source; `kind` is one of
    "variable", "raw", "open", "close", "else", "comment"."""

    start: int
    end: int
    kind: str
