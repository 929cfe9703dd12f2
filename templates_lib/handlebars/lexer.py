"""Splitting a source into text and tags, with the rules of handlebars.js 4.7.8's lexer.

The rules below are handlebars.l's, in its order (jison takes the first rule that matches,
not the longest), translated to Python: JavaScript's `\\s` is spelled out (Python's differs),
`$` is `\\Z` and `\\b` is ASCII. Text is cut exactly where handlebars.js cuts it, because
the whitespace rules look at neighbouring text nodes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

from templates_lib.handlebars.errors import TemplateSyntaxError

#: JavaScript's \s: WhiteSpace and LineTerminator.
JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_S = "[" + re.escape(JS_SPACE) + "]"
_ID_CHARS = "[^" + re.escape(JS_SPACE) + r"!\"#%-,\./;->@\[-\^`\{-~]"
_LOOKAHEAD = "(?=[=~}" + re.escape(JS_SPACE) + r"/.)|])"
_LITERAL_LOOKAHEAD = "(?=[~}" + re.escape(JS_SPACE) + r")])"

# What a tag starts with, at a "{{" (handlebars.l's <mu> rules that begin with "{{").
_OPENER = re.compile(
    r"(?P<raw_block>\{\{\{\{)"
    r"|(?P<partial>\{\{~?>)"
    r"|(?P<partial_block>\{\{~?#>)"
    r"|(?P<block>\{\{~?#\*?)"
    r"|(?P<close>\{\{~?/)"
    rf"|(?P<inverse_else>\{{\{{~?\^{_S}*~?\}}\}})"
    rf"|(?P<else>\{{\{{~?{_S}*else{_S}*~?\}}\}})"
    r"|(?P<inverse>\{\{~?\^)"
    rf"|(?P<else_chain>\{{\{{~?{_S}*else(?![A-Za-z0-9_]))"
    r"|(?P<unescaped>\{\{~?\{)"
    r"|(?P<amp>\{\{~?&)"
    r"|(?P<long_comment>\{\{~?!--)"
    r"|(?P<comment>\{\{~?!)"
    r"|(?P<open>\{\{~?\*?)"
)

# Tokens inside a tag (the rest of the <mu> rules).
_INSIDE = re.compile(
    r"(?P<OPEN_SEXPR>\()"
    r"|(?P<CLOSE_SEXPR>\))"
    r"|(?P<OPEN_RAW>\{\{\{\{)"
    r"|(?P<CLOSE_RAW>\}\}\}\})"
    r"|(?P<NESTED>\{\{)"
    r"|(?P<EQUALS>=)"
    r"|(?P<ID_DOTS>\.\.)"
    rf"|(?P<ID_DOT>\.{_LOOKAHEAD})"
    r"|(?P<SEP>[/.])"
    rf"|(?P<WS>{_S}+)"
    r"|(?P<CLOSE_UNESCAPED>\}~?\}\})"
    r"|(?P<CLOSE>~?\}\})"
    r"|(?P<STRING>\"(?:\\\"|[^\"])*\"|'(?:\\'|[^'])*')"
    r"|(?P<DATA>@)"
    rf"|(?P<LITERAL>(?:true|false|undefined|null|-?[0-9]+(?:\.[0-9]+)?){_LITERAL_LOOKAHEAD})"
    rf"|(?P<BLOCK_PARAMS>as{_S}+\|)"
    r"|(?P<PIPE>\|)"
    rf"|(?P<ID>{_ID_CHARS}+{_LOOKAHEAD})"
    r"|(?P<LITERAL_ID>\[(?:\\\]|[^\]])*\])"
    r"|(?P<INVALID>[\s\S])"
)
_LONG_COMMENT_END = re.compile(r"--~?\}\}")
_CLOSERS = frozenset({"CLOSE", "CLOSE_UNESCAPED", "CLOSE_RAW"})
_SELF_CLOSED = frozenset({"inverse_else", "else", "comment", "long_comment"})


@dataclass(slots=True)
class Content:
    start: int
    text: str


@dataclass(slots=True)
class Item:
    """One token inside a tag."""

    type: str
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(slots=True)
class Tag:
    kind: str  # the _OPENER group name
    start: int
    end: int
    opener: str
    closer: str = ""  # "CLOSE", "CLOSE_UNESCAPED", "CLOSE_RAW"; "" for self-closed kinds
    items: list[Item] = field(default_factory=list)

    def text(self, source: str) -> str:
        return source[self.start : self.end]

    def strip_flags(self, source: str) -> tuple[bool, bool]:
        """handlebars.js's stripFlags: `~` right after the opening `{{`, right before `}}`."""
        text = self.text(source)
        return text[2:3] == "~", len(text) >= 3 and text[-3] == "~"


