"""A Handlebars engine for email templates: the subset that renders the same here, at
SendGrid (dynamic templates) and at Mandrill (`merge_language: handlebars`).

Semantics are handlebars.js 4.7.8's, output byte for byte, for: paths (`a.b`, `this`, `./x`,
`../x`, `@root.x`), `@index`/`@key`/`@first`/`@last` in `{{#each}}`, the block helpers `if`,
`unless`, `each`, `with` (with `{{else}}` and `{{else if ...}}` chains), comments, `~` and the
standalone-line rule, HTML escaping. Anything else (partials, custom helpers, arguments, hashes,
sub-expressions, literals, decorators, raw blocks) is a TemplateSyntaxError with a line and a
column, so a template that parses here means the same everywhere.
"""

from templates_lib.handlebars.analysis import to_raw_source, token_spans, variable_references
from templates_lib.handlebars.errors import HandlebarsError, TemplateSyntaxError
from templates_lib.handlebars.nodes import (
    Block,
    Comment,
    Mustache,
    PathExpr,
    Program,
    Text,
    TokenSpan,
    VariableRef,
)
from templates_lib.handlebars.parser import parse
from templates_lib.handlebars.runtime import render

__all__ = [
    "Block",
    "Comment",
    "HandlebarsError",
    "Mustache",
    "PathExpr",
    "Program",
    "TemplateSyntaxError",
    "Text",
    "TokenSpan",
    "VariableRef",
    "parse",
    "render",
    "to_raw_source",
    "token_spans",
    "variable_references",
]
