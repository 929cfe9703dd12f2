"""What the managers steer by: outcome tiles that add up to Sent, campaign mail on every page
with a transactional / promotional / all switch, "not reported" where a provider reports
nothing, the worst account's uptime beside the average, and labelled figures in one unit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from django.urls import reverse

from analytics.models import LatencyBin
from analytics.views import pages
from providers.models import ProviderAccount
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

DAY = {"start": "2026-11-20", "end": "2026-11-20"}
H10 = datetime(2026, 11, 20, 10, tzinfo=UTC)
OUTCOMES = ("delivered", "pending", "bounced", "rejected", "unreported")


def url(page: str) -> str:
    return reverse(f"analytics:{page}")


def tiles(body: str) -> dict[str, dict[str, str]]:
    """{kpi key: {"value", "detail", "aside"}} of the overview's tiles, as shown."""
    found = {}
    for match in re.finditer(r'<div class="rm-tile[^"]*" id="kpi-(\w+)">(.*?)\n</div>', body, re.S):
        html = match.group(2)

        def part(css, html=html):
            hit = re.search(rf'<(span|div) class="{css}">(.*?)</\1>', html, re.S)
            return unescape(re.sub(r"<[^>]+>", "", hit.group(2))).strip() if hit else ""

        found[match.group(1)] = {
            "value": part("rm-tile-value"),
            "detail": part("rm-tile-detail"),
            "aside": part("rm-tile-aside"),
        }
    return found


def number(text: str) -> int:
    return int(text.replace(",", ""))


