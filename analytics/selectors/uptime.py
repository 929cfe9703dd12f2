"""API Integration Uptime and provider call latency.

Uptime counts expected check intervals, not checks: every minute (CHECK_INTERVAL, the period
of the "health checks and uptime" schedule) each active account's credential check and the
intake API's probe are expected, and an interval without a successful check counts as down, so
a dead worker, a stopped scheduler or a database that cannot store its own failing rows is an
outage, not a gap. Uptime over a window = intervals with a success / intervals expected.

Edge rules (intervals are UTC minutes):
- Only finished minutes count: the current minute is neither expected nor up, and a window is
  the last 24 h (1,440 minutes), 7 d or 30 d of finished minutes.
- An account is expected from the minute after the one it was created in, and never before
  the first health check this installation recorded (the checks did not exist before).
- An inactive account is expected until the minute of its last check (it is not checked while
  inactive; when it was deactivated is not recorded, its last check is the closest bound).
- The intake API is expected from the minute of its first recorded probe: before an operator
  starts probing there is nothing to compare with.

Each figure is one aggregate query (COUNT DISTINCT of the minutes with a success, through the
(account, checked_at) and (component, checked_at) indexes) plus a couple of small lookups.

Provider call latency is the p50/p95 of the real send attempts' durations (`Attempt.duration_ms`)
over the last 24 hours, with linear interpolation between the two nearest attempts (as
PostgreSQL's percentile_cont does). Windows are fixed (relative to now): the period filter does
not apply, the provider and account filters do."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from analytics.models import HealthCheck, HealthComponent
from analytics.selectors.filters import MetricFilters
from providers.models import ProviderAccount, ProviderKind
from returns_mail.models import Attempt

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CALL_WINDOW = timedelta(hours=24)
#: The period of the health-check schedule (analytics migration 0003): one expected interval.
CHECK_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Uptime:
    """Per window: check intervals expected, and those with a successful check."""

    expected: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    up: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))

    def ratio(self, window: str) -> float | None:
        return self.up[window] / self.expected[window] if self.expected[window] else None

    def down(self, window: str) -> int:
        return self.expected[window] - self.up[window]

    @property
    def ratios(self) -> dict[str, float | None]:
        return {window: self.ratio(window) for window in WINDOWS}


def combined(uptimes: Iterable[Uptime]) -> Uptime:
    """The uptime of several accounts together: all their intervals."""
    uptimes = list(uptimes)
    return Uptime(
        expected={w: sum(u.expected[w] for u in uptimes) for w in WINDOWS},
        up={w: sum(u.up[w] for u in uptimes) for w in WINDOWS},
    )


@dataclass(frozen=True)
class AccountUptime:
    name: str
    ratio: float


def worst_account(uptimes: Mapping[int, Uptime], window: str) -> AccountUptime | None:
    """The account with the lowest uptime over `window` among `uptimes` ({account id: Uptime},
    as provider_uptime gives), so an average of several accounts cannot hide one that is down;
    None when no account is expected in the window."""
    measured = {pk: u.ratio(window) for pk, u in uptimes.items() if u.ratio(window) is not None}
    if not measured:
        return None
    names = dict(ProviderAccount.objects.filter(pk__in=measured).values_list("pk", "name"))
    pk = min(measured, key=lambda pk: (measured[pk], names.get(pk, "")))
    return AccountUptime(name=names.get(pk, f"#{pk} (deleted)"), ratio=measured[pk])


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _intervals(start: datetime, end: datetime) -> int:
    """Whole intervals from `start` (a minute) up to `end` (a minute, excluded)."""
    return max(int((end - start) / CHECK_INTERVAL), 0)


def _window_starts(now: datetime) -> dict[str, datetime]:
    """Each window's first minute: a window is the last 24 h, 7 d or 30 d of finished minutes."""
    end = minute_of(now)
    return {w: end - length for w, length in WINDOWS.items()}


def _up_counts(starts: Mapping[str, datetime]) -> dict:
    """COUNT(DISTINCT minute) of the successful checks from each window's start."""
    return {
        f"up_{w}": Count("minute", distinct=True, filter=Q(ok=True, checked_at__gte=start))
        for w, start in starts.items()
    }


def _successes(component: str, now: datetime) -> QuerySet[HealthCheck]:
    longest = min(_window_starts(now).values())
    return HealthCheck.objects.filter(
        component=component, checked_at__gte=longest, checked_at__lt=minute_of(now)
    ).annotate(minute=TruncMinute("checked_at", tzinfo=UTC))


