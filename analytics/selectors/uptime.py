"""API Integration Uptime and provider call latency.

Uptime is the share of successful health checks (`HealthCheck.ok`) over the last 24 hours,
7 days and 30 days before now: per provider account (its credential check, every minute) and
for the intake API (its own readiness check). Provider call latency is the p50/p95 of the real
send attempts' durations (`Attempt.duration_ms`) over the last 24 hours, with linear
interpolation between the two nearest attempts (as PostgreSQL's percentile_cont does).
Windows are fixed (relative to now): the period filter does not apply, the provider and account
filters do."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from analytics.models import HealthCheck, HealthComponent
from analytics.selectors.filters import MetricFilters
from providers.models import ProviderAccount, ProviderKind
from returns_mail.models import Attempt

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CALL_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Uptime:
    checks: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    ok: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))

    def ratio(self, window: str) -> float | None:
        return self.ok[window] / self.checks[window] if self.checks[window] else None

    @property
    def ratios(self) -> dict[str, float | None]:
        return {window: self.ratio(window) for window in WINDOWS}


def combined(uptimes: Iterable[Uptime]) -> Uptime:
    """The uptime of several accounts together: all their checks."""
    uptimes = list(uptimes)
    return Uptime(
        checks={w: sum(u.checks[w] for u in uptimes) for w in WINDOWS},
        ok={w: sum(u.ok[w] for u in uptimes) for w in WINDOWS},
    )


@dataclass(frozen=True)
class AccountUptime:
    name: str
    ratio: float


def worst_account(uptimes: Mapping[int, Uptime], window: str) -> AccountUptime | None:
    """The account with the lowest uptime over `window` among `uptimes` ({account id: Uptime},
    as provider_uptime gives), so an average of several accounts cannot hide one that is down;
    None when no account has checks in the window."""
    measured = {pk: u.ratio(window) for pk, u in uptimes.items() if u.ratio(window) is not None}
    if not measured:
        return None
    names = dict(ProviderAccount.objects.filter(pk__in=measured).values_list("pk", "name"))
    pk = min(measured, key=lambda pk: (measured[pk], names.get(pk, "")))
    return AccountUptime(name=names.get(pk, f"#{pk} (deleted)"), ratio=measured[pk])


def _window_counts(now: datetime) -> dict:
    counts = {}
    for window, length in WINDOWS.items():
        recent = Q(checked_at__gt=now - length)
        counts[f"checks_{window}"] = Count("pk", filter=recent)
        counts[f"ok_{window}"] = Count("pk", filter=recent & Q(ok=True))
    return counts


def _uptime(row: Mapping) -> Uptime:
    return Uptime(
        checks={w: row[f"checks_{w}"] or 0 for w in WINDOWS},
        ok={w: row[f"ok_{w}"] or 0 for w in WINDOWS},
    )


def _checks(component: str, now: datetime) -> QuerySet[HealthCheck]:
    longest = max(WINDOWS.values())
    return HealthCheck.objects.filter(
        component=component, checked_at__gt=now - longest, checked_at__lte=now
    )


def provider_uptime(filters: MetricFilters, *, now: datetime | None = None) -> dict[int, Uptime]:
    """{account id: Uptime} for the accounts the filters allow that have checks."""
    now = now or timezone.now()
    checks = _checks(HealthComponent.PROVIDER, now)
    accounts = filters.accounts()
    if accounts is not None:
        checks = checks.filter(account_id__in=accounts.values("pk"))
    rows = checks.values("account_id").annotate(**_window_counts(now))
    return {row["account_id"]: _uptime(row) for row in rows.order_by()}


def intake_uptime(*, now: datetime | None = None) -> Uptime:
    """The intake API's availability (its readiness checks)."""
    now = now or timezone.now()
    return _uptime(_checks(HealthComponent.INTAKE, now).aggregate(**_window_counts(now)))


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


def account_health(filters: MetricFilters, *, now: datetime | None = None) -> list[AccountHealth]:
    """Per account the filters allow: uptime over each window and call latency."""
    now = now or timezone.now()
    accounts = filters.accounts()
    if accounts is None:
        accounts = ProviderAccount.objects.all()
    rows = accounts.order_by("kind", "name").values("pk", "name", "kind", "is_active")
    uptimes = provider_uptime(filters, now=now)
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
