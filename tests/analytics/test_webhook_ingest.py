"""Provider webhooks end to end: signed posts in, raw deliveries kept, events stored once,
message statuses forward only, rollups counted, suppression effects, re-processing."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django_q.signals import pre_enqueue
from django_q.utils import get_func_repr

from analytics import tasks as analytics_tasks
from analytics.models import DeliveryEvent, LatencyBin, Rollup, WebhookDelivery
from analytics.services import deliveries
from config.task_guard import task_entry_points
from providers.sandbox.mandrill_events import sign
from providers.sandbox.sendgrid_events import (
    build_events,
    event_body,
    new_signing_key,
    public_key_text,
    signed_headers,
)
from providers.webhooks.refusals import refusals_count
from returns_mail.models import Message, MessageStatus, Suppression
from returns_mail.services.lifecycle import message_finish
from tests.returns_mail.conftest import (  # noqa: F401 - fixtures
    event_input,
    ingest,
    make_rule,
    returns_system,
    templates,
)

pytestmark = pytest.mark.django_db

SIGNING_KEY = new_signing_key()


@pytest.fixture(name="sendgrid")
def sendgrid_fixture(make_account):
    return make_account("sendgrid", webhook_verification_key=public_key_text(SIGNING_KEY))


@pytest.fixture(name="send")
def send_fixture(make_rule, sendgrid, ingest, esp_sandbox):  # noqa: F811 - imported fixtures
    """send(email) -> (Message sent through the sandbox, the mail/send body it received)."""
    make_rule(accounts=[sendgrid])
    counter = iter(range(1, 1000))

    def run(email="ada.customer@example.com"):
        n = next(counter)
        event = ingest(return_id=f"RMA-{n}", customer_email=email)
        message = event.messages.get()
        assert message.status == MessageStatus.SENT
        record = esp_sandbox.records("sendgrid", path="/v3/mail/send")[-1]
        return message, record

    return run


def sendgrid_batch(message: Message, record: dict, *, now: float | None = None) -> list[dict]:
    """The events SendGrid reports for the sent mail (the recipient's +token decides which)."""
    return build_events(
        record["body"],
        message.provider_message_id,
        rates={},
        rng=random.Random(7),  # noqa: S311 - simulated behaviour
        now=now if now is not None else message.sent_at.timestamp() + 60,
    )


def post_sendgrid(account, events: list[dict], *, key=SIGNING_KEY, body: bytes | None = None):
    body = event_body(events) if body is None else body
    headers = signed_headers(key, body)
    return Client().post(
        f"/webhooks/sendgrid/{account.pk}/",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def rollup(**dims) -> dict:
    row = Rollup.objects.get(period="day", **dims)
    return {name: getattr(row, name) for name in Rollup.COUNTERS if getattr(row, name)}


def test_a_signed_batch_moves_the_message_forward_and_is_counted(send, sendgrid):
    message, record = send("ada+click@example.com")

    response = post_sendgrid(sendgrid, sendgrid_batch(message, record))

    assert response.status_code == 200
    assert response.json() == {
        "events": 4,
        "new": 4,
        "skipped": 0,
    }  # processed, delivered, open, click
    delivery = WebhookDelivery.objects.get()
    assert (delivery.account, delivery.status, delivery.events_new) == (sendgrid, "processed", 4)
    assert json.loads(delivery.body)[0]["event"] == "processed"  # kept as received
    assert sorted(DeliveryEvent.objects.values_list("type", flat=True)) == [
        "clicked",
        "delivered",
        "opened",
        "queued",
    ]
    assert set(DeliveryEvent.objects.values_list("message", flat=True)) == {message.pk}
    message.refresh_from_db()
    assert message.status == MessageStatus.CLICKED
    # A person's open and click come a minute after the delivery (the sandbox's HUMAN_DELAY).
    assert message.opened_at == message.clicked_at == message.delivered_at + timedelta(minutes=1)
    assert rollup(account_id=sendgrid.pk) == {
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "open_events": 1,
    }
    lead = LatencyBin.objects.get(period="day", metric="lead")
    response_time = LatencyBin.objects.get(period="day", metric="response")
    # Delivered a minute after sending; the event occurred 2026-11-26 10:15 (the fixture).
    assert (lead.event_type, lead.count) == ("refund.processed", 1)
    first_open = LatencyBin.objects.get(period="day", metric="open")
    # Opened and clicked a minute after the delivery: the 30-60 s bin, for both.
    assert (response_time.bin, response_time.count) == (2, 1)
    assert (first_open.bin, first_open.count) == (2, 1)


def test_the_same_events_again_are_absorbed_even_with_new_event_ids(send, sendgrid):
    message, record = send("ada+open@example.com")
    events = sendgrid_batch(message, record)
    post_sendgrid(sendgrid, events)

    retried = [{**e, "sg_event_id": f"retry-{i}"} for i, e in enumerate(events)]
    again = post_sendgrid(sendgrid, retried)

    assert again.json() == {"events": 3, "new": 0, "skipped": 0}
    assert DeliveryEvent.objects.count() == 3
    assert WebhookDelivery.objects.count() == 2  # both kept raw
    assert rollup(account_id=sendgrid.pk) == {
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "open_events": 1,
    }


def test_a_group_unsubscribe_and_an_unsubscribe_at_the_same_second_are_both_kept(send, sendgrid):
    message, _record = send("ada+delivered@example.com")
    base = {
        "email": message.recipient,
        "timestamp": int(message.sent_at.timestamp()) + 60,
        "sg_message_id": message.provider_message_id,
        "rm_correlation_id": str(message.correlation_id),
    }
    events = [
        {**base, "event": "unsubscribe", "sg_event_id": "u1"},
        {**base, "event": "group_unsubscribe", "asm_group_id": 10, "sg_event_id": "g1"},
        {**base, "event": "group_unsubscribe", "asm_group_id": 11, "sg_event_id": "g2"},
    ]

    response = post_sendgrid(sendgrid, events)

    assert response.json() == {"events": 3, "new": 3, "skipped": 0}
    assert sorted(DeliveryEvent.objects.values_list("provider_event", flat=True)) == [
        "group_unsubscribe",
        "group_unsubscribe",
        "unsubscribe",
    ]


def test_an_event_stored_under_the_older_fingerprint_is_still_a_duplicate(send, sendgrid):
    message, record = send("ada+open@example.com")
    events = sendgrid_batch(message, record)
    post_sendgrid(sendgrid, events)
    # As stored before the provider event and list were part of the fingerprint.
    for row in DeliveryEvent.objects.all():
        (event,) = [
            e
            for e in deliveries.parse(
                "sendgrid",
                body=json.dumps([row_raw(row, events)]).encode(),
                content_type="application/json",
            ).events
        ]
        row.fingerprint = deliveries.legacy_fingerprint(sendgrid.pk, event)
        row.save(update_fields=["fingerprint"])

    again = post_sendgrid(
        sendgrid, [{**e, "sg_event_id": f"retry-{i}"} for i, e in enumerate(events)]
    )

    assert again.json() == {"events": 3, "new": 0, "skipped": 0}
    assert DeliveryEvent.objects.count() == 3
    assert rollup(account_id=sendgrid.pk) == {
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "open_events": 1,
    }


def row_raw(row: DeliveryEvent, events: list[dict]) -> dict:
    return next(e for e in events if e["sg_event_id"] == row.provider_event_id)


def test_a_late_delivered_never_undoes_opened(send, sendgrid):
    message, record = send("ada+open@example.com")
    events = sendgrid_batch(message, record)
    opened = [e for e in events if e["event"] == "open"]
    delivered = [e for e in events if e["event"] == "delivered"]

    post_sendgrid(sendgrid, opened)
    post_sendgrid(sendgrid, delivered)

    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
    assert message.delivered_at is not None
    assert rollup(account_id=sendgrid.pk) == {
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "open_events": 1,
    }


@pytest.mark.parametrize(
    ("problem", "change"),
    [
        (
            "bad signature",
            lambda h, b: ({**h, "X-Twilio-Email-Event-Webhook-Signature": "MEUCIQ"}, b),
        ),
        ("missing signature", lambda h, b: ({"X-Twilio-Email-Event-Webhook-Timestamp": "1"}, b)),
        ("altered body", lambda h, b: (h, b.replace(b"delivered", b"bounce"))),
    ],
)
def test_a_forged_request_is_403_stores_nothing_and_is_counted(
    send, sendgrid, problem, change, caplog
):
    message, record = send("ada+delivered@example.com")
    body = event_body(sendgrid_batch(message, record))
    headers, body = change(signed_headers(SIGNING_KEY, body), body)
    headers.pop("Content-Type", None)
    refused_before = refusals_count(sendgrid.pk)  # local-memory cache: ids repeat between tests

    with caplog.at_level(logging.WARNING, logger="analytics.webhooks.views"):
        response = Client().post(
            f"/webhooks/sendgrid/{sendgrid.pk}/",
            data=body,
            content_type="application/json",
            headers=headers,
        )

    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == DeliveryEvent.objects.count() == 0
    assert refusals_count(sendgrid.pk) == refused_before + 1
    assert f"webhook refused for account {sendgrid.pk}" in caplog.text
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_another_key_is_refused(send, sendgrid):
    message, record = send("ada+delivered@example.com")

    response = post_sendgrid(sendgrid, sendgrid_batch(message, record), key=new_signing_key())

    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_a_malformed_body_is_400_and_stores_nothing(sendgrid):
    response = post_sendgrid(sendgrid, [], body=b'{"not": "a list"}')

    assert response.status_code == 400
    assert WebhookDelivery.objects.count() == 0


def test_hard_bounces_and_complaints_suppress_all_mail_unsubscribes_promotional(
    send, sendgrid, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    audience = make_account("mailchimp_marketing")
    bounced, bounce_record = send("bob+bounce@example.com")
    complained, complaint_record = send("cy+spamreport@example.com")
    unsubscribed, unsubscribe_record = send("di+unsubscribe@example.com")
    events = [
        *sendgrid_batch(bounced, bounce_record),
        *sendgrid_batch(complained, complaint_record),
        *sendgrid_batch(unsubscribed, unsubscribe_record),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        assert post_sendgrid(sendgrid, events).status_code == 200

    assert set(Suppression.objects.values_list("email", "scope", "reason")) == {
        ("bob+bounce@example.com", "all", "hard_bounce"),
        ("cy+spamreport@example.com", "all", "complaint"),
        ("di+unsubscribe@example.com", "promotional", "unsubscribe"),
    }
    bounced.refresh_from_db()
    assert bounced.status == MessageStatus.BOUNCED
    assert (
        bounced.error
        == "bounce: 550 5.1.1 The email account that you tried to reach does not exist."
    )
    # The unsubscribe is mirrored to the Mailchimp audience (tasks run inline in tests).
    [put] = [
        r
        for r in esp_sandbox.records("mailchimp")
        if r["method"] == "PUT" and "/members/" in r["path"]
    ]
    assert put["body"]["email_address"] == "di+unsubscribe@example.com"
    assert put["body"]["status"] == "unsubscribed"
    assert audience.audience_id in put["path"]
    totals = rollup(account_id=sendgrid.pk)
    assert totals == {
        "sent": 3,
        "delivered": 2,
        "bounced_hard": 1,
        "complained": 1,
        "unsubscribed": 1,
    }


def test_unsubscribe_mirroring_is_queued_to_returns_mail_and_the_old_name_still_runs(
    send, sendgrid, make_account, esp_sandbox, django_capture_on_commit_callbacks
):
    make_account("mailchimp_marketing")
    message, record = send("di+unsubscribe@example.com")
    queued = []

    def seen(sender, task, **kwargs):
        queued.append(get_func_repr(task["func"]))

    pre_enqueue.connect(seen, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post_sendgrid(sendgrid, sendgrid_batch(message, record))
    finally:
        pre_enqueue.disconnect(seen)

    assert queued == ["returns_mail.tasks.unsubscribe_mirror"]
    # A task queued under the name it had before it moved still runs.
    suppression = Suppression.objects.get(email=message.recipient)
    assert "analytics.tasks.unsubscribe_mirror" in task_entry_points()
    assert analytics_tasks.unsubscribe_mirror(suppression.pk) == 1
    puts = [r for r in esp_sandbox.records("mailchimp") if r["method"] == "PUT"]
    assert [put["body"]["email_address"] for put in puts] == [message.recipient] * 2


def test_an_error_of_ours_is_500_and_the_delivery_can_be_reprocessed(
    send, sendgrid, monkeypatch, admin_client
):
    message, record = send("ada+delivered@example.com")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(deliveries, "_apply_to_messages", broken)
    response = post_sendgrid(sendgrid, sendgrid_batch(message, record))

    assert response.status_code == 500
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error) == ("failed", "RuntimeError: a bug")
    assert DeliveryEvent.objects.count() == 0  # rolled back with the failure

    monkeypatch.undo()  # the fix
    answer = admin_client.post(
        "/admin/analytics/webhookdelivery/",
        {"action": "reprocess", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert answer.status_code == 200
    delivery.refresh_from_db()
    assert (delivery.status, delivery.events_new) == ("processed", 2)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED

    # Once more: everything is already stored, nothing is applied twice.
    admin_client.post(
        "/admin/analytics/webhookdelivery/",
        {"action": "reprocess", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.events_new) == ("processed", 0)
    assert rollup(account_id=sendgrid.pk) == {"sent": 1, "delivered": 1}


def test_a_3000_event_batch_is_processed_in_one_request(sendgrid):
    events = []
    for i in range(1500):
        base = {
            "email": f"reader{i}@example.com",
            "timestamp": 1_790_000_000 + i,
            "sg_message_id": f"other-{i}.filter",
            "sg_event_id": f"ev-{i}",
        }
        events.append({**base, "event": "delivered"})
        events.append({**base, "event": "open", "sg_event_id": f"ev-open-{i}"})

    response = post_sendgrid(sendgrid, events)

    assert response.json() == {"events": 3000, "new": 3000, "skipped": 0}
    assert DeliveryEvent.objects.count() == 3000


def test_provider_events_before_the_send_is_recorded_are_not_lost(send, sendgrid):
    message, record = send("ada+delivered@example.com")
    # As if the webhook had come while the worker was still recording the send.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)
    post_sendgrid(sendgrid, sendgrid_batch(message, record))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING  # the worker's row to finish

    finished = message_finish(message, MessageStatus.SENT)  # the worker records the send

    assert finished.status == MessageStatus.DELIVERED


def test_an_unknown_account_is_404(db):
    response = Client().post(
        "/webhooks/sendgrid/999999/", data=b"[]", content_type="application/json"
    )

    assert response.status_code == 404


def test_old_events_count_in_their_send_cohort(send, sendgrid):
    message, record = send("ada+delivered@example.com")
    later = message.sent_at + timedelta(days=3)

    post_sendgrid(sendgrid, sendgrid_batch(message, record, now=later.timestamp()))

    sent_day = message.sent_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    row = Rollup.objects.get(period="day", account_id=sendgrid.pk)
    assert (row.bucket, row.sent, row.delivered) == (sent_day, 1, 1)
    assert datetime.fromtimestamp(later.timestamp(), UTC) > row.bucket + timedelta(days=2)


# --- Mailchimp Transactional (Mandrill) -----------------------------------------------------------
MANDRILL_KEY = "mandrill-webhook-key-0001"


def post_mandrill(account, events: list[dict], *, url: str | None = None, key=MANDRILL_KEY):
    path = f"/webhooks/mandrill/{account.pk}/"
    events_json = json.dumps(events)
    signature = sign(key, url or f"http://testserver{path}", events_json)
    return Client().post(
        path,
        data=urlencode({"mandrill_events": events_json}),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Mandrill-Signature": signature},
    )


def mandrill_event(message: Message, event: str, **fields) -> dict:
    return {
        "event": event,
        "ts": int(message.sent_at.timestamp()) + 30,
        "_id": "mandrill-id-1",
        "msg": {
            "_id": "mandrill-id-1",
            "email": message.recipient,
            "state": "sent",
            "metadata": {"rm_correlation_id": str(message.correlation_id)},
            "tags": [],
        },
        **fields,
    }


@pytest.fixture(name="mandrill_sent")
def mandrill_sent_fixture(make_account, make_rule, ingest):  # noqa: F811 - imported fixtures
    account = make_account("mailchimp_transactional", webhook_secret=MANDRILL_KEY)
    make_rule(accounts=[account])
    message = ingest().messages.get()
    assert message.status == MessageStatus.SENT
    return account, message


def test_mandrill_head_check_is_answered_without_a_signature(mandrill_sent):
    account, _ = mandrill_sent

    assert Client().head(f"/webhooks/mandrill/{account.pk}/").status_code == 200


def test_a_signed_mandrill_batch_is_processed(mandrill_sent):
    account, message = mandrill_sent

    response = post_mandrill(
        account, [mandrill_event(message, "send"), mandrill_event(message, "open", ts=1)]
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
    assert message.delivered_at is None  # no "delivered" event in this batch
    assert rollup(account_id=account.pk) == {"sent": 1, "opened": 1, "open_events": 1}


def test_mandrill_signed_for_another_url_is_403(mandrill_sent):
    account, message = mandrill_sent
    wrong = f"http://testserver/webhooks/mandrill/{account.pk}"  # no trailing slash

    response = post_mandrill(account, [mandrill_event(message, "send")], url=wrong)

    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0


# --- Mailchimp Marketing audience webhooks -------------------------------------------------------
AUDIENCE_SECRET = "audience-secret-0123456789abcdef"


def test_the_audience_webhook_answers_the_validator_and_suppresses_unsubscribes(make_account):
    account = make_account("mailchimp_marketing", webhook_secret=AUDIENCE_SECRET)
    url = f"/webhooks/mailchimp/{account.pk}/{AUDIENCE_SECRET}/"
    form = {
        "type": "unsubscribe",
        "fired_at": "2026-11-26 10:30:00",
        "data[action]": "unsub",
        "data[reason]": "manual",
        "data[email]": "Eve@Example.com",
        "data[list_id]": "aud001",
    }

    assert Client().get(url).status_code == 200
    response = Client().post(
        url, data=urlencode(form), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert list(Suppression.objects.values_list("email", "scope", "reason")) == [
        ("eve@example.com", "promotional", "unsubscribe")
    ]
    event = DeliveryEvent.objects.get()
    assert (event.type, event.message, event.recipient) == ("unsubscribed", None, "Eve@Example.com")


def test_a_wrong_audience_secret_is_403(make_account):
    account = make_account("mailchimp_marketing", webhook_secret=AUDIENCE_SECRET)
    url = f"/webhooks/mailchimp/{account.pk}/not-the-secret/"

    assert Client().get(url).status_code == 403
    response = Client().post(
        url,
        data="type=unsubscribe&data[email]=x@example.com",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    assert Suppression.objects.count() == 0


def test_the_admin_shows_each_accounts_webhook_url_without_the_secret(
    admin_client, make_account, settings
):
    settings.WEBHOOK_BASE_URL = "https://mail.shop.example"
    sendgrid = make_account("sendgrid")
    audience = make_account("mailchimp_marketing", webhook_secret=AUDIENCE_SECRET)

    sendgrid_page = admin_client.get(f"/admin/providers/provideraccount/{sendgrid.pk}/change/")
    audience_page = admin_client.get(f"/admin/providers/provideraccount/{audience.pk}/change/")

    assert f"https://mail.shop.example/webhooks/sendgrid/{sendgrid.pk}/" in sendgrid_page.text
    assert (
        f"https://mail.shop.example/webhooks/mailchimp/{audience.pk}/&lt;webhook secret&gt;/"
        in audience_page.text
    )
    assert AUDIENCE_SECRET not in audience_page.text


def test_refused_requests_are_counted_on_the_accounts_admin_page(admin_client, sendgrid):
    before = refusals_count(sendgrid.pk)  # local-memory cache: ids repeat between tests
    for _ in range(2):
        Client().post(
            f"/webhooks/sendgrid/{sendgrid.pk}/", data=b"[]", content_type="application/json"
        )

    page = admin_client.get(f"/admin/providers/provideraccount/{sendgrid.pk}/change/")

    assert refusals_count(sendgrid.pk) == before + 2
    assert "refused webhook requests (7 days)" in page.text.lower()
