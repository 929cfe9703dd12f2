"""Every key figure the dashboards show, defined once: its key, its label, how it is shown, its
formula in words and the function that computes it. The overview's tiles, the providers page,
the CSV exports' headers and the /metrics families are all built from this list, so a figure
has the same name, formula and number everywhere (docs/kpis.md explains them at length).

A KPI's value is computed from `Figures`: summed rollup counters (selectors/metrics.py,
`Counts`), the latency histograms' medians and p90s (`metrics.latency`), and for uptime the
`Uptime` of analytics/selectors/uptime.py (anything with `.ratio(window)`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from analytics.selectors.metrics import UNAVAILABLE, Counts, Latency


class _Ratios(Protocol):
    def ratio(self, window: str) -> float | None: ...


@dataclass(frozen=True)
class Figures:
    """What the KPIs of one slice (everything, a provider, a bucket) are computed from."""

    counts: Counts = field(default_factory=Counts)
    # {"response", "open", "lead"}: metrics.latency()'s keys; missing ones are unavailable.
    latency: Mapping[str, Latency] = field(default_factory=dict)
    uptime: _Ratios | None = None
    intake: _Ratios | None = None  # the intake API's own availability (its /readyz probes)
    first_try: float | None = None  # real sends accepted at their first attempt (a fraction)

    def latency_of(self, metric: str) -> Latency:
        return self.latency.get(metric, UNAVAILABLE)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    kind: str  # how it is shown: a FORMATS key of analytics/views/tables.py
    formula: str
    value: Callable[[Figures], object]
    # The function that computes it, for the reader (docs, the definitions section).
    source: str
    # Shown on the overview as a tile (the others are in its key-figures table only).
    tile: bool = True
    # Read from the rollups and latency bins (not from the health checks): /metrics serves it.
    from_rollups: bool = True

    @property
    def unit(self) -> str:
        """The unit of its values in a CSV (a page shows each value with its own)."""
        return {"pct": "%", "pct_fine": "%", "seconds": "s"}.get(self.kind, "")

    @property
    def csv_label(self) -> str:
        """The CSV header: the label and the unit its values are in."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def metric_name(self) -> str:
        """Its /metrics family: returns_mail_kpi_<key>."""
        return f"kpi_{self.key}"


def _rate(name: str) -> Callable[[Figures], object]:
    return lambda figures: getattr(figures.counts, name)


def _quantile(metric: str, which: str) -> Callable[[Figures], object]:
    return lambda figures: getattr(figures.latency_of(metric), which)


def _uptime(window: str) -> Callable[[Figures], object]:
    return lambda figures: figures.uptime.ratio(window) if figures.uptime is not None else None


_BASE = "sent, less the mail whose provider reports no outcome (Mailchimp Marketing campaigns)"
_DELIVERED = "delivered (Mandrill reports no delivery: what it sent less bounces and rejections)"
_RESPONSE = (
    "delivery (sending, where the provider reports no delivery) → the customer's first action: "
    "a click or a reply; opens never count. From histogram bins: approximate"
)
_FIRST_OPEN = (
    "delivery (or sending) → the first open by a person; machine opens never count. From "
    "histogram bins: approximate"
)
_LEAD = "the return event occurred → delivered (transactional mail only). Approximate"
_UPTIME = (
    "finished minutes with a passing credential check ÷ the minutes expected, every active "
    "account from the minute after it was created (a minute without a passing check, or "
    "without any check, is down)"
)

