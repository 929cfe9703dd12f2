"""The drill-down pages: totals per email type, rule, template, provider or account, the
recent (or recently failed) messages and failed health checks behind them, and the results of
the promotional campaigns."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from analytics import kpis
from analytics.forms import BreakdownForm
from analytics.selectors import conversions, metrics, recent
from analytics.selectors.metrics import BREAKDOWNS
from analytics.views.auth import dashboard
from analytics.views.common import chart_spec, page_filters, page_respond, query_with
from analytics.views.tables import Column, Table, counts_columns, kpi_column, outcome_columns


def _drill_down_url(request: HttpRequest, by: str, key) -> str:
    if not key:
        return ""
    if by == "campaign":  # campaign mail has no outbox messages: its campaign's results
        return reverse("analytics:campaigns") + "?" + query_with(request, by=None)
    param = {"event_type": "event_type", "provider": "provider"}.get(by, by)
    return reverse("analytics:messages") + "?" + query_with(request, by=None, **{param: key})


@dashboard
def breakdown(request: HttpRequest) -> HttpResponse:
    form, filters = page_filters(request, BreakdownForm)
    by = form.cleaned_data.get("by") or "event_type"
    rows = metrics.breakdown(filters, by=by)
    latency_columns = []
    if by in ("event_type", "provider", "account", "campaign"):
        latency_columns = [
            kpi_column(key, kpis.row_figures)
            for key in ("response_median", "first_open_median", "lead_median")
        ]
    table = Table(
        name="breakdown",
        title=f"By {BREAKDOWNS[by].lower()}",
        columns=[
            Column(
                BREAKDOWNS[by],
                lambda r: r.label,
                "text",
                link=lambda r: _drill_down_url(request, by, r.key),
            ),
            *counts_columns(lambda r: r.counts),
            *latency_columns,
        ],
        rows=rows,
        note="Click a name for its most recent messages.",
    )
    top = rows[:15]
    charts = {
        "breakdown": chart_spec(
            "bar",
            [r.label for r in top],
            [
                ("Sent", [r.counts.sent for r in top]),
                ("Delivered", [r.counts.delivered for r in top]),
            ],
            x=BREAKDOWNS[by],
            y="Emails",
            unit="",
        )
    }
    tabs = [
        {"by": key, "label": label, "url": "?" + query_with(request, by=key), "active": key == by}
        for key, label in BREAKDOWNS.items()
    ]
    return page_respond(
        request,
        "analytics/breakdown.html",
        "breakdown",
        form,
        filters,
        [table],
        charts=charts,
        tabs=tabs,
    )


def _message_columns() -> list[Column]:
    return [
        Column("Email type", lambda m: m.event.type, "text"),
        Column("Return", lambda m: m.event.return_id, "text"),
        Column("Recipient", lambda m: m.recipient, "text"),
        Column("Status", lambda m: m.get_status_display(), "text"),
        Column("Account", lambda m: m.account.name if m.account else "", "text"),
        Column("Rule", lambda m: m.rule.name if m.rule else "", "text"),
        Column(
            "Template",
            lambda m: f"{m.template_version.template.name} v{m.template_version.number}",
            "text",
        ),
    ]


@dashboard
def messages(request: HttpRequest) -> HttpResponse:
    form, filters = page_filters(request)
    rows = recent.recent_messages(filters)
    table = Table(
        name="messages",
        title="Recent messages",
        columns=[
            Column("Created", lambda m: m.created_at, "when"),
            Column("Sent", lambda m: m.sent_at, "when"),
            *_message_columns(),
            Column("Delivered", lambda m: m.delivered_at, "when"),
            Column("Opened", lambda m: m.opened_at, "when"),
            Column("Clicked", lambda m: m.clicked_at, "when"),
            Column("Error", lambda m: m.error, "text"),
        ],
        rows=rows,
        note=f"The newest {recent.RECENT_LIMIT} messages at most, newest first.",
    )
    return page_respond(request, "analytics/messages.html", "messages", form, filters, [table])


@dashboard
def failures(request: HttpRequest) -> HttpResponse:
    form, filters = page_filters(request)
    failed = recent.recent_failed_messages(filters)
    checks = recent.recent_failed_checks(filters)
    tables = [
        Table(
            name="messages",
            title="Failed and bounced messages",
            columns=[
                Column("Status changed", lambda m: m.status_changed_at, "when"),
                *_message_columns(),
                Column("Error", lambda m: m.error, "text"),
            ],
            rows=failed,
            note=f"The latest {recent.RECENT_LIMIT} at most.",
        ),
        Table(
            name="checks",
            title="Failed health checks",
            columns=[
                Column("Checked", lambda c: c.checked_at, "when"),
                Column("Component", lambda c: c.get_component_display(), "text"),
                Column("Account", lambda c: c.account.name if c.account else "", "text"),
                Column("Latency (ms)", lambda c: c.latency_ms, "ms"),
                Column("Detail", lambda c: c.detail, "text"),
            ],
            rows=checks,
            note=f"The latest {recent.RECENT_LIMIT} at most.",
        ),
    ]
    return page_respond(request, "analytics/failures.html", "failures", form, filters, tables)


@dashboard
def campaigns(request: HttpRequest) -> HttpResponse:
    """Promotional campaigns started in the period (narrowed by provider / account), with
    what the providers reported for their recipients: the rollups' numbers, as every page."""
    form, filters = page_filters(request)
    rows = recent.recent_campaigns(filters)
    counts = metrics.campaign_counts([c.pk for c in rows])
    converted = conversions.campaign_conversions([c.pk for c in rows])
    rule = conversions.attribution_rule()

    def of(value):
        return lambda c: value(counts[c.pk])

    table = Table(
        name="campaigns",
        title="Campaigns",
        columns=[
            Column("Started", lambda c: c.started_at, "when"),
            Column("Campaign", lambda c: c.name, "text"),
            Column("Status", lambda c: c.get_status_display(), "text"),
            Column("Account", lambda c: c.account.name, "text"),
            Column("Segment", lambda c: c.segment.name, "text"),
            Column("Recipients", lambda c: c.total),
            *outcome_columns(lambda c: counts[c.pk]),
            Column("Delivery rate (%)", of(lambda n: n.delivery_rate), "pct"),
            Column("Opened", of(lambda n: n.opened)),
            Column("Unique open rate (%)", of(lambda n: n.open_rate), "pct"),
            Column("Clicked", of(lambda n: n.clicked)),
            Column("Unique click rate (%)", of(lambda n: n.click_rate), "pct"),
            Column("Unsubscribed", of(lambda n: n.unsubscribed)),
            Column("Unsubscribe rate (%)", of(lambda n: n.unsubscribe_rate), "pct"),
            Column("Converted", lambda c: converted[c.pk].converted),
            Column("Conversion rate (%)", lambda c: converted[c.pk].rate, "pct"),
        ],
        rows=rows,
        note=(
            f"The latest {recent.RECENT_LIMIT} at most, with all their mail whenever it went "
            "out. Rates as on the overview: delivery of the mail with an outcome, opens and "
            "clicks of the delivered, unsubscribes of the sent. Mailchimp Marketing reports "
            "nothing per campaign email to us (opens and clicks are in Mailchimp's own "
            "reports): its figures are not reported until its campaign report is pulled. " + rule
        ),
    )
    total = conversions.total_conversions([c.pk for c in rows])
    tile = {
        "key": "conversion-rate",
        "label": "Conversion rate (promotional)",
        "text": "no data" if total.rate is None else f"{total.rate * 100:.1f} %",
        "detail": f"{total.converted} of {total.sent} recipients converted. {rule}",
    }
    return page_respond(
        request,
        "analytics/campaigns.html",
        "campaigns",
        form,
        filters,
        [table],
        conversion_tile=tile,
    )
