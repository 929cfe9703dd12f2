"""Making template HTML fit for email, with its Handlebars tags intact.

CSS is inlined (many mail clients ignore <style>) and the HTML is reduced to an allowlist fit
for email (tables, inline styles, images, links), so a pasted <script> never reaches anyone.
Both tools parse HTML as browsers do, which would move Handlebars tags sitting between table
rows out of the table; so tags are swapped for placeholders first and restored afterwards.
The check at save (`disallowed_html`) parses and reduces a source the same way and names what
the reduction removed, so an admin learns of it instead of it silently going missing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

import css_inline
import html2text
import nh3

from templates_lib.handlebars import token_spans

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup",
        "div", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol",
        "p", "pre", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
_COMMON_ATTRIBUTES = {
    "style", "align", "valign", "width", "height", "bgcolor", "border", "dir", "lang", "title",
    "role", "class", "id",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": _COMMON_ATTRIBUTES,
    "a": {"href", "target", "name"},
    "img": {"src", "alt"},
    "table": {"cellpadding", "cellspacing", "summary"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "scope", "nowrap"},
    "font": {"color", "face", "size"},
    "col": {"span"},
    "colgroup": {"span"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
URL_ATTRIBUTES = {"href", "src"}

_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def _in_tag(html: str) -> bool:
    """Whether the end of `html` lies inside an HTML tag (an attribute value), not in text."""
    return html.rfind("<") > html.rfind(">")


@dataclass(frozen=True)
class _Protected:
    """A source with its Handlebars tags swapped for placeholders an HTML parser leaves in place.

    A placeholder is a word: the call's random marker, the tag's number, "x". Tags in text are
    wrapped in an HTML comment (which stays put even between table rows); tags inside attribute
    values are the bare word. Being random, no text in the source can pose as one."""

    html: str
    tokens: tuple[str, ...]
    word: re.Pattern

    def restore(self, text: str) -> str:
        return self.word.sub(lambda m: self.tokens[int(m.group(1))], text)

    def unwrap(self, html: str) -> str:
        """`html` with each text placeholder's comment reduced to its word."""
        return re.sub(rf"<!--({self.word.pattern})-->", r"\1", html)


def _protect(source: str) -> _Protected:
    """Handlebars comments render to nothing, so they are dropped here: the HTML tools then see
    what renders, and what providers store carries no unchecked text."""
    marker = f"rmhb{secrets.token_hex(6)}n"
    html, tokens, last = "", [], 0
    for span in token_spans(source):
        html += source[last : span.start]
        last = span.end
        if span.kind == "comment":
            continue
        word = f"{marker}{len(tokens)}x"
        tokens.append(source[span.start : span.end])
        html += word if _in_tag(html) else f"<!--{word}-->"
    html += source[last:]
    return _Protected(html, tuple(tokens), re.compile(rf"{marker}(\d+)x"))


def sanitize(html: str, *, keep_comments: bool = False) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        strip_comments=not keep_comments,
        link_rel=None,
    )


@lru_cache(maxsize=512)
def email_html(source: str, css: str = "") -> str:
    """The template HTML as sent: `css` and any <style> inlined, reduced to the allowlist,
    Handlebars tags untouched. Pure and cached: the same input always gives the same output."""
    protected = _protect(source)
    inliner = css_inline.CSSInliner(
        keep_style_tags=False, keep_link_tags=False, load_remote_stylesheets=False
    )
    cleaned = sanitize(inliner.inline_fragment(protected.html, css or ""), keep_comments=True)
    # Only our placeholders stay of the comments. nh3 writes "<" as "&lt;" everywhere but in a
    # comment's opening, so these delimiters find exactly its comments.
    kept = _COMMENT.sub(
        lambda m: m.group(1) if protected.word.fullmatch(m.group(1)) else "", cleaned
    )
    return protected.restore(kept)


@lru_cache(maxsize=512)
def html_to_text(source: str) -> str:
    """A plain-text body from template HTML, Handlebars tags kept as they are."""
    protected = _protect(source)
    # In text, every placeholder must be a plain word html2text will not escape or wrap.
    words = protected.unwrap(protected.html)
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.inline_links = True
    converter.protect_links = False
    converter.wrap_links = False
    text = converter.handle(words)
    # Mail reads better as "text (url)" and headings without markdown's "#".
    text = _MARKDOWN_LINK.sub(
        lambda m: m.group(2) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text
    )
    text = re.sub(r"^#+ ", "", text, flags=re.MULTILINE)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return protected.restore(text)


class _Features(HTMLParser):
    """Each element and attribute, in order, of HTML as an HTML5 serializer writes it (quoted
    attributes, escaped text): (tag, None, None) for an element, (tag, name, value) for an
    attribute, the value only where it is a URL (whether it is allowed depends on it)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str | None, str | None]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, None, None))
        for name, value in attrs:
            self.found.append((tag, name, value if name in URL_ATTRIBUTES else None))


# Parses as browsers do and writes the tree back, nothing removed and nothing inlined.
_HTML5 = css_inline.CSSInliner(
    inline_style_tags=False,
    keep_style_tags=True,
    keep_link_tags=True,
    load_remote_stylesheets=False,
)
# The document shell is ours and CSS is inlined: these are dropped without a word.
_TOLERATED = frozenset({"html", "head", "body", "style", "meta", "title"})


def disallowed_html(source: str) -> list[str]:
    """What the allowlist removes from `source`, as readable names (empty: nothing).

    The source is parsed as a browser parses it (after its Handlebars comments, which render to
    nothing, are dropped) and reduced to the allowlist exactly as it is before sending; each
    element, attribute or link the reduction removed is named once, in source order."""
    protected = _protect(source)
    parsed = _HTML5.inline_fragment(protected.html, "")
    kept = set(_Features(sanitize(parsed, keep_comments=True)).found)
    problems: list[str] = []
    for feature in _Features(parsed).found:
        tag, name, value = feature
        if feature in kept or tag in _TOLERATED or (name and tag not in ALLOWED_TAGS):
            continue  # a removed element is named once, not with each of its attributes
        if name is None:
            problem = f"<{tag}>"
        elif value is not None and ":" in value:
            scheme = re.sub(r"[\x00-\x20]", "", value.split(":", 1)[0]).lower()
            problem = f'a "{scheme}:" link on <{tag}>'
        elif value is not None:
            problem = f'the {name} "{value}" on <{tag}>'
        else:
            problem = f"the {name} attribute on <{tag}>"
        problem = protected.restore(problem)
        if problem not in problems:
            problems.append(problem)
    return problems


DOCUMENT = (
    '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title></head><body>{body}</body></html>"
)