_DEFINED: tuple[Kpi, ...] = (
    Kpi(
        "delivery_rate",
        "Email delivery rate",
        "pct",
        "delivered ÷ (delivered + bounced + dropped or rejected): of the mail with a reported "
        "outcome; pending mail is left out",
        _rate("delivery_rate"),
        "metrics.Counts.delivery_rate",
    ),
    Kpi(
        "bounce_rate",
        "Bounce rate",
        "pct",
        f"bounced (hard + soft) ÷ {_BASE}",
        _rate("bounce_rate"),
        "metrics.Counts.bounce_rate",
    ),
    Kpi(
        "complaint_rate",
        "Complaint rate",
        "pct",
        f"complaints (spam reports) ÷ {_BASE}",
        _rate("complaint_rate"),
        "metrics.Counts.complaint_rate",
    ),
    Kpi(
        "spam_rate",
        "Spam-complaint rate",
        "pct_fine",
        "complaints ÷ delivered, as Gmail and Yahoo count it (limit 0.3 %, Gmail advises "
        "under 0.1 %)",
        _rate("spam_rate"),
        "metrics.Counts.spam_rate",
    ),
    Kpi(
        "unsubscribe_rate",
        "Unsubscribe rate",
        "pct",
        f"unsubscribes ÷ {_BASE}",
        _rate("unsubscribe_rate"),
        "metrics.Counts.unsubscribe_rate",
    ),
    Kpi(
        "open_rate",
        "Unique open rate (human)",
        "pct",
        f"messages a person opened (each once; a click counts as an open) ÷ {_DELIVERED}; "
        "machine opens never count",
        _rate("open_rate"),
        "metrics.Counts.open_rate",
    ),
    Kpi(
        "click_rate",
        "Unique click rate",
        "pct",
        f"messages clicked (each once) ÷ {_DELIVERED}",
        _rate("click_rate"),
        "metrics.Counts.click_rate",
    ),
    Kpi(
        "machine_open_share",
        "Machine-open share",
        "pct",
        "open events no person made ÷ all open events (each event, not unique). A machine's: "
        "SendGrid's sg_machine_open flag, Apple Mail Privacy Protection's bare 'Mozilla/5.0' "
        "user agent, or an open within MACHINE_OPEN_SECONDS of delivery",
        _rate("machine_open_share"),
        "metrics.Counts.machine_open_share",
    ),
    Kpi(
        "response_median",
        "Customer response time (median)",
        "seconds",
        f"median of {_RESPONSE}",
        _quantile("response", "median"),
        "metrics.latency()['response'].median",
    ),
    Kpi(
        "response_p90",
        "Customer response time (p90)",
        "seconds",
        f"90th percentile of {_RESPONSE}",
        _quantile("response", "p90"),
        "metrics.latency()['response'].p90",
        tile=False,
    ),
    Kpi(
        "first_open_median",
        "First open (human) (median)",
        "seconds",
        f"median of {_FIRST_OPEN}",
        _quantile("open", "median"),
        "metrics.latency()['open'].median",
    ),
    Kpi(
        "first_open_p90",
        "First open (human) (p90)",
        "seconds",
        f"90th percentile of {_FIRST_OPEN}",
        _quantile("open", "p90"),
        "metrics.latency()['open'].p90",
        tile=False,
    ),
    Kpi(
        "lead_median",
        "Notification lead time (median)",
        "seconds",
        f"median of {_LEAD}",
        _quantile("lead", "median"),
        "metrics.latency()['lead'].median",
    ),
    Kpi(
        "lead_p90",
        "Notification lead time (p90)",
        "seconds",
        f"90th percentile of {_LEAD}",
        _quantile("lead", "p90"),
        "metrics.latency()['lead'].p90",
        tile=False,
    ),
    Kpi(
        "uptime_24h",
        "API integration uptime (24 h)",
        "pct",
        f"{_UPTIME}: the last 24 hours",
        _uptime("24h"),
        "uptime.combined(uptime.provider_uptime()).ratio('24h'); per provider uptime.kind_health",
        from_rollups=False,
    ),
    Kpi(
        "uptime_7d",
        "API integration uptime (7 d)",
        "pct",
        f"{_UPTIME}: the last 7 days",
        _uptime("7d"),
        "uptime.combined(uptime.provider_uptime()).ratio('7d')",
        tile=False,
        from_rollups=False,
    ),
    Kpi(
        "uptime_30d",
        "API integration uptime (30 d)",
        "pct",
        f"{_UPTIME}: the last 30 days",
        _uptime("30d"),
        "uptime.combined(uptime.provider_uptime()).ratio('30d')",
        tile=False,
        from_rollups=False,
    ),
    Kpi(
        "intake_24h",
        "Intake API availability (24 h)",
        "pct",
        "minutes in which a probe of /readyz got an answer other than a 5xx ÷ the minutes "
        "expected since the first probe, the last 24 hours",
        lambda figures: figures.intake.ratio("24h") if figures.intake is not None else None,
        "uptime.intake_uptime().ratio('24h')",
        from_rollups=False,
    ),
    Kpi(
        "first_try_24h",
        "Sends accepted at the first attempt (24 h)",
        "pct",
        "provider calls that were a message's first attempt and were accepted ÷ all first "
        "attempts, the last 24 hours (transactional mail)",
        lambda figures: figures.first_try,
        "uptime.first_try_total().ratio",
        from_rollups=False,
    ),
)
BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in _DEFINED}
# In the order the pages show them: the headline figures first (delivery, response, lead,
# uptime), then the other rates.
KPIS: tuple[Kpi, ...] = tuple(
    BY_KEY[key]
    for key in (
        "delivery_rate",
        "response_median",
        "response_p90",
        "first_open_median",
        "first_open_p90",
        "lead_median",
        "lead_p90",
        "uptime_24h",
        "uptime_7d",
        "uptime_30d",
        "intake_24h",
        "first_try_24h",
        "bounce_rate",
        "complaint_rate",
        "spam_rate",
        "unsubscribe_rate",
        "open_rate",
        "click_rate",
        "machine_open_share",
    )
)
if len(KPIS) != len(BY_KEY):  # pragma: no cover - a KPI defined but left out of the order
    raise RuntimeError("every KPI needs its place in KPIS")
# The rates a table of counts shows per row (CSV columns of the series and breakdowns).
COUNT_RATES = (
    "delivery_rate",
    "bounce_rate",
    "complaint_rate",
    "spam_rate",
    "unsubscribe_rate",
    "open_rate",
    "click_rate",
    "machine_open_share",
)


def kpi(key: str) -> Kpi:
    return BY_KEY[key]


def value(key: str, figures: Figures) -> object:
    return BY_KEY[key].value(figures)


def row_figures(row) -> Figures:
    """The figures of a breakdown row (metrics.BreakdownRow): its counts and latencies."""
    latency = {"response": row.response, "open": row.first_open, "lead": row.lead}
    return Figures(counts=row.counts, latency=latency)
