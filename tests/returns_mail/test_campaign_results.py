"""Campaign results from the providers' webhooks, on the campaign and the analytics page; the
campaign admin: buttons, live progress, held-chunk actions."""

from __future__ import annotations

import json
import random

import pytest
from django.test import Client
from django.urls import reverse

from providers.sandbox.sendgrid_events import build_events, new_signing_key, public_key_text
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    Customer,
    Suppression,
)
from returns_mail.selectors.campaigns import campaign_results
from tests.analytics import factories as f
from tests.analytics.test_webhook_ingest import post_sendgrid
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

SIGNING_KEY = new_signing_key()
PEOPLE = [
    "ann+click@example.com",
    "bob+open@example.com",
    "cy+delivered@example.com",
    "di+bounce@example.com",
    "ed+unsubscribe@example.com",
]


@pytest.fixture
def sendgrid(make_account):
    return make_account("sendgrid", webhook_verification_key=public_key_text(SIGNING_KEY))


@pytest.fixture
def sent_campaign(sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks):
    Customer.objects.bulk_create(
        [Customer(email=e, name=e.split("+")[0].title(), marketing_consent=True) for e in PEOPLE]
    )
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    with django_capture_on_commit_callbacks(execute=True):
        from returns_mail.services.campaigns import campaign_start

        campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    return campaign, record


def test_webhook_events_fill_the_campaign_results(sendgrid, sent_campaign):
    campaign, record = sent_campaign
    events = build_events(record["body"], "msg-1", rates={}, rng=random.Random(3))  # noqa: S311 - simulated
    # A repeated open is the same first open.
    events += [
        e | {"sg_event_id": f"again-{n}", "timestamp": e["timestamp"] + 60}
        for n, e in enumerate(events[-3:])
    ]

    assert post_sendgrid(sendgrid, events, key=SIGNING_KEY).status_code == 200

    results = campaign_results(campaign)
    assert (results.sent, results.delivered, results.opened, results.clicked) == (5, 4, 2, 1)
    assert (results.bounced, results.unsubscribed) == (1, 1)
    ann = CampaignRecipient.objects.get(email=PEOPLE[0])
    assert ann.clicked_at is not None
    assert ann.opened_at is not None
    # The unsubscribe also stops the address's promotional mail (the suppression list).
    assert Suppression.objects.filter(email=PEOPLE[4], scope="promotional").exists()

    manager = Client()
    manager.force_login(f.manager())
    page = manager.get(reverse("analytics:campaigns")).content.decode()
    assert "Spring offer" in page
    assert "80.0 %" in page  # delivered 4 of 5
    csv = manager.get(reverse("analytics:campaigns"), {"format": "csv"}).content.decode()
    header, row = csv.strip().splitlines()[:2]
    assert header.startswith("Started,Campaign,Status")
    assert ",Spring offer,Finished," in row
    assert row.split(",")[6:8] == ["5", "4"]  # sent, delivered


