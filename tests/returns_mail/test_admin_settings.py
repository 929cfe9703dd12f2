"""IT admins keep the suppression list, API clients and event types in the admin, and preview
templates with a stored event."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from returns_mail.models import ApiClient, EventTypeSetting, Suppression
from returns_mail.models.api_clients import token_digest
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.api_clients import api_client_authenticate
from returns_mail.services.config_cache import switched_off_types
from templates_lib.catalogue import CATALOGUE
from tests.returns_mail.test_admin_support import login, refund_data

pytestmark = pytest.mark.django_db


# --- suppression --------------------------------------------------------------------------------
def test_adding_a_suppression_lower_cases_the_email_and_records_who(client):
    admin = login(client, IT_ADMINS)

    response = client.post(
        reverse("admin:returns_mail_suppression_add"),
        {
            "email": "  Ada.Customer@Example.COM ",
            "reason": "manual",
            "scope": "all",
            "note": "phone",
        },
    )

    assert response.status_code == 302
    row = Suppression.objects.get()
    assert (row.email, row.reason, row.scope, row.note) == (
        "ada.customer@example.com",
        "manual",
        "all",
        "phone",
    )
    assert row.created_by == admin


def test_the_same_email_and_scope_twice_is_a_form_error(client):
    login(client, IT_ADMINS)
    data = {"email": "a@shop.example", "reason": "manual", "scope": "all", "note": ""}
    client.post(reverse("admin:returns_mail_suppression_add"), data)

    again = client.post(
        reverse("admin:returns_mail_suppression_add"), {**data, "email": "A@Shop.Example"}
    )

    assert again.status_code == 200
    assert again.context["adminform"].form.errors
    assert Suppression.objects.count() == 1


# --- API clients --------------------------------------------------------------------------------
def create_client(client, name="returns system") -> tuple[ApiClient, str, str]:
    response = client.post(
        reverse("admin:returns_mail_apiclient_add"),
        {"name": name, "scopes": ["events:write", "messages:read"], "rate_limit_per_minute": "600"},
    )
    assert response.status_code == 200
    token = response.context["token"]
    return ApiClient.objects.get(name=name), token, response.content.decode()


def test_a_new_clients_token_is_shown_once_and_only_its_digest_is_stored(client):
    login(client, IT_ADMINS)

    api_client, token, page = create_client(client)

    assert token.startswith("rm_")
    assert f'<code id="api-token" style="font-size: 1.2em; user-select: all">{token}</code>' in page
    assert api_client.scopes == ["events:write", "messages:read"]
    assert api_client.rate_limit_per_minute == 600
    assert api_client.token_digest == token_digest(token)
    stored = ApiClient.objects.filter(pk=api_client.pk).values().get()
    assert not any(token in str(value) for value in stored.values())
    assert token not in str(dict(client.session))  # not parked in a message or the session
    assert api_client_authenticate(token) == api_client
    # Never shown again: the list shows the prefix, the change page neither.
    changelist = client.get(reverse("admin:returns_mail_apiclient_changelist")).content.decode()
    change = client.get(reverse("admin:returns_mail_apiclient_change", args=[api_client.pk]))
    assert f"{api_client.token_prefix}…" in changelist
    assert token not in changelist
    assert token not in change.content.decode()
    assert api_client.token_digest not in change.content.decode()


def test_rotating_shows_a_new_token_once_and_the_old_one_stops_working(client):
    login(client, IT_ADMINS)
    api_client, old, _ = create_client(client)
    url = reverse("admin:returns_mail_apiclient_rotate", args=[api_client.pk])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert api_client_authenticate(old) == api_client  # asking changes nothing

    response = client.post(url)

    new = response.context["token"]
    assert response.status_code == 200
    assert new != old
    assert new in response.content.decode()
    assert api_client_authenticate(old) is None
    assert api_client_authenticate(new) == api_client
    api_client.refresh_from_db()
    assert api_client.token_digest == token_digest(new)
    assert api_client.token_rotated_at is not None


def test_managers_cannot_rotate_a_token(client):
    login(client, IT_ADMINS, "ita")
    api_client, token, _ = create_client(client)
    client.logout()
    login(client, MANAGERS, "mgr")

    response = client.post(reverse("admin:returns_mail_apiclient_rotate", args=[api_client.pk]))

    assert response.status_code == 403
    assert api_client_authenticate(token) == api_client


# --- event types --------------------------------------------------------------------------------
SWITCHBOARD = reverse("admin:returns_mail_eventtypesetting_changelist")


def switches(*off: str) -> dict:
    return {f"on_{key.replace('.', '__')}": "on" for key in CATALOGUE if key not in off}


def test_the_switchboard_lists_every_catalogue_type_and_writes_a_switch(client):
    login(client, IT_ADMINS)

    page = client.get(SWITCHBOARD)
    response = client.post(SWITCHBOARD, switches("return.reminder"), follow=True)

    rows = page.context["form"].rows()
    assert [row["key"] for row in rows] == list(CATALOGUE)
    assert len(rows) == 19  # order.placed too, though it has no default template
    assert all(row["switch"].value() for row in rows)  # no setting row: on
    assert list(EventTypeSetting.objects.values_list("event_type", "enabled")) == [
        ("return.reminder", False)
    ]
    assert "return.reminder" in switched_off_types()
    assert "refund.processed" not in switched_off_types()
    assert [str(m) for m in response.context["messages"]] == ["Switched off: return.reminder."]

    client.post(SWITCHBOARD, switches())

    assert list(EventTypeSetting.objects.values_list("event_type", "enabled")) == [
        ("return.reminder", True)
    ]
    assert "return.reminder" not in switched_off_types()


def test_managers_cannot_switch_event_types(client):
    login(client, MANAGERS)

    assert client.get(SWITCHBOARD).status_code == 403
    assert client.post(SWITCHBOARD, switches("refund.processed")).status_code == 403
    assert not EventTypeSetting.objects.exists()


# --- the template preview with a stored event ---------------------------------------------------
def test_the_template_preview_renders_a_stored_events_data(client, templates, ingest):
    login(client, IT_ADMINS)
    event = ingest("refund.processed", data=refund_data("12.34"), customer_name="Grace Hopper")
    template = templates["refund.processed"]
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    response = client.get(
        url,
        {"version": 1, "event_type": "refund.processed", "locale": "en", "stored_event": event.pk},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert '<span id="preview-subject">Your refund of 12.34 EUR is on its way</span>' in page
    srcdoc = html.unescape(page.split('srcdoc="')[1].split('"')[0])
    assert "Grace" in srcdoc
    assert "Ada" not in srcdoc
    assert f"Rendered with stored event {event.pk} (refund.processed)." in page


def test_an_unknown_stored_event_is_reported_and_the_sample_shown(client, templates):
    login(client, IT_ADMINS)
    template = templates["refund.processed"]
    url = reverse("admin:templates_lib_template_preview", args=[template.pk])

    response = client.get(
        url,
        {"version": 1, "event_type": "refund.processed", "locale": "en", "stored_event": 424242},
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "There is no stored event with id 424242."
    ]
    assert "Your refund of 89.80 EUR is on its way" in response.content.decode()
