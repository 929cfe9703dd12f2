"""Tables: one definition for the HTML and the CSV. A `Table` is columns (label, value, format)
and rows; the same table renders as HTML cells and as CSV rows (`?format=csv&table=NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from analytics import kpis
from analytics.kpis import Figures
from analytics.selectors.metrics import NOT_REPORTED, Counts

DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def pct_html(value):
    if value is NOT_REPORTED:
        return str(NOT_REPORTED)
    return "—" if value is None else f"{value * 100:.1f} %"


def _pct_csv(value):
    if value is NOT_REPORTED:
        return str(NOT_REPORTED)
    return "" if value is None else f"{value * 100:.2f}"


def pct_fine_html(value):
    """A small rate (the spam-complaint rate, judged against 0.1 % and 0.3 %): two decimals."""
    if value is NOT_REPORTED:
        return str(NOT_REPORTED)
    return "—" if value is None else f"{value * 100:.2f} %"


def _pct_fine_csv(value):
    if value is NOT_REPORTED:
        return str(NOT_REPORTED)
    return "" if value is None else f"{value * 100:.3f}"


def duration_unit(seconds: float) -> tuple[str, int]:
    """The largest unit (name, seconds) in which `seconds` is at least 1 (seconds below)."""
    return next((unit for unit in DURATION_UNITS if seconds >= unit[1]), DURATION_UNITS[-1])


def duration_html(seconds, unit: tuple[str, int] | None = None):
    """≈ `seconds` in `unit` (by default its own: duration_unit). Figures shown together, a
    median and its p90, share the unit of the first."""
    if seconds is None:
        return "—"
    name, size = unit or duration_unit(seconds)
    value = seconds / size
    return f"≈ {value:,.0f} {name}" if size == 1 or value >= 100 else f"≈ {value:.1f} {name}"


def _when_html(value):
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


# kind: (HTML text, CSV value)
FORMATS: dict[str, tuple[Callable, Callable]] = {
    "int": (lambda v: f"{v:,}", lambda v: v),
    "pct": (pct_html, _pct_csv),
    "pct_fine": (pct_fine_html, _pct_fine_csv),
    "seconds": (duration_html, lambda v: "" if v is None else f"{v:.1f}"),
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
    # The CSV's unit, added to its header: an HTML cell shows its own ("≈ 2.0 h").
    csv_unit: str = ""

    @property
    def csv_label(self) -> str:
        return f"{self.label} ({self.csv_unit})" if self.csv_unit else self.label


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
        yield [column.csv_label for column in self.columns]
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


def outcome_columns(counts: Callable[[object], Counts]) -> list[Column]:
    """Sent, then the outcomes that add up to it, then what was never sent."""
    return [
        Column("Sent", lambda r: counts(r).sent),
        Column("Delivered", lambda r: counts(r).delivered),
        Column("Pending", lambda r: counts(r).pending),
        Column("Bounced", lambda r: counts(r).bounced),
        Column("Dropped or rejected", lambda r: counts(r).rejected),
        Column("Delivery not reported", lambda r: counts(r).unreported),
        Column("Failed at send (not sent)", lambda r: counts(r).failed),
    ]


def kpi_column(key: str, figures: Callable[[object], Figures]) -> Column:
    """A column of one KPI (analytics/kpis.py): its label, format and CSV unit."""
    kpi = kpis.kpi(key)
    return Column(kpi.label, lambda r: kpi.value(figures(r)), kpi.kind, csv_unit=kpi.unit)


def counts_columns(counts: Callable[[object], Counts]) -> list[Column]:
    """The outcomes, then every rate of the counts (kpis.COUNT_RATES)."""
    return [
        *outcome_columns(counts),
        *[kpi_column(key, lambda r: Figures(counts=counts(r))) for key in kpis.COUNT_RATES],
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
    definition: str = ""  # its formula (analytics/kpis.py), printed under its tile


# A metric row's unit: in the CSV, its values' unit; in HTML, durations show their own.
UNITS = {"pct": "%", "pct_fine": "%", "seconds": "s (approx.)", "ms": "ms", "int": "emails"}
UNITS_HTML = {**UNITS, "seconds": "approx. (as shown)"}


def kpi_metric(key: str, columns: list[Figures], detail: str = "") -> Metric:
    """A metric row of one KPI: its value for each column's figures, with its formula."""
    kpi = kpis.kpi(key)
    return Metric(
        kpi.key,
        kpi.label,
        kpi.kind,
        [kpi.value(figures) for figures in columns],
        detail,
        tile=kpi.tile,
        definition=kpi.formula,
    )


FORMATS["unit"] = (lambda kind: UNITS_HTML.get(kind, ""), lambda kind: UNITS.get(kind, ""))


def metric_table(name, title, columns: list[str], rows: list[Metric], note="") -> Table:
    return Table(
        name=name,
        title=title,
        columns=[
            Column("Metric", lambda m: m.label, "text"),
            *[
                Column(label, lambda m, i=i: m.values[i], lambda m: m.kind)
                for i, label in enumerate(columns)
            ],
            Column("Unit", lambda m: m.kind, "unit"),
        ],
        rows=rows,
        note=note,
    )
