"""The operational gauges `GET /metrics` serves (analytics.views.prometheus), in the Prometheus
text exposition format (0.0.4).

A scrape is cheap by construction: a fixed handful of queries, each bounded by an index or by a
small table (accounts, alerts, campaign chunks). Terminal outbox statuses grow without bound, so
the outbox gauge counts only messages still in flight; what was sent is read from the hourly
rollups instead.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, OuterRef, Subquery, Sum
from django.utils import timezone
from django_q.brokers import get_broker

from analytics import kpis
from analytics.models import (
    Alert,
    HealthCheck,
    HealthComponent,
    Period,
    Rollup,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from analytics.selectors import metrics, uptime
from analytics.selectors.filters import MetricFilters
from analytics.selectors.uptime import sorted_quantile
from providers.models import ProviderAccount
from returns_mail.models import Attempt, Message, MessageStatus
from returns_mail.models.campaigns import CampaignChunk, ChunkStatus

logger = logging.getLogger(__name__)

PREFIX = "returns_mail_"
#: Outbox statuses a message leaves again; the others only accumulate (see the rollups).
IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.AMBIGUOUS)
LATENCY_WINDOW = timedelta(minutes=15)
#: How far back the oldest unprocessed webhook delivery is looked for (received_at is indexed,
#: status is not: the window keeps the search a range scan).
UNPROCESSED_WINDOW = timedelta(days=1)
NO_ACCOUNT = "none"
#: The key figures' window: the current hour and the 23 before it (hourly rollups).
KPI_HOURS = timedelta(hours=23)


# --- Exposition format -------------------------------------------------------------------------


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    """One metric family: its HELP, TYPE and samples (labels, value)."""

    name: str
    help: str
    type: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: object) -> None:
        self.samples.append(({k: str(v) for k, v in labels.items()}, float(value)))

    def render(self) -> str:
        name = PREFIX + self.name
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {self.type}"]
        for labels, value in self.samples:
            if labels:
                pairs = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(labels.items()))
                lines.append(f"{name}{{{pairs}}} {_format_value(value)}")
            else:
                lines.append(f"{name} {_format_value(value)}")
        return "\n".join(lines) + "\n"


def render(families: Iterable[Family]) -> str:
    return "".join(family.render() for family in families)


# --- Collectors: each one query or a few, bounded ---------------------------------------------


@dataclass(frozen=True)
class _Account:
    id: int
    name: str
    kind: str
    is_active: bool
    last_check_ok: bool | None
    last_check_at: datetime | None
    last_webhook_at: datetime | None


def _accounts() -> dict[int, _Account]:
    """Every account (a small table) with its newest webhook delivery: one query, the newest
    delivery found per account through the (account, received_at) index."""
    newest = (
        WebhookDelivery.objects.filter(account=OuterRef("pk"))
        .order_by("-received_at")
        .values("received_at")[:1]
    )
    rows = ProviderAccount.objects.annotate(last_webhook_at=Subquery(newest)).values_list(
        "id", "name", "kind", "is_active", "last_check_ok", "last_check_at", "last_webhook_at"
    )
    return {row[0]: _Account(*row) for row in rows}


def _kind(accounts: Mapping[int, _Account], account_id: int | None) -> str:
    account = accounts.get(account_id) if account_id else None
    return account.kind if account else NO_ACCOUNT


def queue_families() -> list[Family]:
    up = Family("queue_up", "1 when the task broker answered the queue-length query, else 0.")
    depth = Family("queue_depth", "Tasks waiting in the django-q2 broker (Redis LLEN / OrmQ).")
    try:
        size = get_broker().queue_size()
    except Exception:
        logger.exception("metrics: the broker's queue size could not be read")
        up.add(0)
        return [up, depth]
    up.add(1)
    depth.add(size or 0)
    return [up, depth]


def outbox_family(accounts: Mapping[int, _Account]) -> Family:
    family = Family(
        "outbox_messages",
        "Outbox messages still in flight (queued, sending, held ambiguous) by status and provider.",
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    rows = (
        Message.objects.filter(status__in=IN_FLIGHT)
        .order_by()
        .values("status", "account_id")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[(row["status"], _kind(accounts, row["account_id"]))] += row["n"]
    for status in IN_FLIGHT:  # every in-flight status appears, zero included
        counts.setdefault((status.value, NO_ACCOUNT), 0)
    for (status, provider), n in sorted(counts.items()):
        family.add(n, status=status, provider=provider)
    return family


def sends_family(accounts: Mapping[int, _Account], now: datetime) -> Family:
    family = Family(
        "sends_last_hour",
        "Outcomes counted by the hourly rollups from the start of the previous hour until now "
        "(cohort of the hour the mail was sent), by status and provider.",
    )
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    rows = (
        Rollup.objects.filter(period=Period.HOUR, bucket__gte=since, bucket__lte=now)
        .order_by()
        .values("account_id")
        .annotate(**{counter: Sum(counter) for counter in Rollup.COUNTERS})
    )
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        provider = _kind(accounts, row["account_id"])
        for counter in Rollup.COUNTERS:
            totals[(counter, provider)] += row[counter] or 0
    for (status, provider), n in sorted(totals.items()):
        family.add(n, status=status, provider=provider)
    return family


def webhook_families(accounts: Mapping[int, _Account], now: datetime) -> list[Family]:
    lag = Family(
        "webhook_lag_seconds",
        "Seconds since the newest webhook delivery received for each account (none yet: absent).",
    )
    for account in sorted(accounts.values(), key=lambda a: a.id):
        if account.last_webhook_at is not None:
            lag.add(
                (now - account.last_webhook_at).total_seconds(),
                account=account.name,
                provider=account.kind,
            )
    oldest = Family(
        "webhook_oldest_unprocessed_seconds",
        "Age in seconds of the oldest webhook delivery received but not processed (within the "
        "last day; 0 when there is none).",
    )
    first = WebhookDelivery.objects.filter(
        received_at__gte=now - UNPROCESSED_WINDOW, status=WebhookDeliveryStatus.RECEIVED
    ).aggregate(first=Min("received_at"))["first"]
    oldest.add(max((now - first).total_seconds(), 0.0) if first else 0)
    return [lag, oldest]


def latency_families(now: datetime) -> list[Family]:
    quantiles = Family(
        "provider_call_duration_ms",
        "Provider call duration over the last 15 minutes (send attempts), by account kind.",
    )
    counts = Family(
        "provider_calls_recent", "Send attempts started in the last 15 minutes, by account kind."
    )
    recent = Attempt.objects.filter(started_at__gt=now - LATENCY_WINDOW, started_at__lte=now)
    per_kind = (
        recent.order_by().values("account__kind").annotate(n=Count("id")).order_by("account__kind")
    )
    for row in per_kind:
        kind, count = row["account__kind"] or NO_ACCOUNT, row["n"]
        counts.add(count, provider=kind)
        if row["account__kind"] is None:
            durations = recent.filter(account__isnull=True)
        else:
            durations = recent.filter(account__kind=kind)
        durations = durations.order_by("duration_ms").values_list("duration_ms", flat=True)
        for q in (0.5, 0.95):
            quantiles.add(sorted_quantile(durations, count, q), provider=kind, quantile=q)
    return [quantiles, counts]


def chunk_family() -> Family:
    family = Family("campaign_chunks", "Campaign chunks by status.")
    counts = dict.fromkeys(ChunkStatus.values, 0)
    for row in CampaignChunk.objects.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    for status, n in counts.items():
        family.add(n, status=status)
    return family


def alert_family() -> Family:
    family = Family("alerts_open", "Open alerts (not resolved).")
    family.add(Alert.objects.filter(resolved_at__isnull=True).count())
    return family


def health_families(accounts: Mapping[int, _Account], now: datetime) -> list[Family]:
    up = Family(
        "account_up",
        "Last credential check of each active account: 1 passed, 0 failed (never checked: absent).",
    )
    age = Family("account_check_age_seconds", "Seconds since each active account's last check.")
    for account in sorted(accounts.values(), key=lambda a: a.id):
        if not account.is_active or account.last_check_ok is None:
            continue
        labels = {"account": account.name, "provider": account.kind}
        up.add(1 if account.last_check_ok else 0, **labels)
        if account.last_check_at is not None:
            age.add((now - account.last_check_at).total_seconds(), **labels)
    intake = Family("intake_up", "Last readiness check of the intake API: 1 passed, 0 failed.")
    last = (
        HealthCheck.objects.filter(component=HealthComponent.INTAKE)
        .order_by("-checked_at")
        .values_list("ok", flat=True)
        .first()
    )
    if last is not None:
        intake.add(1 if last else 0)
    return [up, age, intake]


def uptime_families(accounts: Mapping[int, _Account], now: datetime) -> list[Family]:
    """The dashboards' uptime numbers, from the same selectors (analytics/selectors/uptime)."""
    everything = MetricFilters(start=now, end=now)
    account_up = Family(
        "integration_uptime_ratio",
        "API Integration Uptime per account: finished minutes with a passing credential check "
        "over the minutes expected since the account exists, by window (24h, 7d, 30d).",
    )
    down = Family(
        "integration_down_minutes",
        "Expected minutes without a passing credential check, per account and window.",
    )
    for pk, up in sorted(uptime.provider_uptime(everything, now=now).items()):
        account = accounts.get(pk)
        if account is None:
            continue
        labels = {"account": account.name, "provider": account.kind}
        for window in uptime.WINDOWS:
            account_up.add(up.ratio(window), window=window, **labels)
            down.add(up.down(window), window=window, **labels)
    intake = Family(
        "intake_availability_ratio",
        "Minutes in which a probe of the intake API's /readyz was answered (no 5xx, no refused "
        "connection) over the minutes expected since the first probe, by window.",
    )
    intake_up = uptime.intake_uptime(now=now)
    for window in uptime.WINDOWS:
        if intake_up.ratio(window) is not None:
            intake.add(intake_up.ratio(window), window=window)
    first_try = Family(
        "first_try_send_ratio",
        "Send attempts of the last 24 hours that were their message's first and were accepted, "
        "over all first attempts, per account (no sends: absent).",
    )
    tries = uptime.first_try_hours(accounts=None, now=now)
    for pk, account_tries in sorted(tries.items()):
        account = accounts.get(pk)
        if account is not None and account_tries.total.ratio is not None:
            first_try.add(account_tries.total.ratio, account=account.name, provider=account.kind)
    return [account_up, down, intake, first_try]


