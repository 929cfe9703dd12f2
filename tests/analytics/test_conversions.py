"""Conversions of promotional campaign mail (analytics/selectors/conversions.py): the
customer's exchange, store credit or new order within the window after a promotional email,
credited to the last such email before it (last touch), never to transactional mail; shown
as a column and a tile on the campaigns page."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from analytics.selectors.conversions import campaign_conversions, total_conversions
from returns_mail.models import CampaignRecipient, Message, ReturnEvent
from returns_mail.services.api_clients import api_client_create
from tests.analytics import factories as f
from tests.returns_mail.test_api_support import EVENTS, api_for, event_body, post_json

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
_keys = itertools.count()


@pytest.fixture
def world(settings):
    settings.CONVERSION_WINDOW_DAYS = 30
    outbox = f.Outbox()
    account = f.account("sendgrid", "SG promo")
    promo = outbox.template("Offer")
    return outbox, account, promo


def campaign(world, name: str, sent_at: datetime, emails: dict[str, dict]):
    _, account, promo = world
    row = f.campaign(account, name, promo, started_at=sent_at, total=len(emails))
    CampaignRecipient.objects.bulk_create(
        [
            CampaignRecipient(
                campaign=row,
                chunk_number=1,
                email=email,
                status="sent",
                sent_at=sent_at,
                **fields,
            )
            for email, fields in emails.items()
        ]
    )
    return row


def happened(world, event_type: str, email: str, at: datetime) -> ReturnEvent:
    outbox = world[0]
    return ReturnEvent.objects.create(
        client=outbox.client,
        idempotency_key=f"conv-{next(_keys)}",
        request_digest="0" * 64,
        type=event_type,
        occurred_at=at,
        return_id=f"RMA-{next(_keys)}",
        customer_email=email,
    )


def converted(*campaigns) -> dict[str, int]:
    found = campaign_conversions([c.pk for c in campaigns])
    return {c.name: found[c.pk].converted for c in campaigns}


def test_exchange_store_credit_and_order_inside_the_window_convert(world):
    spring = campaign(
        world, "Spring", T0, {e: {} for e in ("a@x.com", "b@x.com", "c@x.com", "d@x.com")}
    )
    happened(world, "exchange.created", "a@x.com", T0 + timedelta(days=3))
    happened(world, "store_credit.issued", "B@X.com", T0 + timedelta(days=29))  # any case
    happened(world, "order.placed", "c@x.com", T0 + timedelta(hours=1))
    happened(world, "refund.processed", "d@x.com", T0 + timedelta(days=1))  # not a conversion

    assert converted(spring) == {"Spring": 3}
    total = total_conversions([spring.pk])
    assert (total.converted, total.sent, total.rate) == (3, 4, 0.75)


def test_outside_the_window_or_before_the_email_does_not_convert(world, settings):
    spring = campaign(world, "Spring", T0, {"a@x.com": {}, "b@x.com": {}})
    happened(world, "exchange.created", "a@x.com", T0 + timedelta(days=30, seconds=1))
    happened(world, "exchange.created", "b@x.com", T0 - timedelta(minutes=1))

    assert converted(spring) == {"Spring": 0}

    settings.CONVERSION_WINDOW_DAYS = 31
    assert converted(spring) == {"Spring": 1}


def test_last_touch_gets_the_conversion_and_each_email_converts_once(world):
    first = campaign(world, "First", T0, {"a@x.com": {}})
    second = campaign(world, "Second", T0 + timedelta(days=5), {"a@x.com": {}})
    happened(world, "exchange.created", "a@x.com", T0 + timedelta(days=2))  # only First before
    happened(world, "order.placed", "a@x.com", T0 + timedelta(days=6))  # Second is the last
    happened(world, "order.placed", "a@x.com", T0 + timedelta(days=7))  # Second, again: once

    assert converted(first, second) == {"First": 1, "Second": 1}


def test_delivery_time_is_the_touch_and_bounced_mail_never_converts(world):
    # Sent before the event but delivered after it: not yet a touch when the customer acted.
    late = campaign(
        world,
        "Late",
        T0,
        {
            "a@x.com": {"delivered_at": T0 + timedelta(hours=5)},
            "b@x.com": {"bounced_at": T0 + timedelta(minutes=1)},
        },
    )
    happened(world, "exchange.created", "a@x.com", T0 + timedelta(hours=1))
    happened(world, "exchange.created", "b@x.com", T0 + timedelta(hours=1))

    assert converted(late) == {"Late": 0}


def test_transactional_mail_is_never_credited(world):
    outbox, account, _ = world
    outbox.message(account=account, recipient="a@x.com", status="delivered")  # a refund email
    spring = campaign(world, "Spring", T0 - timedelta(days=40), {"a@x.com": {}})
    happened(world, "exchange.created", "a@x.com", T0)

    assert converted(spring) == {"Spring": 0}


def test_campaigns_page_shows_the_column_the_tile_and_the_rule(world):
    now = datetime.now(UTC).replace(microsecond=0)
    spring = campaign(world, "Spring", now - timedelta(days=2), {"a@x.com": {}, "b@x.com": {}})
    happened(world, "store_credit.issued", "a@x.com", now - timedelta(days=1))
    client = Client()
    client.force_login(f.manager())

    page = client.get(reverse("analytics:campaigns"))
    csv = client.get(reverse("analytics:campaigns"), {"format": "csv"})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="kpi-conversion-rate"' in html
    assert "50.0 %" in html
    assert "last promotional email delivered" in html
    lines = csv.content.decode().split("\r\n")
    header = lines[1].split(",") if lines[0].startswith("#") else lines[0].split(",")
    row = next(line.split(",") for line in lines if "Spring" in line)
    assert row[header.index("Converted")] == "1"
    assert row[header.index("Conversion rate (%)")] == "50.00"
    assert spring.pk


def test_an_order_posted_through_the_api_is_accepted_sends_nothing_and_converts(world):
    _, token = api_client_create(name="returns system", scopes=["events:write"])
    spring = campaign(world, "Spring", T0, {"ada.customer@example.com": {}})
    body = event_body("order.placed", occurred_at=(T0 + timedelta(days=1)).isoformat())

    response = post_json(api_for(token), EVENTS, body)
    incomplete = post_json(api_for(token), EVENTS, event_body("order.placed", data={}))

    assert response.status_code == 202, response.json()
    assert incomplete.status_code == 400  # its fields are checked like any type's
    assert not Message.objects.exists()  # no default rule nor template for it
    assert converted(spring) == {"Spring": 1}
