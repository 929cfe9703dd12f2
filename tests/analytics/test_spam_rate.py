"""The spam-complaint rate (complaints ÷ delivered) per account and per sending domain: the
selector's numbers, and the dashboards that draw it against the 0.3 % limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from analytics.selectors.complaints import spam_rates
from analytics.selectors.filters import MetricFilters
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

H10 = datetime(2026, 11, 20, 10, tzinfo=UTC)
DAY = {"start": "2026-11-20", "end": "2026-11-20"}


@pytest.fixture
def data():
    shop = f.account("sendgrid", "SendGrid shop", from_email="returns@a.example")
    mandrill = f.account("mailchimp_transactional", "Mandrill shop", from_email="returns@a.example")
    outlet = f.account("sendgrid", "SendGrid outlet", from_email="news@b.example")
    f.rollup(H10, account=shop, sent=1000, delivered=1000, complained=2)
    # Mandrill reports no delivery: 500 sent, 0 bounced -> 500 delivered.
    f.rollup(H10, account=mandrill, sent=500, complained=1)
    f.rollup(H10, account=outlet, sent=1000, delivered=1000, complained=4)
    f.rollup(
        datetime(2026, 11, 21, 0, tzinfo=UTC), account=outlet, sent=9, delivered=9, complained=9
    )
    return {"shop": shop, "mandrill": mandrill, "outlet": outlet}


def test_rates_per_account_and_per_sending_domain(data):
    filters = MetricFilters(start=H10.replace(hour=0), end=datetime(2026, 11, 21, tzinfo=UTC))

    per_account, per_domain = spam_rates(filters)

    assert [(r.label, r.domain, r.counts.delivered, r.counts.complained) for r in per_account] == [
        ("SendGrid outlet", "b.example", 1000, 4),
        ("SendGrid shop", "a.example", 1000, 2),
        ("Mandrill shop", "a.example", 500, 1),
    ]
    assert [round(r.rate * 100, 3) for r in per_account] == [0.4, 0.2, 0.2]
    assert [r.verdict for r in per_account] == [
        "over the 0.3 % limit",
        "over the 0.1 % target",
        "over the 0.1 % target",
    ]
    assert [(r.label, r.counts.delivered, r.counts.complained) for r in per_domain] == [
        ("a.example", 1500, 3),
        ("b.example", 1000, 4),
    ]
    assert [round(r.rate * 100, 3) for r in per_domain] == [0.2, 0.4]


def test_no_delivered_mail_is_no_rate_not_zero(data):
    filters = MetricFilters(
        start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 11, 2, tzinfo=UTC)
    )

    assert spam_rates(filters) == ([], [])


def charts(response) -> dict:
    body = response.content.decode()
    start = body.index('<script id="chart-data" type="application/json">')
    start = body.index(">", start) + 1
    return json.loads(body[start : body.index("</script>", start)])


def test_the_providers_page_draws_them_against_the_limit(client, data):
    client.force_login(f.manager())

    response = client.get(reverse("analytics:providers"), DAY)

    body = response.content.decode()
    assert "Spam-complaint rate per account" in body
    assert "Spam-complaint rate per sending domain" in body
    assert "0.40 %" in body
    assert "over the 0.3 % limit" in body
    spam = charts(response)["spam"]
    assert spam["labels"] == [
        "SendGrid outlet",
        "SendGrid shop",
        "Mandrill shop",
        "a.example (domain)",
        "b.example (domain)",
    ]
    assert spam["datasets"] == [{"label": "Spam-complaint rate", "data": [0.4, 0.2, 0.2, 0.2, 0.4]}]
    assert spam["reference"] == {"label": "Gmail and Yahoo limit (0.3 %)", "value": 0.3}
    csv = client.get(
        reverse("analytics:providers"), {**DAY, "format": "csv", "table": "spam_domains"}
    )
    assert csv.content.decode().split("\r\n")[:3] == [
        "Sending domain,Delivered,Complaints,Spam-complaint rate (%),Against the limits",
        "a.example,1500,3,0.200,over the 0.1 % target",
        "b.example,1000,4,0.400,over the 0.3 % limit",
    ]


def test_the_overview_shows_the_rate_and_its_series(client, data):
    client.force_login(f.manager())

    response = client.get(reverse("analytics:overview"), DAY)

    body = response.content.decode()
    assert 'id="kpi-spam_rate"' in body
    assert "7 complaints of 2,500 delivered" in body  # 0.28 %
    assert "0.28 %" in body
    spam = charts(response)["spam"]
    assert spam["reference"]["value"] == 0.3
    assert spam["datasets"][0]["data"][10] == 0.28
