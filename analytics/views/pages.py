"""The summary pages: the overview (key figures, charts, series) and the providers side by
side (with uptime and call latency per account). Both add up the mail the filters choose:
transactional, promotional (campaigns) or all of it."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from analytics import kpis
from analytics.kpis import Figures
from analytics.selectors import metrics, uptime
from analytics.selectors.metrics import Counts
from analytics.views import spam
from analytics.views.auth import dashboard
from analytics.views.common import (
    bucket_label,
    chart_spec,
    page_filters,
    page_respond,
    pct_value,
    time_axis,
)
from analytics.views.tables import (
    FORMATS,
    Column,
    Metric,
    Table,
    counts_columns,
    duration_html,
    duration_unit,
    kpi_metric,
    metric_table,
    pct_html,
)

# The overview's outcome tiles: Sent, then the outcomes that add up to it; Failed apart.
OUTCOME_TILES = ("sent", "delivered", "pending", "bounced", "rejected", "unreported")


@dashboard
def overview(request: HttpRequest) -> HttpResponse:
    form, filters = page_filters(request)
    now = timezone.now()
    counts = metrics.totals(filters)
    points = metrics.series(filters)
    latency = metrics.latency(filters)
    per_account = uptime.provider_uptime(filters, now=now)
    up = uptime.combined(per_account.values())
    worst = uptime.worst_account(per_account, "24h")
    intake = uptime.intake_uptime(now=now)
    first_tries = uptime.first_try_total(filters, now=now)
    key_figures = _kpis(counts, latency, up, worst, intake, first_tries)
    labels = [bucket_label(filters, p.bucket) for p in points]
    charts = {
        "volume": chart_spec(
            "bar",
            labels,
            [
                ("Sent", [p.counts.sent for p in points]),
                ("Delivered", [p.counts.delivered for p in points]),
                ("Bounced", [p.counts.bounced for p in points]),
                ("Failed at send", [p.counts.failed for p in points]),
            ],
            x=time_axis(filters),
            y="Emails",
            unit="",
        ),
        "delivery": chart_spec(
            "line",
            labels,
            [("Delivery rate", [pct_value(p.counts.delivery_rate) for p in points])],
            x=time_axis(filters),
            y="Delivery rate (%)",
            unit="%",
            y_max=100,
        ),
        "engagement": chart_spec(
            "line",
            labels,
            [
                *[
                    (
                        kpis.kpi(key).label,
                        [pct_value(kpis.value(key, Figures(counts=p.counts))) for p in points],
                    )
                    for key in ("open_rate", "click_rate")
                ],
            ],
            x=time_axis(filters),
            y="Share of delivered emails (%)",
            unit="%",
            y_max=100,
        ),
        "spam": spam.spam_series_chart(filters, points),
    }
    tables = [  # the first is the CSV export's default
        Table(
            name="series",
            title=f"Per {filters.period}",
            columns=[
                Column(time_axis(filters), lambda p: p.bucket, "when"),
                *counts_columns(lambda p: p.counts),
                Column("Opened", lambda p: p.counts.opened),
                Column("Clicked", lambda p: p.counts.clicked),
            ],
            rows=points,
        ),
        metric_table("kpis", "Key figures", ["Value"], key_figures),
    ]
    tiles = {kpi.key: _tile(kpi) for kpi in key_figures if kpi.tile}
    if worst is not None:  # beside the average: one account down is not hidden by the others
        tiles["uptime_24h"]["aside"] = {"text": pct_html(worst.ratio), "label": worst.name}
    return page_respond(
        request,
        "analytics/overview.html",
        "overview",
        form,
        filters,
        tables,
        outcome_tiles=[tiles.pop(key) for key in OUTCOME_TILES],
        failed_tile=tiles.pop("failed"),
        tiles=list(tiles.values()),
        charts=charts,
        definitions=kpis.KPIS,
    )


def _tile(kpi: Metric) -> dict:
    return {
        "key": kpi.key,
        "label": kpi.label,
        "text": FORMATS[kpi.kind][0](kpi.values[0]),
        "detail": kpi.detail,
        "definition": kpi.definition,
    }


def _times(latency: metrics.Latency) -> str:
    """A latency tile's detail: its p90 in the unit of its median (one unit per tile)."""
    unit = duration_unit(latency.median) if latency.median is not None else None
    text = f"p90 {duration_html(latency.p90, unit)}; {latency.count:,} messages"
    return text if latency.available else f"{text} (not available per rule or template)"


