"""The dashboards' metrics on a fixed data set, each with the exact number it must give."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from analytics.models import HealthComponent, LatencyBin, Period
from analytics.selectors import metrics, recent, uptime
from analytics.selectors.filters import MetricFilters, day_range
from analytics.selectors.metrics import Counts, histogram_quantile
from providers.models import ProviderAccount
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 20)
H = {hour: datetime(2026, 11, 20, hour, tzinfo=UTC) for hour in range(24)}
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)
RESPONSE, LEAD = LatencyBin.Metric.RESPONSE, LatencyBin.Metric.LEAD


def day(**dimensions) -> MetricFilters:
    return day_range(DAY, DAY, **dimensions)


@pytest.fixture
def data():
    return f.metric_data()


# --- Counters and rates -----------------------------------------------------------------------


def test_totals_and_every_rate_over_the_day(data):
    counts = metrics.totals(day())

    # Delivered: SendGrid 90 + Mailchimp Marketing 30 + Mandrill 60 sent - 2 bounced.
    assert (counts.sent, counts.delivered, counts.bounced_hard, counts.bounced_soft) == (
        200,
        178,
        6,
        3,
    )
    assert (counts.rejected, counts.failed, counts.deferred) == (1, 2, 4)
    assert (counts.opened, counts.clicked, counts.complained, counts.unsubscribed) == (87, 27, 2, 3)
    # pending = 200 - 178 - 6 - 3 - 1 (the 2 failed were never sent)
    assert counts.pending == 12
    assert counts.delivery_rate == 178 / 188
    assert counts.bounce_rate == 0.045
    assert counts.hard_bounce_rate == 0.03
    assert counts.complaint_rate == 0.01
    assert counts.unsubscribe_rate == 0.015
    # Open/click base: delivered.
    assert counts.engagement_base == 178
    assert counts.open_rate == 87 / 178
    assert counts.click_rate == 27 / 178


def test_mandrill_counts_what_it_sent_and_did_not_bounce_as_delivered(data):
    mandrill = metrics.totals(day(provider_kind="mailchimp_transactional"))
    sendgrid = metrics.totals(day(provider_kind="sendgrid"))

    assert (mandrill.sent, mandrill.delivered, mandrill.engagement_base) == (60, 58, 58)
    assert (mandrill.pending, mandrill.delivery_rate) == (0, 58 / 60)
    assert (mandrill.open_rate, mandrill.click_rate) == (30 / 58, 6 / 58)
    assert (sendgrid.engagement_base, sendgrid.open_rate, sendgrid.click_rate) == (90, 0.5, 0.2)


def test_pending_is_clamped_at_zero_and_left_out_of_the_delivery_rate():
    assert Counts(sent=10, delivered=8, bounced_hard=3).pending == 0
    assert Counts(sent=10, delivered=8, bounced_hard=2).delivery_rate == 0.8
    assert Counts(sent=10, delivered=8, failed=3).pending == 2  # failed: never sent
    assert Counts(sent=10, delivered=4).pending == 6
    assert Counts(sent=10, delivered=4).delivery_rate == 1.0
    assert Counts(sent=10, delivered=3, bounced_soft=1).delivery_rate == 0.75


def test_no_data_gives_none_not_zero(data):
    empty = metrics.totals(day_range(date(2026, 11, 1), date(2026, 11, 1)))

    assert empty == Counts()
    rates = (
        empty.delivery_rate,
        empty.bounce_rate,
        empty.complaint_rate,
        empty.unsubscribe_rate,
        empty.open_rate,
        empty.click_rate,
    )
    assert rates == (None,) * 6
    # Sent but nothing reported yet: every mail is pending, no delivery rate.
    assert Counts(sent=5).delivery_rate is None
    assert Counts(sent=5).bounce_rate == 0.0


@pytest.mark.parametrize(
    ("dimensions", "sent"),
    [
        ({"provider_kind": "sendgrid"}, 100),
        ({"provider_kind": "mailchimp_marketing"}, 40),
        ({"account": "mc"}, 40),
        ({"event_type": "return.approved"}, 40),
        ({"event_type": "refund.processed"}, 160),
        ({"rule": "refund"}, 160),
        ({"template": "t_approval"}, 40),
        ({"provider_kind": "sendgrid", "account": "mc"}, 0),
        ({"provider_kind": "smtp"}, 0),
    ],
)
def test_filters_narrow_the_totals(data, dimensions, sent):
    dimensions = dict(dimensions)
    for name, field in (
        ("account", "account_id"),
        ("rule", "rule_id"),
        ("template", "template_id"),
    ):
        if name in dimensions:
            dimensions[field] = data[dimensions.pop(name)].pk

    assert metrics.totals(day(**dimensions)).sent == sent


def test_up_to_two_days_are_hourly_longer_ranges_daily():
    assert day_range(DAY, DAY).period == Period.HOUR
    assert len(day_range(DAY, DAY).buckets()) == 24
    assert day_range(DAY, DAY + timedelta(days=1)).period == Period.HOUR
    assert len(day_range(DAY, DAY + timedelta(days=1)).buckets()) == 48
    assert day_range(DAY, DAY + timedelta(days=2)).period == Period.DAY
    assert day_range(DAY, DAY + timedelta(days=2)).buckets() == [
        MIDNIGHT,
        MIDNIGHT + timedelta(days=1),
        MIDNIGHT + timedelta(days=2),
    ]


def test_hourly_series_has_every_hour_of_the_day(data):
    points = metrics.series(day())

    assert [p.bucket for p in points] == [H[h] for h in range(24)]
    assert [p.counts.sent for p in points] == [0] * 10 + [140, 60] + [0] * 12
    # 10:00: SendGrid and Mailchimp Marketing together: 140 sent, 90 + 30 = 120 delivered,
    # pending = 140 - 120 - 7 bounced - 1 rejected = 12 (the 2 failed were never sent),
    # so 120 of 140 - 12 = 128 with an outcome.
    assert points[10].counts.delivered == 120
    assert points[10].counts.pending == 12
    assert points[10].counts.delivery_rate == 120 / 128
    # 11:00: Mandrill only: 60 sent - 1 hard - 1 soft bounce = 58 delivered, nothing pending.
    assert (points[11].counts.delivered, points[11].counts.pending) == (58, 0)
    assert points[11].counts.delivery_rate == 58 / 60
    assert points[9].counts.delivery_rate is None
    assert points[11].counts.open_rate == 30 / 58


def test_daily_series_reads_the_daily_rollups(data):
    points = metrics.series(day_range(date(2026, 11, 18), DAY))

    assert [p.bucket.date() for p in points] == [date(2026, 11, d) for d in (18, 19, 20)]
    assert [p.counts.sent for p in points] == [10, 0, 200]
    # The 20th: the day's totals, 178 delivered of 200 - 12 pending = 188 with an outcome.
    assert points[2].counts.delivery_rate == 178 / 188


# --- Latency from histogram bins --------------------------------------------------------------


def test_histogram_quantile_interpolates_within_the_bin():
    # 2 in 0-10 s, 4 in 10-30 s, 4 in 30-60 s: the 5th of 10 is 3/4 into the 10-30 s bin.
    histogram = {0: 2, 1: 4, 2: 4}
    assert histogram_quantile(histogram, 0.5) == 25.0
    assert histogram_quantile(histogram, 0.9) == 52.5
    assert histogram_quantile({0: 1}, 0.5) == 5.0
    assert histogram_quantile({}, 0.5) is None
    # The last bin is open-ended: its lower bound, 7 days.
    assert histogram_quantile({14: 3}, 0.5) == 7 * 86_400.0


def test_response_and_lead_time_over_the_day(data):
    latency = metrics.latency(day())

    response, lead = latency["response"], latency["lead"]
    assert (response.median, response.p90, response.count) == (25.0, 52.5, 10)
    # Lead: one in 60-120 s, one in 120-300 s.
    assert lead.median == 120.0
    assert lead.p90 == pytest.approx(264.0)
    assert lead.count == 2


def test_latency_follows_provider_and_event_type_filters(data):
    sendgrid = metrics.latency(day(provider_kind="sendgrid"))["response"]
    approvals = metrics.latency(day(event_type="return.approved"))["response"]

    # 2 in 0-10 s, 4 in 10-30 s: the 3rd of 6 is 1/4 into the second bin.
    assert sendgrid.median == 15.0
    assert sendgrid.p90 == pytest.approx(27.0)
    assert (approvals.median, approvals.p90, approvals.count, approvals.available) == (
        None,
        None,
        0,
        True,
    )


def test_latency_is_unavailable_per_rule_or_template(data):
    by_rule = metrics.latency(day(rule_id=data["refund"].pk))

    assert by_rule["response"].available is False
    assert by_rule["response"].median is None
    assert by_rule["lead"].available is False


# --- Breakdowns -------------------------------------------------------------------------------


def test_breakdown_by_email_type(data):
    rows = metrics.breakdown(day(), by="event_type")

    assert [(r.key, r.label, r.counts.sent) for r in rows] == [
        ("refund.processed", "Refund processed", 160),
        ("return.approved", "Return approved", 40),
    ]
    # Refund processed: SendGrid + Mandrill, delivered 90 + (60 - 2) = 148,
    # pending = 160 - 148 - 7 bounced - 1 rejected = 4: 148 of 156 with an outcome.
    assert (rows[0].counts.delivered, rows[0].counts.pending) == (148, 4)
    assert rows[0].counts.delivery_rate == 148 / 156
    assert rows[0].response.median == 25.0
    assert rows[1].response.median is None
    # Return approved: Mailchimp Marketing, pending = 40 - 30 - 2 bounced = 8 (2 failed
    # never sent): 30 of 32 with an outcome.
    assert (rows[1].counts.delivered, rows[1].counts.pending) == (30, 8)
    assert rows[1].counts.delivery_rate == 30 / 32


def test_breakdown_by_rule_and_by_template(data):
    by_rule = metrics.breakdown(day(), by="rule")
    by_template = metrics.breakdown(day(), by="template")

    assert [(r.key, r.label, r.counts.sent) for r in by_rule] == [
        (data["refund"].pk, "Refund email", 160),
        (data["approval"].pk, "Approval email", 40),
    ]
    assert [(r.label, r.counts.sent, r.response.available) for r in by_template] == [
        ("Refund", 160, False),
        ("Approval", 40, False),
    ]


def test_providers_side_by_side(data):
    rows = metrics.breakdown(day(), by="provider")

    assert [r.key for r in rows] == ["sendgrid", "mailchimp_marketing", "mailchimp_transactional"]
    assert [r.label for r in rows] == [
        "SendGrid",
        "Mailchimp Marketing",
        "Mailchimp Transactional (Mandrill)",
    ]
    assert [r.counts.sent for r in rows] == [100, 40, 60]
    # Delivered / (sent - pending): SendGrid 90 / (100 - 4), Mailchimp Marketing
    # 30 / (40 - 8), Mandrill (60 - 2) / (60 - 0).
    assert [r.counts.delivered for r in rows] == [90, 30, 58]
    assert [r.counts.pending for r in rows] == [4, 8, 0]
    assert [r.counts.delivery_rate for r in rows] == [90 / 96, 30 / 32, 58 / 60]
    # Opens over delivered: 45 / 90, 12 / 30, 30 / 58.
    assert [r.counts.open_rate for r in rows] == [0.5, 0.4, 30 / 58]
    assert [r.response.median for r in rows] == [15.0, None, 45.0]


def test_providers_without_data_are_shown_empty(data):
    f.account("smtp", "Relay")
    rows = metrics.breakdown(day_range(date(2026, 11, 1), date(2026, 11, 1)), by="provider")

    assert [r.key for r in rows] == [
        "sendgrid",
        "mailchimp_marketing",
        "mailchimp_transactional",
        "smtp",
    ]
    assert {r.counts.sent for r in rows} == {0}
    assert {r.counts.delivery_rate for r in rows} == {None}


def test_breakdown_by_account_names_deleted_and_missing_accounts(data):
    f.rollup(H[12], account=9_999_999, sent=3)
    f.rollup(H[12], account=0, failed=1)

    rows = metrics.breakdown(day(), by="account")

    assert [(r.label, r.counts.sent, r.counts.failed) for r in rows] == [
        ("SendGrid main", 100, 0),
        ("Mandrill", 60, 0),
        ("Mailchimp audience", 40, 2),
        ("#9999999 (deleted)", 3, 0),
        ("No account", 0, 1),
    ]


# --- Uptime and call latency ------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture
def health(data):
    sg, md = data["sg"], data["md"]
    ProviderAccount.objects.update(created_at=NOW - timedelta(days=60))
    ago = lambda **kw: NOW - timedelta(**kw)  # noqa: E731
    for at, ok in [
        (ago(hours=1), True),
        (ago(hours=2), False),
        (ago(hours=3), True),
        (ago(hours=23), True),
        (ago(hours=24), True),  # exactly 24 h ago: in 7 d, not in 24 h
        (ago(days=3), True),
        (ago(days=4), False),
        (ago(days=6), False),
        (ago(days=10), False),
        (ago(days=20), False),
        (ago(days=31), True),  # too old for every window
        (ago(days=32), True),
        (NOW + timedelta(hours=1), False),  # after now
    ]:
        f.check(at, ok, account=sg)
    f.check(ago(hours=1), True, account=md)
    for at, ok in [(ago(hours=1), True), (ago(days=2), False), (ago(days=40), False)]:
        f.check(at, ok, component=HealthComponent.INTAKE)

    outbox = data["outbox"]
    for ms in (40, 10, 100, 70, 20, 90, 30, 60, 80, 50):  # unordered on purpose
        message = outbox.message(account=sg)
        outbox.attempt(message, started_at=ago(hours=1), duration_ms=ms)
    old = outbox.message(account=sg)
    outbox.attempt(old, started_at=ago(days=2), duration_ms=5000)
    other = outbox.message(account=md)
    outbox.attempt(other, started_at=ago(minutes=5), duration_ms=7, outcome="transient")
    return data


def test_uptime_per_account_over_24_hours_7_days_30_days(health):
    by_account = uptime.provider_uptime(day(), now=NOW)

    sg = by_account[health["sg"].pk]
    # Minutes with a passing check: 1 h, 3 h, 23 h and 24 h ago (the window's first minute),
    # then 3 days ago; every other minute since the accounts exist is down.
    assert sg.expected == {"24h": 1440, "7d": 7 * 1440, "30d": 30 * 1440}
    assert sg.up == {"24h": 4, "7d": 5, "30d": 5}
    assert by_account[health["md"].pk].up == {"24h": 1, "7d": 1, "30d": 1}
    # Never checked, though active all along: down, not "no data".
    assert by_account[health["mc"].pk].ratios == {"24h": 0.0, "7d": 0.0, "30d": 0.0}
    assert uptime.Uptime().ratios == {"24h": None, "7d": None, "30d": None}


def test_uptime_of_several_accounts_counts_all_their_minutes(health):
    every = uptime.combined(uptime.provider_uptime(day(), now=NOW).values())
    sendgrid_only = uptime.provider_uptime(day(provider_kind="sendgrid"), now=NOW)

    assert (every.up["24h"], every.expected["24h"]) == (5, 3 * 1440)
    assert list(sendgrid_only) == [health["sg"].pk]


def test_intake_availability(health):
    intake = uptime.intake_uptime(now=NOW)

    # Expected since its first probe (40 days ago): only 1 hour ago's passed.
    assert intake.expected == {"24h": 1440, "7d": 7 * 1440, "30d": 30 * 1440}
    assert intake.up == {"24h": 1, "7d": 1, "30d": 1}


def test_call_latency_percentiles_of_the_last_24_hours(health):
    sendgrid = uptime.call_latency(
        accounts=ProviderAccount.objects.filter(pk=health["sg"].pk), now=NOW
    )
    every = uptime.call_latency(accounts=None, now=NOW)

    assert sendgrid.count == 10
    assert sendgrid.p50 == 55.0
    assert sendgrid.p95 == pytest.approx(95.5)
    # Every account: 7, 10, 20, ..., 100 (11 attempts).
    assert (every.count, every.p50, every.p95) == (11, 50.0, 95.0)
    assert uptime.call_latency(accounts=ProviderAccount.objects.none(), now=NOW) == (
        uptime.CallLatency()
    )


def test_account_health_lists_every_account_in_the_filters(health):
    rows = uptime.account_health(day(), now=NOW)

    assert [(r.name, r.kind) for r in rows] == [
        ("Mailchimp audience", "mailchimp_marketing"),
        ("Mandrill", "mailchimp_transactional"),
        ("SendGrid main", "sendgrid"),
    ]
    assert rows[0].uptime.ratios["24h"] == 0.0
    assert (rows[1].calls.count, rows[1].calls.p50) == (1, 7.0)
    assert (rows[2].uptime.up["7d"], rows[2].calls.p50) == (5, 55.0)


def test_kind_health_combines_the_accounts_of_each_kind(health):
    eu = f.account("sendgrid", "SendGrid EU")
    ProviderAccount.objects.filter(pk=eu.pk).update(created_at=NOW - timedelta(days=60))
    f.check(NOW - timedelta(hours=1), False, account=eu)

    kinds = uptime.kind_health(day(), ["sendgrid", "mailchimp_marketing"], now=NOW)

    assert kinds["sendgrid"][0].ratios["24h"] == 4 / 2880  # 4 of 1440, and 0 of 1440
    assert kinds["sendgrid"][1].p50 == 55.0
    assert kinds["mailchimp_marketing"][0].ratios["24h"] == 0.0
    assert kinds["mailchimp_marketing"][1] == uptime.CallLatency()


# --- Recent messages and failures -------------------------------------------------------------


@pytest.fixture
def messages(data):
    outbox, sg = data["outbox"], data["sg"]
    return {
        "refund_sent": outbox.message(account=sg, created_at=H[9], sent_at=H[10]),
        "approval_failed": outbox.message(
            rule="Approval email",
            event_type="return.approved",
            template="Approval",
            account=data["mc"],
            status="failed",
            created_at=H[11],
            status_changed_at=H[11] + timedelta(minutes=1),
            error="permanent: invalid from address",
        ),
        "refund_bounced": outbox.message(
            account=sg,
            status="bounced",
            created_at=H[12],
            sent_at=H[12],
            status_changed_at=H[12] + timedelta(minutes=30),
        ),
        "refund_queued": outbox.message(account=None, status="queued", created_at=H[13]),
        "tomorrow": outbox.message(
            account=sg, created_at=H[23], sent_at=H[23] + timedelta(hours=2)
        ),
    }


def test_recent_messages_newest_first_within_the_period(messages):
    found = recent.recent_messages(day())

    assert [m.pk for m in found] == [
        messages["refund_queued"].pk,
        messages["refund_bounced"].pk,
        messages["approval_failed"].pk,
        messages["refund_sent"].pk,
    ]
    assert [m.pk for m in recent.recent_messages(day(), limit=2)] == [
        messages["refund_queued"].pk,
        messages["refund_bounced"].pk,
    ]


def test_recent_messages_follow_the_drill_down_filters(messages, data):
    by_rule = recent.recent_messages(day(rule_id=data["approval"].pk))
    by_provider = recent.recent_messages(day(provider_kind="sendgrid"))
    by_type = recent.recent_messages(day(event_type="refund.processed"))

    assert [m.pk for m in by_rule] == [messages["approval_failed"].pk]
    assert [m.pk for m in by_provider] == [
        messages["refund_bounced"].pk,
        messages["refund_sent"].pk,
    ]
    assert messages["approval_failed"].pk not in [m.pk for m in by_type]
    assert len(by_type) == 3


def test_recent_failures_are_failed_and_bounced_messages(messages):
    found = recent.recent_failed_messages(day())

    assert [(m.pk, m.status) for m in found] == [
        (messages["refund_bounced"].pk, "bounced"),
        (messages["approval_failed"].pk, "failed"),
    ]
    assert found[1].error == "permanent: invalid from address"


def test_recent_failed_checks(data):
    sg = data["sg"]
    f.check(H[8], False, account=sg, detail="401 Unauthorized")
    f.check(H[9], True, account=sg)
    f.check(H[10], False, component=HealthComponent.INTAKE, detail="broker: timeout")
    f.check(datetime(2026, 11, 21, 1, tzinfo=UTC), False, account=sg)

    every = recent.recent_failed_checks(day())
    sendgrid = recent.recent_failed_checks(day(provider_kind="sendgrid"))

    assert [(c.component, c.detail) for c in every] == [
        ("intake", "broker: timeout"),
        ("provider", "401 Unauthorized"),
    ]
    assert [c.detail for c in sendgrid] == ["401 Unauthorized"]
