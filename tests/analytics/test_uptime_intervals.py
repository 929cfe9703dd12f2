"""API Integration Uptime counts expected minutes: a minute without a successful check is down
(a stopped worker is an outage, not a gap), from when the account or the probe existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import CheckSource, HealthCheck, HealthComponent
from analytics.selectors import uptime
from analytics.selectors.filters import day_range
from providers.models import ProviderAccount
from tests.analytics import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)  # the 12:00 minute is not finished
HOUR_AGO = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def filters():
    return day_range(NOW.date(), NOW.date())


def created(account: ProviderAccount, at: datetime) -> ProviderAccount:
    ProviderAccount.objects.filter(pk=account.pk).update(created_at=at)
    return account


def every_minute(start: datetime, minutes: int, *, skip=(), failed=(), **fields) -> None:
    """One check 5 seconds into each minute from `start` (as the schedule writes them)."""
    for minute in range(minutes):
        if minute not in skip:
            at = start + timedelta(minutes=minute, seconds=5)
            f.check(at, minute not in failed, **fields)


@pytest.fixture
def sendgrid():
    # Created at 10:59:10: expected from 11:00, the first whole minute after its creation.
    return created(f.account("sendgrid", "SendGrid main"), HOUR_AGO - timedelta(seconds=50))


def test_every_finished_minute_with_a_passing_check_is_up(sendgrid):
    every_minute(HOUR_AGO, 60, account=sendgrid)
    f.check(NOW - timedelta(seconds=20), False, account=sendgrid)  # the current minute: not yet

    up = uptime.provider_uptime(filters(), now=NOW)[sendgrid.pk]

    assert (up.expected["24h"], up.up["24h"]) == (60, 60)
    assert up.ratios == {"24h": 1.0, "7d": 1.0, "30d": 1.0}


def test_stopping_the_worker_for_five_minutes_lowers_uptime_by_those_minutes(sendgrid):
    """The demo: stop the qcluster for five minutes; no checks are written, none fail, and
    still five of the hour's sixty minutes count as down."""
    every_minute(HOUR_AGO, 60, skip=range(10, 15), account=sendgrid)

    up = uptime.provider_uptime(filters(), now=NOW)[sendgrid.pk]

    assert (up.expected["24h"], up.up["24h"], up.down("24h")) == (60, 55, 5)
    assert up.ratio("24h") == pytest.approx(55 / 60)


def test_a_failed_check_is_down_and_a_second_check_in_a_minute_counts_once(sendgrid):
    every_minute(HOUR_AGO, 60, failed={3, 4}, account=sendgrid)
    f.check(HOUR_AGO + timedelta(minutes=7, seconds=40), True, account=sendgrid)  # a retry

    up = uptime.provider_uptime(filters(), now=NOW)[sendgrid.pk]

    assert (up.expected["24h"], up.up["24h"]) == (60, 58)


def test_an_account_created_mid_window_is_expected_only_since_it_exists(sendgrid):
    every_minute(HOUR_AGO, 60, account=sendgrid)
    late = created(f.account("mailchimp_transactional", "Mandrill"), NOW - timedelta(minutes=30))
    f.check(datetime(2026, 11, 26, 11, 30, 40, tzinfo=UTC), False, account=late)  # its minute
    every_minute(datetime(2026, 11, 26, 11, 31, tzinfo=UTC), 29, skip={0}, account=late)

    by_account = uptime.provider_uptime(filters(), now=NOW)

    # Created at 11:30:30: expected 11:31 to 11:59 (29 minutes), 11:31's check is missing.
    assert by_account[late.pk].expected == {"24h": 29, "7d": 29, "30d": 29}
    assert by_account[late.pk].up == {"24h": 28, "7d": 28, "30d": 28}
    assert uptime.combined(by_account.values()).ratio("24h") == pytest.approx(88 / 89)


def test_no_expectation_before_the_first_check_this_installation_recorded():
    old = created(f.account("sendgrid"), NOW - timedelta(days=90))
    assert uptime.provider_uptime(filters(), now=NOW) == {}  # no check ever: nothing measured

    every_minute(HOUR_AGO, 60, skip={59}, account=old)

    up = uptime.provider_uptime(filters(), now=NOW)[old.pk]
    assert up.expected == {"24h": 60, "7d": 60, "30d": 60}
    assert up.up["30d"] == 59


