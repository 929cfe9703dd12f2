"""Mailchimp Marketing campaign reports: read through the real SDK from the sandbox (summary
and member activity, paged), pulled into delivery events and campaign recipient times as
webhook events are, once (a re-pull adds nothing), and shown on the dashboards; a campaign
whose report was never pulled stays "not reported", never 0 %."""

from __future__ import annotations

import random
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from analytics import tasks
from analytics.models import DeliveryEvent, Rollup
from analytics.services.campaign_reports import (
    campaign_report_pull,
    campaigns_due_for_reports,
)
from providers.clients import client_for
from providers.sandbox.sendgrid_events import build_events, new_signing_key, public_key_text
from returns_mail.models import Campaign, CampaignRecipient, CampaignStatus, Customer, Suppression
from returns_mail.services import audience
from returns_mail.services.campaigns import campaign_start
from tests.analytics import factories as f
from tests.analytics.test_webhook_ingest import post_sendgrid
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import customers, everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

KEY = TEST_KEYS["mailchimp_marketing"]


@pytest.fixture(autouse=True)
def _fresh_audience_memo():
    audience._ensured.clear()
    yield
    audience._ensured.clear()


@pytest.fixture
def mailchimp(make_account):
    return make_account("mailchimp_marketing")


def sent_campaign(mailchimp, make_template, capture):
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    with capture(execute=True):
        campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    return campaign


def tagged_customers() -> dict[str, list[str]]:
    """Customers whose sandbox outcome their address names."""
    return {
        tag: customers(count, prefix=f"{tag[:1]}+{tag}", audience_sync_pending=True)
        for tag, count in (
            ("click", 3),
            ("open", 4),
            ("bounce", 2),
            ("soft", 1),
            ("quiet", 5),
            ("unsub", 1),
            ("abuse", 1),
        )
    }


