"""Delivery and engagement metrics for the dashboards.

Everything here is read from the hourly/daily rollups (`Rollup`) and latency histograms
(`LatencyBin`), summed in SQL: never from the delivery events themselves, so a page costs a few
aggregate queries over a few thousand rows however many millions of events were received.

Definitions (rates are fractions 0..1, and None when their base is zero: "no data" is not 0 %):

- **Outcomes**: every email sent (handed to the provider and accepted) is in exactly one of
  delivered, bounced (hard + soft), dropped or rejected by the provider, pending (no outcome
  yet) and delivery not reported, so sent = delivered + pending + bounced + rejected +
  unreported. Sends the provider refused outright are `failed`: never sent, not part of sent.
- **Delivery not reported** (`unreported`): mail through a provider that reports nothing per
  email: Mailchimp Marketing campaigns (its audience webhooks carry no delivery, open or click,
  and name no campaign) whose campaign report was never pulled (`Campaign.report_collected_at`;
  once pulled, its activity is rolled up like webhook events). Such mail is left out of every
  rate's base, and a rate whose base is all of that kind is NOT_REPORTED, never 0 %.
- **Email Delivery Rate** = delivered / (delivered + bounced + rejected): of the mail with a
  reported outcome; pending mail is left out instead of counting as undelivered.
- **Bounce** (hard + soft), **complaint** and **unsubscribe** rates are over sent (less the
  mail with no report). The **spam-complaint rate** is complaints over delivered, as Gmail
  and Yahoo count it against their 0.3 % limit (selectors/complaints.py).
- **Unique open and click rates** are over delivered: the rollups count each message's first
  human open and first click once. Machine opens (privacy proxies, scanners) never count as
  opens; the **machine-open share** is machine open events over every open event.
  Mailchimp Transactional (Mandrill) reports no delivery event, so
  for its accounts delivered is what it sent minus bounces and rejections (summed per row in
  SQL).
- **Customer response time** (delivered → the customer's first action: a click or a reply),
  **first open (human)** (delivered → first open by a person) and **notification lead time**
  (the return event occurred → delivered: transactional mail only): median and p90 read from
  histogram bins (`LATENCY_BOUNDS`), interpolated linearly within the bin, so they are
  approximations (the pages show them with "≈"). Values in the open-ended last bin are
  reported as its lower bound (7 days). Latency bins carry no rule or template, so these are
  unavailable (None) when the filters name a rule or template.

Every figure the pages, the CSV exports and /metrics show is defined once, formula included,
in analytics/kpis.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime

from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest

from analytics.models import LatencyBin, Period, Rollup
from analytics.models.rollups import LATENCY_BOUNDS
from analytics.selectors.filters import MetricFilters, account_kind
from providers.clients import Reporting, kinds_reporting, kinds_sending_campaigns
from providers.models import ProviderAccount, ProviderKind
from returns_mail.models import Campaign


class _NotReported:
    """A rate whose whole base is mail the provider reports nothing about."""

    def __repr__(self) -> str:
        return "NOT_REPORTED"

    def __str__(self) -> str:
        return "not reported"


NOT_REPORTED = _NotReported()


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(frozen=True)
class Counts:
    """Summed rollup counters of some slice, and the metrics derived from them."""

    sent: int = 0
    failed: int = 0
    delivered: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    rejected: int = 0
    deferred: int = 0
    opened: int = 0
    clicked: int = 0
    complained: int = 0
    unsubscribed: int = 0
    open_events: int = 0  # every open reported, not unique: a person's or a machine's
    machine_opens: int = 0  # of them, a machine's (providers/webhooks/machine_opens.py)
    # The base of the open and click rates: delivered (as _sums computes it for Mandrill too).
    engagement_base: int = 0
    # Sent through a provider that reports no outcome per email, and with none reported.
    unreported: int = 0

    @classmethod
    def from_sums(cls, row: Mapping) -> Counts:
        return cls(**{f.name: row.get(f"sum_{f.name}") or 0 for f in fields(cls)})

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    @property
    def pending(self) -> int:
        """Handed to the provider, no outcome yet (`failed` were refused before being sent)."""
        outcomes = self.delivered + self.bounced + self.rejected + self.unreported
        return max(0, self.sent - outcomes)

    def _rate(self, part: int, whole: int):
        if whole > 0:
            return part / whole
        return NOT_REPORTED if self.unreported else None

    @property
    def delivery_rate(self):
        return self._rate(self.delivered, self.delivered + self.bounced + self.rejected)

    @property
    def bounce_rate(self):
        return self._rate(self.bounced, self.sent - self.unreported)

    @property
    def hard_bounce_rate(self):
        return self._rate(self.bounced_hard, self.sent - self.unreported)

    @property
    def complaint_rate(self):
        return self._rate(self.complained, self.sent - self.unreported)

    @property
    def spam_rate(self):
        """Complaints over delivered: the spam-complaint rate as Gmail and Yahoo count it."""
        return self._rate(self.complained, self.delivered)

    @property
    def unsubscribe_rate(self):
        return self._rate(self.unsubscribed, self.sent - self.unreported)

    @property
    def open_rate(self):
        return self._rate(self.opened, self.engagement_base)

    @property
    def click_rate(self):
        return self._rate(self.clicked, self.engagement_base)

    @property
    def machine_open_share(self):
        """Of every open reported, those no person made (not unique: events)."""
        return self._rate(self.machine_opens, self.open_events)


def _sums() -> dict:
    """SUM() of every counter (named sum_<counter>), of the engagement base and of the mail
    with no report.

    Mailchimp Transactional reports no delivery: what it sent and did not bounce or reject
    counts as delivered (so its delivery rate is 1 - (bounced + rejected) / sent, and nothing
    stays pending). Mailchimp Marketing reports nothing per campaign email: what it sent and
    did not bounce or reject is "not reported". Floored at 0 per row: a webhook can land
    before the send is counted."""
    accounts = ProviderAccount.objects.values("pk")
    infers = kinds_reporting(Reporting.OUTCOMES_ONLY)
    inferred = Q(account_id__in=accounts.filter(kind__in=infers))
    # A campaign whose report was pulled (services/campaign_reports.py) reports like a webhook.
    collected = Campaign.objects.filter(report_collected_at__isnull=False).values("pk")
    silent = Q(
        account_id__in=accounts.filter(kind__in=kinds_reporting(Reporting.NOTHING)),
        campaign_id__gt=0,
    ) & ~Q(campaign_id__in=collected)
    rest = Greatest(F("sent") - F("bounced_hard") - F("bounced_soft") - F("rejected"), Value(0))
    delivered = Case(When(inferred, then=rest), default=F("delivered"), output_field=IntegerField())
    unreported = Case(When(silent, then=rest), default=Value(0), output_field=IntegerField())
    sums = {f"sum_{name}": Coalesce(Sum(name), 0) for name in Rollup.COUNTERS}
    sums["sum_delivered"] = Coalesce(Sum(delivered), 0)
    sums["sum_engagement_base"] = sums["sum_delivered"]
    sums["sum_unreported"] = Coalesce(Sum(unreported), 0)
    return sums


def rollups(filters: MetricFilters) -> QuerySet[Rollup]:
    """The rollup rows of the filters' period and dimensions."""
    rows = Rollup.objects.filter(
        period=filters.period, bucket__gte=filters.start, bucket__lt=filters.end
    )
    return filters.narrow(
        rows,
        event_type="event_type",
        rule="rule_id",
        template="template_id",
        campaign="campaign_id",
    )


