"""Selectors of campaigns: progress while sending and results once webhooks arrive, counted
from the recipient rows (the truth) in one grouped query each."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from returns_mail.models import Campaign, CampaignChunk, CampaignRecipient, ChunkStatus


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    pending: int
    cancelled: int
    excluded: int
    held_chunks: int
    rate_per_second: float  # recipients sent per second since the start

    @property
    def percent(self) -> float:
        done = self.sent + self.failed + self.cancelled
        return round(100.0 * done / self.total, 1) if self.total else 0.0


def campaign_progress(campaign: Campaign) -> Progress:
    counts = dict(
        CampaignRecipient.objects.filter(campaign=campaign)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    sent = counts.get("sent", 0)
    end = campaign.finished_at or timezone.now()
    seconds = (end - campaign.started_at).total_seconds() if campaign.started_at else 0
    return Progress(
        total=campaign.total,
        sent=sent,
        failed=counts.get("failed", 0),
        pending=counts.get("pending", 0),
        cancelled=counts.get("cancelled", 0),
        excluded=sum((campaign.excluded or {}).values()),
        held_chunks=CampaignChunk.objects.filter(
            campaign=campaign, status=ChunkStatus.HELD
        ).count(),
        rate_per_second=round(sent / seconds, 1) if seconds > 0 else 0.0,
    )


@dataclass(frozen=True)
class Results:
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    unsubscribed: int

    def rate(self, count: int) -> float:
        return round(100.0 * count / self.sent, 1) if self.sent else 0.0


RESULT_COUNTS = {
    "sent": Count("pk", filter=Q(status="sent")),
    "delivered": Count("pk", filter=Q(delivered_at__isnull=False)),
    "opened": Count("pk", filter=Q(opened_at__isnull=False)),
    "clicked": Count("pk", filter=Q(clicked_at__isnull=False)),
    "bounced": Count("pk", filter=Q(bounced_at__isnull=False)),
    "unsubscribed": Count("pk", filter=Q(unsubscribed_at__isnull=False)),
}


def campaigns_results(campaign_ids) -> dict[int, Results]:
    """What the providers' webhooks reported for each campaign's recipients (one query)."""
    rows = (
        CampaignRecipient.objects.filter(campaign_id__in=list(campaign_ids))
        .order_by()
        .values("campaign_id")
        .annotate(**RESULT_COUNTS)
    )
    empty = Results(**dict.fromkeys(RESULT_COUNTS, 0))
    found = {row.pop("campaign_id"): Results(**row) for row in rows}
    return {pk: found.get(pk, empty) for pk in campaign_ids}


def campaign_results(campaign: Campaign) -> Results:
    return campaigns_results([campaign.pk])[campaign.pk]
