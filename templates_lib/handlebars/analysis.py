"""What the template library asks of a source besides rendering: the variables it reads,
where its tags are, and the same template with raw tags for providers."""

from __future__ import annotations

from functools import lru_cache

from templates_lib.handlebars import scopes
from templates_lib.handlebars.lexer import Tag, scan
from templates_lib.handlebars.nodes import Program, TokenSpan, VariableRef
from templates_lib.handlebars.parser import parse

_SPAN_KINDS = {
    "open": "variable",
    "partial": "variable",
    "unescaped": "raw",
    "amp": "raw",
    "block": "open",
    "partial_block": "open",
    "inverse": "open",
    "raw_block": "open",
    "close": "close",
    "else": "else",
    "else_chain": "else",
    "inverse_else": "else",
    "comment": "comment",
    "long_comment": "comment",
}


def variable_references(source_or_program: str | Program) -> list[VariableRef]:
    """Every variable the template reads, in source order, as absolute paths.

    A source is parsed with raw tags allowed: reading variables does not depend on escaping."""
    if isinstance(source_or_program, Program):
        return scopes.references(source_or_program)
    return list(_references(source_or_program))


@lru_cache(maxsize=512)
def _references(source: str) -> tuple[VariableRef, ...]:
    return tuple(scopes.references(parse(source, allow_raw=True)))


def token_spans(source: str) -> list[TokenSpan]:
    """Offsets of every tag, in order. Never raises: it serves HTML tools that may see a
    template before its errors are reported, so a tag that is never closed counts as text.
    (`\\{{x}}` is text too.) Tags outside the subset get the nearest kind."""
    return [
        TokenSpan(token.start, token.end, _SPAN_KINDS[token.kind])
        for token in scan(source)
        if isinstance(token, Tag)
    ]


def to_raw_source(source: str) -> str:
    """The same template with every escaped `{{path}}` written `{{{path}}}`, `~` kept.

    For subjects and plain-text bodies pushed to providers, whose Handlebars would otherwise
    HTML-escape their values: the result renders there as `render(source, escape=False)` does
    here. Raises TemplateSyntaxError if the source does not parse."""
    parse(source, allow_raw=True)
    out, last = [], 0
    for token in scan(source):
        if not isinstance(token, Tag) or token.kind != "open":
            continue
        text = token.text(source)
        opener = token.opener
        closer = "~}}" if text.endswith("~}}") else "}}"
        out.append(source[last : token.start])
        out.append(f"{opener}{{{text[len(opener) : -len(closer)]}}}{closer}")
        last = token.end
    out.append(source[last:])
    return "".join(out)