def _kpis(
    counts: Counts,
    latency,
    up: uptime.Uptime,
    worst: uptime.AccountUptime | None,
    intake: uptime.Uptime,
    first_tries: uptime.FirstTries,
) -> list[Metric]:
    """The key figures, as analytics/kpis.py defines them, each with what it was computed
    from."""
    figures = [
        Figures(
            counts=counts, latency=latency, uptime=up, intake=intake, first_try=first_tries.ratio
        )
    ]
    with_outcome = counts.delivered + counts.bounced + counts.rejected
    reported = counts.sent - counts.unreported  # the base of the bounce and complaint rates
    unreported = f"; {counts.unreported:,} not reported" if counts.unreported else ""
    engaged = f"of {counts.engagement_base:,} delivered"
    checks = (
        f"minutes with a passing credential check, all accounts together "
        f"({up.down('24h'):,} of {up.expected['24h']:,} down in 24 h)"
    )
    details = {
        "delivery_rate": f"{counts.delivered:,} delivered of {with_outcome:,} with an outcome; "
        f"{counts.pending:,} pending{unreported}",
        "response_median": _times(latency["response"]),
        "first_open_median": _times(latency["open"]),
        "lead_median": _times(latency["lead"]),
        "uptime_24h": f"{checks}; 7 days {pct_html(up.ratio('7d'))} · "
        f"30 days {pct_html(up.ratio('30d'))}",
        "intake_24h": f"7 days {pct_html(intake.ratio('7d'))} · "
        f"30 days {pct_html(intake.ratio('30d'))}",
        "first_try_24h": f"{first_tries.sent:,} of {first_tries.calls:,} first provider calls",
        "bounce_rate": f"{counts.bounced:,} bounced ({counts.bounced_hard:,} hard) "
        f"of {reported:,} sent",
        "complaint_rate": f"{counts.complained:,} complaints of {reported:,} sent",
        "spam_rate": f"{counts.complained:,} complaints of {counts.delivered:,} delivered",
        "unsubscribe_rate": f"{counts.unsubscribed:,} unsubscribes of {reported:,} sent",
        "open_rate": f"{counts.opened:,} unique opens {engaged}",
        "click_rate": f"{counts.clicked:,} unique clicks {engaged}",
        "machine_open_share": f"{counts.machine_opens:,} of {counts.open_events:,} opens "
        "were a machine's",
    }
    shown = [kpi_metric(kpi.key, figures, details.get(kpi.key, "")) for kpi in kpis.KPIS]
    worst_metric = Metric(
        "uptime_24h_worst",
        "Worst account's API integration uptime (24 h)" + (f": {worst.name}" if worst else ""),
        "pct",
        [worst.ratio if worst else None],
        tile=False,
    )
    position = next(i for i, m in enumerate(shown) if m.key == "uptime_24h") + 1
    return [*shown[:position], worst_metric, *shown[position:], *_outcome_metrics([counts])]


def _outcome_metrics(columns: list[Counts]) -> list[Metric]:
    """Sent and the outcomes that add up to it, then the sends refused (never sent): one value
    per column (with details when there is one column: the overview's tiles)."""
    one = columns[0] if len(columns) == 1 else None

    def metric(key, label, value, detail=""):
        return Metric(key, label, "int", [value(c) for c in columns], detail if one else "")

    return [
        metric("sent", "Sent", lambda c: c.sent, "accepted by the provider"),
        metric(
            "delivered",
            "Delivered",
            lambda c: c.delivered,
            "reported delivered (Mandrill: sent minus bounced and dropped)",
        ),
        metric("pending", "Pending", lambda c: c.pending, "no outcome reported yet"),
        metric(
            "bounced",
            "Bounced",
            lambda c: c.bounced,
            f"{one.bounced_hard:,} hard · {one.bounced_soft:,} soft" if one else "",
        ),
        metric(
            "rejected",
            "Dropped or rejected",
            lambda c: c.rejected,
            "taken, then dropped by the provider",
        ),
        metric(
            "unreported",
            "Delivery not reported",
            lambda c: c.unreported,
            "the provider reports no outcome (Mailchimp Marketing campaigns)",
        ),
        metric(
            "failed",
            "Failed at send (not sent)",
            lambda c: c.failed,
            "refused by the provider: not part of Sent",
        ),
    ]