def kpi_families(now: datetime) -> list[Family]:
    """The dashboards' key figures read from the rollups (analytics/kpis.py: same names and
    formulas), over the mail sent from the start of the hour 23 hours ago until now: in total
    (provider="all") and per provider kind. A figure with no base (or whose provider reports
    nothing) is absent, never 0. Rates are fractions 0..1, times seconds. Four queries."""
    filters = MetricFilters(
        start=now.replace(minute=0, second=0, microsecond=0) - KPI_HOURS, end=now
    )
    slices = [
        ("all", kpis.Figures(counts=metrics.totals(filters), latency=metrics.latency(filters)))
    ]
    slices += [
        (row.key, kpis.row_figures(row))
        for row in metrics.breakdown(filters, by="provider")
        if row.key
    ]
    families = []
    for kpi in kpis.KPIS:
        if not kpi.from_rollups:
            continue
        family = Family(
            kpi.metric_name, f"{kpi.label}, mail sent in the last 24 hours: {kpi.formula}."
        )
        for provider, figures in slices:
            value = kpi.value(figures)
            if isinstance(value, int | float):
                family.add(value, provider=provider)
        families.append(family)
    return families


def collect(*, now: datetime | None = None) -> list[Family]:
    now = now or timezone.now()
    accounts = _accounts()
    return [
        *queue_families(),
        outbox_family(accounts),
        sends_family(accounts, now),
        *webhook_families(accounts, now),
        *latency_families(now),
        chunk_family(),
        alert_family(),
        *health_families(accounts, now),
        *uptime_families(accounts, now),
        *kpi_families(now),
    ]
