"""Campaign mail reaches the rollups the dashboards read: sends and refusals as returns_mail
records them, outcomes and engagement as the providers' webhooks report them (through the
sandbox and the real SDKs), and campaigns sent before the rollups counted them."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from analytics.models import LatencyBin, Rollup
from providers.sandbox.sendgrid_events import build_events, new_signing_key, public_key_text
from returns_mail.models import CampaignRecipient, CampaignStatus, Customer
from returns_mail.services import audience
from returns_mail.services.campaigns import campaign_start
from tests.analytics import factories as f
from tests.analytics.test_webhook_ingest import post_sendgrid
from tests.returns_mail.campaign_support import customers, everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

SIGNING_KEY = new_signing_key()
COUNTED = ("sent", "failed", "delivered", "bounced_hard", "bounced_soft", "rejected")
ENGAGED = ("opened", "clicked", "complained", "unsubscribed", "deferred")


def day_totals(campaign_id: int) -> dict[str, int]:
    rows = Rollup.objects.filter(period="day", campaign_id=campaign_id)
    sums = rows.aggregate(**{name: Sum(name) for name in COUNTED + ENGAGED})
    return {name: sums[name] or 0 for name in COUNTED + ENGAGED}


def csv_rows(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.content
    lines = response.content.decode().split("\r\n")[1:-1]
    return {line.split(",")[0]: line.split(",")[1:] for line in lines}


def manager() -> Client:
    client = Client()
    client.force_login(f.manager())
    return client


def start(campaign, capture):
    with capture(execute=True):
        campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    return campaign


def test_a_sendgrid_campaign_and_its_webhooks_are_counted_once_each(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    sendgrid = make_account("sendgrid", webhook_verification_key=public_key_text(SIGNING_KEY))
    people = ["ann+click", "bob+open", "cy+delivered", "di+bounce", "ed+dropped"]
    people += ["fay+spamreport", "gus+deferred"]
    Customer.objects.bulk_create(
        [Customer(email=f"{p}@example.com", marketing_consent=True) for p in people]
    )
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    campaign = start(campaign, django_capture_on_commit_callbacks)
    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    events = build_events(record["body"], "msg-1", rates={}, rng=random.Random(3))  # noqa: S311 - simulated
    bounce = next(e for e in events if e["event"] == "bounce")
    # Providers repeat themselves: a later open, and a delivery after the bounce, change nothing.
    events += [
        {**e, "sg_event_id": f"again-{n}", "timestamp": e["timestamp"] + 60}
        for n, e in enumerate(e for e in events if e["event"] == "open")
    ]
    events.append(
        {
            **bounce,
            "event": "delivered",
            "sg_event_id": "late",
            "timestamp": bounce["timestamp"] + 5,
        }
    )

    assert post_sendgrid(sendgrid, events, key=SIGNING_KEY).status_code == 200
    assert post_sendgrid(sendgrid, events, key=SIGNING_KEY).status_code == 200  # again

    counted = day_totals(campaign.pk)
    # ann, bob, cy, fay delivered; di bounced; ed dropped; gus only deferred: pending.
    assert {name: counted[name] for name in COUNTED} == {
        "sent": 7,
        "failed": 0,
        "delivered": 4,
        "bounced_hard": 1,
        "bounced_soft": 0,
        "rejected": 1,
    }
    assert {name: counted[name] for name in ENGAGED} == {
        "opened": 2,
        "clicked": 1,
        "complained": 1,
        "unsubscribed": 0,
        "deferred": 1,
    }
    assert LatencyBin.objects.filter(campaign_id=campaign.pk, metric="response").exists()
    dropped = CampaignRecipient.objects.get(email="ed+dropped@example.com")
    assert dropped.rejected_at is not None
    assert dropped.delivered_at is None
    assert CampaignRecipient.objects.get(email="di+bounce@example.com").delivered_at is None

    # The dashboards: the overview (promotional) and the providers page count it.
    client = manager()
    kpis = csv_rows(
        client.get(
            reverse("analytics:overview"), {"mail": "promotional", "format": "csv", "table": "kpis"}
        )
    )
    assert [kpis[k][0] for k in ("Sent", "Delivered", "Pending", "Bounced")] == ["7", "4", "1", "1"]
    assert kpis["Dropped or rejected"][0] == "1"
    transactional = csv_rows(
        client.get(reverse("analytics:providers"), {"mail": "transactional", "format": "csv"})
    )
    everything = csv_rows(client.get(reverse("analytics:providers"), {"format": "csv"}))
    assert transactional["Sent"][0] == "0"
    assert everything["Sent"][0] == "7"


@pytest.fixture
def _fresh_audience_memo():
    audience._ensured.clear()
    yield
    audience._ensured.clear()


@pytest.mark.usefixtures("_fresh_audience_memo")
def test_a_mailchimp_marketing_campaign_is_sent_and_its_delivery_not_reported(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    mailchimp = make_account("mailchimp_marketing")
    customers(57, audience_sync_pending=True)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    start(campaign, django_capture_on_commit_callbacks)

    providers = csv_rows(manager().get(reverse("analytics:providers"), {"format": "csv"}))

    # SendGrid, Mailchimp Marketing, Mandrill: shown side by side whatever their data.
    assert providers["Sent"][1] == "57"
    assert providers["Delivery not reported"][1] == "57"
    assert providers["Pending"][1] == "0"
    assert providers["Email delivery rate"][1] == "not reported"
    assert providers["Unique open rate (human)"][1] == "not reported"


def test_recipients_refused_at_send_count_as_failed_not_sent(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    mandrill = make_account("mailchimp_transactional")
    Customer.objects.bulk_create(
        [
            Customer(email=email, marketing_consent=True)
            for email in ("ann@example.com", "bob+reject@example.com", "cy@example.com")
        ]
    )
    campaign = make_campaign(everyone(), offer_template(make_template), mandrill)
    campaign = start(campaign, django_capture_on_commit_callbacks)

    counted = day_totals(campaign.pk)

    assert (counted["sent"], counted["failed"]) == (2, 1)


def test_campaigns_sent_before_the_upgrade_are_counted_from_their_recipients(db):
    data = f.metric_data()
    promo = data["outbox"].template("Offer")
    sent_at = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    campaign = f.campaign(data["sg"], "Old sale", promo, started_at=sent_at, total=4)
    common = {"campaign": campaign, "chunk_number": 1, "sent_at": sent_at, "status": "sent"}
    CampaignRecipient.objects.bulk_create(
        [
            CampaignRecipient(email="a@example.com", delivered_at=sent_at, **common),
            CampaignRecipient(
                email="b@example.com",
                delivered_at=sent_at,
                opened_at=sent_at.replace(minute=45),
                clicked_at=sent_at.replace(minute=46),
                **common,
            ),
            CampaignRecipient(email="c@example.com", bounced_at=sent_at, **common),
            CampaignRecipient(
                email="d@example.com",
                campaign=campaign,
                chunk_number=1,
                status="failed",
            ),
        ]
    )
    migration = import_module("analytics.migrations.0005_campaign_dimension")

    migration.count_campaign_recipients(apps, SimpleNamespace(connection=connection))

    hour = Rollup.objects.get(period="hour", campaign_id=campaign.pk)
    assert (hour.bucket, hour.account_id, hour.template_id, hour.event_type) == (
        sent_at.replace(minute=0),
        data["sg"].pk,
        promo.pk,
        "",
    )
    assert day_totals(campaign.pk) == {
        "sent": 3,
        "failed": 1,
        "delivered": 2,
        "bounced_hard": 1,
        "bounced_soft": 0,
        "rejected": 0,
        "opened": 1,
        "clicked": 1,
        "complained": 0,
        "unsubscribed": 0,
        "deferred": 0,
    }
    # Response time: delivered 10:30 → first open 10:45 = 900 s (bin 6: 600-1,800 s).
    assert LatencyBin.objects.get(period="day", campaign_id=campaign.pk).bin == 6
