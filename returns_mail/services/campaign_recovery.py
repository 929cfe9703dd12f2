"""The campaign sweep, run every minute by the schedule: it starts scheduled campaigns when
due and keeps running ones moving when a worker was lost: a lost preparation is queued again,
chunks of a lost sender are recovered (pending again, or unconfirmed and settled from the
provider's activity), and campaigns whose senders went quiet get new ones."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.queue import enqueue_on_commit
from config.work_rows import stuck
from providers.clients import CampaignSending, kinds_sending_campaigns
from returns_mail.models import Campaign, CampaignChunk, CampaignStatus, ChunkStatus
from returns_mail.services.campaign_chunks import chunk_reconcile, runners_start


def campaigns_sweep() -> dict[str, int]:
    """What the schedule runs every minute: start due scheduled campaigns, recover chunks of
    lost workers, settle unconfirmed chunks, restart senders of campaigns gone quiet."""
    now = timezone.now()
    report = {"started": 0, "recovered": 0, "reconciled": 0, "restarted": 0}
    lost_after = timedelta(seconds=settings.Q_RETRY)  # longer than a task may run
    stale = now - lost_after
    with transaction.atomic():
        for campaign_id in Campaign.objects.filter(
            status=CampaignStatus.SCHEDULED, send_at__lte=now
        ).values_list("pk", flat=True):
            if Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).update(
                status=CampaignStatus.PREPARING, heartbeat_at=now
            ):
                enqueue_on_commit("returns_mail.tasks.campaign_prepare", campaign_id)
                report["started"] += 1
        for campaign_id in Campaign.objects.filter(
            status=CampaignStatus.PREPARING, heartbeat_at__lt=stale
        ).values_list("pk", flat=True):  # the preparing worker was lost (it rolled back)
            Campaign.objects.filter(pk=campaign_id).update(heartbeat_at=now)
            enqueue_on_commit("returns_mail.tasks.campaign_prepare", campaign_id)
            report["restarted"] += 1
    report["recovered"] = _recover_lost_chunks(now=now, after=lost_after)
    settle_before = now - timedelta(seconds=settings.RECONCILE_AFTER)
    for chunk_id in CampaignChunk.objects.filter(
        status=ChunkStatus.UNCONFIRMED, handed_over_at__lt=settle_before
    ).values_list("pk", flat=True):
        chunk_reconcile(chunk_id=chunk_id)
        report["reconciled"] += 1
    with transaction.atomic():
        quiet = Campaign.objects.select_related("account").filter(
            status=CampaignStatus.SENDING, heartbeat_at__lt=stale
        )
        for campaign in quiet:
            Campaign.objects.filter(pk=campaign.pk).update(heartbeat_at=now)
            runners_start(campaign)
            report["restarted"] += 1
    return report


def _recover_lost_chunks(*, now, after: timedelta) -> int:
    """Chunks claimed longer ago than a task may run: their worker is gone. Lost before the
    provider call: pending again. During it: unconfirmed, settled from the provider's activity
    (adding to the segment of a provider's own campaign is idempotent: simply pending again)."""
    lost = stuck(CampaignChunk.objects.filter(status=ChunkStatus.SENDING), now=now, after=after)
    # Exists, not a join: the UPDATE keeps the row's own conditions (see chunk_claim_next).
    segment_adds = Exists(
        Campaign.objects.filter(
            pk=OuterRef("campaign_id"),
            account__kind__in=kinds_sending_campaigns(CampaignSending.PROVIDER_CAMPAIGN),
        )
    )
    recovered = lost.filter(handed_over_at__isnull=True).update(
        status=ChunkStatus.PENDING, error="re-queued: worker lost"
    )
    recovered += lost.filter(segment_adds).update(
        status=ChunkStatus.PENDING, handed_over_at=None, error="re-queued: worker lost"
    )
    recovered += lost.filter(handed_over_at__isnull=False).update(
        status=ChunkStatus.UNCONFIRMED,
        error="worker lost during the provider call: checking what the provider took",
    )
    return recovered