def _provider_figures(row: metrics.BreakdownRow, health) -> Figures:
    return replace(kpis.row_figures(row), uptime=health[row.key][0])


@dashboard
def providers(request: HttpRequest) -> HttpResponse:
    form, filters = page_filters(request)
    now = timezone.now()
    rows = [r for r in metrics.breakdown(filters, by="provider") if r.key]
    health = uptime.kind_health(filters, [r.key for r in rows], now=now)
    accounts = uptime.account_health(filters, now=now)
    first_tries = uptime.first_try_by_kind(accounts)
    names = [r.label for r in rows]

    def metric(key, label, kind, value, **extra):
        return Metric(key, label, kind, [value(r) for r in rows], **extra)

    comparison = [
        *_outcome_metrics([r.counts for r in rows]),
        *[
            kpi_metric(kpi.key, [_provider_figures(r, health) for r in rows])
            for kpi in kpis.KPIS
            if kpi.key != "intake_24h"  # the intake API is no provider's
        ],
        metric(
            "first_try_24h",
            "Sends accepted at the first attempt (24 h)",
            "pct",
            lambda r: first_tries.get(r.key, uptime.FirstTries()).ratio,
        ),
        metric("call_p50", "Call latency p50 (24 h)", "ms", lambda r: health[r.key][1].p50),
        metric("call_p95", "Call latency p95 (24 h)", "ms", lambda r: health[r.key][1].p95),
    ]
    tables = [
        metric_table(
            "providers",
            "Providers side by side",
            names,
            comparison,
            note="Same period, mail and email types for every provider. Sent = delivered + "
            "pending + bounced + dropped or rejected + not reported; failed at send were never "
            "sent. Mailchimp Transactional (Mandrill) reports no deliveries: what it sent and "
            "did not bounce or reject counts as delivered. Mailchimp Marketing's webhooks report "
            "nothing per campaign email: its campaign reports are pulled while a campaign is "
            "recent and counted the same way (delivered: sent less bounces); a campaign whose "
            "report was never pulled is not reported.",
        ),
        Table(
            name="accounts",
            title="Integration uptime per account",
            columns=[
                Column("Account", lambda a: a.name, "text"),
                Column("Provider", lambda a: a.kind_label, "text"),
                Column("Active", lambda a: a.is_active, "bool"),
                *[
                    Column(f"Uptime {w} (%)", lambda a, w=w: a.uptime.ratio(w), "pct")
                    for w in uptime.WINDOWS
                ],
                Column("Minutes down (24 h)", lambda a: a.uptime.down("24h")),
                Column("First-try sends 24h (%)", lambda a: a.first_tries.total.ratio, "pct"),
                Column("First-try worst hour (%)", lambda a: a.first_tries.worst_hour, "pct"),
                Column("Calls (24 h)", lambda a: a.calls.count),
                Column("Call p50 (ms)", lambda a: a.calls.p50, "ms"),
                Column("Call p95 (ms)", lambda a: a.calls.p95, "ms"),
            ],
            rows=accounts,
            note="Uptime: share of the finished minutes since the account exists with a passing "
            "credential check (one is expected every minute; a minute without one, as when the "
            "worker is stopped, is down). First-try sends: real send attempts of the last 24 "
            "hours that were their message's first and were accepted, over all first attempts "
            "(worst: the lowest hour). Call latency: real send attempts of the last 24 hours.",
        ),
    ]
    spam_tables, spam_chart = spam.spam_tables_and_chart(filters)
    tables += spam_tables
    chart_metrics = [m for m in comparison if m.kind == "pct" and not m.key.startswith("uptime")]
    charts = {
        "providers": chart_spec(
            "bar",
            [m.label for m in chart_metrics],
            [
                (name, [pct_value(m.values[i]) for m in chart_metrics])
                for i, name in enumerate(names)
            ],
            x="Metric",
            y="Share of emails (%)",
            unit="%",
        ),
        "spam": spam_chart,
    }
    return page_respond(
        request,
        "analytics/providers.html",
        "providers",
        form,
        filters,
        tables,
        charts=charts,
        definitions=kpis.KPIS,
    )
