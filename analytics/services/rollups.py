"""Adding to the hourly and daily counters (Rollup) and latency bins (LatencyBin).

Callers collect increments for a whole webhook batch first (`Increments`), then `apply` them:
one UPDATE per distinct row (a batch of 3,000 events touches a few dozen rows), and an INSERT
for rows that do not exist yet. UPDATE ... SET n = n + k is atomic, so concurrent batches add
up correctly; a row inserted concurrently is retried as an update."""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import receiver

from analytics.models import LatencyBin, Period, Rollup
from analytics.models.rollups import LATENCY_BOUNDS
from returns_mail.models import Message, MessageStatus
from returns_mail.signals import message_finished

logger = logging.getLogger(__name__)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def latency_bin(seconds: float) -> int:
    """The index of the bin `seconds` falls in (the last bin is everything above)."""
    return bisect.bisect_left(LATENCY_BOUNDS, max(0.0, seconds))


def message_dimensions(message: Message) -> tuple[datetime, int, str, int, int]:
    """(sent moment, account, return event type, rule, template) of a message's cohort. Needs
    `event` and `template_version` loaded."""
    sent = message.sent_at or message.created_at
    return (
        sent,
        message.account_id or 0,
        message.event.type,
        message.rule_id or 0,
        message.template_version.template_id,
    )


class Increments:
    """Counter and latency increments for one unit of work, applied together."""

    def __init__(self):
        self.counters: dict[tuple, Counter] = defaultdict(Counter)
        self.latencies: Counter = Counter()

    def count(self, message: Message, counter: str, n: int = 1) -> None:
        sent, account, event_type, rule, template = message_dimensions(message)
        for period, bucket in ((Period.HOUR, hour_of(sent)), (Period.DAY, day_of(sent))):
            self.counters[(period, bucket, account, event_type, rule, template)][counter] += n

    def latency(self, message: Message, metric: str, seconds: float) -> None:
        sent, account, event_type, _, _ = message_dimensions(message)
        index = latency_bin(seconds)
        for period, bucket in ((Period.HOUR, hour_of(sent)), (Period.DAY, day_of(sent))):
            self.latencies[(period, bucket, account, event_type, metric, index)] += 1

    def __bool__(self) -> bool:
        return bool(self.counters or self.latencies)

    def apply(self) -> None:
        for key, counts in self.counters.items():
            _add(Rollup, dict(zip(Rollup.DIMENSIONS, key, strict=True)), dict(counts))
        for key, count in self.latencies.items():
            _add(LatencyBin, dict(zip(LatencyBin.DIMENSIONS, key, strict=True)), {"count": count})


def _add(model, dimensions: dict, counts: dict[str, int]) -> None:
    increments = {name: F(name) + n for name, n in counts.items() if n}
    if not increments:
        return
    if model.objects.filter(**dimensions).update(**increments):
        return
    try:
        with transaction.atomic():
            model.objects.create(**dimensions, **counts)
    except IntegrityError:  # inserted meanwhile by another batch: add to it
        model.objects.filter(**dimensions).update(**increments)


# Sends count when their outcome is recorded by returns_mail's worker.
@receiver(message_finished, sender=Message)
def _count_finished_send(*, message: Message, status: str, **kwargs) -> None:
    counter = "sent" if status == MessageStatus.SENT else "failed"
    try:
        with transaction.atomic():  # a savepoint: a counting error never undoes the send's record
            loaded = Message.objects.select_related("event", "template_version").get(pk=message.pk)
            increments = Increments()
            increments.count(loaded, counter)
            increments.apply()
    except Exception:
        logger.exception("message %s: the %s count was not recorded", message.pk, counter)