def totals(filters: MetricFilters) -> Counts:
    return Counts.from_sums(rollups(filters).aggregate(**_sums()))


def totals_by_account(filters: MetricFilters) -> dict[int, Counts]:
    """The filters' totals per account id (0: mail that reached no account), one query."""
    rows = rollups(filters).values("account_id").annotate(**_sums()).order_by()
    return {row["account_id"]: Counts.from_sums(row) for row in rows}


@dataclass(frozen=True)
class SeriesPoint:
    bucket: datetime
    counts: Counts


def series(filters: MetricFilters) -> list[SeriesPoint]:
    """One point per hour or day of the range, oldest first; empty buckets have zero counts."""
    rows = rollups(filters).values("bucket").annotate(**_sums()).order_by("bucket")
    by_bucket = {row["bucket"]: Counts.from_sums(row) for row in rows}
    return [SeriesPoint(bucket, by_bucket.get(bucket, Counts())) for bucket in filters.buckets()]


# --- Latency histograms ------------------------------------------------------------------------


def histogram_quantile(counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) in seconds of a histogram {bin index: count} over LATENCY_BOUNDS,
    interpolated linearly within its bin (the first bin starts at 0 s); None when empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank, seen = q * total, 0
    for index in range(len(LATENCY_BOUNDS) + 1):
        n = counts.get(index, 0)
        if n and seen + n >= rank:
            lower = LATENCY_BOUNDS[index - 1] if index else 0
            if index == len(LATENCY_BOUNDS):  # open-ended: at least its lower bound
                return float(lower)
            return lower + (rank - seen) / n * (LATENCY_BOUNDS[index] - lower)
        seen += n
    return None  # pragma: no cover - rank <= total always finds a bin


