"""Paths inside tags: handlebars.js's preparePath, plus the limits of the supported subset."""

from __future__ import annotations

import re

from templates_lib.handlebars.errors import TemplateSyntaxError
from templates_lib.handlebars.lexer import Item, Lines
from templates_lib.handlebars.nodes import PathExpr

DATA_VARIABLES = ("index", "key", "first", "last")
SEGMENT_TYPES = frozenset({"ID", "ID_DOTS", "ID_DOT", "LITERAL_ID"})
_NUMERIC = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def read_path(run: list[Item], original: str, lines: Lines) -> PathExpr:
    """handlebars.js's preparePath, plus the subset's own limits."""
    start = run[0].start

    def bad(reason: str) -> TemplateSyntaxError:
        return lines.error(f"invalid path '{original}': {reason}", start)

    data = run[0].type == "DATA"
    tokens = run[1:] if data else run
    segments: list[tuple[str, Item]] = []  # (separator before, segment)
    separator = ""
    for position, item in enumerate(tokens):
        expect_segment = position % 2 == 0
        if expect_segment and item.type in SEGMENT_TYPES:
            segments.append((separator, item))
        elif not expect_segment and item.type == "SEP":
            separator = item.text
        elif expect_segment:
            raise bad(f"'{item.text}' is not a valid name here")
        elif item.type == "ID_DOTS":
            raise bad("'..' may only start a path")
        elif item.type == "ID_DOT":
            raise bad("it ends with '.'")
        else:
            raise bad(f"'{item.text}' needs a '.' before it")
    if not segments:
        raise bad("a name must follow '@'")
    if len(tokens) % 2 == 0:
        raise bad(f"it ends with '{tokens[-1].text}'")

    depth, parts, previous = 0, [], None
    for separator, item in segments:
        text = item.text
        if item.type == "LITERAL_ID":
            raise bad("bracketed segments [..] are not supported")
        if separator == "/" and previous not in ("..", "."):
            raise bad("separate names with '.'")
        if separator == "." and previous in ("..", "."):
            raise bad("write '../name' or './name'")
        if text in ("..", ".", "this"):
            if parts:
                raise bad(f"'{text}' may only start a path")
            if data:
                raise bad("'@' paths cannot go up with '../' in this subset")
            depth += text == ".."
        elif _NUMERIC.fullmatch(text):
            raise bad("numeric segments are not supported")
        else:
            parts.append(text)
        previous = text

    line, column = lines.locate(start)
    if data:
        name = parts[0]
        if name == "root":
            if len(parts) < 2:
                raise bad("@root needs a name after it, e.g. @root.name")
        elif name in DATA_VARIABLES:
            if len(parts) > 1:
                raise bad(f"@{name} has no properties")
        else:
            raise lines.error(
                f"unknown data variable @{name} (supported: @index, @key, @first, @last, "
                "@root.name)",
                start,
            )
    return PathExpr(original, tuple(parts), depth, data, line, column)
