"""Through the webhook path: machine opens are stored flagged and count as no open (open rate,
opened_at, status, response time); response time runs from delivery to the first click or
reply, and "first open (human)" is its own latency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.utils import timezone

from analytics.models import DeliveryEvent, LatencyBin, Rollup
from analytics.selectors import metrics
from analytics.selectors.filters import default_filters
from analytics.services import deliveries
from providers.webhooks.types import DeliveryEventType, NormalizedEvent, ParsedBatch
from returns_mail.models import Message, MessageStatus
from tests.analytics.test_webhook_ingest import (  # noqa: F401 - fixtures
    post_sendgrid,
    rollup,
    send_fixture,
    sendgrid_fixture,
)
from tests.returns_mail.conftest import (  # noqa: F401 - fixtures
    event_input,
    ingest,
    make_rule,
    returns_system,
    templates,
)

pytestmark = pytest.mark.django_db
APPLE_PROXY = "Mozilla/5.0"
_bodies = count()


def sendgrid_event(message: Message, event: str, seconds_after_send: int, **fields) -> dict:
    return {
        "event": event,
        "email": message.recipient,
        "timestamp": int(message.sent_at.timestamp()) + seconds_after_send,
        "sg_message_id": message.provider_message_id,
        "sg_event_id": f"{event}-{seconds_after_send}",
        "rm_correlation_id": str(message.correlation_id),
        **fields,
    }


def sendgrid_time(message: Message, seconds_after_send: int) -> datetime:
    """As sendgrid_event dates it: whole seconds."""
    return datetime.fromtimestamp(int(message.sent_at.timestamp()) + seconds_after_send, UTC)


def process(account, message: Message, type_: str, seconds_after_send: int) -> None:
    """An event of `type_` through the service every webhook goes through (a reply comes
    this way from the inbound mail)."""
    delivery = deliveries.webhook_delivery_store(
        account=account,
        body=json.dumps({"test": next(_bodies)}).encode(),
        content_type="application/json",
        received_at=timezone.now(),
    )
    event = NormalizedEvent(
        type=type_,
        provider_event=type_,
        occurred_at=message.sent_at + timedelta(seconds=seconds_after_send),
        recipient=message.recipient,
        correlation_id=str(message.correlation_id),
    )
    deliveries.webhook_delivery_process(delivery=delivery, batch=ParsedBatch([event]))


def bins(metric: str) -> list[tuple[int, int]]:
    rows = LatencyBin.objects.filter(period="day", metric=metric).order_by("bin")
    return [(row.bin, row.count) for row in rows]


def test_a_machine_open_counts_as_no_open(send, sendgrid):
    message, _ = send("ada@example.com")

    response = post_sendgrid(
        sendgrid,
        [
            sendgrid_event(message, "delivered", 30),
            # SendGrid's flag; then Apple's proxy agent without it.
            sendgrid_event(message, "open", 31, sg_machine_open=True, useragent=APPLE_PROXY),
            sendgrid_event(message, "open", 900, useragent=APPLE_PROXY),
        ],
    )

    assert response.status_code == 200
    stored = DeliveryEvent.objects.filter(type="opened").values_list("machine_open", flat=True)
    assert list(stored) == [True, True]
    message.refresh_from_db()
    assert (message.status, message.opened_at, message.responded_at) == (
        MessageStatus.DELIVERED,
        None,
        None,
    )
    assert rollup(account_id=sendgrid.pk) == {
        "sent": 1,
        "delivered": 1,
        "open_events": 2,
        "machine_opens": 2,
    }
    assert bins("response") == bins("open") == []
    totals = metrics.totals(default_filters())
    assert (totals.open_rate, totals.machine_open_share) == (0.0, 1.0)


def test_an_open_seconds_after_the_delivery_is_a_machines(send, sendgrid):
    message, _ = send("ada@example.com")
    post_sendgrid(sendgrid, [sendgrid_event(message, "delivered", 30)])

    # No flag, an ordinary agent, but 2 s after the delivery (MACHINE_OPEN_SECONDS is 5).
    post_sendgrid(sendgrid, [sendgrid_event(message, "open", 32, useragent="Mozilla/5.0 (X11)")])
    # A person, ten minutes later.
    post_sendgrid(sendgrid, [sendgrid_event(message, "open", 630, useragent="Mozilla/5.0 (X11)")])

    opens = DeliveryEvent.objects.filter(type="opened").order_by("occurred_at")
    assert list(opens.values_list("machine_open", flat=True)) == [True, False]
    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
    assert message.opened_at == sendgrid_time(message, 630)
    assert rollup(account_id=sendgrid.pk)["opened"] == 1
    # First open (human): 600 s after the delivery, in the 300-600 s bin; no response yet.
    assert bins("open") == [(5, 1)]
    assert bins("response") == []


def test_response_time_runs_to_the_first_click_not_an_open(send, sendgrid):
    message, _ = send("ada@example.com")
    post_sendgrid(
        sendgrid,
        [
            sendgrid_event(message, "delivered", 30),
            sendgrid_event(message, "open", 90, useragent="Mozilla/5.0 (X11)"),  # 60 s
        ],
    )
    assert bins("response") == []  # an open is no response

    post_sendgrid(sendgrid, [sendgrid_event(message, "click", 4_000, url="https://shop/x")])
    post_sendgrid(sendgrid, [sendgrid_event(message, "click", 9_000, url="https://shop/y")])

    message.refresh_from_db()
    assert message.responded_at == sendgrid_time(message, 4_000)
    # Delivery → first click: 3,970 s (the 1-3 h bin), counted once; first open: 60 s.
    assert bins("response") == [(8, 1)]
    assert bins("open") == [(2, 1)]


def test_response_time_runs_to_a_reply(send, sendgrid):
    message, _ = send("ada@example.com")
    post_sendgrid(sendgrid, [sendgrid_event(message, "delivered", 30)])

    process(sendgrid, message, DeliveryEventType.REPLIED, 30 + 1_200)  # 20 min later
    process(sendgrid, message, DeliveryEventType.CLICKED, 30 + 7_200)  # a later click

    message.refresh_from_db()
    assert message.responded_at == message.sent_at + timedelta(seconds=1_230)
    assert message.clicked_at is not None
    # The reply's 1,200 s (the 10-30 min bin) only: the later click is no first action.
    assert bins("response") == [(6, 1)]
    # A reply is no open; the click implies one (2 h after the delivery: the 1-3 h bin).
    assert bins("open") == [(8, 1)]
    assert Rollup.objects.get(period="day").clicked == 1
