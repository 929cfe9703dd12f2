"""Every key figure (analytics/kpis.py) computed by hand on a fixed data set, and found with the
same number on the overview (its tiles and its CSV), the providers page (its CSV) and /metrics."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from analytics import kpis
from analytics.models import LatencyBin
from analytics.services.rollups import hour_of
from tests.analytics import factories as f
from tests.analytics.test_prometheus import TOKEN, parse, value

pytestmark = pytest.mark.django_db

# SendGrid: 100 sent, 80 delivered, 6 bounced (4 hard), 2 dropped: 12 pending.
SENDGRID = dict(
    sent=100,
    delivered=80,
    bounced_hard=4,
    bounced_soft=2,
    rejected=2,
    opened=40,
    clicked=10,
    complained=1,
    unsubscribed=3,
    open_events=60,
    machine_opens=15,
)
# Mandrill reports no delivery: 50 sent - 1 bounced - 1 rejected = 48 delivered.
MANDRILL = dict(
    sent=50,
    bounced_hard=1,
    rejected=1,
    opened=24,
    clicked=6,
    unsubscribed=1,
    open_events=40,
    machine_opens=10,
)
# key: (all mail, SendGrid, Mandrill), by hand.
EXPECTED = {
    "delivery_rate": (128 / 138, 80 / 88, 48 / 50),
    "bounce_rate": (7 / 150, 6 / 100, 1 / 50),
    "complaint_rate": (1 / 150, 1 / 100, 0.0),
    "spam_rate": (1 / 128, 1 / 80, 0.0),
    "unsubscribe_rate": (4 / 150, 3 / 100, 1 / 50),
    "open_rate": (64 / 128, 40 / 80, 24 / 48),
    "click_rate": (16 / 128, 10 / 80, 6 / 48),
    "machine_open_share": (25 / 100, 15 / 60, 10 / 40),
    # Response: SendGrid 10 in the 60-120 s bin, Mandrill 4 in the 300-600 s bin. All 14: the
    # median (rank 7) is 60 + 7/10 x 60, the p90 (rank 12.6) 300 + 2.6/4 x 300.
    "response_median": (102.0, 90.0, 450.0),
    "response_p90": (495.0, 114.0, 570.0),
    # First open (human): SendGrid 5 in the 10-30 s bin.
    "first_open_median": (20.0, 20.0, None),
    "first_open_p90": (28.0, 28.0, None),
    # Lead: SendGrid 2 in the 120-300 s bin.
    "lead_median": (210.0, 210.0, None),
    "lead_p90": (282.0, 282.0, None),
}
CSV = {"pct": "{:.2f}", "pct_fine": "{:.3f}", "seconds": "{:.1f}"}


def csv_text(kpi: kpis.Kpi, number: float | None) -> str:
    if number is None:
        return ""
    return CSV[kpi.kind].format(number * 100 if kpi.kind.startswith("pct") else number)


@pytest.fixture
def data():
    bucket = hour_of(timezone.now())
    sendgrid = f.account("sendgrid", "SendGrid main")
    mandrill = f.account("mailchimp_transactional", "Mandrill main")
    f.rollup(bucket, account=sendgrid, **SENDGRID)
    f.rollup(bucket, account=mandrill, **MANDRILL)
    f.bins(bucket, LatencyBin.Metric.RESPONSE, {3: 10}, account=sendgrid)
    f.bins(bucket, LatencyBin.Metric.RESPONSE, {5: 4}, account=mandrill)
    f.bins(bucket, LatencyBin.Metric.OPEN, {1: 5}, account=sendgrid)
    f.bins(bucket, LatencyBin.Metric.LEAD, {4: 2}, account=sendgrid)
    return {"today": timezone.now().date().isoformat()}


@pytest.fixture
def manager_client(client):
    client.force_login(f.manager())
    return client


def csv_rows(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.content
    lines = response.content.decode().split("\r\n")[1:-1]
    return {line.split(",")[0]: line.split(",")[1:] for line in lines}


def test_every_figure_is_defined_once_with_a_formula():
    assert set(EXPECTED) == {kpi.key for kpi in kpis.KPIS if kpi.from_rollups}
    assert len({kpi.label for kpi in kpis.KPIS}) == len(kpis.KPIS)
    assert all(kpi.formula and kpi.source for kpi in kpis.KPIS)


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_overview_the_providers_page_the_csv_and_metrics_agree(manager_client, data, client):
    day = {"start": data["today"], "end": data["today"]}
    overview_csv = csv_rows(
        manager_client.get(reverse("analytics:overview"), {**day, "format": "csv", "table": "kpis"})
    )
    providers_csv = csv_rows(
        manager_client.get(reverse("analytics:providers"), {**day, "format": "csv"})
    )
    page = manager_client.get(reverse("analytics:overview"), day).content.decode()
    scraped = parse(
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    )

    for key, (total, sendgrid, mandrill) in EXPECTED.items():
        kpi = kpis.kpi(key)
        assert overview_csv[kpi.label][0] == csv_text(kpi, total), key
        # Side by side: SendGrid, Mailchimp Marketing (always shown: no mail), Mandrill.
        assert providers_csv[kpi.label][0] == csv_text(kpi, sendgrid), key
        assert providers_csv[kpi.label][2] == csv_text(kpi, mandrill), key
        for provider, number in (
            ("all", total),
            ("sendgrid", sendgrid),
            ("mailchimp_transactional", mandrill),
        ):
            if number is None:  # no base: absent, never 0
                with pytest.raises(KeyError):
                    value(scraped, kpi.metric_name, provider=provider)
            else:
                got = value(scraped, kpi.metric_name, provider=provider)
                assert got == pytest.approx(number), (key, provider)

    tiles = overview_tiles(page)
    assert tiles["machine_open_share"]["value"] == "25.0 %"
    assert tiles["open_rate"]["value"] == "50.0 %"
    assert tiles["response_median"]["value"] == "≈ 1.7 min"  # 102 s
    assert tiles["first_open_median"]["value"] == "≈ 20 s"
    for key, tile in tiles.items():  # every KPI tile prints its formula under it
        if key in kpis.BY_KEY:
            assert tile["definition"] == kpis.kpi(key).formula, key
    assert (
        "delivery (sending, where the provider reports no delivery) → the customer's"
        in (tiles["response_median"]["definition"])
    )
    assert set(tiles) >= {kpi.key for kpi in kpis.KPIS if kpi.tile}


def overview_tiles(body: str) -> dict[str, dict[str, str]]:
    found = {}
    for match in re.finditer(r'<div class="rm-tile[^"]*" id="kpi-(\w+)">(.*?)\n</div>', body, re.S):
        html = match.group(2)

        def part(css, html=html):
            hit = re.search(rf'<(span|div) class="{css}">(.*?)</\1>', html, re.S)
            return unescape(re.sub(r"<[^>]+>", "", hit.group(2))).strip() if hit else ""

        found[match.group(1)] = {
            "value": part("rm-tile-value"),
            "definition": part("rm-tile-definition").removeprefix("=").strip(),
        }
    return found


def test_the_providers_page_shows_each_providers_machine_open_share(manager_client, data):
    day = {"start": data["today"], "end": data["today"]}

    body = manager_client.get(reverse("analytics:providers"), day).content.decode()

    row = re.search(r"<tr>\s*<t[hd][^>]*>Machine-open share</t[hd]>(.*?)</tr>", body, re.S)
    assert row is not None
    cells = [
        unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]
    assert cells[:3] == [
        "25.0 %",
        "—",
        "25.0 %",
    ]  # SendGrid 15 / 60, Marketing none, Mandrill 10 / 40
    assert "Definitions" in body
