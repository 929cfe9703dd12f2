"""`GET /metrics`: who may scrape it, that the body is valid exposition format 0.0.4, and that
every gauge says exactly what the rows say."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from analytics.models import Alert, AlertKind, AlertRule, HealthComponent, WebhookDelivery
from analytics.selectors import prometheus, uptime
from analytics.selectors.filters import MetricFilters
from providers.models import ProviderAccount
from returns_mail.models.campaigns import CampaignChunk
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-d41d8cd98f00b204e980"
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)

# --- A tiny parser of the text exposition format 0.0.4 ------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+|Inf|NaN)"
HELP_RE = re.compile(rf"# HELP ({NAME}) (.*)")
TYPE_RE = re.compile(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)")
SAMPLE_RE = re.compile(rf"({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? ({VALUE})(?: -?[0-9]+)?")
PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(label_value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], label_value)


def parse(body: str) -> dict[tuple[str, frozenset], float]:
    """Every sample as {(name, labels): value}; fails on any line that is not valid."""
    assert body.endswith("\n")
    typed: dict[str, str] = {}
    samples: dict[tuple[str, frozenset], float] = {}
    for number, line in enumerate(body.splitlines(), 1):
        if match := TYPE_RE.fullmatch(line):
            assert match[1] not in typed, f"line {number}: second TYPE for {match[1]}"
            typed[match[1]] = match[2]
        elif HELP_RE.fullmatch(line):
            pass
        elif match := SAMPLE_RE.fullmatch(line):
            name, labels, value = match[1], match[2] or "", match[3]
            assert name in typed, f"line {number}: {name} has no TYPE line before it"
            pairs = [(k, unescape(v)) for k, v in PAIR_RE.findall(labels)]
            assert len({k for k, _ in pairs}) == len(pairs), f"line {number}: repeated label"
            key = (name, frozenset(pairs))
            assert key not in samples, f"line {number}: duplicate series"
            samples[key] = float(value.replace("Inf", "inf"))
        else:
            raise AssertionError(f"line {number} is not exposition format: {line!r}")
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[("returns_mail_" + name, frozenset((k, str(v)) for k, v in labels.items()))]


def series(samples, name: str) -> dict[frozenset, float]:
    return {labels: v for (n, labels), v in samples.items() if n == "returns_mail_" + name}


def test_the_parser_refuses_what_is_not_exposition_format():
    for bad in (
        "returns_mail_x 1\n",  # no TYPE
        '# TYPE returns_mail_x gauge\nreturns_mail_x{a="1} 1\n',
        "# TYPE returns_mail_x gauge\nreturns_mail_x one\n",
        "# TYPE returns_mail_x gauge\nreturns_mail_x 1",  # no final newline
    ):
        with pytest.raises(AssertionError):
            parse(bad)


# --- Who may scrape -----------------------------------------------------------------------------


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_right_bearer_token_gets_the_metrics(client):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    assert TOKEN not in body
    samples = parse(body)
    assert value(samples, "queue_up") == 1


@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_anything_but_the_token_is_refused_and_nothing_is_echoed(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 403
    assert response.content == b"Forbidden\n"
    assert TOKEN not in str(response.headers)


@override_settings(METRICS_TOKEN="")
@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer x"])
def test_without_a_configured_token_no_bearer_gets_in(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}

    assert client.get("/metrics", headers=headers).status_code == 403


@override_settings(METRICS_TOKEN="")
def test_an_it_admin_session_gets_in_a_manager_or_plain_staff_does_not(client):
    client.force_login(f.manager())
    assert client.get("/metrics").status_code == 403
    client.force_login(f.user("staff", is_staff=True))
    assert client.get("/metrics").status_code == 403

    client.force_login(f.it_admin())
    response = client.get("/metrics")

    assert response.status_code == 200
    parse(response.content.decode())


@override_settings(METRICS_TOKEN=TOKEN)
def test_writes_are_refused(client):
    response = client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405


# --- What the gauges say ------------------------------------------------------------------------


@pytest.fixture
def data(monkeypatch):
    sendgrid = f.account("sendgrid", "SG main", last_check_ok=True, last_check_at=NOW)
    mandrill = f.account(
        "mailchimp_transactional",
        'Mandrill "EU"',
        last_check_ok=False,
        last_check_at=NOW - timedelta(seconds=90),
    )
    f.account("smtp", "Relay, never checked")
    f.account("mailchimp_marketing", "Retired", is_active=False, last_check_ok=False)

    outbox = f.Outbox()
    for _ in range(3):
        outbox.message(account=sendgrid, status="queued")
    outbox.message(account=None, status="queued")
    outbox.message(account=mandrill, status="sending")
    outbox.message(account=mandrill, status="ambiguous")
    for _ in range(5):  # terminal statuses are not an in-flight gauge
        outbox.message(account=sendgrid, status="delivered")

    # Call latency: SendGrid 10, 20, 30, 40 ms inside the window, 999 ms outside it.
    sent = outbox.message(account=sendgrid, status="sent")
    for minutes, duration in [(1, 10.0), (2, 20.0), (3, 40.0), (14, 30.0), (16, 999.0)]:
        outbox.attempt(sent, started_at=NOW - timedelta(minutes=minutes), duration_ms=duration)
    outbox.attempt(sent, started_at=NOW + timedelta(minutes=1), duration_ms=500.0)
    failed = outbox.message(account=mandrill, status="failed")
    outbox.attempt(
        failed, started_at=NOW - timedelta(minutes=5), duration_ms=7.0, outcome="permanent"
    )

    # Rollups: the previous hour and the current one count; two hours ago and the day do not.
    f.rollup(NOW.replace(minute=0) - timedelta(hours=1), account=sendgrid, sent=40, delivered=38)
    f.rollup(NOW.replace(minute=0), account=sendgrid, sent=2, bounced_hard=1)
    f.rollup(NOW.replace(minute=0), account=sendgrid, event_type="return.approved", sent=3)
    f.rollup(NOW.replace(minute=0), account=mandrill, sent=5, failed=1)
    f.rollup(NOW.replace(minute=0) - timedelta(hours=2), account=sendgrid, sent=1000)
    f.rollup(NOW.replace(hour=0, minute=0), period="day", account=sendgrid, sent=1000)

    # Webhooks: newest per account; the oldest still unprocessed.
    def delivery(account, ago: timedelta, status: str = "processed"):
        row = WebhookDelivery.objects.create(account=account, body="[]", status=status)
        WebhookDelivery.objects.filter(pk=row.pk).update(received_at=NOW - ago)

    delivery(sendgrid, timedelta(minutes=10))
    delivery(sendgrid, timedelta(seconds=42), status="received")
    delivery(sendgrid, timedelta(minutes=3), status="received")
    delivery(sendgrid, timedelta(days=3), status="received")  # beyond the search window
    delivery(mandrill, timedelta(hours=2))

    # Campaign chunks.
    campaign = _campaign(sendgrid)
    for number, status in enumerate(["sent", "sent", "pending", "held", "failed"], 1):
        CampaignChunk.objects.create(campaign=campaign, number=number, size=10, status=status)

    # Alerts: two open, one resolved.
    rule = AlertRule.objects.create(name="failures", kind=AlertKind.FAILED_SENDS, threshold=1)
    Alert.objects.create(rule=rule, subject="a", last_seen_at=NOW)
    Alert.objects.create(rule=rule, subject="b", last_seen_at=NOW)
    Alert.objects.create(rule=rule, subject="c", last_seen_at=NOW, resolved_at=NOW)

    f.check(NOW - timedelta(minutes=2), True, component=HealthComponent.INTAKE)
    f.check(NOW - timedelta(minutes=1), False, component=HealthComponent.INTAKE)

    class Broker:
        def queue_size(self):
            return 7

    monkeypatch.setattr(prometheus, "get_broker", Broker)
    return {"sendgrid": sendgrid, "mandrill": mandrill}


def _campaign(account: ProviderAccount):
    from returns_mail.models import Campaign, Segment
    from templates_lib.models import Layout, Template

    layout = Layout.objects.create(name="campaign layout", html="{{body}}", brand_name="Shop")
    template = Template.objects.create(
        name="Offer", slug="offer", purpose="promotional", layout=layout, subject="Hi", html="x"
    )
    segment = Segment.objects.create(name="Everyone")
    return Campaign.objects.create(
        name="Spring", segment=segment, template=template, account=account
    )


@pytest.fixture
def samples(data):
    return parse(prometheus.render(prometheus.collect(now=NOW)))


def test_queue_depth_is_the_brokers_queue_size(samples):
    assert value(samples, "queue_up") == 1
    assert value(samples, "queue_depth") == 7


def test_an_unreachable_broker_is_reported_not_raised(data, monkeypatch):
    def unreachable():
        raise ConnectionError("redis://:hunter2@10.0.0.1:6379 refused")

    monkeypatch.setattr(prometheus, "get_broker", unreachable)
    samples = parse(prometheus.render(prometheus.collect(now=NOW)))

    assert value(samples, "queue_up") == 0
    assert series(samples, "queue_depth") == {}


def test_outbox_counts_in_flight_messages_by_status_and_provider(samples):
    assert series(samples, "outbox_messages") == {
        frozenset({("status", "queued"), ("provider", "sendgrid")}): 3,
        frozenset({("status", "queued"), ("provider", "none")}): 1,
        frozenset({("status", "sending"), ("provider", "mailchimp_transactional")}): 1,
        frozenset({("status", "sending"), ("provider", "none")}): 0,
        frozenset({("status", "ambiguous"), ("provider", "mailchimp_transactional")}): 1,
        frozenset({("status", "ambiguous"), ("provider", "none")}): 0,
    }


def test_sends_of_the_last_hour_come_from_the_hourly_rollups(samples):
    assert value(samples, "sends_last_hour", status="sent", provider="sendgrid") == 45
    assert value(samples, "sends_last_hour", status="delivered", provider="sendgrid") == 38
    assert value(samples, "sends_last_hour", status="bounced_hard", provider="sendgrid") == 1
    assert value(samples, "sends_last_hour", status="opened", provider="sendgrid") == 0
    assert value(samples, "sends_last_hour", status="sent", provider="mailchimp_transactional") == 5
    assert (
        value(samples, "sends_last_hour", status="failed", provider="mailchimp_transactional") == 1
    )


def test_webhook_lag_per_account_and_oldest_unprocessed(samples):
    assert series(samples, "webhook_lag_seconds") == {
        frozenset({("account", "SG main"), ("provider", "sendgrid")}): 42,
        frozenset({("account", 'Mandrill "EU"'), ("provider", "mailchimp_transactional")}): 7200,
    }
    assert value(samples, "webhook_oldest_unprocessed_seconds") == 180


def test_call_latency_quantiles_per_kind_over_fifteen_minutes(samples):
    # SendGrid: 10, 20, 30, 40 -> p50 = 25, p95 = 30 + 0.85 * 10 = 38.5.
    assert value(samples, "provider_call_duration_ms", provider="sendgrid", quantile=0.5) == 25
    assert value(
        samples, "provider_call_duration_ms", provider="sendgrid", quantile=0.95
    ) == pytest.approx(38.5)
    assert value(samples, "provider_calls_recent", provider="sendgrid") == 4
    kind = "mailchimp_transactional"
    assert value(samples, "provider_call_duration_ms", provider=kind, quantile=0.95) == 7
    assert value(samples, "provider_calls_recent", provider=kind) == 1


def test_campaign_chunks_by_status(samples):
    chunks = {dict(k)["status"]: v for k, v in series(samples, "campaign_chunks").items()}
    assert chunks == {
        "pending": 1,
        "sending": 0,
        "unconfirmed": 0,
        "held": 1,
        "sent": 2,
        "failed": 1,
        "cancelled": 0,
    }


def test_open_alerts(samples):
    assert value(samples, "alerts_open") == 2


def test_health_of_each_active_checked_account_and_the_intake(samples):
    assert series(samples, "account_up") == {
        frozenset({("account", "SG main"), ("provider", "sendgrid")}): 1,
        frozenset({("account", 'Mandrill "EU"'), ("provider", "mailchimp_transactional")}): 0,
    }
    assert (
        value(
            samples,
            "account_check_age_seconds",
            account='Mandrill "EU"',
            provider="mailchimp_transactional",
        )
        == 90
    )
    assert value(samples, "intake_up") == 0


def test_uptime_is_the_dashboards_number_minutes_without_a_check_count_down(data):
    # Created an hour before NOW (10:30): expected from 09:31, 59 finished minutes each.
    ProviderAccount.objects.update(created_at=NOW - timedelta(hours=1))
    for minute in range(59):
        if minute not in range(10, 15):  # the worker was stopped for five minutes
            at = NOW - timedelta(minutes=59 - minute, seconds=-5)
            f.check(at, True, account=data["sendgrid"])

    samples = parse(prometheus.render(prometheus.collect(now=NOW)))

    sg = {"account": "SG main", "provider": "sendgrid"}
    md = {"account": 'Mandrill "EU"', "provider": "mailchimp_transactional"}
    by_account = uptime.provider_uptime(MetricFilters(start=NOW, end=NOW), now=NOW)
    for window in uptime.WINDOWS:
        assert value(samples, "integration_uptime_ratio", window=window, **sg) == (
            by_account[data["sendgrid"].pk].ratio(window)
        )
        assert value(samples, "integration_uptime_ratio", window=window, **sg) == 54 / 59
        assert value(samples, "integration_down_minutes", window=window, **sg) == 5
        assert value(samples, "integration_uptime_ratio", window=window, **md) == 0  # unchecked
        # Two probes since the first (10:28 answered, 10:29 failed).
        assert value(samples, "intake_availability_ratio", window=window) == 0.5
    assert not [
        labels
        for labels in series(samples, "integration_uptime_ratio")
        if ("account", "Retired") in labels
    ]  # inactive and never checked: not expected
    # First tries: SendGrid's message was accepted at its first attempt; Mandrill's refused.
    assert series(samples, "first_try_send_ratio") == {
        frozenset(sg.items()): 1,
        frozenset(md.items()): 0,
    }


def test_label_values_are_escaped(samples, data):
    body = prometheus.render(prometheus.collect(now=NOW))
    assert 'account="Mandrill \\"EU\\""' in body


def test_a_scrape_is_a_fixed_handful_of_queries(data):
    with CaptureQueriesContext(connection) as few:
        prometheus.collect(now=NOW)
    for n in range(20):  # many more rows of every kind
        f.account("sendgrid", f"more {n}", last_check_ok=True)
    outbox = f.Outbox()
    for _ in range(20):
        outbox.message(account=data["sendgrid"], status="queued", rule="another rule")
    with CaptureQueriesContext(connection) as many:
        prometheus.collect(now=NOW)

    assert len(many) == len(few)
    assert len(few) <= 23  # uptime and first-try figures read 6, the key figures 5


@override_settings(METRICS_TOKEN=TOKEN)
def test_queue_depth_with_the_orm_broker_counts_its_queued_tasks(client, settings):
    if "orm" not in settings.Q_CLUSTER:
        pytest.skip("the Redis broker is shared: nothing is pushed into it from a test")
    from django_q.brokers import get_broker

    broker = get_broker()
    before = broker.queue_size()
    broker.enqueue("task one")
    broker.enqueue("task two")

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert value(parse(response.content.decode()), "queue_depth") == before + 2