def csv_rows(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.content
    lines = response.content.decode().split("\r\n")[1:-1]
    return {line.split(",")[0]: line.split(",")[1:] for line in lines}


@pytest.fixture
def manager_client(client):
    client.force_login(f.manager())
    return client


# --- Outcomes add up --------------------------------------------------------------------------


@pytest.mark.parametrize("mail", ["", "transactional", "promotional"])
def test_every_sent_email_is_in_exactly_one_outcome_tile(manager_client, mail):
    f.campaign_data()

    body = manager_client.get(url("overview"), {**DAY, "mail": mail}).content.decode()
    kpis = csv_rows(
        manager_client.get(url("overview"), {**DAY, "mail": mail, "format": "csv", "table": "kpis"})
    )
    shown = tiles(body)

    sent = number(shown["sent"]["value"])
    outcomes = {key: number(shown[key]["value"]) for key in OUTCOMES}
    assert sum(outcomes.values()) == sent
    expected = {
        # 277 = 193 + 15 + 10 + 2 + 57 (tests/analytics/factories.py: campaign_data)
        "": (277, {"delivered": 193, "pending": 15, "bounced": 10, "rejected": 2}, 57, 3),
        "transactional": (
            200,
            {"delivered": 178, "pending": 12, "bounced": 9, "rejected": 1},
            0,
            2,
        ),
        "promotional": (77, {"delivered": 15, "pending": 3, "bounced": 1, "rejected": 1}, 57, 1),
    }[mail]
    assert (sent, {k: v for k, v in outcomes.items() if k != "unreported"}) == expected[:2]
    assert outcomes["unreported"] == expected[2]
    assert number(shown["failed"]["value"]) == expected[3]  # never sent: apart from the sum
    assert "not part of Sent" in shown["failed"]["detail"]
    # The CSV carries the same numbers.
    assert [kpis[label][0] for label in ("Sent", "Delivered", "Pending", "Bounced")] == [
        str(sent),
        *(str(outcomes[k]) for k in ("delivered", "pending", "bounced")),
    ]
    assert kpis["Dropped or rejected"][0] == str(outcomes["rejected"])
    assert kpis["Delivery not reported"][0] == str(outcomes["unreported"])
    assert kpis["Failed at send (not sent)"][0] == str(expected[3])


def test_providers_and_series_add_up_per_column(manager_client):
    f.campaign_data()

    providers = csv_rows(manager_client.get(url("providers"), {**DAY, "format": "csv"}))
    lines = manager_client.get(url("overview"), {**DAY, "format": "csv"}).content.decode()
    ten = lines.split("\r\n")[11].split(",")

    for column in range(3):  # SendGrid, Mailchimp Marketing, Mandrill
        parts = ("Delivered", "Pending", "Bounced", "Dropped or rejected", "Delivery not reported")
        assert sum(int(providers[p][column]) for p in parts) == int(providers["Sent"][column])
    # 10:00: 100 + 40 transactional + 20 + 57 campaign = 217 = 135 + 15 + 8 + 2 + 57.
    assert ten[:8] == ["2026-11-20T10:00:00+00:00", "217", "135", "15", "8", "2", "57", "3"]


# --- Campaign mail and the mail switch --------------------------------------------------------


def test_campaign_mail_is_on_the_overview_and_the_providers_page(manager_client):
    data = f.campaign_data()

    providers = csv_rows(manager_client.get(url("providers"), {**DAY, "format": "csv"}))
    promotional = csv_rows(
        manager_client.get(url("providers"), {**DAY, "mail": "promotional", "format": "csv"})
    )
    transactional = csv_rows(
        manager_client.get(url("providers"), {**DAY, "mail": "transactional", "format": "csv"})
    )

    # SendGrid, Mailchimp Marketing, Mandrill
    assert providers["Sent"][:3] == ["120", "97", "60"]
    assert promotional["Sent"][:3] == ["20", "57", "0"]
    assert transactional["Sent"][:3] == ["100", "40", "60"]
    breakdown = csv_rows(
        manager_client.get(url("breakdown"), {**DAY, "by": "campaign", "format": "csv"})
    )
    assert breakdown["Spring offer"][:7] == ["57", "0", "0", "0", "0", "57", "0"]
    assert breakdown["Autumn sale"][:7] == ["20", "15", "3", "1", "1", "0", "1"]
    assert breakdown["Transactional mail (no campaign)"][0] == "200"
    assert data["spring"].pk != data["autumn"].pk


def test_the_mail_switch_is_a_query_parameter_with_links(manager_client):
    f.campaign_data()

    default = manager_client.get(url("overview"), DAY).content.decode()
    promotional = manager_client.get(url("overview"), {**DAY, "mail": "promotional"})
    bad = manager_client.get(url("overview"), {**DAY, "mail": "newsletters"}).content.decode()

    assert '<a href="?start=2026-11-20&amp;end=2026-11-20" aria-current="page">All mail</a>' in (
        default
    )
    assert (
        '<a href="?start=2026-11-20&amp;end=2026-11-20&amp;mail=promotional">Promotional</a>'
        in (default)
    )
    body = promotional.content.decode()
    assert 'mail=promotional" aria-current="page">Promotional</a>' in body
    assert '<input type="hidden" name="mail" value="promotional"' in body  # kept on Apply
    assert "Promotional mail only (campaigns)." in body
    # The other pages follow it: no outbox message is promotional, no campaign transactional.
    assert (
        "Nothing in this period."
        in manager_client.get(url("campaigns"), {**DAY, "mail": "transactional"}).content.decode()
    )
    assert "Spring offer" in manager_client.get(url("campaigns"), DAY).content.decode()
    assert "Mail: Select a valid choice. newsletters is not one of" in bad


# --- Not reported -----------------------------------------------------------------------------


def test_a_provider_that_reports_no_delivery_shows_not_reported_never_zero(manager_client):
    f.campaign_data()

    mailchimp = {**DAY, "mail": "promotional", "provider": "mailchimp_marketing"}
    overview = tiles(manager_client.get(url("overview"), mailchimp).content.decode())
    kpis = csv_rows(
        manager_client.get(url("overview"), {**mailchimp, "format": "csv", "table": "kpis"})
    )
    providers = csv_rows(
        manager_client.get(url("providers"), {**DAY, "mail": "promotional", "format": "csv"})
    )
    page = manager_client.get(url("campaigns"), DAY).content.decode()

    for key in ("delivery_rate", "bounce_rate", "open_rate", "click_rate", "unsubscribe_rate"):
        assert overview[key]["value"] == "not reported", key
    assert kpis["Email delivery rate"][0] == "not reported"
    # Side by side: SendGrid's campaign has rates, Mailchimp Marketing's has none.
    assert providers["Email delivery rate"][:2] == ["88.24", "not reported"]  # 15 / 17
    assert providers["Unique open rate (human)"][:2] == ["40.00", "not reported"]
    # The campaigns page: the Mailchimp campaign's rates (the CSV: next test).
    assert "not reported" in page
    assert ">0.0 %<" not in page


def test_campaigns_csv_rows_carry_the_rollups_numbers(manager_client):
    f.campaign_data()

    response = manager_client.get(url("campaigns"), {**DAY, "format": "csv"})
    header, *rows = response.content.decode().strip().split("\r\n")

    assert header == (
        "Started,Campaign,Status,Account,Segment,Recipients,Sent,Delivered,Pending,Bounced,"
        "Dropped or rejected,Delivery not reported,Failed at send (not sent),Delivery rate (%),"
        "Opened,Unique open rate (%),Clicked,Unique click rate (%),Unsubscribed,"
        "Unsubscribe rate (%),Converted,Conversion rate (%)"
    )
    by_name = {row.split(",")[1]: row.split(",")[5:] for row in rows}
    assert by_name["Spring offer"] == [
        *("57", "57", "0", "0", "0", "0", "57", "0", "not reported"),
        *("0", "not reported", "0", "not reported", "0", "not reported"),
        *("0", ""),  # no recipient rows: no conversion base
    ]
    assert by_name["Autumn sale"] == [
        *("21", "20", "15", "3", "1", "1", "0", "1", "88.24"),
        *("6", "40.00", "2", "13.33", "1", "5.00"),
        *("0", ""),
    ]


# --- Uptime -----------------------------------------------------------------------------------


def test_the_uptime_tile_shows_the_worst_account_beside_the_average(manager_client, monkeypatch):
    now = datetime.now(UTC).replace(second=30)
    monkeypatch.setattr(pages, "timezone", SimpleNamespace(now=lambda: now))
    good = f.account("sendgrid", "SendGrid main")
    shaky = f.account("mailchimp_transactional", "Mandrill backup")
    # Both expected for the 14 finished minutes since the one they were created in.
    ProviderAccount.objects.update(created_at=now - timedelta(minutes=15))
    for minute in range(1, 15):
        f.check(now - timedelta(minutes=minute), True, account=good)
        f.check(now - timedelta(minutes=minute), minute > 3, account=shaky)  # 11 of 14 ok

    body = manager_client.get(url("overview")).content.decode()
    kpis = csv_rows(manager_client.get(url("overview"), {"format": "csv", "table": "kpis"}))

    tile = tiles(body)["uptime_24h"]
    assert tile["value"] == "89.3 %"  # 25 of 28 minutes
    assert tile["aside"] == "78.6 % worst: Mandrill backup"
    assert "all accounts together (3 of 28 down in 24 h)" in tile["detail"]
    assert kpis["API integration uptime (24 h)"] == ["89.29", "%"]
    assert kpis["Worst account's API integration uptime (24 h): Mandrill backup"] == [
        "78.57",
        "%",
    ]


# --- Labels and units -------------------------------------------------------------------------


def test_every_sub_figure_is_labelled(manager_client):
    f.campaign_data()

    shown = tiles(manager_client.get(url("overview"), DAY).content.decode())

    # 87 + 6 opens, 27 + 2 clicks of 178 + 15 delivered
    assert shown["open_rate"]["detail"] == "93 unique opens of 193 delivered"
    assert shown["click_rate"]["detail"] == "29 unique clicks of 193 delivered"
    # Rates over the 220 sent emails reported on (277 - 57 not reported).
    assert shown["complaint_rate"]["detail"] == "2 complaints of 220 sent"
    assert shown["unsubscribe_rate"]["detail"] == "4 unsubscribes of 220 sent"
    assert shown["bounce_rate"]["detail"] == "10 bounced (6 hard) of 220 sent"
    assert shown["bounced"]["detail"] == "6 hard · 4 soft"
    assert shown["delivery_rate"]["detail"] == (
        "193 delivered of 205 with an outcome; 15 pending; 57 not reported"
    )


def test_a_latency_tile_uses_one_unit(manager_client):
    sg = f.account("sendgrid", "SendGrid main")
    # Lead times: bins 6 (10-30 min) x 6 and 9 (3-6 h) x 4: median ≈ 26.7 min, p90 ≈ 5.2 h.
    f.bins(H10, LatencyBin.Metric.LEAD, {6: 6, 9: 4}, account=sg)

    shown = tiles(manager_client.get(url("overview"), DAY).content.decode())

    assert shown["lead_median"]["value"] == "≈ 26.7 min"
    assert shown["lead_median"]["detail"].startswith("p90 ≈ 315 min;")