def test_the_admin_shows_progress_results_and_the_live_feed(sent_campaign):
    campaign, _ = sent_campaign
    admin = Client()
    admin.force_login(f.it_admin())

    page = admin.get(reverse("admin:returns_mail_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-field="sent">5<' in html
    assert "returns_mail/campaign_progress.js" in html
    assert 'name="_campaign_start"' not in html  # finished: no buttons
    feed = admin.get(reverse("admin:returns_mail_campaign_progress", args=[campaign.pk]))
    assert json.loads(feed.content) == {
        "status": "finished",
        "percent": 100.0,
        "total": 5,
        "sent": 5,
        "failed": 0,
        "pending": 0,
        "cancelled": 0,
        "excluded": 0,
        "rate": json.loads(feed.content)["rate"],
        "held": 0,
    }

    manager = Client()
    manager.force_login(f.manager())
    feed = manager.get(reverse("admin:returns_mail_campaign_progress", args=[campaign.pk]))
    assert feed.status_code == 302  # not staff: the admin's login


def test_an_it_admin_starts_a_campaign_with_the_button(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    Customer.objects.create(email="ann@example.com", marketing_consent=True)
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    admin = Client()
    admin.force_login(f.it_admin())
    url = reverse("admin:returns_mail_campaign_change", args=[campaign.pk])
    page = admin.get(url).content.decode()
    assert 'name="_campaign_start"' in page
    assert "Yes." in page  # ready to start

    form = {
        "name": campaign.name,
        "segment": campaign.segment_id,
        "template": campaign.template_id,
        "account": sendgrid.pk,
        "unsubscribe_group_id": 42,
        "test_recipients": "",
        "chunks-TOTAL_FORMS": 0,
        "chunks-INITIAL_FORMS": 0,
        "_campaign_start": "Start",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(url, form, follow=True)

    assert "Campaign started." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 1

    again = admin.post(url, {"_campaign_pause": "Pause"}, follow=True).content.decode()
    assert "Not done: only a sending campaign can be paused" in again


def test_a_campaign_that_is_not_ready_says_why_and_start_changes_nothing(sendgrid, make_template):
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    Campaign.objects.filter(pk=campaign.pk).update(unsubscribe_group_id=None)
    admin = Client()
    admin.force_login(f.it_admin())
    url = reverse("admin:returns_mail_campaign_change", args=[campaign.pk])
    assert "SendGrid campaigns need an unsubscribe group" in admin.get(url).content.decode()

    form = {
        "name": campaign.name,
        "segment": campaign.segment_id,
        "template": campaign.template_id,
        "account": sendgrid.pk,
        "unsubscribe_group_id": "",
        "test_recipients": "",
        "chunks-TOTAL_FORMS": 0,
        "chunks-INITIAL_FORMS": 0,
        "_campaign_start": "Start",
    }
    response = admin.post(url, form, follow=True).content.decode()

    assert "Not done: SendGrid campaigns need an unsubscribe group" in response
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignChunk.objects.exists()


def test_a_mailchimp_marketing_campaign_offers_no_test_send_and_refuses_one(
    make_account, make_template, esp_sandbox
):
    mailchimp = make_account("mailchimp_marketing")
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, test_recipients="qa@shop.example"
    )
    sent_before = len(esp_sandbox.records("mailchimp"))
    admin = Client()
    admin.force_login(f.it_admin())
    url = reverse("admin:returns_mail_campaign_change", args=[campaign.pk])

    page = admin.get(url).content.decode()
    form = {
        "name": campaign.name,
        "segment": campaign.segment_id,
        "template": campaign.template_id,
        "account": mailchimp.pk,
        "unsubscribe_group_id": 42,
        "test_recipients": "qa@shop.example",
        "chunks-TOTAL_FORMS": 0,
        "chunks-INITIAL_FORMS": 0,
        "_campaign_test": "Send a test",
    }
    response = admin.post(url, form, follow=True)

    assert 'name="_campaign_start"' in page
    assert 'name="_campaign_test"' not in page
    assert [str(m) for m in response.context["messages"]] == [
        "Not done: Mailchimp Marketing accounts cannot send tests (Mailchimp sends a campaign, "
        "and its tests, itself: sync the audience and send a campaign instead)"
    ]
    assert len(esp_sandbox.records("mailchimp")) == sent_before


def test_a_mailchimp_marketing_campaign_says_its_rates_are_not_reported(
    make_account, make_template
):
    audience = make_account("mailchimp_marketing")
    campaign = make_campaign(everyone(), offer_template(make_template), audience)
    admin = Client()
    admin.force_login(f.it_admin())

    page = admin.get(reverse("admin:returns_mail_campaign_change", args=[campaign.pk]))

    html = " ".join(page.content.decode().split())
    assert "delivery, opens and clicks not reported (Mailchimp Marketing reports them" in html
    assert "(0.0 %)" not in html


def test_a_mailchimp_marketing_campaign_shows_its_pulled_report_like_any_campaign(
    make_account, make_template
):
    from django.utils import timezone

    audience = make_account("mailchimp_marketing")
    campaign = make_campaign(everyone(), offer_template(make_template), audience)
    now = timezone.now()
    common = {"campaign": campaign, "chunk_number": 1, "status": "sent", "sent_at": now}
    CampaignRecipient.objects.create(
        email="a@example.com", delivered_at=now, opened_at=now, **common
    )
    CampaignRecipient.objects.create(email="b@example.com", delivered_at=now, **common)
    Campaign.objects.filter(pk=campaign.pk).update(report_collected_at=now)
    admin = Client()
    admin.force_login(f.it_admin())

    page = admin.get(reverse("admin:returns_mail_campaign_change", args=[campaign.pk]))

    html = " ".join(page.content.decode().split())
    assert "not reported" not in html
    assert "sent 2: delivered 2 (100.0 %), opened 1 (50.0 %)" in html
