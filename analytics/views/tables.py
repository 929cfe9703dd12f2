"""Tables: one definition for the HTML and the CSV. A `Table` is columns (label, value, format)
and rows; the same table renders as HTML cells and as CSV rows (`?format=csv&table=NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from analytics.selectors.metrics import Counts


def _pct_html(value):
    return "—" if value is None else f"{value * 100:.1f} %"


def _duration_html(seconds):
    if seconds is None:
        return "—"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"≈ {seconds / size:.1f} {unit}"
    return f"≈ {seconds:.0f} s"


def _when_html(value):
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


# kind: (HTML text, CSV value)
FORMATS: dict[str, tuple[Callable, Callable]] = {
    "int": (lambda v: f"{v:,}", lambda v: v),
    "pct": (_pct_html, lambda v: "" if v is None else f"{v * 100:.2f}"),
    "seconds": (_duration_html, lambda v: "" if v is None else f"{v:.1f}"),
    "ms": (
        lambda v: "—" if v is None else f"{v:.0f} ms",
        lambda v: "" if v is None else f"{v:.1f}",
    ),
    "when": (_when_html, lambda v: "" if v is None else v.astimezone(UTC).isoformat()),
    "text": (lambda v: v, lambda v: v),
    "bool": (lambda v: "yes" if v else "no", lambda v: "yes" if v else "no"),
}


@dataclass(frozen=True)
class Column:
    label: str
    value: Callable
    kind: str | Callable = "int"  # a FORMATS key, or a function of the row giving one
    link: Callable | None = None  # row -> URL (HTML only)


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list
    note: str = ""
    csv_url: str = ""

    def _kind(self, column, row):
        return column.kind(row) if callable(column.kind) else column.kind

    def html_rows(self):
        for row in self.rows:
            yield [
                {
                    "text": FORMATS[kind][0](column.value(row)),
                    "kind": kind,
                    "url": column.link(row) if column.link else "",
                }
                for column in self.columns
                for kind in [self._kind(column, row)]
            ]

    def csv_rows(self):
        yield [column.label for column in self.columns]
        for row in self.rows:
            yield [
                _csv_safe(FORMATS[self._kind(column, row)][1](column.value(row)))
                for column in self.columns
            ]


def _csv_safe(value):
    """Spreadsheets run cells starting with = + - @ as formulas: quote those texts."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _counts_columns(counts: Callable[[object], Counts]) -> list[Column]:
    return [
        Column("Sent", lambda r: counts(r).sent),
        Column("Delivered", lambda r: counts(r).delivered),
        Column("Pending", lambda r: counts(r).pending),
        Column("Bounced", lambda r: counts(r).bounced),
        Column("Failed", lambda r: counts(r).failed),
        Column("Delivery rate (%)", lambda r: counts(r).delivery_rate, "pct"),
        Column("Bounce rate (%)", lambda r: counts(r).bounce_rate, "pct"),
        Column("Complaint rate (%)", lambda r: counts(r).complaint_rate, "pct"),
        Column("Unsubscribe rate (%)", lambda r: counts(r).unsubscribe_rate, "pct"),
        Column("Unique open rate (%)", lambda r: counts(r).open_rate, "pct"),
        Column("Unique click rate (%)", lambda r: counts(r).click_rate, "pct"),
    ]


@dataclass(frozen=True)
class Metric:
    """One row of a metric table: a label, a format and one value per column."""

    key: str
    label: str
    kind: str
    values: list
    detail: str = ""
    tile: bool = True


UNITS = {"pct": "%", "seconds": "s (approx.)", "ms": "ms", "int": "emails"}


def _metric_table(name, title, columns: list[str], rows: list[Metric], note="") -> Table:
    return Table(
        name=name,
        title=title,
        columns=[
            Column("Metric", lambda m: m.label, "text"),
            *[
                Column(label, lambda m, i=i: m.values[i], lambda m: m.kind)
                for i, label in enumerate(columns)
            ],
            Column("Unit", lambda m: UNITS.get(m.kind, ""), "text"),
        ],
        rows=rows,
        note=note,
    )
