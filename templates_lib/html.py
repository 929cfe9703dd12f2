"""Making template HTML fit for email, with its Handlebars tags intact.

CSS is inlined (many mail clients ignore <style>) and the HTML is reduced to an allowlist fit
for email (tables, inline styles, images, links), so a pasted <script> never reaches anyone.
Both tools parse HTML as browsers do, which would move Handlebars tags sitting between table
rows out of the table; so tags are swapped for placeholders first and restored afterwards.
"""

from __future__ import annotations

import re
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

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TEXT_PLACEHOLDER = "<!--rmhb:{}-->"
_ATTR_PLACEHOLDER = "rmhb{}x"
_PLACEHOLDER = re.compile(r"<!--rmhb:(\d+)-->|rmhb(\d+)x")
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def _in_tag(source: str, position: int) -> bool:
    """Whether `position` lies inside an HTML tag (an attribute value), not in text."""
    return source.rfind("<", 0, position) > source.rfind(">", 0, position)


def _protect(source: str) -> tuple[str, list[str]]:
    """Replace Handlebars tags by placeholders an HTML parser leaves in place.

    Tags in text become HTML comments (which stay put even between table rows); tags inside
    attribute values become plain words. Existing HTML comments are dropped first: they are not
    allowed in what we send, and ours must be the only ones."""
    parts, tokens, last = [], [], 0
    for span in token_spans(source):
        parts.append(_HTML_COMMENT.sub("", source[last : span.start]))
        tokens.append(source[span.start : span.end])
        template = _ATTR_PLACEHOLDER if _in_tag(source, span.start) else _TEXT_PLACEHOLDER
        parts.append(template.format(len(tokens) - 1))
        last = span.end
    parts.append(_HTML_COMMENT.sub("", source[last:]))
    return "".join(parts), tokens


def _restore(html: str, tokens: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: tokens[int(m.group(1) or m.group(2))], html)


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
    protected, tokens = _protect(source)
    inliner = css_inline.CSSInliner(
        keep_style_tags=False, keep_link_tags=False, load_remote_stylesheets=False
    )
    inlined = inliner.inline_fragment(protected, css or "")
    return _restore(sanitize(inlined, keep_comments=True), tokens)


@lru_cache(maxsize=512)
def html_to_text(source: str) -> str:
    """A plain-text body from template HTML, Handlebars tags kept as they are."""
    protected, tokens = _protect(source)
    # In text, every placeholder must be a plain word html2text will not escape or wrap.
    words = _PLACEHOLDER.sub(lambda m: f"rmhb{m.group(1) or m.group(2)}x", protected)
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
    return _restore(text, tokens)


class _Inventory(HTMLParser):
    """Collects what an HTML source uses that the allowlist does not allow."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}>")
            return
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            if name not in allowed:
                self.problems.append(f"the {name} attribute on <{tag}>")
            elif name in URL_ATTRIBUTES and value and ":" in value.split("/")[0]:
                scheme = value.split(":", 1)[0].strip().lower()
                if scheme not in URL_SCHEMES and not scheme.startswith("{{"):
                    self.problems.append(f'a "{scheme}:" link on <{tag}>')


def disallowed_html(source: str) -> list[str]:
    """What in `source` is not allowed in email, as readable names (empty: all fine).

    <html>/<head>/<body>/<style> wrappers are tolerated: CSS is inlined and the document shell
    is ours."""
    protected, _ = _protect(source)
    inventory = _Inventory()
    inventory.feed(protected)
    tolerated = {"<html>", "<head>", "<body>", "<style>", "<meta>", "<title>"}
    seen, problems = set(), []
    for problem in inventory.problems:
        if problem not in tolerated and problem not in seen:
            seen.add(problem)
            problems.append(problem)
    return problems


DOCUMENT = (
    '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title></head><body>{body}</body></html>"
)
