"""Page plumbing shared by the dashboard pages: read the filters, build query strings, answer
with the page or with one of its tables as CSV, and shape chart data."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from analytics.forms import FilterForm
from analytics.selectors.filters import MAIL_CHOICES, MetricFilters, default_filters
from analytics.views.tables import Table


def page_filters(request: HttpRequest, form_class=FilterForm) -> tuple[FilterForm, MetricFilters]:
    form = form_class(request.GET)
    if not form.is_valid():  # the errors are shown; the page shows the default filters
        return form, default_filters()
    data = request.GET.copy()  # the date inputs show the dates in use
    data["start"] = form.cleaned_data["start"].isoformat()
    data["end"] = form.cleaned_data["end"].isoformat()
    form.data = data
    return form, form.filters()


def query_with(request: HttpRequest, **changes) -> str:
    params = request.GET.copy()
    for key in ("format", "table"):
        params.pop(key, None)
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    return params.urlencode()


def page_respond(request, template: str, page: str, form, filters, tables: list[Table], **context):
    if request.GET.get("format") == "csv":
        if form.errors:
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
            return HttpResponseBadRequest(f"Invalid filters: {errors}", content_type="text/plain")
        wanted = request.GET.get("table") or tables[0].name
        table = next((t for t in tables if t.name == wanted), None)
        if table is None:
            names = ", ".join(t.name for t in tables)
            return HttpResponseBadRequest(
                f"Unknown table {wanted!r}; this page has: {names}", content_type="text/plain"
            )
        return _csv(table, page, filters)
    for table in tables:
        table.csv_url = "?" + query_with(request, format="csv", table=table.name)
    nav_query = query_with(request, by=None)
    mail_links = [
        {"label": label, "url": "?" + query_with(request, mail=key), "active": key == filters.mail}
        for key, label in MAIL_CHOICES.items()
    ]
    return render(
        request,
        template,
        {
            "form": form,
            "filters": filters,
            "last_day": (filters.end - timedelta(microseconds=1)).date(),
            "tables": {t.name: t for t in tables},
            "page": page,
            "nav_query": f"?{nav_query}" if nav_query else "",
            "mail_links": mail_links,
            **context,
        },
    )


def _csv(table: Table, page: str, filters: MetricFilters) -> HttpResponse:
    span = f"{filters.start:%Y%m%d}-{filters.end:%Y%m%d}"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="analytics-{page}-{table.name}-{span}.csv"'
    )
    csv.writer(response).writerows(table.csv_rows())
    return response


def bucket_label(filters: MetricFilters, bucket: datetime) -> str:
    return f"{bucket:%Y-%m-%d %H:00}" if filters.period == "hour" else f"{bucket:%Y-%m-%d}"


def time_axis(filters: MetricFilters) -> str:
    return "Hour sent (UTC)" if filters.period == "hour" else "Day sent (UTC)"


def pct_value(value):
    """A rate as a chart value: no data and not reported both leave a gap."""
    return round(value * 100, 2) if isinstance(value, int | float) else None


def chart_spec(kind, labels, datasets, *, x, y, unit, y_max=None, reference=None) -> dict:
    """`reference`: (label, value), a horizontal line drawn across the chart (a limit)."""
    spec = {
        "type": kind,
        "labels": labels,
        "datasets": [{"label": label, "data": data} for label, data in datasets],
        "x_title": x,
        "y_title": y,
        "unit": unit,
        "y_max": y_max,
    }
    if reference is not None:
        spec["reference"] = {"label": reference[0], "value": reference[1]}
    return spec
