"""The default templates: one per event type, valid, branded, idempotent to install."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from templates_lib.catalogue import CATALOGUE, sample_context
from templates_lib.defaults.content import DEFAULTS
from templates_lib.models import Template
from templates_lib.rendering import render_version
from templates_lib.services.templates import template_version_create

pytestmark = pytest.mark.django_db


def test_every_event_type_gets_a_published_template_that_renders():
    call_command("load_default_templates")
    call_command("load_default_templates")  # idempotent

    templates = Template.objects.all()
    # Every type with default content; a type without (order.placed) gets none.
    assert sorted(t.event_types[0] for t in templates) == sorted(
        k for k in CATALOGUE if k in DEFAULTS
    )
    assert "order.placed" in CATALOGUE
    assert "order.placed" not in DEFAULTS
    for template in templates:
        [event_type] = template.event_types
        assert template.slug == event_type.replace(".", "-")
        assert template.active_version.number == 1
        email = render_version(template.active_version, sample_context(event_type))
        assert "{{" not in email.subject + email.html + email.text
        assert "RMA-1001" in email.subject + email.text
        assert "Your Shop" in email.html
        # The stored draft is valid as it stands: saving again makes no new version.
        assert template_version_create(template=template) is None


def test_refund_template_shows_amount_items_and_greeting():
    call_command("load_default_templates")
    template = Template.objects.get(slug="refund-processed")

    email = render_version(template.active_version, sample_context("refund.processed"))

    assert email.subject == "Your refund of 89.80 EUR is on its way"
    assert "Hello Ada," in email.text
    assert "Organic T-shirt, red, M" in email.html
    assert "Visa ending 4242" in email.text
