"""The spam-complaint rate on the dashboards (complaints ÷ delivered, as Gmail and Yahoo count
it): a key figure and a series on the overview, per account and per sending domain on the
providers page, each drawn against the 0.3 % limit."""

from __future__ import annotations

from analytics.selectors import complaints
from analytics.selectors.complaints import SPAM_RATE_LIMIT, SpamRate
from analytics.selectors.filters import MetricFilters
from analytics.selectors.metrics import SeriesPoint
from analytics.views.common import bucket_label, chart_spec, time_axis
from analytics.views.tables import Column, Table

LIMIT_LABEL = "Gmail and Yahoo limit (0.3 %)"
CAPTION = "Spam-complaint rate (complaints ÷ delivered) against the 0.3 % limit"


def chart_value(rate):
    """A rate as a chart percentage, fine enough for 0.1 % steps (a gap when there is none)."""
    return round(rate * 100, 3) if isinstance(rate, float) else None


def spam_series_chart(filters: MetricFilters, points: list[SeriesPoint]) -> dict:
    return chart_spec(
        "line",
        [bucket_label(filters, p.bucket) for p in points],
        [("Spam-complaint rate", [chart_value(p.counts.spam_rate) for p in points])],
        x=time_axis(filters),
        y="Complaints of delivered (%)",
        unit="%",
        reference=(LIMIT_LABEL, SPAM_RATE_LIMIT * 100),
    )


def spam_tables_and_chart(filters: MetricFilters) -> tuple[list[Table], dict]:
    """The per-account and per-domain tables, and one chart of both against the limit."""
    per_account, per_domain = complaints.spam_rates(filters)
    columns = [
        Column("Delivered", lambda r: r.counts.delivered),
        Column("Complaints", lambda r: r.counts.complained),
        Column("Spam-complaint rate (%)", lambda r: r.rate, "pct_fine"),
        Column("Against the limits", lambda r: r.verdict, "text"),
    ]
    note = (
        "Complaints (spam reports) over delivered emails, as Gmail and Yahoo count the spam rate "
        "of a bulk sender: it must stay under 0.3 % (Gmail advises under 0.1 %). A sending "
        "domain adds up the accounts that send from it."
    )
    tables = [
        Table(
            name="spam_accounts",
            title="Spam-complaint rate per account",
            columns=[
                Column("Account", lambda r: r.label, "text"),
                Column("Sending domain", lambda r: r.domain, "text"),
                *columns,
            ],
            rows=per_account,
            note=note,
        ),
        Table(
            name="spam_domains",
            title="Spam-complaint rate per sending domain",
            columns=[Column("Sending domain", lambda r: r.label, "text"), *columns],
            rows=per_domain,
        ),
    ]
    rows: list[SpamRate] = [*per_account, *per_domain]
    chart = chart_spec(
        "bar",
        [r.label for r in per_account] + [f"{r.label} (domain)" for r in per_domain],
        [("Spam-complaint rate", [chart_value(r.rate) for r in rows])],
        x="Account or sending domain",
        y="Complaints of delivered (%)",
        unit="%",
        reference=(LIMIT_LABEL, SPAM_RATE_LIMIT * 100),
    )
    return tables, chart
