"""Adding to the hourly and daily counters (Rollup) and latency bins (LatencyBin).

Callers collect increments for a whole webhook batch first (`Increments`), then `apply` them:
one UPDATE per distinct row (a batch of 3,000 events touches a few dozen rows), and an INSERT
for rows that do not exist yet. UPDATE ... SET n = n + k is atomic, so concurrent batches add
up correctly; a row inserted concurrently is retried as an update."""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import receiver

from analytics.models import LatencyBin, Period, Rollup
from analytics.models.rollups import LATENCY_BOUNDS
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent
from returns_mail.models import (
    Campaign,
    CampaignRecipient,
    Message,
    MessageStatus,
    RecipientStatus,
)
from returns_mail.services.lifecycle import EventEffect, Transition
from returns_mail.signals import campaign_recipients_finished, message_transitioned

logger = logging.getLogger(__name__)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def latency_bin(seconds: float) -> int:
    """The index of the bin `seconds` falls in (the last bin is everything above)."""
    return bisect.bisect_left(LATENCY_BOUNDS, max(0.0, seconds))


@dataclass(frozen=True)
class Cohort:
    """The rollup row a piece of mail counts in: the hour (and day) it was sent, with its
    dimensions. Campaign mail has no return event type and no rule."""

    sent: datetime
    account: int
    event_type: str = ""
    rule: int = 0
    template: int = 0
    campaign: int = 0

    def buckets(self):
        return ((Period.HOUR, hour_of(self.sent)), (Period.DAY, day_of(self.sent)))


def message_cohort(message: Message) -> Cohort:
    """Needs `event` and `template_version` loaded. A message not sent yet (a webhook can come
    before the worker records the send) counts in the hour it was created."""
    return Cohort(
        sent=message.sent_at or message.created_at,
        account=message.account_id or 0,
        event_type=message.event.type,
        rule=message.rule_id or 0,
        template=message.template_version.template_id,
    )


def campaign_cohort(campaign: Campaign, sent: datetime) -> Cohort:
    return Cohort(
        sent=sent, account=campaign.account_id, template=campaign.template_id, campaign=campaign.pk
    )


class Increments:
    """Counter and latency increments for one unit of work, applied together."""

    def __init__(self):
        self.counters: dict[tuple, Counter] = defaultdict(Counter)
        self.latencies: Counter = Counter()

    def count(self, cohort: Cohort, counter: str, n: int = 1) -> None:
        for period, bucket in cohort.buckets():
            key = (period, bucket, cohort.account, cohort.event_type, cohort.rule)
            self.counters[(*key, cohort.template, cohort.campaign)][counter] += n

    def latency(self, cohort: Cohort, metric: str, seconds: float) -> None:
        index = latency_bin(seconds)
        for period, bucket in cohort.buckets():
            key = (period, bucket, cohort.account, cohort.event_type, cohort.campaign)
            self.latencies[(*key, metric, index)] += 1

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


def _outcome_counter(event: NormalizedEvent) -> str:
    """The counter of a delivered, bounced or rejected event that is its mail's outcome."""
    if event.type == DeliveryEventType.BOUNCED:
        return "bounced_hard" if event.bounce_kind == BounceKind.HARD else "bounced_soft"
    return "delivered" if event.type == DeliveryEventType.DELIVERED else "rejected"


def effect_count(
    increments: Increments, cohort: Cohort, effect: EventEffect, *, by_type: dict[str, str]
) -> None:
    """Count what one provider event did to its mail (a message or a campaign recipient), as
    the lifecycle reported it: every event of a type in `by_type` under its counter, and each
    first outcome, unsubscribe, (human) open and click once, every open event (and the
    machines' among them), with the response time of the first click or reply and the time to
    the first human open."""
    event = effect.event
    if event.type in by_type:
        increments.count(cohort, by_type[event.type])
    if effect.outcome:
        increments.count(cohort, _outcome_counter(event))
    for flag in ("unsubscribed", "opened", "clicked"):
        if getattr(effect, flag):
            increments.count(cohort, flag)
    if event.type == DeliveryEventType.OPENED:  # every open, a person's or a machine's
        increments.count(cohort, "open_events")
        if event.machine_open:
            increments.count(cohort, "machine_opens")
    if effect.engaged_since is not None:  # the first click or reply
        response = (event.occurred_at - effect.engaged_since).total_seconds()
        increments.latency(cohort, LatencyBin.Metric.RESPONSE, response)
    if effect.opened_since is not None:  # the first human open
        first_open = (event.occurred_at - effect.opened_since).total_seconds()
        increments.latency(cohort, LatencyBin.Metric.OPEN, first_open)


# Sends count when the worker (or a reconciliation) records their outcome, or when a provider
# event proves a held (ambiguous) message was sent: reconciliation then finds nothing to do.
_SEND_COUNTERS = {
    Transition.SENT: "sent",
    Transition.RECONCILED: "sent",
    Transition.FAILED: "failed",
}


def _send_counter(transition: str, old: str) -> str | None:
    if transition == Transition.PROVIDER_EVENT and old == MessageStatus.AMBIGUOUS:
        return "sent"
    return _SEND_COUNTERS.get(transition)


@receiver(message_transitioned, sender=Message)
def _count_finished_send(
    *, transition: str, message_ids: tuple[int, ...], old: str, **kwargs
) -> None:
    counter = _send_counter(transition, old)
    if counter is None:
        return
    try:
        with transaction.atomic():  # a savepoint: a counting error never undoes the send's record
            loaded = Message.objects.select_related("event", "template_version").filter(
                pk__in=message_ids
            )
            increments = Increments()
            for message in loaded:
                increments.count(message_cohort(message), counter)
            increments.apply()
    except Exception:
        logger.exception("messages %s: the %s count was not recorded", message_ids, counter)


# Campaign sends count when returns_mail records their recipients as sent or failed.
_RECIPIENT_COUNTERS = {RecipientStatus.SENT: "sent", RecipientStatus.FAILED: "failed"}


@receiver(campaign_recipients_finished, sender=CampaignRecipient)
def _count_campaign_sends(
    *, campaign_id: int, status: str, count: int, at: datetime, **kwargs
) -> None:
    counter = _RECIPIENT_COUNTERS.get(status)
    if counter is None:  # cancelled: never sent
        return
    try:
        with transaction.atomic():  # a savepoint, as for messages
            campaign = Campaign.objects.only("account_id", "template_id").get(pk=campaign_id)
            increments = Increments()
            increments.count(campaign_cohort(campaign, at), counter, count)
            increments.apply()
    except Exception:
        logger.exception("campaign %s: %s %s were not counted", campaign_id, count, counter)