def test_a_gap_days_ago_counts_in_the_longer_windows_only():
    account = created(f.account("sendgrid"), NOW - timedelta(days=40))
    start = NOW - timedelta(days=3, minutes=1)
    f.check(start, True, account=account)  # checks recorded since three days ago
    every_minute(HOUR_AGO, 60, account=account)

    up = uptime.provider_uptime(filters(), now=NOW)[account.pk]

    expected_3d = 3 * 24 * 60 + 1  # from 11:59 three days ago to 11:59 today
    assert up.expected == {"24h": 24 * 60, "7d": expected_3d, "30d": expected_3d}
    assert up.up == {"24h": 60, "7d": 61, "30d": 61}


def test_an_inactive_account_is_expected_until_its_last_check(sendgrid):
    every_minute(HOUR_AGO, 20, skip={4}, account=sendgrid)
    ProviderAccount.objects.filter(pk=sendgrid.pk).update(is_active=False)

    up = uptime.provider_uptime(filters(), now=NOW)[sendgrid.pk]

    assert (up.expected["24h"], up.up["24h"]) == (20, 19)


def test_intake_counts_the_minutes_a_probe_was_answered_since_the_first_probe():
    assert uptime.intake_uptime(now=NOW).ratios == {"24h": None, "7d": None, "30d": None}
    intake = {"component": HealthComponent.INTAKE}
    # 11:20's probe was refused, none landed at 11:21 (the database was down).
    every_minute(HOUR_AGO, 60, skip={21}, failed={20}, **intake)
    # The worker's probe passed in a minute the external one failed: the minute was answered.
    HealthCheck.objects.create(
        component=HealthComponent.INTAKE,
        source=CheckSource.WORKER_HTTP,
        checked_at=HOUR_AGO + timedelta(minutes=30, seconds=30),
        ok=True,
    )

    up = uptime.intake_uptime(now=NOW)

    assert (up.expected["24h"], up.up["24h"]) == (60, 58)


def test_the_queries_do_not_grow_with_accounts_or_checks(sendgrid):
    every_minute(HOUR_AGO, 60, account=sendgrid)
    with CaptureQueriesContext(connection) as one:
        uptime.provider_uptime(filters(), now=NOW)
        uptime.intake_uptime(now=NOW)
    for _ in range(4):
        every_minute(HOUR_AGO, 60, account=created(f.account("smtp"), HOUR_AGO))
    with CaptureQueriesContext(connection) as five:
        uptime.provider_uptime(filters(), now=NOW)
        uptime.intake_uptime(now=NOW)

    assert len(five) == len(one) <= 4


# --- Real sends: accepted at the first attempt ------------------------------------------------


def test_first_try_share_per_account_and_hour_counts_only_each_messages_first_attempt(sendgrid):
    mandrill = f.account("mailchimp_transactional", "Mandrill")
    outbox = f.Outbox()
    at = lambda hour, minute: datetime(2026, 11, 26, hour, minute, tzinfo=UTC)  # noqa: E731

    def sent(account, *outcomes_at):
        message = outbox.message(account=account)
        for outcome, started in outcomes_at:
            outbox.attempt(message, started_at=started, duration_ms=50.0, outcome=outcome)

    sent(sendgrid, ("sent", at(10, 5)))
    sent(sendgrid, ("transient", at(10, 10)), ("sent", at(10, 12)))  # the retry is no first
    sent(sendgrid, ("sent", at(11, 1)))
    sent(sendgrid, ("ambiguous", at(11, 2)), ("reconciled", at(11, 20)))
    sent(sendgrid, ("transient", at(9, 59) - timedelta(days=1)), ("sent", at(11, 30)))  # old
    sent(mandrill, ("permanent", at(11, 40)))
    sent(mandrill, ("sent", NOW + timedelta(minutes=1)))  # after now

    tries = uptime.first_try_hours(accounts=None, now=NOW)

    sg = tries[sendgrid.pk]
    assert sg.hours == {
        at(10, 0): uptime.FirstTries(calls=2, sent=1),
        at(11, 0): uptime.FirstTries(calls=2, sent=1),
    }
    assert (sg.total, sg.total.ratio, sg.worst_hour) == (uptime.FirstTries(4, 2), 0.5, 0.5)
    assert tries[mandrill.pk].total == uptime.FirstTries(calls=1, sent=0)
    only_sendgrid = ProviderAccount.objects.filter(pk=sendgrid.pk)
    assert list(uptime.first_try_hours(accounts=only_sendgrid, now=NOW)) == [sendgrid.pk]
