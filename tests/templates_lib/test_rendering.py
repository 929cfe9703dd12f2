"""Rendering versions: layout and brand, escaping, locales, plain text, provider sources."""

from __future__ import annotations

import pytest

from templates_lib.catalogue import sample_context
from templates_lib.rendering import pick_locale, provider_content, render_version

pytestmark = pytest.mark.django_db


def test_render_wraps_the_layout_fills_variables_and_escapes_values(make_template):
    template = make_template()
    context = {**sample_context("refund.processed"), "customer": {"first_name": "<Ada & Bob>"}}

    email = render_version(template.versions.get(), context)

    assert email.subject == "Refund 89.80 EUR for RMA-1001"
    assert "<h1" in email.html
    assert "Hi &lt;Ada &amp; Bob&gt;</h1>" in email.html
    assert "Test Shop" in email.html  # the layout's brand
    assert "help@test-shop.example" in email.html
    assert email.html.startswith("<!DOCTYPE html>")
    assert "{{" not in email.html


def test_subject_and_text_are_not_html_escaped(make_template):
    template = make_template(
        subject="For {{customer.first_name}}", html="<p>{{customer.first_name}}</p>"
    )
    context = {**sample_context("refund.processed"), "customer": {"first_name": "O'Brien & Co"}}

    email = render_version(template.versions.get(), context)

    assert email.subject == "For O'Brien & Co"
    assert "O'Brien & Co" in email.text
    assert "O&#x27;Brien &amp; Co" in email.html


def test_text_is_generated_from_the_html_when_left_empty(make_template):
    template = make_template(
        html="<h1>Refund</h1><p>We refunded {{refund.amount}} {{refund.currency}}.</p>"
    )

    email = render_version(template.versions.get(), sample_context("refund.processed"))

    assert "We refunded 89.80 EUR." in email.text
    assert "<" not in email.text


def test_locale_falls_back_to_the_language_then_the_default(make_template):
    template = make_template(
        translations={"fr": {"subject": "Remboursement {{return_id}}", "html": "<p>Bonjour</p>"}}
    )
    version = template.versions.get()
    context = sample_context("refund.processed")

    assert render_version(version, context, "fr").subject == "Remboursement RMA-1001"
    assert render_version(version, context, "fr-CA").locale == "fr"
    assert render_version(version, context, "de").locale == "en"
    assert render_version(version, context, None).locale == "en"


def test_pick_locale():
    assert pick_locale(["en", "pt-BR"], "pt_br", "en") == "pt-BR"
    assert pick_locale(["en", "pt"], "pt-BR", "en") == "pt"
    assert pick_locale(["en"], "", "en") == "en"


def test_provider_content_uses_raw_tags_for_subject_and_text(make_template):
    template = make_template(text="Refund {{refund.amount}}")

    content = provider_content(template.versions.get(), "en")

    assert content.subject == "Refund {{{refund.amount}}} {{{refund.currency}}} for {{{return_id}}}"
    assert content.text == "Refund {{{refund.amount}}}"
    assert "{{customer.first_name}}" in content.html
    assert content.slug == "refund-processed"
