"""Campaigns through SendGrid and Mailchimp Transactional: chunks of 1,000, per-recipient data,
exclusions, pause / resume / cancel, provider faults, and exactly-once recovery."""

from __future__ import annotations

import pytest
from django.utils import timezone

from analytics.models import Rollup
from providers.sandbox.core import Fault
from returns_mail.models import (
    Campaign,
    CampaignChunk,
    CampaignRecipient,
    CampaignStatus,
    ChunkStatus,
    RecipientStatus,
)
from returns_mail.selectors.campaigns import campaign_progress
from returns_mail.services import campaign_chunks
from returns_mail.services.campaign_chunks import campaign_run, chunk_claim_next, chunk_send
from returns_mail.services.campaign_recovery import campaigns_sweep
from returns_mail.services.campaigns import (
    CampaignError,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_send_test,
    campaign_start,
    chunk_release,
)
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import (
    customers,
    everyone,
    make_campaign,
    offer_template,
    sendgrid_sends,
    suppress,
)


@pytest.fixture
def sendgrid(make_account):
    return make_account("sendgrid")


@pytest.fixture
def mandrill(make_account):
    return make_account("mailchimp_transactional")


@pytest.fixture
def no_runners(monkeypatch):
    """Starting prepares the audience but queues no runner: the test sends chunk by chunk."""
    monkeypatch.setattr(campaign_chunks, "runners_start", lambda campaign: None)
    monkeypatch.setattr("returns_mail.services.campaigns.runners_start", lambda campaign: None)
    monkeypatch.setattr(
        "returns_mail.services.campaign_audience.runners_start", lambda campaign: None
    )
    monkeypatch.setattr(
        "returns_mail.services.campaign_recovery.runners_start", lambda campaign: None
    )


