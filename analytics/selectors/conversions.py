"""Conversions of promotional campaign mail, read from the return events (never stored: a
selector over indexed rows, so a re-posted event or a re-run changes nothing).

The attribution rule (last touch), shown beside the numbers as ATTRIBUTION_RULE: a conversion
is the customer's exchange (`exchange.created`), store credit (`store_credit.issued`) or new
order (`order.placed`) within CONVERSION_WINDOW_DAYS after a promotional campaign email; it goes
to the last such email delivered to that address before the event (its send time when the
provider reports no delivery), and each email converts at most once (later events of the same
customer before another email add nothing). Bounced or rejected mail never converts, and
transactional (outbox) mail is never a touch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
)
from django.db.models.functions import Coalesce, Lower

from returns_mail.models import CampaignRecipient, RecipientStatus, ReturnEvent

CONVERSION_TYPES = ("exchange.created", "store_credit.issued", "order.placed")


def attribution_rule() -> str:
    days = settings.CONVERSION_WINDOW_DAYS
    return (
        f"Conversion: the customer's exchange, store credit or new order within {days} days "
        "after a promotional email, credited to the last promotional email delivered (or, "
        "where delivery is not reported, sent) before it; each email converts once; "
        "transactional mail is never credited."
    )


@dataclass(frozen=True)
class Conversions:
    converted: int
    sent: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.sent if self.sent else None


def _touches():
    """Campaign recipients that count as a promotional touch, with the time of the touch."""
    window = timedelta(days=settings.CONVERSION_WINDOW_DAYS)
    touched = Coalesce("delivered_at", "sent_at")
    return (
        CampaignRecipient.objects.filter(
            status=RecipientStatus.SENT, bounced_at__isnull=True, rejected_at__isnull=True
        )
        .annotate(touched_at=touched)
        .annotate(
            window_ends=ExpressionWrapper(F("touched_at") + window, output_field=DateTimeField())
        )
    )


def converted_recipients(campaign_ids: Sequence[int]):
    """The ids of the recipients of `campaign_ids` credited with a conversion."""
    last_touch = (
        _touches()
        .filter(
            email=OuterRef("email_lower"),
            touched_at__lte=OuterRef("occurred_at"),
            window_ends__gte=OuterRef("occurred_at"),
        )
        .order_by("-touched_at", "-pk")
        .values("pk")[:1]
    )
    emails = CampaignRecipient.objects.filter(campaign_id__in=campaign_ids).values("email")
    events = (
        ReturnEvent.objects.filter(type__in=CONVERSION_TYPES)
        .annotate(email_lower=Lower("customer_email"))
        .filter(email_lower__in=emails)
        .annotate(touch=Subquery(last_touch))
        .exclude(touch__isnull=True)
        .values("touch")
    )
    return CampaignRecipient.objects.filter(campaign_id__in=campaign_ids, pk__in=events)


def campaign_conversions(campaign_ids: Sequence[int]) -> dict[int, Conversions]:
    """Per campaign: recipients credited with a conversion, of those sent to."""
    ids = list(campaign_ids)
    converted = dict(
        converted_recipients(ids)
        .values("campaign_id")
        .annotate(n=Count("pk"))
        .values_list("campaign_id", "n")
    )
    sent = dict(
        CampaignRecipient.objects.filter(campaign_id__in=ids, status=RecipientStatus.SENT)
        .values("campaign_id")
        .annotate(n=Count("pk"))
        .values_list("campaign_id", "n")
    )
    return {pk: Conversions(converted.get(pk, 0), sent.get(pk, 0)) for pk in ids}


def total_conversions(campaign_ids: Sequence[int]) -> Conversions:
    per = campaign_conversions(campaign_ids).values()
    return Conversions(sum(c.converted for c in per), sum(c.sent for c in per))
