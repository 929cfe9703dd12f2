"""The dashboard pages: who may open them, filters, bad input, and the exact CSV they export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.selectors.filters import today
from analytics.views import pages
from providers.models import ProviderAccount
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

PAGES = ["overview", "providers", "breakdown", "messages", "failures", "campaigns"]
DAY = {"start": "2026-11-20", "end": "2026-11-20"}
H = {hour: datetime(2026, 11, 20, hour, tzinfo=UTC) for hour in range(24)}


def url(page: str) -> str:
    return reverse(f"analytics:{page}")


def csv_lines(response) -> list[str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return response.content.decode().split("\r\n")[:-1]


@pytest.fixture
def data():
    return f.metric_data()


@pytest.fixture
def manager_client(client):
    client.force_login(f.manager())
    return client


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_are_sent_to_log_in(client, page):
    response = client.get(url(page), {"provider": "sendgrid"})

    assert response.status_code == 302
    assert response["Location"] == (
        f"{reverse('analytics:login')}?next={url(page)}%3Fprovider%3Dsendgrid"
    )


@pytest.mark.parametrize("page", PAGES)
def test_a_login_without_the_dashboards_permission_gets_403(client, page):
    client.force_login(f.user("clerk"))

    assert client.get(url(page)).status_code == 403
    assert client.get(url(page), {"format": "csv"}).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_managers_and_it_admins_open_every_page(client, data, page):
    client.force_login(f.manager())
    assert client.get(url(page)).status_code == 200
    assert client.get(url(page), DAY).status_code == 200

    client.force_login(f.it_admin())
    assert client.get(url(page), DAY).status_code == 200


def test_a_manager_logs_in_on_the_dashboards_login_page(client):
    f.manager("maria")
    next_url = url("providers") + "?provider=sendgrid"

    page = client.get(reverse("analytics:login"), {"next": next_url})
    response = client.post(
        reverse("analytics:login"),
        {"username": "maria", "password": f.PASSWORD, "next": next_url},
    )

    assert page.status_code == 200
    assert f'value="{next_url}"' in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == next_url
    assert client.get(next_url).status_code == 200


def test_a_wrong_password_is_refused(client):
    f.manager("maria")

    response = client.post(reverse("analytics:login"), {"username": "maria", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get(url("overview")).status_code == 302


def test_logging_out(manager_client):
    response = manager_client.post(reverse("analytics:logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:login")
    assert manager_client.get(url("overview")).status_code == 302


def test_a_manager_cannot_open_provider_accounts_or_secrets(client, data):
    account_change = reverse("admin:providers_provideraccount_change", args=[data["sg"].pk])
    admin_pages = [
        reverse("admin:providers_provideraccount_changelist"),
        account_change,
        reverse("admin:providers_secretchange_changelist"),
    ]

    # The Managers role has no admin access at all...
    client.force_login(f.manager())
    for page in admin_pages:
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

    # ...and even with staff status it grants no provider permission.
    client.force_login(f.manager("staff-manager", is_staff=True))
    for page in admin_pages:
        assert client.get(page).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "provideraccount" not in index

    # An IT admin can (so the checks above can fail).
    client.force_login(f.it_admin())
    assert client.get(admin_pages[0]).status_code == 200


def test_no_secret_reaches_the_dashboards(manager_client, data):
    secret_key, webhook_secret = "SG.very-secret-api-key-0001", "whsec-very-secret-0002"
    account = f.account(
        "sendgrid", "Secret holder", api_key=secret_key, webhook_secret=webhook_secret
    )
    f.check(datetime.now(UTC) - timedelta(minutes=5), False, account=account, detail="401")

    for page in PAGES:
        for params in ({}, {"format": "csv"}, {"format": "csv", "table": "accounts"}):
            response = manager_client.get(url(page), params)
            if response.status_code == 400:  # no such table on that page
                continue
            body = response.content.decode()
            assert secret_key not in body
            assert webhook_secret not in body
    providers_page = manager_client.get(url("providers")).content.decode()
    assert "Secret holder" in providers_page


# --- Pages, filters and bad input -------------------------------------------------------------


def test_overview_shows_the_kpis_charts_and_table(manager_client, data):
    body = manager_client.get(url("overview"), DAY).content.decode()

    assert 'id="kpi-delivery_rate"' in body
    # Delivered 90 + 30 + (60 - 2 Mandrill bounces) = 178; pending 200 - 178 - 9 bounced
    # - 1 rejected = 12; 178 / 188 = 94.68 %.
    assert "94.7 %" in body
    assert "≈ 25 s" in body  # response time median
    assert "p90 ≈ 52 s" in body
    assert "178 delivered of 188 with an outcome; 12 pending" in body
    for chart in ("volume", "delivery", "engagement"):
        assert f'data-chart="{chart}"' in body
    assert '<script id="chart-data" type="application/json">' in body
    assert "/static/vendor/chart.js/chart.umd.min.js" in body
    assert "/static/analytics/dashboards.js" in body
    # No inline script: only the JSON data block and external files.
    assert body.count("<script") == 3
    assert "cdn" not in body.lower()


def test_chart_data_is_what_the_series_says(manager_client, data):
    response = manager_client.get(url("overview"), DAY)

    charts = response.context["charts"]
    assert charts["volume"]["labels"][10] == "2026-11-20 10:00"
    assert charts["volume"]["x_title"] == "Hour sent (UTC)"
    assert charts["volume"]["y_title"] == "Emails"
    assert charts["volume"]["datasets"][0] == {
        "label": "Sent",
        "data": [0] * 10 + [140, 60] + [0] * 12,
    }
    # 10:00: 120 / (140 - 12 pending) = 93.75 %; 11:00 Mandrill: 58 / 60 = 96.67 %.
    assert charts["delivery"]["datasets"][0]["data"][9:12] == [None, 93.75, 96.67]
    assert charts["delivery"]["y_title"] == "Delivery rate (%)"


def test_the_provider_filter_narrows_every_figure(manager_client, data):
    response = manager_client.get(url("overview"), {**DAY, "provider": "sendgrid"})

    body = response.content.decode()
    assert "93.8 %" in body  # 90 / 96
    assert "90 delivered of 96 with an outcome; 4 pending" in body
    assert '<option value="sendgrid" selected>SendGrid</option>' in body


def test_the_default_period_is_the_last_seven_days(manager_client):
    response = manager_client.get(url("overview"))

    filters = response.context["filters"]
    assert filters.start.date() == today() - timedelta(days=6)
    assert filters.end.date() == today() + timedelta(days=1)
    assert filters.period == "day"
    body = response.content.decode()
    assert f'value="{today() - timedelta(days=6):%Y-%m-%d}"' in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-13-45"}, "From: Enter a valid date."),
        ({"start": "2026-11-21", "end": "2026-11-20"}, "“From” must be on or before “To”."),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "Choose at most 366 days."),
        ({"provider": "hotmail"}, "Provider: Select a valid choice. hotmail is not one of"),
        ({"event_type": "order.shipped"}, "Email type: Select a valid choice."),
        ({"account": "abc"}, "Account: Select a valid choice."),
        ({"rule": "999999"}, "Rule: Select a valid choice."),
    ],
)
def test_bad_filters_show_an_error_and_the_page_still_renders(
    manager_client, data, params, message
):
    response = manager_client.get(url("overview"), params)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="rm-errors" role="alert"' in body
    assert message in body.replace("&ldquo;", "“").replace("&rdquo;", "”")
    filters = response.context["filters"]
    assert (filters.start.date(), filters.provider_kind) == (today() - timedelta(days=6), "")


def test_csv_of_bad_filters_is_a_400_naming_them(manager_client):
    response = manager_client.get(url("overview"), {"start": "yesterday", "format": "csv"})

    assert response.status_code == 400
    assert response.content.decode() == "Invalid filters: start: Enter a valid date."


def test_csv_of_an_unknown_table_is_a_400(manager_client):
    response = manager_client.get(url("overview"), {"format": "csv", "table": "secrets"})

    assert response.status_code == 400
    assert response.content.decode() == "Unknown table 'secrets'; this page has: series, kpis"


# --- CSV exports ------------------------------------------------------------------------------


def test_csv_of_the_key_figures(manager_client, data):
    response = manager_client.get(url("overview"), {**DAY, "format": "csv", "table": "kpis"})

    assert response["Content-Disposition"] == (
        'attachment; filename="analytics-overview-kpis-20261120-20261121.csv"'
    )
    assert csv_lines(response) == [
        "Metric,Value,Unit",
        "Email delivery rate,94.68,%",  # 178 / 188
        "Customer response time (median),25.0,s (approx.)",
        "Customer response time (p90),52.5,s (approx.)",
        "First open (human) (median),,s (approx.)",  # the data set has no open latencies
        "First open (human) (p90),,s (approx.)",
        "Notification lead time (median),120.0,s (approx.)",
        "Notification lead time (p90),264.0,s (approx.)",
        "API integration uptime (24 h),,%",
        "Worst account's API integration uptime (24 h),,%",
        "API integration uptime (7 d),,%",
        "API integration uptime (30 d),,%",
        "Intake API availability (24 h),,%",
        "Sends accepted at the first attempt (24 h),,%",
        "Bounce rate,4.50,%",
        "Complaint rate,1.00,%",
        "Spam-complaint rate,1.124,%",  # 2 complaints / 178 delivered
        "Unsubscribe rate,1.50,%",
        "Unique open rate (human),48.88,%",  # 87 / 178 delivered
        "Unique click rate,15.17,%",  # 27 / 178
        "Machine-open share,,%",  # no open events counted in the data set
        "Sent,200,emails",
        "Delivered,178,emails",  # 90 + 30 + (60 - 1 - 1)
        "Pending,12,emails",  # 200 - 178 - 6 hard - 3 soft - 1 rejected
        "Bounced,9,emails",
        "Dropped or rejected,1,emails",
        "Delivery not reported,0,emails",
        "Failed at send (not sent),2,emails",
    ]


def test_csv_of_the_series(manager_client, data):
    lines = csv_lines(manager_client.get(url("overview"), {**DAY, "format": "csv"}))

    assert lines[0] == (
        "Hour sent (UTC),Sent,Delivered,Pending,Bounced,Dropped or rejected,"
        "Delivery not reported,Failed at send (not sent),Email delivery rate (%),"
        "Bounce rate (%),Complaint rate (%),Spam-complaint rate (%),Unsubscribe rate (%),"
        "Unique open rate (human) (%),Unique click rate (%),Machine-open share (%),Opened,Clicked"
    )
    assert len(lines) == 25
    assert lines[1] == "2026-11-20T00:00:00+00:00,0,0,0,0,0,0,0,,,,,,,,,0,0"
    # 10:00 SendGrid + Mailchimp Marketing: 140 sent, 120 delivered, 7 bounced, 1 rejected,
    # 2 failed (never sent): pending 140 - 120 - 7 - 1 = 12, delivery 120 / 128; opens and
    # clicks over 120 delivered.
    assert (
        lines[11]
        == "2026-11-20T10:00:00+00:00,140,120,12,7,1,0,2,93.75,5.00,0.71,0.833,2.14,47.50,17.50,,57,21"
    )
    # 11:00 Mandrill: 60 sent - 2 bounced = 58 delivered, none pending, delivery 58 / 60;
    # opens and clicks over 58 delivered (30 / 58, 6 / 58).
    assert (
        lines[12]
        == "2026-11-20T11:00:00+00:00,60,58,0,2,0,0,0,96.67,3.33,1.67,1.724,0.00,51.72,10.34,,30,6"
    )


def test_csv_of_a_breakdown(manager_client, data):
    lines = csv_lines(
        manager_client.get(url("breakdown"), {**DAY, "by": "event_type", "format": "csv"})
    )

    assert lines == [
        "Email type,Sent,Delivered,Pending,Bounced,Dropped or rejected,Delivery not reported,"
        "Failed at send (not sent),Email delivery rate (%),Bounce rate (%),"
        "Complaint rate (%),Spam-complaint rate (%),Unsubscribe rate (%),"
        "Unique open rate (human) (%),Unique click rate (%),Machine-open share (%),"
        "Customer response time (median) (s),First open (human) (median) (s),"
        "Notification lead time (median) (s)",
        # SendGrid + Mandrill: delivered 90 + 58 = 148, pending 160 - 148 - 7 - 1 = 4,
        # delivery 148 / 156, opens 75 / 148, clicks 24 / 148.
        "Refund processed,160,148,4,7,1,0,0,94.87,4.38,1.25,1.351,1.25,50.68,16.22,,25.0,,120.0",
        # Mailchimp Marketing: pending 40 - 30 - 2 = 8, delivery 30 / 32.
        "Return approved,40,30,8,2,0,0,2,93.75,5.00,0.00,0.000,2.50,40.00,10.00,,,,",
    ]


def test_csv_of_providers_side_by_side(manager_client, data):
    lines = csv_lines(manager_client.get(url("providers"), {**DAY, "format": "csv"}))

    assert lines[0] == (
        "Metric,SendGrid,Mailchimp Marketing,Mailchimp Transactional (Mandrill),Unit"
    )
    assert lines[1:13] == [
        "Sent,100,40,60,emails",
        "Delivered,90,30,58,emails",  # Mandrill: 60 - 1 - 1
        "Pending,4,8,0,emails",  # 100 - 90 - 5 - 1; 40 - 30 - 2; 60 - 58 - 2
        "Bounced,5,2,2,emails",
        "Dropped or rejected,1,0,0,emails",
        "Delivery not reported,0,0,0,emails",
        "Failed at send (not sent),0,2,0,emails",
        "Email delivery rate,93.75,93.75,96.67,%",  # 90 / 96, 30 / 32, 58 / 60
        "Customer response time (median),15.0,,45.0,s (approx.)",
        "Customer response time (p90),27.0,,57.0,s (approx.)",
        "First open (human) (median),,,,s (approx.)",
        "First open (human) (p90),,,,s (approx.)",
    ]
    rows = {line.split(",")[0]: line for line in lines}
    assert rows["Bounce rate"] == "Bounce rate,5.00,5.00,3.33,%"
    assert rows["Complaint rate"] == "Complaint rate,1.00,0.00,1.67,%"
    assert rows["Unsubscribe rate"] == "Unsubscribe rate,2.00,2.50,0.00,%"
    # 45 / 90, 12 / 30, 30 / 58
    assert rows["Unique open rate (human)"] == "Unique open rate (human),50.00,40.00,51.72,%"
    # 18 / 90, 3 / 30, 6 / 58
    assert rows["Unique click rate"] == "Unique click rate,20.00,10.00,10.34,%"
    assert lines[-2:] == [
        "Call latency p50 (24 h),,,,ms",
        "Call latency p95 (24 h),,,,ms",
    ]


def test_providers_page_shows_uptime_and_call_latency_per_account(
    manager_client, data, monkeypatch
):
    now = datetime.now(UTC).replace(minute=30, second=30)  # the page's now: one hour
    monkeypatch.setattr(pages, "timezone", SimpleNamespace(now=lambda: now))
    sg, outbox = data["sg"], data["outbox"]
    # Expected from the minute after their creation: 4 finished minutes. SendGrid failed one;
    # the others were never checked (as when the worker is stopped): down all along.
    ProviderAccount.objects.update(created_at=now - timedelta(minutes=5))
    for minutes, ok in ((1, True), (2, True), (3, True), (4, False)):
        f.check(now - timedelta(minutes=minutes), ok, account=sg)
    first, retried = outbox.message(account=sg), outbox.message(account=sg)
    outbox.attempt(first, started_at=now - timedelta(minutes=5), duration_ms=100.0)
    outbox.attempt(
        retried, started_at=now - timedelta(minutes=6), duration_ms=300.0, outcome="transient"
    )
    outbox.attempt(retried, started_at=now - timedelta(minutes=5), duration_ms=200.0)

    lines = csv_lines(manager_client.get(url("providers"), {"format": "csv", "table": "accounts"}))
    body = manager_client.get(url("providers")).content.decode()

    assert lines == [
        "Account,Provider,Active,Uptime 24h (%),Uptime 7d (%),Uptime 30d (%),"
        "Minutes down (24 h),First-try sends 24h (%),First-try worst hour (%),"
        "Calls (24 h),Call p50 (ms),Call p95 (ms)",
        "Mailchimp audience,Mailchimp Marketing,yes,0.00,0.00,0.00,4,,,0,,",
        "Mandrill,Mailchimp Transactional (Mandrill),yes,0.00,0.00,0.00,4,,,0,,",
        "SendGrid main,SendGrid,yes,75.00,75.00,75.00,1,50.00,50.00,3,200.0,290.0",
    ]
    assert "75.0 %" in body
    assert "200 ms" in body


def test_breakdown_rows_drill_down_to_recent_messages(manager_client, data):
    outbox = data["outbox"]
    outbox.message(
        rule="Approval email",
        event_type="return.approved",
        template="Approval",
        account=data["mc"],
        recipient="grace@example.com",
        created_at=H[10],
        sent_at=H[10],
    )
    outbox.message(account=data["sg"], recipient="ada@example.com", created_at=H[10], sent_at=H[10])

    page = manager_client.get(url("breakdown"), {**DAY, "by": "rule"})
    link = f"{url('messages')}?start=2026-11-20&amp;end=2026-11-20&amp;rule={data['approval'].pk}"
    drill_down = manager_client.get(
        url("messages"), {**DAY, "rule": data["approval"].pk, "format": "csv"}
    )

    assert f'<a href="{link}">Approval email</a>' in page.content.decode()
    assert csv_lines(drill_down) == [
        "Created,Sent,Email type,Return,Recipient,Status,Account,Rule,Template,Delivered,"
        "Opened,Clicked,Error",
        "2026-11-20T10:00:00+00:00,2026-11-20T10:00:00+00:00,return.approved,RMA-1001,"
        "grace@example.com,Sent,Mailchimp audience,Approval email,Approval v1,,,,",
    ]


def test_csv_of_recent_failures(manager_client, data):
    outbox = data["outbox"]
    outbox.message(
        account=data["sg"],
        status="bounced",
        recipient="ada@example.com",
        created_at=H[9],
        sent_at=H[9],
        status_changed_at=H[9] + timedelta(minutes=3),
        error='=HYPERLINK("http://evil.example")',
    )
    outbox.message(account=data["sg"], status="sent", created_at=H[9], sent_at=H[9])
    f.check(H[8], False, account=data["sg"], latency_ms=30.5, detail="401 Unauthorized")
    f.check(H[8], True, account=data["sg"])

    messages = csv_lines(manager_client.get(url("failures"), {**DAY, "format": "csv"}))
    checks = csv_lines(
        manager_client.get(url("failures"), {**DAY, "format": "csv", "table": "checks"})
    )

    assert messages == [
        "Status changed,Email type,Return,Recipient,Status,Account,Rule,Template,Error",
        "2026-11-20T09:03:00+00:00,refund.processed,RMA-1001,ada@example.com,Bounced,"
        'SendGrid main,Refund email,Refund v1,"\'=HYPERLINK(""http://evil.example"")"',
    ]
    assert checks == [
        "Checked,Component,Account,Latency (ms),Detail",
        "2026-11-20T08:00:00+00:00,Provider account,SendGrid main,30.5,401 Unauthorized",
    ]


@pytest.mark.parametrize("page", PAGES)
def test_pages_read_rollups_never_delivery_events(manager_client, data, page):
    with CaptureQueriesContext(connection) as queries:
        response = manager_client.get(url(page), DAY)

    assert response.status_code == 200
    sql = [query["sql"].lower() for query in queries.captured_queries]
    assert not [q for q in sql if "analytics_deliveryevent" in q]
    # A handful of aggregate queries, whatever the volume (providers: 3 per account, 1 for the
    # first-try sends, and 2 for
    # the spam-complaint rate per account and domain).
    assert len(sql) <= 23
