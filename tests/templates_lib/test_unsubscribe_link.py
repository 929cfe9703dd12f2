"""A promotional template must show an unsubscribe link ({{unsubscribe_url}} in its HTML or its
layout's): it cannot be saved as a version or published without one. Its context carries the
recipient's links; a transactional template's never does."""

from __future__ import annotations

import pytest
from django.urls import reverse

from templates_lib.models import Layout, Template, TemplateVersion
from templates_lib.rendering import render_version
from templates_lib.services.templates import (
    TemplateInvalid,
    template_publish,
    template_version_create,
)
from templates_lib.validation import UNSUBSCRIBE_MISSING, template_errors
from tests.templates_lib.test_admin import change_data, change_url, login

pytestmark = pytest.mark.django_db

LINKS = {"unsubscribe_url": "https://x.example/u/t", "preferences_url": "https://x.example/u/t/p"}


@pytest.fixture
def bare_layout(db):
    return Layout.objects.create(name="Bare", html="<div>{{body}}</div>", brand_name="Shop")


def promotional(layout, html="<p>15% off</p>", **fields):
    values = {"name": "Offer", "slug": "offer", "purpose": "promotional", "event_types": []}
    return Template.objects.create(
        layout=layout, subject="Offer", html=html, **{**values, **fields}
    )


def test_a_promotional_template_without_the_link_is_not_saved_as_a_version(bare_layout):
    template = promotional(bare_layout)

    with pytest.raises(TemplateInvalid) as refused:
        template_version_create(template=template)

    assert refused.value.errors == {"html (en)": [UNSUBSCRIBE_MISSING]}
    assert TemplateVersion.objects.count() == 0


def test_an_if_alone_is_no_link(bare_layout):
    template = promotional(bare_layout, html="<p>{{#if unsubscribe_url}}bye{{/if}}</p>")

    with pytest.raises(TemplateInvalid):
        template_version_create(template=template)


def test_the_link_in_the_html_or_in_the_layout_is_enough(bare_layout, layout):
    own = promotional(bare_layout, html='<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>')
    assert template_version_create(template=own).number == 1

    by_layout = promotional(layout, slug="offer-2")  # the default layout shows it
    assert template_version_create(template=by_layout).number == 1


def test_an_older_version_without_the_link_is_not_published(bare_layout, client):
    template = promotional(bare_layout)
    TemplateVersion.objects.create(  # saved before promotional mail needed the link
        template=template,
        number=1,
        contents={"en": {"subject": "Offer", "html": "<p>15% off</p>", "text": ""}},
        default_locale="en",
        layout=bare_layout,
        content_hash="0" * 64,
    )
    version = template.versions.get()

    with pytest.raises(TemplateInvalid):
        template_publish(version=version)
    template.refresh_from_db()
    assert template.active_version is None

    # The admin's publish button says why, and publishes nothing.
    login(client, "IT admins")
    response = client.post(
        reverse("admin:templates_lib_template_publish", args=[template.pk]),
        {"version": "1"},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Not published:") and "unsubscribe link" in m for m in messages)
    template.refresh_from_db()
    assert template.active_version is None
    assert template.publications.count() == 0


def test_the_admin_form_says_what_is_missing(bare_layout, layout, client, make_template):
    login(client, "IT admins")
    template = promotional(layout)
    template_version_create(template=template)

    response = client.post(
        change_url(template), change_data(template, client, layout=bare_layout.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["html"] == [UNSUBSCRIBE_MISSING]
    assert template.versions.count() == 1


def test_only_promotional_templates_may_use_the_links():
    html = '<a href="{{unsubscribe_url}}">x</a> <a href="{{preferences_url}}">y</a>'
    transactional = template_errors(subject="s", html=html, text="", event_keys=[])
    assert [e.split(" at ")[0] for e in transactional["html"]] == [
        'Unknown variable "unsubscribe_url"',
        'Unknown variable "preferences_url"',
    ]
    promotional_errors = template_errors(
        subject="s", html=html, text="", event_keys=[], purpose="promotional"
    )
    assert promotional_errors == {}


def test_the_context_has_the_links_for_promotional_mail_only(layout, make_template):
    offer = promotional(layout)
    offer_version = template_version_create(template=offer)
    receipt = make_template()  # transactional, default layout

    rendered = render_version(offer_version, {"customer": {}}, unsubscribe=LINKS)
    assert f'<a href="{LINKS["unsubscribe_url"]}">Unsubscribe</a>' in rendered.html
    assert f'<a href="{LINKS["preferences_url"]}">Email preferences</a>' in rendered.html

    # Even when handed links (or an event carrying such a key), transactional mail has none.
    context = {"customer": {}, "refund": {"amount": "1"}, "unsubscribe_url": "https://evil"}
    plain = render_version(receipt.versions.get(), context, unsubscribe=LINKS)
    assert "Unsubscribe" not in plain.html
    assert "/u/" not in plain.html
    assert "evil" not in plain.html


def test_the_installed_default_layout_gains_the_links(layout, bare_layout):
    from importlib import import_module

    from django.apps import apps

    migration = import_module(
        "templates_lib.migrations.0003_default_layout_shows_unsubscribe_links"
    )
    current = layout.html
    old = current.replace(migration.LINKS, "")
    assert old != current
    Layout.objects.filter(pk=layout.pk).update(html=old)
    edited = bare_layout.html

    migration.add_links(apps, None)
    migration.add_links(apps, None)  # twice: nothing more

    layout.refresh_from_db()
    bare_layout.refresh_from_db()
    assert layout.html == current
    assert bare_layout.html == edited  # not the default layout: left alone
