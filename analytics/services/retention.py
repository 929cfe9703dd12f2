"""Data retention: the one daily purge (schedule `analytics.tasks.purge_old_data`, and
`manage.py purge_old_data [--dry-run]`) of everything kept for a limited time. 0 days: kept
for good.

analytics' own rows:
- raw webhook bodies are blanked after RETENTION_WEBHOOK_DAYS: the delivery row keeps its
  outcome (status, counts, error, times) and its DeliveryEvents;
- delivery events (which name the recipient) are deleted after RETENTION_MESSAGE_DAYS, like the
  messages they report on, and so are webhook deliveries with no event left. Rollups and
  latency bins were counted when the events arrived and are never recomputed from them: the
  dashboards' numbers stay.

returns_mail's rows (messages and attempts, return events, customers, consent history) follow
returns_mail/services/retention.py, which says what goes when. Suppressions are never purged.

Each pass works in batches of RETENTION_BATCH_SIZE ids (see `in_batches`), so memory and lock
time stay flat whatever the backlog, and a second run finds nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from analytics.models import DeliveryEvent, WebhookDelivery
from config.queue import enqueue_on_commit
from returns_mail.services import retention as returns_retention
from returns_mail.services.retention import Budget, cutoff, in_batches

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    webhook_bodies: int
    dry_run: bool
    delivery_events: int = 0
    webhook_deliveries: int = 0
    messages: int = 0
    attempts: int = 0
    return_events: int = 0
    customers: int = 0
    consent_records: int = 0
    # False: the run's time was up with rows left (a continuation is queued).
    complete: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def _batch(batch_size: int | None) -> int:
    return batch_size or settings.RETENTION_BATCH_SIZE


def webhook_bodies_due(*, days: int) -> QuerySet[WebhookDelivery]:
    before = cutoff(days)
    if before is None:
        return WebhookDelivery.objects.none()
    return WebhookDelivery.objects.filter(received_at__lt=before).exclude(body="")


def webhook_bodies_purge(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    budget: Budget | None = None,
) -> int:
    """Blank the raw body of deliveries received more than `days` ago; returns how many."""
    days = settings.RETENTION_WEBHOOK_DAYS if days is None else days
    due = webhook_bodies_due(days=days)
    if dry_run:
        return due.count()
    return in_batches(
        due, lambda rows: rows.update(body=""), batch_size=_batch(batch_size), budget=budget
    )


def delivery_events_purge(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    budget: Budget | None = None,
) -> dict[str, int]:
    """Delete delivery events stored more than `days` ago, then the webhook deliveries of that
    age with no event left: {"delivery_events": n, "webhook_deliveries": n}."""
    before = cutoff(settings.RETENTION_MESSAGE_DAYS if days is None else days)
    if before is None:
        return {"delivery_events": 0, "webhook_deliveries": 0}
    events = DeliveryEvent.objects.filter(received_at__lt=before)
    deliveries = WebhookDelivery.objects.filter(received_at__lt=before).exclude(
        Exists(DeliveryEvent.objects.filter(delivery=OuterRef("pk")))
    )
    if dry_run:
        return {"delivery_events": events.count(), "webhook_deliveries": deliveries.count()}
    size = _batch(batch_size)
    return {
        "delivery_events": in_batches(
            events, lambda rows: rows.delete()[0], batch_size=size, budget=budget
        ),
        "webhook_deliveries": in_batches(
            deliveries,
            lambda rows: rows.delete()[1].get(WebhookDelivery._meta.label, 0),
            batch_size=size,
            budget=budget,
        ),
    }


def old_data_purge(
    *, dry_run: bool = False, batch_size: int | None = None, seconds: float | None = None
) -> PurgeReport:
    """Everything retention removes (`manage.py purge_old_data`; the schedule goes through
    `old_data_purge_scheduled`). `seconds`: stop between batches after that long.

    Delivery events go before the messages they point at (nothing left to unlink), messages
    before their events."""
    budget = Budget(seconds)
    kw = {"dry_run": dry_run, "batch_size": batch_size, "budget": budget}
    bodies = webhook_bodies_purge(**kw)
    deliveries = delivery_events_purge(**kw)
    messages = returns_retention.messages_purge(**kw)
    report = PurgeReport(
        webhook_bodies=bodies,
        dry_run=dry_run,
        delivery_events=deliveries["delivery_events"],
        webhook_deliveries=deliveries["webhook_deliveries"],
        messages=messages["messages"],
        attempts=messages["attempts"],
        return_events=returns_retention.events_purge(**kw),
        customers=returns_retention.customers_purge(**kw),
        consent_records=returns_retention.consent_purge(**kw),
        complete=not budget.cut,
    )
    logger.info("retention purge: %s", report.as_dict())
    return report


PURGE_TASK = "analytics.tasks.purge_old_data"


def old_data_purge_scheduled() -> PurgeReport:
    """The daily run, within half the task timeout (a killed task would count as failed);
    when rows are left (a backlog, the first run), the rest is queued as another run."""
    report = old_data_purge(seconds=settings.Q_TIMEOUT / 2)
    if not report.complete:
        with transaction.atomic():
            enqueue_on_commit(PURGE_TASK)
    return report
