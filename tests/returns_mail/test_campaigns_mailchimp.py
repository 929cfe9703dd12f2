"""Campaigns through Mailchimp Marketing (services/campaign_mailchimp.py), checked at the
sandbox: a static segment filled 500 members a call, one regular campaign for it with the
template's merge-tag content, sent or scheduled once, whatever a fault or a second run does."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from providers.clients.mailchimp_marketing import MailchimpMarketingClient
from providers.exceptions import ProviderRequestError
from providers.sandbox.core import Fault
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    ChunkStatus,
    RecipientStatus,
)
from returns_mail.services import audience
from returns_mail.services.campaign_mailchimp import NOT_ON_LIST, campaign_mailchimp_run
from returns_mail.services.campaigns import CampaignError, campaign_resume, campaign_start
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import customers, everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

KEY = TEST_KEYS["mailchimp_marketing"]
AUDIENCE = "aud001"
SEGMENTS_PATH = f"/3.0/lists/{AUDIENCE}/segments"
SEGMENT_BATCH_RE = re.compile(rf"^/3\.0/lists/{AUDIENCE}/segments/(\d+)$")
CAMPAIGN_ACTION_RE = re.compile(
    r"^/3\.0/campaigns/([^/]+)/(content|actions/send|actions/schedule)$"
)


@pytest.fixture(autouse=True)
def _merge_fields_not_ensured():
    """The sandbox forgets its audiences between tests; so must the per-process memo."""
    audience._ensured.clear()
    yield
    audience._ensured.clear()


@pytest.fixture
def mailchimp(make_account):
    return make_account("mailchimp_marketing")


def start(campaign, capture) -> Campaign:
    with capture(execute=True):
        campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


# --- what the sandbox received and holds --------------------------------------------------------
def calls(sandbox) -> dict[str, list[dict]]:
    """The Mailchimp requests the sandbox accepted, by kind (GETs are not recorded)."""
    kinds: dict[str, list[dict]] = {
        "segment_create": [],
        "segment_batch": [],
        "campaign_create": [],
        "content": [],
        "send": [],
        "schedule": [],
    }
    for record in sandbox.records("mailchimp"):
        path = record["path"]
        if path == SEGMENTS_PATH:
            kinds["segment_create"].append(record)
        elif SEGMENT_BATCH_RE.match(path):
            kinds["segment_batch"].append(record)
        elif path == "/3.0/campaigns":
            kinds["campaign_create"].append(record)
        elif match := CAMPAIGN_ACTION_RE.match(path):
            kinds[match.group(2).removeprefix("actions/")].append(record)
    return kinds


def counts(sandbox) -> dict[str, int]:
    return {kind: len(records) for kind, records in calls(sandbox).items()}


def account_state(sandbox) -> dict:
    return sandbox.state["mailchimp"][KEY]


def remote_campaign(sandbox, campaign_id: str) -> dict:
    return account_state(sandbox)["campaigns"][campaign_id]


def segment_members(sandbox, segment_id: str) -> set[str]:
    aud = account_state(sandbox)["lists"][AUDIENCE]
    return {aud["members"][h]["email_address"] for h in aud["segments"][segment_id]["members"]}


def statuses(campaign) -> dict[str, int]:
    found: dict[str, int] = {}
    for status in CampaignRecipient.objects.filter(campaign=campaign).values_list(
        "status", flat=True
    ):
        found[status] = found.get(status, 0) + 1
    return found


def next_quarter_hour(moment: datetime) -> datetime:
    """The first quarter-hour at or after `moment` (Mailchimp schedules only those)."""
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=15)


# --- 1. the whole flow ------------------------------------------------------------------------
def test_campaign_goes_out_as_a_static_segment_and_one_sent_mailchimp_campaign(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    emails = customers(1_200, audience_sync_pending=True)
    customers(3, prefix="noconsent", consent=False, audience_sync_pending=True)
    template = offer_template(make_template)
    campaign = make_campaign(everyone(), template, mailchimp, unsubscribe_group_id=None)

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    assert campaign.finished_at is not None
    assert campaign.error == ""
    assert campaign.total == 1_200
    assert campaign.remote_segment_id
    assert campaign.remote_campaign_id
    sent = calls(esp_sandbox)

    # One static segment, filled with everyone, at most 500 addresses a call.
    [created] = sent["segment_create"]
    assert created["body"] == {"name": f"Returns Mail campaign {campaign.pk}", "static_segment": []}
    batches = sent["segment_batch"]
    assert {SEGMENT_BATCH_RE.match(b["path"]).group(1) for b in batches} == {
        campaign.remote_segment_id
    }
    sizes = [len(b["body"]["members_to_add"]) for b in batches]
    assert max(sizes) <= 500
    assert sorted(sizes) == [200, 500, 500]
    added = [e for b in batches for e in b["body"]["members_to_add"]]
    assert sorted(added) == sorted(emails)  # each once, the non-consenting not at all
    assert all(b["body"]["members_to_remove"] == [] for b in batches)
    # The run synced them into the audience first: the segment holds all of them.
    assert segment_members(esp_sandbox, campaign.remote_segment_id) == set(emails)

    # One regular campaign to that segment of the audience, with merge-tag content.
    [create] = sent["campaign_create"]
    body = create["body"]
    assert body["type"] == "regular"
    assert body["recipients"] == {
        "list_id": AUDIENCE,
        "segment_opts": {"saved_segment_id": int(campaign.remote_segment_id)},
    }
    assert body["settings"]["subject_line"] == "A gift for you, *|FNAME|*"
    assert body["settings"]["title"] == f"Spring offer (Returns Mail {campaign.pk})"
    assert body["settings"]["from_name"] == "Shop Returns"
    assert body["settings"]["reply_to"] == "returns@shop.example"
    [content] = sent["content"]
    assert content["path"] == f"/3.0/campaigns/{campaign.remote_campaign_id}/content"
    html = content["body"]["html"]
    assert "Hello *|FNAME|*" in html
    assert "Test Shop has 15% off for you." in html  # the brand is filled in
    # Mailchimp's own per-member unsubscribe and preference links, from the default layout.
    assert '<a href="*|UNSUB|*">Unsubscribe</a>' in html
    assert '<a href="*|UPDATE_PROFILE|*">Email preferences</a>' in html
    assert "{{" not in html
    assert "{{" not in content["body"]["plain_text"]
    assert "*|FNAME|*" in content["body"]["plain_text"]

    # Sent once, to the segment's 1,200 subscribers.
    [send] = sent["send"]
    assert send["path"] == f"/3.0/campaigns/{campaign.remote_campaign_id}/actions/send"
    assert sent["schedule"] == []
    remote = remote_campaign(esp_sandbox, campaign.remote_campaign_id)
    assert remote["status"] == "sent"
    assert remote["emails_sent"] == 1_200
    assert remote["content"]["html"] == html

    # The rows.
    assert statuses(campaign) == {RecipientStatus.SENT: 1_200}
    assert not CampaignRecipient.objects.filter(campaign=campaign, sent_at__isnull=True).exists()
    chunks = CampaignChunk.objects.filter(campaign=campaign)
    assert sorted(c.size for c in chunks) == [200, 1000]
    assert {c.status for c in chunks} == {ChunkStatus.SENT}
    assert sum(c.failed_count for c in chunks) == 0


# --- 2. scheduled ------------------------------------------------------------------------------
def test_campaign_with_send_at_on_a_quarter_hour_is_scheduled_at_mailchimp(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(30, audience_sync_pending=True)
    send_at = next_quarter_hour(timezone.now() + timedelta(days=1))
    campaign = make_campaign(
        everyone(),
        offer_template(make_template),
        mailchimp,
        unsubscribe_group_id=None,
        send_at=send_at,
    )

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    sent = calls(esp_sandbox)
    assert sent["send"] == []
    [scheduled] = sent["schedule"]
    assert scheduled["path"] == (f"/3.0/campaigns/{campaign.remote_campaign_id}/actions/schedule")
    assert datetime.fromisoformat(scheduled["body"]["schedule_time"]) == send_at
    remote = remote_campaign(esp_sandbox, campaign.remote_campaign_id)
    assert remote["status"] == "schedule"
    assert remote["send_time"] == send_at.astimezone(UTC).isoformat(timespec="seconds")
    assert statuses(campaign) == {RecipientStatus.SENT: 30}
    assert set(
        CampaignRecipient.objects.filter(campaign=campaign).values_list("sent_at", flat=True)
    ) == {send_at}


def test_campaign_with_send_at_off_the_quarter_hour_is_scheduled_at_the_next_quarter_hour(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    """Mailchimp schedules only on :00, :15, :30, :45 (the sandbox refuses other times with a
    400): the service must not hand it the admin's minute as it is, which pauses the campaign.
    Not earlier than asked: the next quarter-hour."""
    customers(30, audience_sync_pending=True)
    tomorrow = (timezone.now() + timedelta(days=1)).replace(minute=7, second=30, microsecond=0)
    campaign = make_campaign(
        everyone(),
        offer_template(make_template),
        mailchimp,
        unsubscribe_group_id=None,
        send_at=tomorrow,
    )

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    [scheduled] = calls(esp_sandbox)["schedule"]
    expected = tomorrow.replace(minute=15, second=0)
    assert datetime.fromisoformat(scheduled["body"]["schedule_time"]) == expected
    remote = remote_campaign(esp_sandbox, campaign.remote_campaign_id)
    assert remote["status"] == "schedule"
    assert remote["send_time"] == expected.astimezone(UTC).isoformat(timespec="seconds")
    assert statuses(campaign) == {RecipientStatus.SENT: 30}


# --- 3. crash safety -----------------------------------------------------------------------------
def test_send_failure_pauses_and_resume_reuses_the_segment_and_campaign(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    emails = customers(620, audience_sync_pending=True)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    original_send = MailchimpMarketingClient.campaign_send
    attempts = []

    def send_meeting_a_503_once(self, *, campaign_id):
        if not attempts:  # the sandbox answers this one request 503
            esp_sandbox.faults.add(KEY, Fault("503", times=1))
        attempts.append(campaign_id)
        return original_send(self, campaign_id=campaign_id)

    monkeypatch.setattr(MailchimpMarketingClient, "campaign_send", send_meeting_a_503_once)

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.PAUSED
    assert campaign.error.startswith("paused: ")
    assert "Service Unavailable" in campaign.error
    assert campaign.remote_segment_id
    assert campaign.remote_campaign_id
    assert remote_campaign(esp_sandbox, campaign.remote_campaign_id)["status"] == "save"
    assert counts(esp_sandbox) == {
        "segment_create": 1,
        "segment_batch": 2,
        "campaign_create": 1,
        "content": 1,
        "send": 0,  # the 503 was not taken
        "schedule": 0,
    }
    assert statuses(campaign) == {RecipientStatus.PENDING: 620}
    segment_id, campaign_id = campaign.remote_segment_id, campaign.remote_campaign_id

    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign_id=campaign.pk)
    campaign.refresh_from_db()

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    assert campaign.error == ""
    assert (campaign.remote_segment_id, campaign.remote_campaign_id) == (segment_id, campaign_id)
    assert attempts == [campaign_id, campaign_id]
    after = counts(esp_sandbox)
    assert after["segment_create"] == 1
    assert after["campaign_create"] == 1
    assert after["segment_batch"] == 2  # the chunks were done: not added again
    assert after["send"] == 1
    assert len(account_state(esp_sandbox)["campaigns"]) == 1
    assert len(account_state(esp_sandbox)["lists"][AUDIENCE]["segments"]) == 1
    remote = remote_campaign(esp_sandbox, campaign_id)
    assert remote["status"] == "sent"
    assert remote["emails_sent"] == 620
    assert segment_members(esp_sandbox, segment_id) == set(emails)
    assert statuses(campaign) == {RecipientStatus.SENT: 620}


def test_segment_failure_pauses_and_resume_fills_the_rest_of_the_same_segment(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    emails = customers(1_100, audience_sync_pending=True)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    original = MailchimpMarketingClient.segment_members_update
    seen = []

    def second_chunk_refused_once(self, **kwargs):
        seen.append(len(kwargs["add"]))
        if len(seen) == 2:
            raise ProviderRequestError(
                "Service Unavailable: try again", provider="mailchimp_marketing", status=503
            )
        return original(self, **kwargs)

    monkeypatch.setattr(
        MailchimpMarketingClient, "segment_members_update", second_chunk_refused_once
    )

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.PAUSED
    assert "Service Unavailable" in campaign.error
    assert not campaign.remote_campaign_id  # no campaign before the segment is complete
    assert counts(esp_sandbox)["campaign_create"] == 0
    chunk_states = dict(
        CampaignChunk.objects.filter(campaign=campaign).values_list("number", "status")
    )
    assert chunk_states == {1: ChunkStatus.SENT, 2: ChunkStatus.PENDING}

    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign_id=campaign.pk)
    campaign.refresh_from_db()

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    assert seen == [1000, 100, 100]
    after = counts(esp_sandbox)
    assert (after["segment_create"], after["campaign_create"], after["send"]) == (1, 1, 1)
    assert segment_members(esp_sandbox, campaign.remote_segment_id) == set(emails)
    assert statuses(campaign) == {RecipientStatus.SENT: 1_100}


# --- 4. never twice ------------------------------------------------------------------------------
def test_a_second_run_of_a_finished_campaign_sends_nothing(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(40, audience_sync_pending=True)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    campaign = start(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    before = len(esp_sandbox.records("mailchimp"))

    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_mailchimp_run(campaign_id=campaign.pk) == CampaignStatus.FINISHED

    assert len(esp_sandbox.records("mailchimp")) == before
    assert counts(esp_sandbox)["send"] == 1
    assert remote_campaign(esp_sandbox, campaign.remote_campaign_id)["emails_sent"] == 40


def test_a_run_after_mailchimp_sent_but_the_row_did_not_record_it_does_not_send_again(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    customers(40, audience_sync_pending=True)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    campaign = start(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    # A crash right after the send call: nothing after it was recorded.
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING, finished_at=None)
    CampaignRecipient.objects.filter(campaign=campaign).update(
        status=RecipientStatus.PENDING, sent_at=None
    )
    before = counts(esp_sandbox)
    original_status = MailchimpMarketingClient.campaign_status
    asked = []

    def status_spy(self, campaign_id):
        asked.append((campaign_id, original_status(self, campaign_id)))
        return asked[-1][1]

    monkeypatch.setattr(MailchimpMarketingClient, "campaign_status", status_spy)

    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_mailchimp_run(campaign_id=campaign.pk) == CampaignStatus.FINISHED

    assert asked == [(campaign.remote_campaign_id, "sent")]
    after = counts(esp_sandbox)
    assert after == before  # no segment, campaign, content or send call
    assert after["send"] == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    assert campaign.finished_at is not None
    assert statuses(campaign) == {RecipientStatus.SENT: 40}
    assert remote_campaign(esp_sandbox, campaign.remote_campaign_id)["emails_sent"] == 40


def test_a_send_whose_answer_was_lost_is_not_sent_again_on_resume(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    """Mailchimp took the send, but the answer never arrived (a read timeout)."""
    customers(40, audience_sync_pending=True)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )
    original_send = MailchimpMarketingClient.campaign_send
    attempts = []

    def send_then_lose_the_answer(self, *, campaign_id):
        attempts.append(campaign_id)
        original_send(self, campaign_id=campaign_id)
        raise ProviderRequestError(
            "ReadTimeout: no answer", provider="mailchimp_marketing", ambiguous=True
        )

    monkeypatch.setattr(MailchimpMarketingClient, "campaign_send", send_then_lose_the_answer)
    campaign = start(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == CampaignStatus.PAUSED
    assert "ReadTimeout" in campaign.error

    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign_id=campaign.pk)
    campaign.refresh_from_db()

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    assert len(attempts) == 1
    assert counts(esp_sandbox)["send"] == 1
    assert counts(esp_sandbox)["content"] == 1
    assert statuses(campaign) == {RecipientStatus.SENT: 40}


# --- 5. addresses the audience does not have -----------------------------------------------------
def test_recipients_missing_from_the_audience_are_failed_with_the_reason(
    mailchimp, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    synced = customers(25, audience_sync_pending=True)
    never_synced = customers(5, prefix="unsynced", audience_sync_pending=False)
    campaign = make_campaign(
        everyone(), offer_template(make_template), mailchimp, unsubscribe_group_id=None
    )

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.FINISHED, campaign.error
    assert campaign.total == 30
    [batch] = calls(esp_sandbox)["segment_batch"]
    assert sorted(batch["body"]["members_to_add"]) == sorted(synced + never_synced)
    assert segment_members(esp_sandbox, campaign.remote_segment_id) == set(synced)
    failed = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.FAILED)
    assert sorted(failed.values_list("email", flat=True)) == sorted(never_synced)
    assert set(failed.values_list("error", flat=True)) == {NOT_ON_LIST}
    assert not failed.filter(sent_at__isnull=False).exists()
    assert statuses(campaign) == {RecipientStatus.SENT: 25, RecipientStatus.FAILED: 5}
    [chunk] = CampaignChunk.objects.filter(campaign=campaign)
    assert (chunk.status, chunk.failed_count) == (ChunkStatus.SENT, 5)
    remote = remote_campaign(esp_sandbox, campaign.remote_campaign_id)
    assert remote["status"] == "sent"
    assert remote["emails_sent"] == 25


# --- 6. bad input --------------------------------------------------------------------------------
def test_an_account_without_an_audience_id_cannot_start_a_campaign(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(10, audience_sync_pending=True)
    account = make_account("mailchimp_marketing", audience_id="")
    campaign = make_campaign(
        everyone(), offer_template(make_template), account, unsubscribe_group_id=None
    )
    before = len(esp_sandbox.records("mailchimp"))

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(CampaignError, match="has no audience id"),
    ):
        campaign_start(campaign_id=campaign.pk)

    assert callbacks == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.template_version is None
    assert campaign.started_at is None
    assert (campaign.remote_segment_id, campaign.remote_campaign_id) == ("", "")
    assert not CampaignRecipient.objects.filter(campaign=campaign).exists()
    assert not CampaignChunk.objects.filter(campaign=campaign).exists()
    assert len(esp_sandbox.records("mailchimp")) == before
