"""Rendering a template version: pick the locale, wrap it in its layout, make the HTML fit for
email (html.py), fill in the variables with our Handlebars engine.

The same prepared sources are what providers store (`provider_content`), so an email rendered
here and one rendered by SendGrid or Mandrill from the stored template are the same email.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.clients.types import TemplateContent
from providers.models import Purpose
from templates_lib import handlebars
from templates_lib.html import DOCUMENT, email_html, html_to_text
from templates_lib.models import Layout, TemplateVersion

BODY_TAG = "{{body}}"


@dataclass(frozen=True)
class PreparedTemplate:
    """Handlebars sources ready to render (here or at a provider)."""

    locale: str
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class RenderedEmail:
    locale: str
    subject: str
    html: str
    text: str


def pick_locale(available: list[str] | dict, wanted: str | None, default: str) -> str:
    """The customer's locale if the template has it, else its language, else the default."""
    if wanted:
        wanted = wanted.replace("_", "-")
        by_lower = {locale.lower(): locale for locale in available}
        for candidate in (wanted.lower(), wanted.split("-")[0].lower()):
            if candidate in by_lower:
                return by_lower[candidate]
    return default


def compose(layout: Layout, body_html: str) -> str:
    return layout.html.replace(BODY_TAG, body_html, 1)


def prepare(version: TemplateVersion, locale: str | None = None) -> PreparedTemplate:
    locale = pick_locale(version.contents, locale, version.default_locale)
    content = version.contents[locale]
    layout = version.layout
    composed = compose(layout, content["html"])
    body = email_html(composed, layout.css)
    html = DOCUMENT.format(lang=locale, title="{{brand.name}}", body=body)
    text = content.get("text") or html_to_text(composed)
    return PreparedTemplate(locale=locale, subject=content["subject"], html=html, text=text)


def render_prepared(prepared: PreparedTemplate, context: dict[str, Any]) -> RenderedEmail:
    return RenderedEmail(
        locale=prepared.locale,
        # Subjects and plain text are not HTML: their values are not HTML-escaped.
        subject=handlebars.render(prepared.subject, context, escape=False),
        html=handlebars.render(prepared.html, context),
        text=handlebars.render(prepared.text, context, escape=False),
    )


# Variables promotional mail gets besides the event's: the recipient's own links (returns_mail
# signs them). Transactional mail never has them.
UNSUBSCRIBE_VARIABLES = ("unsubscribe_url", "preferences_url")


def template_context(
    version: TemplateVersion,
    context: dict[str, Any],
    *,
    unsubscribe: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The event's variables plus the layout's brand, and for a promotional template the
    recipient's `unsubscribe_url` and `preferences_url` (from `unsubscribe`)."""
    values = {k: v for k, v in context.items() if k not in UNSUBSCRIBE_VARIABLES}
    values["brand"] = version.layout.brand()
    if unsubscribe and version.template.purpose == Purpose.PROMOTIONAL:
        values.update({k: unsubscribe[k] for k in UNSUBSCRIBE_VARIABLES if unsubscribe.get(k)})
    return values


def render_version(
    version: TemplateVersion,
    context: dict[str, Any],
    locale: str | None = None,
    *,
    unsubscribe: Mapping[str, str] | None = None,
) -> RenderedEmail:
    values = template_context(version, context, unsubscribe=unsubscribe)
    return render_prepared(prepare(version, locale), values)


def render_subject(
    version: TemplateVersion, context: dict[str, Any], locale: str | None = None
) -> str:
    """The subject alone, as a provider's copy of the version renders it from `context` (the
    template context, brand included)."""
    locale = pick_locale(version.contents, locale, version.default_locale)
    return handlebars.render(version.contents[locale]["subject"], context, escape=False)


def provider_content(version: TemplateVersion, locale: str) -> TemplateContent:
    """What a provider stores for this version and locale: Handlebars it renders the same way.

    Subject and text use raw {{{...}}} tags there, as they are rendered unescaped here."""
    prepared = prepare(version, locale)
    template = version.template
    suffix = "" if locale == version.default_locale else f"-{locale}"
    return TemplateContent(
        name=f"{template.name}{'' if not suffix else f' ({locale})'}",
        slug=f"{template.slug}{suffix}",
        subject=handlebars.to_raw_source(prepared.subject),
        html=prepared.html,
        text=handlebars.to_raw_source(prepared.text),
        version_label=f"v{version.number}",
    )


def content_hash(content: TemplateContent) -> str:
    payload = json.dumps([content.subject, content.html, content.text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