def start(campaign, capture) -> Campaign:
    with capture(execute=True):
        campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_sendgrid_campaign_goes_out_in_chunks_of_1000_with_per_recipient_data(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    emails = customers(2_500)
    customers(3, prefix="noconsent", consent=False)
    suppress(emails[0])  # hard bounce
    suppress(emails[1], reason="unsubscribe", scope="promotional")
    template = offer_template(make_template)
    campaign = make_campaign(everyone(), template, sendgrid)

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.FINISHED
    assert campaign.total == 2_498
    assert campaign.excluded == {
        "hard_bounce": 1,
        "complaint": 0,
        "unsubscribe": 1,
        "manual": 0,
        "no_consent": 3,
    }
    requests = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert sorted(len(r["body"]["personalizations"]) for r in requests) == [498, 1000, 1000]
    sends = sendgrid_sends(esp_sandbox)
    assert set(sends) == set(emails[2:])
    assert max(sends.values()) == 1
    body = requests[0]["body"]
    sync_id = template.syncs.get(account=sendgrid).remote_id
    assert body["template_id"] == sync_id
    assert body["categories"] == [f"campaign-{campaign.pk}"]
    assert body["asm"] == {"group_id": 42}
    chunk = CampaignChunk.objects.get(campaign=campaign, number=1)
    assert body["custom_args"] == {"rm_chunk": f"{chunk.marker}.1", "rm_campaign": str(campaign.pk)}
    first = body["personalizations"][0]
    recipient = CampaignRecipient.objects.get(email=first["to"][0]["email"])
    assert first["custom_args"] == {"rm_correlation_id": str(recipient.correlation_id)}
    assert first["dynamic_template_data"]["customer"]["first_name"] == "Cust2"
    assert first["dynamic_template_data"]["brand"]["name"] == "Test Shop"
    # What the customer gets, as SendGrid renders the stored template.
    [rendered] = [m for m in requests[0]["rendered"][:1]]
    assert rendered["subject"] == "A gift for you, Cust2"
    assert "Test Shop has 15% off for you." in rendered["html"]
    assert set(CampaignRecipient.objects.values_list("status", flat=True)) == {"sent"}
    progress = campaign_progress(campaign)
    assert (progress.total, progress.sent, progress.failed, progress.excluded) == (2498, 2498, 0, 5)
    assert progress.percent == 100.0


def test_mandrill_campaign_sends_batches_with_merge_vars_and_records_refusals(
    mandrill, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    emails = customers(1_200)
    campaign = make_campaign(everyone(), offer_template(make_template), mandrill)

    campaign = start(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.FINISHED
    calls = [r for r in esp_sandbox.records("mandrill") if "send" in r["path"]]
    assert sorted(len(c["body"]["message"]["to"]) for c in calls) == [200, 1000]
    message = calls[0]["body"]["message"]
    assert message["preserve_recipients"] is False
    assert message["tags"] == [f"campaign-{campaign.pk}"]
    merge = {m["rcpt"]: {v["name"]: v["content"] for v in m["vars"]} for m in message["merge_vars"]}
    assert merge[emails[0]]["customer"]["first_name"] == "Cust0"
    chunk = CampaignChunk.objects.get(campaign=campaign, number=1)
    assert message["metadata"]["rm_chunk"] == f"{chunk.marker}.1"
    sent_to = [to["email"] for c in calls for to in c["body"]["message"]["to"]]
    assert sorted(sent_to) == sorted(emails)
    assert CampaignRecipient.objects.filter(status="sent").count() == 1_200


def test_pause_stops_new_chunks_resume_finishes_and_cancel_keeps_the_rest(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners
):
    customers(3_500)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    assert campaign.status == CampaignStatus.SENDING
    chunk_send(chunk_claim_next(campaign.pk))  # one chunk goes out

    campaign_pause(campaign_id=campaign.pk)
    assert campaign_run(campaign_id=campaign.pk, budget=1) == 0  # paused: nothing claimed
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 1

    campaign_resume(campaign_id=campaign.pk)
    chunk_send(chunk_claim_next(campaign.pk))
    campaign_cancel(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert campaign_run(campaign_id=campaign.pk, budget=1) == 0
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 2
    progress = campaign_progress(campaign)
    assert (progress.sent, progress.cancelled, progress.pending) == (2000, 1500, 0)
    assert set(CampaignChunk.objects.values_list("status", flat=True)) == {"sent", "cancelled"}
    # The cancelled recipients were never sent: not counted as failed sends.
    day = Rollup.objects.get(period="day", campaign_id=campaign.pk)
    assert (day.sent, day.failed) == (2000, 0)
    with pytest.raises(CampaignError):
        campaign_resume(campaign_id=campaign.pk)


def test_a_429_is_retried_no_sooner_than_retry_after_and_sends_once(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners
):
    customers(1_000)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("429", times=1, retry_after=30))

    before = timezone.now()
    assert chunk_send(chunk_claim_next(campaign.pk)) == ChunkStatus.PENDING
    chunk = CampaignChunk.objects.get(campaign=campaign)
    assert (chunk.next_attempt_at - before).total_seconds() >= 30
    assert chunk_claim_next(campaign.pk) is None  # not due yet

    CampaignChunk.objects.update(next_attempt_at=timezone.now())
    assert chunk_send(chunk_claim_next(campaign.pk)) == ChunkStatus.SENT
    assert max(sendgrid_sends(esp_sandbox).values()) == 1
    assert len(sendgrid_sends(esp_sandbox)) == 1_000


def test_a_revoked_key_pauses_the_campaign_with_the_reason_and_resume_finishes_it(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(1_500)
    template = offer_template(make_template)
    sendgrid.api_key = "SG.revoked.key-0001"
    sendgrid.save()

    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )

    assert campaign.status == CampaignStatus.PAUSED
    assert "HTTP 401" in campaign.error
    assert "SG.revoked" not in campaign.error
    assert CampaignRecipient.objects.filter(status="pending").count() == 1_500
    sendgrid.api_key = TEST_KEYS["sendgrid"]
    sendgrid.save()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    assert len(sendgrid_sends(esp_sandbox)) == 1_500


def test_an_unanswered_call_is_settled_from_the_provider_activity_not_resent(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners, settings
):
    customers(1_000)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    settings.PROVIDER_TIMEOUT = 0.3
    settings.RECONCILE_AFTER = 0
    # SendGrid takes the mail but answers after our timeout.
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("slow", times=1, delay=1.0))

    assert chunk_send(chunk_claim_next(campaign.pk)) == ChunkStatus.UNCONFIRMED
    esp_sandbox.wait_idle()
    report = campaigns_sweep()

    assert report["reconciled"] == 1
    chunk = CampaignChunk.objects.get(campaign=campaign)
    assert chunk.status == ChunkStatus.SENT
    assert chunk.sent_count == 1_000
    assert "1000 of 1000" in chunk.error
    assert campaign_run(campaign_id=campaign.pk, budget=1) == 0
    sends = sendgrid_sends(esp_sandbox)
    assert len(sends) == 1_000
    assert max(sends.values()) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED


def test_a_dropped_call_the_provider_never_took_is_sent_again_once(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners, settings
):
    customers(1_000)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    settings.RECONCILE_AFTER = 0
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("drop", times=1))

    assert chunk_send(chunk_claim_next(campaign.pk)) == ChunkStatus.UNCONFIRMED
    campaigns_sweep()
    assert CampaignChunk.objects.get(campaign=campaign).status == ChunkStatus.PENDING

    campaign_run(campaign_id=campaign.pk, budget=5)
    sends = sendgrid_sends(esp_sandbox)
    assert len(sends) == 1_000
    assert max(sends.values()) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED


def test_a_provider_that_cannot_say_holds_the_chunk_for_an_admin(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners,
    settings,
):  # fmt: skip
    key = "SG.noactivity.key-0009"  # the sandbox: no Email Activity add-on (403 on lookups)
    sendgrid = make_account("sendgrid", api_key=key)
    customers(1_000)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    settings.RECONCILE_AFTER = 0
    esp_sandbox.faults.add(key, Fault("drop", times=1))
    assert chunk_send(chunk_claim_next(campaign.pk)) == ChunkStatus.UNCONFIRMED
    esp_sandbox.faults.add(key, Fault("503", times=1))  # the first lookup fails for a while

    campaigns_sweep()
    assert CampaignChunk.objects.get(campaign=campaign).status == ChunkStatus.UNCONFIRMED
    campaigns_sweep()  # asked again: 403, the account has no activity feed

    chunk = CampaignChunk.objects.get(campaign=campaign)
    assert chunk.status == ChunkStatus.HELD
    assert "cannot say" in chunk.error
    assert campaign_progress(campaign).held_chunks == 1
    assert campaign_run(campaign_id=campaign.pk, budget=1) == 0  # held: never resent alone
    assert sendgrid_sends(esp_sandbox) == {}

    chunk_release(chunk_id=chunk.pk, resend=True, actor="it-admin")
    campaign_run(campaign_id=campaign.pk, budget=5)
    assert len(sendgrid_sends(esp_sandbox)) == 1_000
    with pytest.raises(CampaignError):
        chunk_release(chunk_id=chunk.pk, resend=False)


def test_a_worker_lost_before_the_call_gets_its_chunk_back(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners, settings
):
    customers(1_000)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    chunk = chunk_claim_next(campaign.pk)  # ... and the worker dies here
    CampaignChunk.objects.filter(pk=chunk.pk).update(
        claimed_at=timezone.now() - timezone.timedelta(seconds=settings.Q_RETRY + 1)
    )

    assert campaigns_sweep()["recovered"] == 1
    assert CampaignChunk.objects.get(pk=chunk.pk).status == ChunkStatus.PENDING
    campaign_run(campaign_id=campaign.pk, budget=5)
    assert len(sendgrid_sends(esp_sandbox)) == 1_000


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unsubscribe_group_id": None}, "SendGrid campaigns need an unsubscribe group"),
        ({"test_recipients": "ok@example.com, not-an-address"}, "'not-an-address' is not"),
        ({"purpose": "transactional"}, "not a promotional template"),
        ({"inactive": True}, "is not active"),
    ],
)
def test_a_campaign_that_cannot_go_out_is_refused_and_nothing_changes(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks, change, expected
):
    customers(10)
    template = offer_template(make_template)
    if change.pop("purpose", None):
        template.purpose = "transactional"
        template.save()
    if change.pop("inactive", None):
        sendgrid.is_active = False
        sendgrid.save()
    campaign = make_campaign(everyone(), template, sendgrid, **change)

    with pytest.raises(CampaignError, match=expected):
        start(campaign, django_capture_on_commit_callbacks)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.template_version is None
    assert not CampaignRecipient.objects.exists()
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []


def test_an_unpublished_template_is_refused_for_sendgrid(sendgrid, make_template, esp_sandbox):
    template = make_template(
        purpose="promotional", slug="draft-offer", event_types=[], subject="Hi", html="<p>Hi</p>"
    )
    campaign = make_campaign(everyone(), template, sendgrid)
    with pytest.raises(CampaignError, match="no published version"):
        campaign_start(campaign_id=campaign.pk)


def test_starting_twice_is_refused(sendgrid, make_template, django_capture_on_commit_callbacks):
    customers(5)
    campaign = start(
        make_campaign(everyone(), offer_template(make_template), sendgrid),
        django_capture_on_commit_callbacks,
    )
    with pytest.raises(CampaignError, match="finished already"):
        campaign_start(campaign_id=campaign.pk)


def test_a_scheduled_campaign_waits_for_its_time_then_the_sweep_starts_it(
    sendgrid, make_template, esp_sandbox, django_capture_on_commit_callbacks
):
    customers(20)
    later = timezone.now() + timezone.timedelta(hours=2)
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid, send_at=later)

    campaign = start(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == CampaignStatus.SCHEDULED
    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns_sweep()["started"] == 0
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []

    Campaign.objects.filter(pk=campaign.pk).update(send_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns_sweep()["started"] == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    assert len(sendgrid_sends(esp_sandbox)) == 20


def test_a_test_send_goes_to_the_test_recipients_only(sendgrid, make_template, esp_sandbox):
    customers(3)
    campaign = make_campaign(
        everyone(),
        offer_template(make_template),
        sendgrid,
        test_recipients="marketing@shop.example\nboss@shop.example",
    )

    assert campaign_send_test(campaign_id=campaign.pk) == [
        "marketing@shop.example",
        "boss@shop.example",
    ]

    [request] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert [p["to"][0]["email"] for p in request["body"]["personalizations"]] == [
        "marketing@shop.example",
        "boss@shop.example",
    ]
    assert request["rendered"][0]["subject"] == "A gift for you, Cust0"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignRecipient.objects.exists()


def test_recipients_are_unique_per_campaign_by_constraint(sendgrid, make_template):
    from django.db import IntegrityError, transaction

    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    CampaignRecipient.objects.create(campaign=campaign, chunk_number=1, email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignRecipient.objects.create(campaign=campaign, chunk_number=2, email="a@example.com")
    assert CampaignRecipient.objects.get().status == RecipientStatus.PENDING


def test_recording_a_held_chunk_as_sent_finishes_the_campaign_without_sending(
    make_account, make_template, esp_sandbox, django_capture_on_commit_callbacks, no_runners,
    settings,
):  # fmt: skip
    key = "SG.noactivity.key-0011"  # the sandbox: no Email Activity add-on (403 on lookups)
    sendgrid = make_account("sendgrid", api_key=key)
    customers(1_000)
    template = offer_template(make_template)
    campaign = start(
        make_campaign(everyone(), template, sendgrid), django_capture_on_commit_callbacks
    )
    settings.RECONCILE_AFTER = 0
    esp_sandbox.faults.add(key, Fault("drop", times=1))
    chunk_send(chunk_claim_next(campaign.pk))
    campaigns_sweep()
    assert CampaignChunk.objects.get().status == ChunkStatus.HELD

    chunk_release(chunk_id=CampaignChunk.objects.get().pk, resend=False, actor="it-admin")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED
    assert campaign_progress(campaign).sent == 1_000
    assert "marked sent by it-admin" in CampaignChunk.objects.get().error
    assert sendgrid_sends(esp_sandbox) == {}
