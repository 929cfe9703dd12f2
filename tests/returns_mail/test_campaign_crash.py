"""A campaign survives a worker killed in the middle of a provider call: after a restart it
finishes with every recipient sent exactly once, as counted at the sandbox."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.db import connection
from django_q.conf import Conf

from providers.sandbox.core import Fault
from returns_mail.models import Campaign, CampaignChunk, CampaignRecipient, CampaignStatus
from returns_mail.services.campaign_recovery import campaigns_sweep
from returns_mail.services.campaigns import campaign_start
from tests.conftest import TEST_KEYS
from tests.returns_mail.campaign_support import (
    customers,
    everyone,
    make_campaign,
    offer_template,
    sendgrid_sends,
)
from tests.returns_mail.test_reliability import start_worker

RECIPIENTS = 12_000
CLAIM_CHUNKS, CLAIM_THREADS = 30, 12


def chunk_states(campaign) -> dict[str, int]:
    states: dict[str, int] = {}
    for status in CampaignChunk.objects.filter(campaign=campaign).values_list("status", flat=True):
        states[status] = states.get(status, 0) + 1
    return states


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_call_sends_every_recipient_exactly_once(
    make_account, make_template, esp_sandbox, tmp_path, settings, monkeypatch
):
    sendgrid = make_account("sendgrid")
    emails = customers(RECIPIENTS)
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    # Every SendGrid call takes a second (SendGrid still takes the mail when the caller is
    # gone), so the kill lands while a chunk is with the provider.
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("slow", delay=1.0))
    monkeypatch.setattr(Conf, "SYNC", False)  # tasks go to the real broker, for the worker
    settings.Q_RETRY = 8  # the sweep's "lost worker" threshold, as the worker's
    # Look a chunk up only once its request must have finished at the provider (1 s here, the
    # client gives up after PROVIDER_TIMEOUT): as in production, where the activity lags.
    settings.RECONCILE_AFTER = settings.PROVIDER_TIMEOUT + 5

    campaign_start(campaign_id=campaign.pk)
    worker = start_worker(tmp_path)
    deadline = time.monotonic() + 120
    in_flight = CampaignChunk.objects.filter(
        campaign=campaign, status="sending", handed_over_at__isnull=False
    )
    while time.monotonic() < deadline:
        if chunk_states(campaign).get("sent", 0) >= 2 and in_flight.exists():
            break
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_with = chunk_states(campaign)
    in_flight_ids = list(in_flight.values_list("pk", flat=True))
    killed_in_flight = len(in_flight_ids)
    assert killed_in_flight >= 1, killed_with
    assert killed_with.get("sent", 0) < RECIPIENTS // 1000, killed_with

    worker = start_worker(tmp_path)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            campaign.refresh_from_db()
            if campaign.status == CampaignStatus.FINISHED:
                break
            esp_sandbox.wait_idle()
            campaigns_sweep()  # what the schedule does every minute
            time.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    print(f"killed with chunks {killed_with} ({killed_in_flight} in flight)")
    print(f"final chunks {chunk_states(campaign)}")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.FINISHED, chunk_states(campaign)
    esp_sandbox.wait_idle()
    sends = sendgrid_sends(esp_sandbox)
    assert sorted(sends) == sorted(emails)  # none skipped
    assert max(sends.values()) == 1, [e for e, n in sends.items() if n > 1][:5]  # none twice
    assert set(CampaignRecipient.objects.values_list("status", flat=True)) == {"sent"}
    # The chunks that were with the provider when the worker died were settled (by lookup,
    # then a resend of what the provider had not taken) and are sent.
    settled = CampaignChunk.objects.filter(pk__in=in_flight_ids)
    assert set(settled.values_list("status", flat=True)) == {"sent"}
    assert Campaign.objects.get(pk=campaign.pk).total == RECIPIENTS


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_give_each_chunk_to_one_worker(
    make_account, make_template, esp_sandbox, monkeypatch
):
    from returns_mail.services import campaign_chunks
    from returns_mail.services.campaign_chunks import chunk_claim_next

    monkeypatch.setattr(campaign_chunks, "runners_start", lambda campaign: None)
    monkeypatch.setattr("returns_mail.services.campaigns.runners_start", lambda campaign: None)
    monkeypatch.setattr(
        "returns_mail.services.campaign_audience.runners_start", lambda campaign: None
    )
    monkeypatch.setattr(
        "returns_mail.services.campaign_recovery.runners_start", lambda campaign: None
    )
    sendgrid = make_account("sendgrid")  # before the template: publishing pushes to it
    customers(CLAIM_CHUNKS * 1000)
    campaign = make_campaign(everyone(), offer_template(make_template), sendgrid)
    campaign_start(campaign_id=campaign.pk)  # prepared at once (tasks run inline here)
    pending = CampaignChunk.objects.filter(campaign=campaign, status="pending")
    assert pending.count() == CLAIM_CHUNKS

    barrier = threading.Barrier(CLAIM_THREADS)
    claimed: list[int] = []

    def claim():
        try:
            barrier.wait()
            while (chunk := chunk_claim_next(campaign.pk)) is not None:
                claimed.append(chunk.number)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(CLAIM_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == list(range(1, CLAIM_CHUNKS + 1))  # every chunk once, none twice