class Lines:
    """Offsets to 1-based (line, column); line breaks as jison counts them."""

    def __init__(self, source: str):
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n?|\n", source)]

    def locate(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def error(self, message: str, offset: int) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, *self.locate(offset))


def scan(source: str, lines: Lines | None = None) -> Iterator[Content | Tag]:
    """Text and tags in order. With `lines`, lexical errors raise TemplateSyntaxError;
    without, a broken tag is left as text and scanning goes on (for token_spans)."""
    pos, length = 0, len(source)
    while pos < length:
        start = source.find("{{", pos)
        if start < 0:
            yield Content(pos, source[pos:])
            return
        text = source[pos:start]
        escaped = False
        if text.endswith("\\\\"):
            text = text[:-1]  # `\\{{x}}`: a backslash, then a real tag
        elif text.endswith("\\"):
            text, escaped = text[:-1], True  # `\{{x}}`: the tag is text
        if text:
            yield Content(pos, text)
        if escaped:
            end = _escaped_end(source, start)
            yield Content(start, source[start:end])
            pos = end
            continue
        tag = _read_tag(source, start, lines)
        if tag is None:  # lenient: this "{{" is text
            yield Content(start, "{{")
            pos = start + 2
            continue
        yield tag
        pos = tag.end


def _escaped_end(source: str, start: int) -> int:
    """End of the text after `\\{{`: at least two characters, up to the next `{{`, `\\{{`,
    `\\\\{{` or the end (handlebars.l's <emu> rule)."""
    nxt = source.find("{{", start + 2)
    if nxt < 0:
        return len(source)
    if nxt - 2 >= start + 2 and source[nxt - 2 : nxt] == "\\\\":
        return nxt - 2
    if nxt - 1 >= start + 2 and source[nxt - 1] == "\\":
        return nxt - 1
    return nxt


def _read_tag(source: str, start: int, lines: Lines | None) -> Tag | None:
    match = _OPENER.match(source, start)
    if match is None:  # unreachable: the last alternative matches any "{{"
        raise AssertionError(start)
    kind = match.lastgroup or "open"
    tag = Tag(kind=kind, start=start, end=match.end(), opener=match.group())
    if kind == "long_comment":
        end = _LONG_COMMENT_END.search(source, start)
        if end is None:
            return _lexical_error(lines, "unterminated comment: no closing --}}", start)
        tag.end = end.end()
        return tag
    if kind == "comment":
        end = source.find("}}", match.end())
        if end < 0:
            return _lexical_error(lines, "unterminated comment: no closing }}", start)
        tag.end = end + 2
        return tag
    if kind in _SELF_CLOSED:
        return tag
    pos = match.end()
    while True:
        item = _INSIDE.match(source, pos)
        if item is None:  # end of the source
            return _lexical_error(lines, f"unterminated {tag.opener} tag: no closing }}}}", start)
        type_ = item.lastgroup or "INVALID"
        if type_ in ("NESTED", "OPEN_RAW"):
            return _lexical_error(
                lines, f"unterminated {tag.opener} tag: no closing }}}} before the next {{{{", start
            )
        pos = item.end()
        if type_ in _CLOSERS:
            tag.closer, tag.end = type_, pos
            return tag
        if type_ != "WS":
            tag.items.append(Item(type_, item.group(), item.start()))


def _lexical_error(lines: Lines | None, message: str, offset: int) -> None:
    if lines is not None:
        raise lines.error(message, offset)
    return None