@dataclass(frozen=True)
class Latency:
    """Median and p90 (seconds, approximate) of one histogram."""

    median: float | None = None
    p90: float | None = None
    count: int = 0
    available: bool = True

    @classmethod
    def from_bins(cls, counts: Mapping[int, int]) -> Latency:
        return cls(
            median=histogram_quantile(counts, 0.5),
            p90=histogram_quantile(counts, 0.9),
            count=sum(counts.values()),
        )


UNAVAILABLE = Latency(available=False)
METRICS = (LatencyBin.Metric.RESPONSE, LatencyBin.Metric.OPEN, LatencyBin.Metric.LEAD)


def latency_bins(filters: MetricFilters) -> QuerySet[LatencyBin]:
    bins = LatencyBin.objects.filter(
        period=filters.period, bucket__gte=filters.start, bucket__lt=filters.end
    )
    # Bins carry no rule or template.
    return filters.narrow(bins, event_type="event_type", campaign="campaign_id")


def latency(filters: MetricFilters) -> dict[str, Latency]:
    """{"response": Latency, "open": Latency, "lead": Latency} over the filters."""
    return latency_by(filters, key=None)[None]


def latency_by(filters: MetricFilters, *, key: str | None) -> dict[object, dict[str, Latency]]:
    """Latencies per value of `key` ("account_id", "event_type", "provider" or None for the
    total): {value: {"response": Latency, "open": Latency, "lead": Latency}}."""
    if filters.by_rule_or_template:
        return defaultdict(lambda: dict.fromkeys(METRICS, UNAVAILABLE))
    bins = latency_bins(filters)
    group = ["metric", "bin"]
    if key == "provider":
        bins = bins.annotate(provider=account_kind())
    if key is not None:
        group.insert(0, key)
    rows = bins.values(*group).annotate(n=Sum("count")).order_by()
    histograms: dict[object, dict[str, dict[int, int]]] = defaultdict(
        lambda: {m: {} for m in METRICS}
    )
    for row in rows:  # at most (keys x 2 metrics x 15 bins) rows
        histograms[row[key] if key else None][row["metric"]][row["bin"]] = row["n"]
    result = defaultdict(lambda: {m: Latency() for m in METRICS})
    for value, per_metric in histograms.items():
        result[value] = {m: Latency.from_bins(per_metric[m]) for m in METRICS}
    return result


# --- Breakdowns -------------------------------------------------------------------------------

BREAKDOWNS = {
    "event_type": "Email type",
    "rule": "Rule",
    "template": "Template",
    "provider": "Provider",
    "account": "Account",
    "campaign": "Campaign",
}
_ROLLUP_FIELD = {
    "event_type": "event_type",
    "rule": "rule_id",
    "template": "template_id",
    "account": "account_id",
    "provider": "provider",
    "campaign": "campaign_id",
}
# Dimensions the latency bins carry.
_LATENCY_FIELD = {
    "event_type": "event_type",
    "account": "account_id",
    "provider": "provider",
    "campaign": "campaign_id",
}