def first_check_at() -> datetime | None:
    """When this installation recorded its first health check (the checked_at index)."""
    return HealthCheck.objects.order_by("checked_at").values_list("checked_at", flat=True).first()


def provider_uptime(filters: MetricFilters, *, now: datetime | None = None) -> dict[int, Uptime]:
    """{account id: Uptime} for the accounts the filters allow that are expected to have been
    checked in the longest window (created before now, checks recorded since)."""
    now = now or timezone.now()
    accounts = filters.accounts()
    if accounts is None:
        accounts = ProviderAccount.objects.all()
    since = first_check_at()
    if since is None:
        return {}
    starts = _window_starts(now)
    checks = _successes(HealthComponent.PROVIDER, now).filter(
        account_id__in=accounts.values("pk"),
        # Checks in the creation minute are outside the account's first interval (edge rules).
        minute__gt=TruncMinute(F("account__created_at"), tzinfo=UTC),
    )
    rows = checks.values("account_id").annotate(**_up_counts(starts), last=Max("checked_at"))
    counted = {row["account_id"]: row for row in rows.order_by()}
    end = minute_of(now)
    out = {}
    for pk, created_at, active in accounts.values_list("pk", "created_at", "is_active"):
        first = max(minute_of(created_at) + CHECK_INTERVAL, minute_of(since))
        row = counted.get(pk, {})
        last = end if active else (row.get("last") and minute_of(row["last"]) + CHECK_INTERVAL)
        if last is None or first >= last:
            continue  # never expected: no uptime, not 0 %
        out[pk] = Uptime(
            expected={w: _intervals(max(first, s), last) for w, s in starts.items()},
            up={w: row.get(f"up_{w}", 0) for w in WINDOWS},
        )
    return out


def intake_uptime(*, now: datetime | None = None) -> Uptime:
    """The intake API's availability: the minutes in which a probe of /readyz was answered
    (the external `manage.py probe`, the worker's HTTP probe, or its in-process check)."""
    now = now or timezone.now()
    intake = HealthCheck.objects.filter(component=HealthComponent.INTAKE)
    since = intake.aggregate(first=Min("checked_at"))["first"]
    if since is None:
        return Uptime()
    starts = _window_starts(now)
    row = _successes(HealthComponent.INTAKE, now).aggregate(**_up_counts(starts))
    first, end = minute_of(since), minute_of(now)
    return Uptime(
        expected={w: _intervals(max(first, s), end) for w, s in starts.items()},
        up={w: row[f"up_{w}"] or 0 for w in WINDOWS},
    )


@dataclass(frozen=True)
class FirstTries:
    """Real sends: provider calls that were a message's first attempt, and those accepted."""

    calls: int = 0
    sent: int = 0

    @property
    def ratio(self) -> float | None:
        return self.sent / self.calls if self.calls else None

    def __add__(self, other: FirstTries) -> FirstTries:
        return FirstTries(self.calls + other.calls, self.sent + other.sent)


@dataclass(frozen=True)
class AccountFirstTries:
    """One account's first-try sends over the last 24 hours, and per hour."""

    total: FirstTries = FirstTries()
    hours: Mapping[datetime, FirstTries] = field(default_factory=dict)

    @property
    def worst_hour(self) -> float | None:
        ratios = [h.ratio for h in self.hours.values() if h.ratio is not None]
        return min(ratios) if ratios else None


def first_try_hours(
    *, accounts: QuerySet[ProviderAccount] | None, now: datetime | None = None
) -> dict[int, AccountFirstTries]:
    """{account id: first tries} over the last 24 hours: per account and hour (UTC), the share
    of send attempts that were their message's first and were accepted by the provider
    (outcome "sent"; a retry, a reconciled ambiguous send or a refusal is not). One query on
    the (started_at) index; "first" is asked of the message's attempts (message_id index)."""
    now = now or timezone.now()
    attempts = Attempt.objects.filter(started_at__gt=now - CALL_WINDOW, started_at__lte=now)
    if accounts is not None:
        attempts = attempts.filter(account_id__in=accounts.values("pk"))
    earlier = Attempt.objects.filter(message_id=OuterRef("message_id")).filter(
        Q(started_at__lt=OuterRef("started_at"))
        | Q(started_at=OuterRef("started_at"), pk__lt=OuterRef("pk"))
    )
    rows = (
        attempts.filter(~Exists(earlier), account_id__isnull=False)
        .annotate(hour=TruncHour("started_at", tzinfo=UTC))
        .order_by()
        .values("account_id", "hour")
        .annotate(calls=Count("pk"), sent=Count("pk", filter=Q(outcome="sent")))
    )
    hours: dict[int, dict[datetime, FirstTries]] = {}
    for row in rows:
        hours.setdefault(row["account_id"], {})[row["hour"]] = FirstTries(row["calls"], row["sent"])
    return {
        pk: AccountFirstTries(total=sum(by_hour.values(), FirstTries()), hours=by_hour)
        for pk, by_hour in hours.items()
    }


