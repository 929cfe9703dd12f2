"""What every dashboard read is scoped by: a period (UTC) and optional dimensions.

Ranges of up to two days are read from the hourly rollups, longer ones from the daily rollups.
Buckets are the hour or day (UTC) the mail was *sent*: a message's later outcomes (delivered,
bounced, opened...) count in the bucket of its send, as the rollups store them.

`mail` picks transactional mail (outbox messages), promotional mail (campaign recipients), or
both (empty, the default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models import Period
from providers.models import ProviderAccount

HOURLY_UP_TO = timedelta(days=2)
DEFAULT_DAYS = 7
TRANSACTIONAL, PROMOTIONAL = "transactional", "promotional"
MAIL_CHOICES = {"": "All mail", TRANSACTIONAL: "Transactional", PROMOTIONAL: "Promotional"}


@dataclass(frozen=True)
class MetricFilters:
    start: datetime  # inclusive, timezone-aware
    end: datetime  # exclusive
    provider_kind: str = ""
    account_id: int | None = None
    event_type: str = ""
    rule_id: int | None = None
    template_id: int | None = None
    mail: str = ""  # a MAIL_CHOICES key

    @property
    def period(self) -> str:
        return Period.HOUR if self.end - self.start <= HOURLY_UP_TO else Period.DAY

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.period == Period.HOUR else timedelta(days=1)

    @property
    def by_rule_or_template(self) -> bool:
        """Latency bins carry no rule or template: such filters cannot apply to them."""
        return bool(self.rule_id or self.template_id)

    def buckets(self) -> list[datetime]:
        """Every bucket start of the range, in order (empty buckets included)."""
        first = self.start.astimezone(UTC)
        first = first.replace(minute=0, second=0, microsecond=0)
        if self.period == Period.DAY:
            first = first.replace(hour=0)
        out, moment = [], first
        while moment < self.end:
            out.append(moment)
            moment += self.step
        return out

    def accounts(self) -> QuerySet[ProviderAccount] | None:
        """The accounts the filters allow (a subquery), or None when they allow every one."""
        if not self.provider_kind and self.account_id is None:
            return None
        accounts = ProviderAccount.objects.all()
        if self.provider_kind:
            accounts = accounts.filter(kind=self.provider_kind)
        if self.account_id is not None:
            accounts = accounts.filter(pk=self.account_id)
        return accounts

    def narrow(
        self,
        rows: QuerySet,
        *,
        account: str = "account_id",
        event_type: str | None = None,
        rule: str | None = None,
        template: str | None = None,
        campaign: str | None = None,
    ) -> QuerySet:
        """`rows` limited to the filters' dimensions. Each argument names the dimension's field
        in `rows`; None: the rows do not carry that dimension, so it is not applied. `campaign`
        (0 for transactional mail) is where the mail filter applies."""
        accounts = self.accounts()
        if accounts is not None:
            rows = rows.filter(**{f"{account}__in": accounts.values("pk")})
        if campaign and self.mail == TRANSACTIONAL:
            rows = rows.filter(**{campaign: 0})
        elif campaign and self.mail == PROMOTIONAL:
            rows = rows.filter(**{f"{campaign}__gt": 0})
        wanted = ((event_type, self.event_type), (rule, self.rule_id), (template, self.template_id))
        for field, value in wanted:
            if field and value:
                rows = rows.filter(**{field: value})
        return rows


def day_range(
    first: date,
    last: date,
    **dimensions,
) -> MetricFilters:
    """From the start of day `first` to the end of day `last` (UTC), both included."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return MetricFilters(start=start, end=end, **dimensions)


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def default_filters(**dimensions) -> MetricFilters:
    """The last seven days, today included."""
    last = today()
    return day_range(last - timedelta(days=DEFAULT_DAYS - 1), last, **dimensions)


def account_kind():
    """An expression giving a rollup row's provider kind ("" for no account)."""
    kind = ProviderAccount.objects.filter(pk=OuterRef("account_id")).values("kind")[:1]
    return Coalesce(Subquery(kind), Value(""))