@dataclass(frozen=True)
class BreakdownRow:
    key: object  # the dimension's value (0 / "" for none)
    label: str
    counts: Counts
    response: Latency = UNAVAILABLE
    first_open: Latency = UNAVAILABLE
    lead: Latency = UNAVAILABLE


def breakdown(filters: MetricFilters, *, by: str) -> list[BreakdownRow]:
    """The filters' totals per value of dimension `by` (one of BREAKDOWNS), most sent first."""
    field = _ROLLUP_FIELD[by]
    rows = rollups(filters)
    if by == "provider":
        rows = rows.annotate(provider=account_kind())
    sums = {
        row[field]: Counts.from_sums(row)
        for row in rows.values(field).annotate(**_sums()).order_by()
    }
    if by == "provider":
        for kind in _kinds_shown(filters):
            sums.setdefault(kind, Counts())
    latencies = {}
    if by in _LATENCY_FIELD:
        latencies = latency_by(filters, key=_LATENCY_FIELD[by])
    labels = labels_for(by, list(sums))
    out = [
        BreakdownRow(
            key=key,
            label=labels[key],
            counts=counts,
            response=latencies[key]["response"] if by in _LATENCY_FIELD else UNAVAILABLE,
            first_open=latencies[key]["open"] if by in _LATENCY_FIELD else UNAVAILABLE,
            lead=latencies[key]["lead"] if by in _LATENCY_FIELD else UNAVAILABLE,
        )
        for key, counts in sums.items()
    ]
    if by == "provider":  # side by side in a fixed order
        order = {kind: i for i, kind in enumerate(ProviderKind.values)}
        return sorted(out, key=lambda row: order.get(row.key, len(order)))
    return sorted(out, key=lambda row: (-row.counts.sent, row.label))


def _kinds_shown(filters: MetricFilters) -> list[str]:
    """The provider kinds a comparison always shows (even without data): the filtered one, or
    every kind campaigns can go through (SendGrid and both Mailchimps), plus any other kind
    that has an account (an SMTP relay)."""
    if filters.provider_kind:
        return [filters.provider_kind]
    always = kinds_sending_campaigns()
    present = set(
        ProviderAccount.objects.exclude(kind__in=always).values_list("kind", flat=True).distinct()
    )
    return [kind for kind in ProviderKind.values if kind in always or kind in present]


def labels_for(by: str, keys: list) -> dict[object, str]:
    """Readable names of a dimension's values (a query per dimension, not per value)."""
    from returns_mail.models import Campaign, TriggerRule
    from templates_lib.catalogue import CATALOGUE
    from templates_lib.models import Template

    none = {
        "provider": "No account",
        "account": "No account",
        "event_type": "Campaign mail (no return event)",
        "rule": "No rule",
        "template": "No template",
        "campaign": "Transactional mail (no campaign)",
    }[by]
    if by == "provider":
        names = dict(ProviderKind.choices)
    elif by == "event_type":
        names = {key: event.label for key, event in CATALOGUE.items()}
    else:
        model = {
            "account": ProviderAccount,
            "rule": TriggerRule,
            "template": Template,
            "campaign": Campaign,
        }[by]
        wanted = [key for key in keys if key]
        names = dict(model.objects.filter(pk__in=wanted).values_list("pk", "name"))
    return {
        key: (names.get(key) or (f"#{key} (deleted)" if by in _DELETABLE else str(key)))
        if key
        else none
        for key in keys
    }


_DELETABLE = ("account", "rule", "template", "campaign")


def campaign_counts(campaign_ids: list[int]) -> dict[int, Counts]:
    """Each campaign's counts, whenever its mail went out (one query over the daily rollups);
    the same numbers the other pages add up."""
    rows = (
        Rollup.objects.filter(period=Period.DAY, campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(**_sums())
        .order_by()
    )
    found = {row["campaign_id"]: Counts.from_sums(row) for row in rows}
    return {pk: found.get(pk, Counts()) for pk in campaign_ids}