def first_try_total(filters: MetricFilters, *, now: datetime | None = None) -> FirstTries:
    """The first-try sends of the accounts the filters allow, together (last 24 hours)."""
    by_account = first_try_hours(accounts=filters.accounts(), now=now)
    return sum((a.total for a in by_account.values()), FirstTries())


def first_try_by_kind(accounts: Iterable[AccountHealth]) -> dict[str, FirstTries]:
    """{provider kind: FirstTries} of `accounts` (account_health's rows) together."""
    out: dict[str, FirstTries] = {}
    for account in accounts:
        out[account.kind] = out.get(account.kind, FirstTries()) + account.first_tries.total
    return out


@dataclass(frozen=True)
class CallLatency:
    p50: float | None = None  # milliseconds
    p95: float | None = None
    count: int = 0


def sorted_quantile(durations: QuerySet, count: int, q: float) -> float | None:
    """The q-quantile of `count` sorted values, reading at most two of them (OFFSET in SQL)."""
    if not count:
        return None
    position = q * (count - 1)
    low = math.floor(position)
    pair = list(durations[low : low + 2])
    if len(pair) == 1 or position == low:
        return pair[0]
    return pair[0] + (position - low) * (pair[1] - pair[0])


def call_latency(
    *, accounts: QuerySet[ProviderAccount] | None, now: datetime | None = None
) -> CallLatency:
    """p50/p95 of the send attempts' durations over the last 24 hours (of `accounts`, or all)."""
    now = now or timezone.now()
    attempts = Attempt.objects.filter(started_at__gt=now - CALL_WINDOW, started_at__lte=now)
    if accounts is not None:
        attempts = attempts.filter(account_id__in=accounts.values("pk"))
    count = attempts.count()
    durations = attempts.order_by("duration_ms").values_list("duration_ms", flat=True)
    return CallLatency(
        p50=sorted_quantile(durations, count, 0.5),
        p95=sorted_quantile(durations, count, 0.95),
        count=count,
    )


@dataclass(frozen=True)
class AccountHealth:
    account_id: int
    name: str
    kind: str
    kind_label: str
    is_active: bool
    uptime: Uptime
    calls: CallLatency
    first_tries: AccountFirstTries


def account_health(filters: MetricFilters, *, now: datetime | None = None) -> list[AccountHealth]:
    """Per account the filters allow: uptime over each window and call latency."""
    now = now or timezone.now()
    accounts = filters.accounts()
    if accounts is None:
        accounts = ProviderAccount.objects.all()
    rows = accounts.order_by("kind", "name").values("pk", "name", "kind", "is_active")
    uptimes = provider_uptime(filters, now=now)
    first_tries = first_try_hours(accounts=filters.accounts(), now=now)
    labels = dict(ProviderKind.choices)
    return [
        AccountHealth(
            account_id=row["pk"],
            name=row["name"],
            kind=row["kind"],
            kind_label=labels.get(row["kind"], row["kind"]),
            is_active=row["is_active"],
            uptime=uptimes.get(row["pk"], Uptime()),
            calls=call_latency(
                accounts=ProviderAccount.objects.filter(pk=row["pk"]),
                now=now,
            ),
            first_tries=first_tries.get(row["pk"], AccountFirstTries()),
        )
        for row in rows
    ]


def kind_health(
    filters: MetricFilters, kinds: Iterable[str], *, now: datetime | None = None
) -> dict[str, tuple[Uptime, CallLatency]]:
    """Per provider kind: the uptime of its accounts together and its call latency."""
    now = now or timezone.now()
    uptimes = provider_uptime(filters, now=now)
    by_account = dict(ProviderAccount.objects.values_list("pk", "kind"))
    out = {}
    for kind in filter(None, kinds):
        scope = MetricFilters(
            start=filters.start, end=filters.end, provider_kind=kind, account_id=filters.account_id
        )
        out[kind] = (
            combined(u for pk, u in uptimes.items() if by_account.get(pk) == kind),
            call_latency(accounts=scope.accounts(), now=now),
        )
    return out
