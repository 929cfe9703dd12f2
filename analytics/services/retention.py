"""Data retention: raw webhook bodies are blanked after RETENTION_WEBHOOK_DAYS.

The delivery row keeps its outcome (status, counts, error, times) and its DeliveryEvents — the
row stays the truth of what happened; only the request body, which carries recipients'
addresses and provider payloads, goes. Returns Mail stores no rendered message bodies.

Rows are blanked in batches of primary keys (one SELECT of ids, one UPDATE), so memory and
lock time stay flat whatever the backlog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from analytics.models import WebhookDelivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    webhook_bodies: int
    dry_run: bool

    def as_dict(self) -> dict:
        return {"webhook_bodies": self.webhook_bodies, "dry_run": self.dry_run}


def webhook_bodies_due(*, days: int):
    cutoff = timezone.now() - timedelta(days=days)
    return WebhookDelivery.objects.filter(received_at__lt=cutoff).exclude(body="")


def webhook_bodies_purge(
    *, days: int | None = None, dry_run: bool = False, batch_size: int | None = None
) -> int:
    """Blank the raw body of deliveries received more than `days` ago; returns how many."""
    days = settings.RETENTION_WEBHOOK_DAYS if days is None else days
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    due = webhook_bodies_due(days=days)
    if dry_run:
        return due.count()
    purged = 0
    while True:
        ids = list(due.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return purged
        purged += WebhookDelivery.objects.filter(pk__in=ids).exclude(body="").update(body="")


def old_data_purge(*, dry_run: bool = False) -> PurgeReport:
    """Everything retention removes (the daily schedule and `manage.py purge_old_data`)."""
    report = PurgeReport(webhook_bodies=webhook_bodies_purge(dry_run=dry_run), dry_run=dry_run)
    logger.info("retention purge: %s", report.as_dict())
    return report
