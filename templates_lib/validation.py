"""Checking template sources before they are saved: syntax, known variables, email-safe HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable

from templates_lib import handlebars
from templates_lib.catalogue import CATALOGUE, allowed_variables
from templates_lib.html import disallowed_html
from templates_lib.rendering import BODY_TAG, UNSUBSCRIBE_VARIABLES

PROMOTIONAL = "promotional"
# `{{unsubscribe_url}}` or `{{{unsubscribe_url}}}` as a value shown (an `{{#if}}` alone is not).
_UNSUBSCRIBE_SHOWN = re.compile(r"\{\{\{?\s*unsubscribe_url\s*\}?\}\}")
UNSUBSCRIBE_MISSING = (
    "A promotional template must show an unsubscribe link: put {{unsubscribe_url}} in its HTML "
    '(e.g. <a href="{{unsubscribe_url}}">Unsubscribe</a>) or use a layout that does.'
)


def source_errors(source: str, allowed: set[str], event_keys: Iterable[str]) -> list[str]:
    """Readable errors for one Handlebars source: syntax (with line and column) and every
    variable the event types do not provide (with its line)."""
    try:
        references = handlebars.variable_references(handlebars.parse(source))
    except handlebars.TemplateSyntaxError as exc:
        return [f"Syntax error at line {exc.line}, column {exc.column}: {exc.message}"]
    errors, seen = [], set()
    for ref in references:
        if ref.path in allowed or ref.path in seen:
            continue
        seen.add(ref.path)
        labels = ", ".join(CATALOGUE[k].label for k in event_keys if k in CATALOGUE)
        errors.append(
            f'Unknown variable "{ref.path}" at line {ref.line}: '
            f"{labels or 'templates without event types'} do not provide it."
        )
    return errors


def shows_unsubscribe_link(html: str) -> bool:
    return bool(_UNSUBSCRIBE_SHOWN.search(html or ""))


def unsubscribe_errors(*, purpose: str, html: str, layout_html: str) -> list[str]:
    """A promotional template needs an unsubscribe link in its HTML or its layout's."""
    if (
        purpose != PROMOTIONAL
        or shows_unsubscribe_link(html)
        or shows_unsubscribe_link(layout_html)
    ):
        return []
    return [UNSUBSCRIBE_MISSING]


def template_errors(
    *,
    subject: str,
    html: str,
    text: str,
    event_keys: Iterable[str],
    purpose: str = "transactional",
) -> dict[str, list[str]]:
    """Errors per field ("subject", "html", "text"); empty when the template may be saved.
    Promotional templates may use the recipient's unsubscribe and preference links."""
    event_keys = list(event_keys)
    unknown = [k for k in event_keys if k not in CATALOGUE]
    allowed = allowed_variables(event_keys)
    if purpose == PROMOTIONAL:
        allowed = allowed | set(UNSUBSCRIBE_VARIABLES)
    errors: dict[str, list[str]] = {}
    for field, source in (("subject", subject), ("html", html), ("text", text)):
        problems = source_errors(source or "", allowed, event_keys)
        if field == "html":
            problems += [
                f"{what} is not allowed in email HTML." for what in disallowed_html(source or "")
            ]
        if problems:
            errors[field] = problems
    if unknown:
        errors["event_types"] = [f"Unknown event types: {', '.join(unknown)}"]
    return errors


def layout_errors(*, html: str) -> list[str]:
    count = html.count(BODY_TAG)
    errors = []
    if count != 1:
        errors.append(f"The layout must contain {BODY_TAG} exactly once (found {count}).")
    brand = {
        f"brand.{name}"
        for name in ("name", "logo_url", "primary_color", "support_email", "website_url", "address")
    } | {"brand", "body", *UNSUBSCRIBE_VARIABLES}  # the links: promotional mail only
    errors += source_errors(html, brand, [])
    errors += [f"{what} is not allowed in email HTML." for what in disallowed_html(html)]
    return errors
