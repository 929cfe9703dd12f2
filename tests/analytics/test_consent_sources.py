"""Every source of a consent change leaves a history row: the returns system's events, the
Mailchimp audience webhook, and unsubscribes SendGrid reports."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from returns_mail.models import ConsentRecord, Customer, Suppression
from returns_mail.services.consent import consent_record
from tests.analytics.test_webhook_ingest import (  # noqa: F401 - fixtures
    post_sendgrid,
    send_fixture,
    sendgrid_batch,
    sendgrid_fixture,
)
from tests.returns_mail.conftest import (  # noqa: F401 - fixtures
    event_input,
    make_rule,
    returns_system,
    templates,
)
from tests.returns_mail.conftest import ingest as ingest

pytestmark = pytest.mark.django_db

EMAIL = "ada.customer@example.com"
AUDIENCE_SECRET = "audience-secret-0123456789abcdef"


def history(email=EMAIL):
    return list(
        ConsentRecord.objects.filter(email=email)
        .order_by("occurred_at", "id")
        .values_list("granted", "source", "detail", "occurred_at")
    )


def at(hour: int) -> datetime:
    return datetime(2026, 11, 26, hour, 0, tzinfo=UTC)


def test_the_returns_systems_events_are_recorded_when_they_change_the_consent(ingest):
    given = ingest("return.approved", key="k1", marketing_consent=True, occurred_at=at(9))
    again = ingest("return.received", key="k2", marketing_consent=True, occurred_at=at(10))
    withdrawn = ingest("return.completed", key="k3", marketing_consent=False, occurred_at=at(11))

    assert again.pk  # repeating the latest word adds nothing
    assert history() == [
        (True, "return_event", f"event {given.pk}", at(9)),
        (False, "return_event", f"event {withdrawn.pk}", at(11)),
    ]
    assert Customer.objects.get(email=EMAIL).marketing_consent is False
    assert Suppression.objects.count() == 0  # the returns system's word is no unsubscribe


def test_an_events_consent_does_not_lift_the_customers_own_unsubscribe(ingest, client):
    from returns_mail.services.unsubscribe_links import link_token

    ingest("return.approved", key="k1", marketing_consent=True, occurred_at=at(9))
    client.post(
        f"/u/{link_token(email=EMAIL, ref='m1')}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    later = ingest("return.received", key="k2", marketing_consent=True, occurred_at=timezone.now())

    [*_, withdrawal, grant] = history()
    assert withdrawal[:3] == (False, "unsubscribe_link", "message m1")
    assert grant[:3] == (True, "return_event", f"event {later.pk}")
    assert list(Suppression.objects.values_list("email", "scope", "reason")) == [
        (EMAIL, "promotional", "unsubscribe")
    ]
    assert Customer.objects.get(email=EMAIL).marketing_consent is False


def post_audience(account, **fields):
    form = {"data[list_id]": "aud001", "data[email]": EMAIL.upper(), **fields}
    return Client().post(
        f"/webhooks/mailchimp/{account.pk}/{AUDIENCE_SECRET}/",
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
    )


def test_the_mailchimp_audience_webhook_withdraws_and_a_subscribe_is_history_only(
    make_account, django_capture_on_commit_callbacks
):
    account = make_account("mailchimp_marketing", webhook_secret=AUDIENCE_SECRET)
    Customer.objects.create(email=EMAIL, marketing_consent=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_audience(account, type="unsubscribe", fired_at="2026-11-26 10:30:00")
    assert response.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = post_audience(account, type="subscribe", fired_at="2026-11-26 11:00:00")
    assert response.status_code == 200

    detail = f"%s at {account}"
    assert history() == [
        (False, "mailchimp_audience", detail % "unsubscribe", datetime(2026, 11, 26, 10, 30, tzinfo=UTC)),
        (True, "mailchimp_audience", detail % "subscribe", datetime(2026, 11, 26, 11, 0, tzinfo=UTC)),
    ]  # fmt: skip
    [suppression] = Suppression.objects.all()
    assert (suppression.scope, suppression.reason) == ("promotional", "unsubscribe")
    assert suppression.source_account == account  # its deny-list removal may lift it
    assert Customer.objects.get(email=EMAIL).marketing_consent is False


def test_a_sendgrid_unsubscribe_is_recorded_with_the_account(
    send, sendgrid, django_capture_on_commit_callbacks
):
    message, record = send("di+unsubscribe@example.com")
    # The customer had given consent by then (the event of the send said no).
    consent_record(
        email=message.recipient, granted=True, source="admin", at=message.sent_at, detail=""
    )
    Customer.objects.filter(email=message.recipient).update(marketing_consent=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert post_sendgrid(sendgrid, sendgrid_batch(message, record)).status_code == 200

    [*_, (granted, source, detail, occurred_at)] = history(message.recipient)
    assert (granted, source, detail) == (False, "provider_unsubscribe", str(sendgrid))
    assert occurred_at.timestamp() == pytest.approx(message.sent_at.timestamp() + 60, abs=60)
    assert Customer.objects.get(email=message.recipient).marketing_consent is False
