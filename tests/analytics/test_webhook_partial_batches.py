"""Batches as providers really send them: an event lacking what we need is skipped (and said
so on the delivery) while the rest of its batch is stored; Mandrill's deny-list changes, often
undated, add and lift suppressions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics.models import DeliveryEvent, Rollup, WebhookDelivery
from analytics.services.deliveries import webhook_delivery_process
from providers.sandbox.core import Fault
from returns_mail.models import MessageStatus, Suppression
from tests.analytics.test_webhook_ingest import (  # noqa: F401 - fixtures
    MANDRILL_KEY,
    mandrill_event,
    mandrill_sent_fixture,
    post_mandrill,
    post_sendgrid,
    send_fixture,
    sendgrid_batch,
    sendgrid_fixture,
)
from tests.conftest import TEST_KEYS
from tests.returns_mail.conftest import (  # noqa: F401 - fixtures
    event_input,
    ingest,
    make_rule,
    returns_system,
    templates,
)

pytestmark = pytest.mark.django_db


def deny_list(action: str, email: str, reason: str = "hard-bounce", **fields) -> dict:
    """A deny-list change as Mandrill sends it: no `event` key, and no `ts`."""
    return {
        "type": "blacklist",
        "action": action,
        "reject": {
            "email": email,
            "reason": reason,
            "detail": " smtp;550 5.1.1 unknown user",
            "last_event_at": "2024-03-05 14:30:00",
            "created_at": "2024-03-05 14:30:00",
            "expires_at": "2024-04-05 14:30:00",
            "expired": False,
            "subaccount": None,
            "sender": None,
        },
        **fields,
    }


# --- skipped events ---------------------------------------------------------------------------
def test_an_event_lacking_what_we_need_is_skipped_and_the_rest_of_the_batch_stored(
    mandrill_sent,
):
    account, message = mandrill_sent
    undated = {**mandrill_event(message, "open"), "ts": None}
    nameless = {"msg": {"email": message.recipient}}

    response = post_mandrill(account, [mandrill_event(message, "send"), undated, nameless, "junk"])

    assert (response.status_code, response.json()) == (
        200,
        {"events": 4, "new": 1, "skipped": 3},
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.events_total, delivery.events_skipped) == ("processed", 4, 3)
    assert delivery.skipped == [
        {"index": 1, "event": "open", "reason": "not a unix timestamp: None"},
        {"index": 2, "event": "", "reason": "neither an event nor a type"},
        {"index": 3, "event": "", "reason": "not an object"},
    ]
    assert list(DeliveryEvent.objects.values_list("type", "message")) == [("sent", message.pk)]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    replay = post_mandrill(account, [mandrill_event(message, "send"), undated, nameless, "junk"])
    assert replay.json() == {"events": 4, "new": 0, "skipped": 3, "duplicate": True}


def test_a_sendgrid_event_without_a_recipient_does_not_lose_its_batch(send, sendgrid):
    message, record = send("ada+click@example.com")
    events = sendgrid_batch(message, record)
    events.insert(1, {**events[1], "email": ""})

    response = post_sendgrid(sendgrid, events)

    assert response.json() == {"events": 5, "new": 4, "skipped": 1}
    message.refresh_from_db()
    assert message.status == MessageStatus.CLICKED
    delivery = WebhookDelivery.objects.get()
    assert delivery.skipped == [{"index": 1, "event": "delivered", "reason": "no recipient email"}]


def test_a_body_that_is_not_a_batch_is_still_400(mandrill_sent):
    account, _ = mandrill_sent

    response = post_mandrill(account, {"event": "send"})

    assert response.status_code == 400
    assert response.json()["detail"] == "mandrill_events is not a JSON array"
    assert WebhookDelivery.objects.count() == 0


def test_the_admin_lists_skipped_counts_and_shows_the_reasons(mandrill_sent, admin_client):
    account, message = mandrill_sent
    post_mandrill(account, [mandrill_event(message, "send"), {"msg": {}}])
    delivery = WebhookDelivery.objects.get()

    listing = admin_client.get(reverse("admin:analytics_webhookdelivery_changelist"))
    page = admin_client.get(reverse("admin:analytics_webhookdelivery_change", args=[delivery.pk]))

    assert "Events skipped" in listing.content.decode()
    assert '<td class="field-events_skipped">1</td>' in listing.content.decode()
    assert "event 1: neither an event nor a type" in " ".join(page.content.decode().split())


# --- Mandrill deny lists ------------------------------------------------------------------------
def test_an_undated_deny_list_addition_suppresses_the_address(mandrill_sent):
    account, message = mandrill_sent

    response = post_mandrill(
        account, [mandrill_event(message, "send"), deny_list("add", "Bob@Example.com")]
    )

    assert response.json() == {"events": 2, "new": 2, "skipped": 0}
    delivery = WebhookDelivery.objects.get()
    listed = DeliveryEvent.objects.get(type="denylist_add")
    assert (listed.provider_event, listed.recipient, listed.occurred_at) == (
        "blacklist.add",
        "Bob@Example.com",
        delivery.received_at,
    )
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.scope, suppression.reason) == (
        "bob@example.com",
        "all",
        "hard_bounce",
    )
    assert suppression.source_account == account


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("spam", {("all", "complaint")}),
        ("unsub", {("promotional", "unsubscribe")}),
        ("custom", {("all", "provider_deny")}),
        ("soft-bounce", set()),  # Mandrill lifts it when it expires
    ],
)
def test_a_deny_list_entry_suppresses_as_what_listed_it(mandrill_sent, reason, expected):
    account, _ = mandrill_sent

    post_mandrill(account, [deny_list("add", "bob@example.com", reason)])

    assert set(Suppression.objects.values_list("scope", "reason")) == expected


def test_a_deny_list_removal_lifts_only_what_that_account_reported(mandrill_sent, make_account):
    account, _ = mandrill_sent
    other = make_account("mailchimp_transactional", webhook_secret=MANDRILL_KEY)
    post_mandrill(account, [deny_list("add", "bob@example.com")])
    post_mandrill(other, [deny_list("add", "cy@example.com")])
    Suppression.objects.create(email="di@example.com", reason="manual")

    response = post_mandrill(
        account,
        [
            deny_list("remove", "bob@example.com"),
            deny_list("remove", "cy@example.com"),
            deny_list("remove", "di@example.com"),
        ],
    )

    assert response.json() == {"events": 3, "new": 3, "skipped": 0}
    assert set(Suppression.objects.values_list("email", flat=True)) == {
        "cy@example.com",
        "di@example.com",
    }


def test_within_a_batch_the_later_change_wins(mandrill_sent):
    account, _ = mandrill_sent

    post_mandrill(
        account,
        [
            deny_list("add", "bob@example.com"),
            deny_list("remove", "bob@example.com"),
            deny_list("remove", "cy@example.com"),
            deny_list("add", "cy@example.com", "spam"),
        ],
    )

    assert set(Suppression.objects.values_list("email", "reason")) == {
        ("cy@example.com", "complaint")
    }


def test_re_processing_an_undated_deny_list_change_finds_it_a_duplicate(mandrill_sent):
    account, _ = mandrill_sent
    post_mandrill(account, [deny_list("add", "bob@example.com")])
    delivery = WebhookDelivery.objects.get()

    again = webhook_delivery_process(delivery=delivery)

    assert (again.events_total, again.events_new) == (1, 0)
    assert DeliveryEvent.objects.count() == 1


# --- a held message proven sent by its provider's events ----------------------------------------
def test_a_held_message_proven_sent_by_a_webhook_is_counted_sent_once(
    make_rule,  # noqa: F811 - imported fixture
    sendgrid,
    ingest,  # noqa: F811 - imported fixture
    esp_sandbox,
    settings,
):
    settings.PROVIDER_TIMEOUT = 0.5
    make_rule(accounts=[sendgrid])
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("slow", delay=1.5, times=1))
    message = ingest(customer_email="ada+delivered@example.com").messages.get()
    assert message.status == MessageStatus.AMBIGUOUS  # the provider took it, unanswered
    assert not Rollup.objects.filter(period="day", sent__gt=0).exists()
    delivered = {
        "email": message.recipient,
        "timestamp": int(message.handed_over_at.timestamp()) + 5,
        "event": "delivered",
        "rm_correlation_id": str(message.correlation_id),
        "sg_message_id": "sg-1",
    }

    post_sendgrid(sendgrid, [delivered])
    # A person's open, two minutes later (one within seconds would be a machine's).
    post_sendgrid(
        sendgrid, [{**delivered, "event": "open", "timestamp": delivered["timestamp"] + 120}]
    )

    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
    assert message.sent_at == message.handed_over_at  # sent when handed over, as reconciled
    row = Rollup.objects.get(period="day", account_id=sendgrid.pk)
    assert (row.sent, row.delivered, row.opened) == (1, 1, 1)