def csv_rows(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.content
    lines = response.content.decode().split("\r\n")[1:-1]
    return {line.split(",")[0]: line.split(",")[1:] for line in lines}


def day_totals(campaign_id: int) -> dict[str, int]:
    names = (
        "sent",
        "delivered",
        "bounced_hard",
        "bounced_soft",
        "opened",
        "clicked",
        "unsubscribed",
        "complained",
    )
    sums = Rollup.objects.filter(period="day", campaign_id=campaign_id).aggregate(
        **{n: Sum(n) for n in names}
    )
    return {n: sums[n] or 0 for n in names}


# --- the client and the sandbox ----------------------------------------------------------------
def test_client_reads_the_summary_and_pages_the_activity_by_1000(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(1_203, audience_sync_pending=True)
    campaign = sent_campaign(mailchimp, make_template, django_capture_on_commit_callbacks)
    client = client_for(mailchimp)

    summary = client.campaign_report(campaign.remote_campaign_id)
    pages = list(client.campaign_email_activity(campaign.remote_campaign_id))

    assert summary.campaign_id == campaign.remote_campaign_id
    assert summary.emails_sent == 1_203
    assert summary.send_time is not None
    assert [len(p.members) for p in pages] == [1000, 203]
    assert [p.offset for p in pages] == [1000, 1203]
    assert [p.last for p in pages] == [False, True]
    assert {p.total for p in pages} == {1_203}
    members = [m for p in pages for m in p.members]
    assert len(set(members)) == 1_203
    actions = [a for p in pages for a in p.actions]
    bounced = {a.email for a in actions if a.action == "bounce"}
    opened = {a.email for a in actions if a.action == "open"}
    clicked = {a.email for a in actions if a.action == "click"}
    # The summary counts what the activity lists (Mailchimp's unique opens and clicks).
    assert summary.hard_bounces + summary.soft_bounces == len(bounced) > 0
    assert summary.unique_opens == len(opened) > 0
    assert summary.unique_clicks == len(clicked) > 0
    assert clicked <= opened
    assert all(a.occurred_at >= summary.send_time for a in actions)
    unsubscribed = [
        a for p in client.campaign_unsubscribes(campaign.remote_campaign_id) for a in p.actions
    ]
    complaints = client.campaign_abuse_reports(campaign.remote_campaign_id)
    assert summary.unsubscribed == len(unsubscribed) > 0
    assert summary.abuse_reports == len(complaints)
    assert {a.email for a in unsubscribed + list(complaints)} <= opened


def test_sandbox_report_shapes_and_limits(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(3, audience_sync_pending=True)
    campaign = sent_campaign(mailchimp, make_template, django_capture_on_commit_callbacks)
    base = f"{mailchimp.api_base_url}/3.0/reports"
    auth = ("anystring", KEY)

    summary = requests.get(f"{base}/{campaign.remote_campaign_id}", auth=auth, timeout=5)
    page = requests.get(
        f"{base}/{campaign.remote_campaign_id}/email-activity?"
        + urlencode({"count": 2, "offset": 1}),
        auth=auth,
        timeout=5,
    )
    too_many = requests.get(
        f"{base}/{campaign.remote_campaign_id}/email-activity?count=1001", auth=auth, timeout=5
    )
    unknown = requests.get(f"{base}/nosuchcampaign", auth=auth, timeout=5)
    unsubscribed = requests.get(
        f"{base}/{campaign.remote_campaign_id}/unsubscribed?count=5", auth=auth, timeout=5
    )
    abuse = requests.get(
        f"{base}/{campaign.remote_campaign_id}/abuse-reports", auth=auth, timeout=5
    )

    assert summary.status_code == 200
    body = summary.json()
    assert set(body) >= {"id", "emails_sent", "bounces", "opens", "clicks", "unsubscribed"}
    assert set(body["bounces"]) >= {"hard_bounces", "soft_bounces", "syntax_errors"}
    assert set(body["opens"]) >= {"opens_total", "unique_opens", "open_rate"}
    assert body["abuse_reports"] == 0
    assert page.status_code == 200
    listed = page.json()
    assert listed["total_items"] == 3
    assert [e["email_address"] for e in listed["emails"]] == [
        "c000001@example.com",
        "c000002@example.com",
    ]
    assert set(listed["emails"][0]) >= {"email_id", "list_id", "activity", "campaign_id"}
    assert too_many.status_code == 400
    assert too_many.headers["Content-Type"].startswith("application/problem+json")
    assert unknown.status_code == 404
    assert set(unsubscribed.json()) >= {"unsubscribes", "campaign_id", "total_items"}
    assert set(abuse.json()) >= {"abuse_reports", "campaign_id", "total_items"}


# --- pulled and rolled up ---------------------------------------------------------------------
def test_pulled_activity_becomes_recipient_times_events_and_rollups_once(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    tags = tagged_customers()
    campaign = sent_campaign(mailchimp, make_template, django_capture_on_commit_callbacks)
    assert campaign.report_collected_at is None

    first = campaign_report_pull(campaign_id=campaign.pk)

    recipients = {r.email: r for r in CampaignRecipient.objects.filter(campaign=campaign)}
    for email in tags["click"]:
        r = recipients[email]
        assert r.delivered_at
        assert r.opened_at
        assert r.clicked_at
        assert r.clicked_at >= r.opened_at
    for email in tags["open"]:
        assert recipients[email].opened_at
        assert not recipients[email].clicked_at
    for email in tags["quiet"]:
        r = recipients[email]
        assert r.delivered_at
        assert not r.opened_at
        assert not r.bounced_at
    for email in tags["bounce"] + tags["soft"]:
        assert recipients[email].bounced_at
        assert not recipients[email].delivered_at
    # A hard bounce suppresses the address, as a webhook's does.
    assert set(Suppression.objects.values_list("email", flat=True)) >= set(tags["bounce"])
    [left] = tags["unsub"]
    assert recipients[left].unsubscribed_at
    assert not Customer.objects.get(email=left).marketing_consent  # left the audience
    [complained] = tags["abuse"]
    assert Suppression.objects.filter(email=complained).exists()
    # 14 delivered + 9 opens + 3 clicks + 3 bounces + 1 unsubscribe + 1 complaint.
    assert first.events_new == 31
    assert DeliveryEvent.objects.filter(account=mailchimp).count() == 31
    assert DeliveryEvent.objects.filter(type="complained", recipient=complained).count() == 1
    assert day_totals(campaign.pk) == {
        "sent": 17,
        "delivered": 14,
        "bounced_hard": 2,
        "bounced_soft": 1,
        "opened": 9,
        "clicked": 3,
        "unsubscribed": 1,
        "complained": 1,
    }
    campaign.refresh_from_db()
    assert campaign.report_collected_at is not None
    assert campaign.report_summary["emails_sent"] == 17
    assert campaign.report_summary["unsubscribed"] == 1
    assert campaign.report_summary["abuse_reports"] == 1

    again = campaign_report_pull(campaign_id=campaign.pk)

    assert again.events_new == 0
    assert DeliveryEvent.objects.filter(account=mailchimp).count() == 31
    assert day_totals(campaign.pk)["opened"] == 9


def test_providers_page_shows_pulled_rates_and_not_reported_before(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    tagged_customers()
    campaign = sent_campaign(mailchimp, make_template, django_capture_on_commit_callbacks)
    manager = Client()
    manager.force_login(f.manager())

    before = csv_rows(manager.get(reverse("analytics:providers"), {"format": "csv"}))
    campaign_report_pull(campaign_id=campaign.pk)
    after = csv_rows(manager.get(reverse("analytics:providers"), {"format": "csv"}))

    column = list(before["Sent"]).index("17")
    for rate in (
        "Email delivery rate",
        "Unique open rate (human)",
        "Complaint rate",
        "Bounce rate",
    ):
        assert before[rate][column] == "not reported"
    assert after["Delivery not reported"][column] == "0"
    # Same definitions as SendGrid's: delivered over reported outcomes, opens and clicks over
    # delivered, bounces, complaints and unsubscribes over sent.
    assert after["Email delivery rate"][column] == "82.35"
    assert after["Unique open rate (human)"][column] == "64.29"
    assert after["Unique click rate"][column] == "21.43"
    assert after["Bounce rate"][column] == "17.65"
    assert after["Complaint rate"][column] == "5.88"
    assert after["Unsubscribe rate"][column] == "5.88"


def test_only_recent_finished_campaigns_of_reporting_kinds_are_due(
    mailchimp,
    make_account,
    make_template,
    esp_sandbox,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.CAMPAIGN_REPORTS_DAYS = 30
    customers(2, audience_sync_pending=True)
    recent = sent_campaign(mailchimp, make_template, django_capture_on_commit_callbacks)
    old = make_campaign(
        recent.segment,
        recent.template,
        mailchimp,
        unsubscribe_group_id=None,
        status=CampaignStatus.FINISHED,
        remote_campaign_id="old1",
        finished_at=timezone.now() - timedelta(days=31),
    )
    sendgrid = make_campaign(
        recent.segment,
        recent.template,
        make_account("sendgrid"),
        status=CampaignStatus.FINISHED,
        remote_campaign_id="x",
        finished_at=timezone.now(),
    )

    due = set(campaigns_due_for_reports().values_list("pk", flat=True))

    assert recent.pk in due
    assert old.pk not in due
    assert sendgrid.pk not in due


def test_promotional_providers_compare_side_by_side_with_the_same_definitions(
    mailchimp, make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    key = new_signing_key()
    sendgrid = make_account("sendgrid", webhook_verification_key=public_key_text(key))
    Customer.objects.bulk_create(
        [
            Customer(email=f"{p}@example.com", marketing_consent=True, audience_sync_pending=True)
            for p in ("a+click", "b+open", "c+bounce", "d+delivered")
        ]
    )
    template = offer_template(make_template)
    segment = everyone()
    with django_capture_on_commit_callbacks(execute=True):
        for account in (sendgrid, mailchimp):
            group = 42 if account == sendgrid else None
            row = make_campaign(segment, template, account, unsubscribe_group_id=group)
            campaign_start(campaign_id=row.pk)
    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    events = build_events(record["body"], "msg-1", rates={}, rng=random.Random(3))  # noqa: S311 - simulated
    assert post_sendgrid(sendgrid, events, key=key).status_code == 200
    campaign_report_pull(campaign_id=mailchimp_campaign(mailchimp).pk)
    manager = Client()
    manager.force_login(f.manager())

    table = csv_rows(
        manager.get(reverse("analytics:providers"), {"mail": "promotional", "format": "csv"})
    )

    sent = table["Sent"]
    columns = [i for i, value in enumerate(sent) if value == "4"]
    assert len(columns) == 2, sent  # SendGrid and Mailchimp Marketing, 4 sent each
    for rate, expected in (
        ("Email delivery rate", "75.00"),
        ("Bounce rate", "25.00"),
        ("Unique open rate (human)", "66.67"),
        ("Unique click rate", "33.33"),
        ("Complaint rate", "0.00"),
        ("Unsubscribe rate", "0.00"),
    ):
        assert [table[rate][i] for i in columns] == [expected, expected], rate


def mailchimp_campaign(account):
    return Campaign.objects.get(account=account)


def test_the_schedule_pulls_each_recent_campaign_and_a_second_run_adds_nothing(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    tagged_customers()
    campaign = sent_campaign(mailchimp, make_template, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        queued = tasks.pull_campaign_reports()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.pull_campaign_reports()

    assert queued == 1
    campaign.refresh_from_db()
    assert campaign.report_collected_at is not None
    assert DeliveryEvent.objects.filter(account=mailchimp).count() == 31
    [schedule] = Schedule.objects.filter(func="analytics.tasks.pull_campaign_reports")
    assert schedule.minutes == 15
