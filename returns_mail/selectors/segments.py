"""Selectors of segments: the members (one SQL query, streamable) and the audience of a
promotional send (members minus suppressed addresses and customers without consent, with the
exclusions counted by reason). The condition language is in returns_mail.segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, CharField, Count, Exists, OuterRef, QuerySet, Value, When
from django.utils import timezone

from returns_mail.models import Customer, Segment, Suppression, SuppressionReason, SuppressionScope
from returns_mail.segments import segment_filter

# Who is excluded from a promotional send, each customer once, under the first that applies:
# what the address itself refuses (bounce, complaint, unsubscribe, a manual block) before the
# missing consent, and the harder refusal first.
EXCLUSION_PRECEDENCE = (
    SuppressionReason.HARD_BOUNCE,
    SuppressionReason.COMPLAINT,
    SuppressionReason.UNSUBSCRIBE,
    SuppressionReason.MANUAL,
    "no_consent",
)
PROMOTIONAL_SCOPES = (SuppressionScope.ALL, SuppressionScope.PROMOTIONAL)


def segment_members(segment: Segment, *, now: datetime | None = None) -> QuerySet[Customer]:
    """The customers the segment describes, by email, as one SQL query (stream it with
    `.iterator(chunk_size=...)`). No conditions: every customer."""
    now = now or timezone.now()
    return Customer.objects.filter(segment_filter(segment.conditions, segment.match, now=now))


@dataclass(frozen=True)
class Audience:
    """Who a promotional send to a segment reaches, and who it leaves out and why."""

    recipients: QuerySet[Customer]  # lazy: the members with consent and without suppression
    members: int
    eligible: int
    excluded: dict[str, int] = field(default_factory=dict)  # in EXCLUSION_PRECEDENCE order

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())


def _suppressed(**filters) -> Exists:
    return Exists(
        Suppression.objects.filter(email=OuterRef("email"), scope__in=PROMOTIONAL_SCOPES, **filters)
    )


def segment_audience(segment: Segment, *, now: datetime | None = None) -> Audience:
    """The members minus suppressed addresses (scope all or promotional, any reason) and minus
    customers without marketing consent; each excluded customer is counted once, under the
    first reason of EXCLUSION_PRECEDENCE that applies. Counting is one grouped query."""
    members = segment_members(segment, now=now)
    whens = [
        When(_suppressed(reason=reason), then=Value(str(reason)))
        for reason in EXCLUSION_PRECEDENCE[:-1]
    ]
    whens.append(When(marketing_consent=False, then=Value("no_consent")))
    counts = dict(
        members.annotate(exclusion=Case(*whens, default=Value(""), output_field=CharField()))
        .order_by()
        .values("exclusion")
        .annotate(n=Count("pk"))
        .values_list("exclusion", "n")
    )
    excluded = {str(reason): counts.get(str(reason), 0) for reason in EXCLUSION_PRECEDENCE}
    eligible = counts.get("", 0)
    recipients = members.filter(marketing_consent=True).exclude(_suppressed())
    return Audience(
        recipients=recipients,
        members=eligible + sum(excluded.values()),
        eligible=eligible,
        excluded=excluded,
    )
