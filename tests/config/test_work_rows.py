"""The work-row kernel: claims are exclusive and counted, backoff grows with jitter and never
undercuts Retry-After, due and stuck find the rows a sweep must take again."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from config.work_rows import Backoff, claim, due, stuck
from returns_mail.models import AudienceErasure

pytestmark = pytest.mark.django_db

BACKOFF = Backoff(base=2.0, cap=300.0)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 1.0, 2.0), (2, 2.0, 4.0), (5, 16.0, 32.0), (20, 150.0, 300.0)],
)
def test_backoff_doubles_up_to_its_cap_with_jitter(attempt, low, high):
    with mock.patch("config.work_rows.random.uniform", side_effect=lambda a, b: a):
        assert BACKOFF.seconds(attempt) == low
    with mock.patch("config.work_rows.random.uniform", side_effect=lambda a, b: b):
        assert BACKOFF.seconds(attempt) == high


def test_backoff_never_undercuts_retry_after():
    assert BACKOFF.seconds(1, retry_after=120) == 120
    assert Backoff(base=60, cap=3600).seconds(3, retry_after=1) >= 120


def test_next_at_is_now_plus_the_backoff():
    now = timezone.now()
    with mock.patch("config.work_rows.random.uniform", side_effect=lambda a, b: b):
        assert BACKOFF.next_at(now, 3) == now + timedelta(seconds=8)


@pytest.fixture
def erasures(make_account):
    account = make_account("mailchimp_marketing")
    now = timezone.now()

    def make(next_attempt_at):
        return AudienceErasure.objects.create(
            account=account, audience_id="aud", subscriber_hash="h", next_attempt_at=next_attempt_at
        )

    return now, [make(None), make(now - timedelta(seconds=1)), make(now + timedelta(hours=1))]


def test_due_is_no_retry_pending_or_its_time_come(erasures):
    now, (fresh, past, _later) = erasures

    assert set(AudienceErasure.objects.filter(due(now))) == {fresh, past}


def test_a_claim_is_taken_once_and_counted(erasures):
    now, (fresh, _, _) = erasures
    rows = AudienceErasure.objects.filter(pk=fresh.pk, status="pending").filter(due(now))
    lease = now + timedelta(minutes=10)

    first = claim(rows, now=now, claimed_field=None, next_attempt_at=lease)
    second = claim(rows, now=now, claimed_field=None, next_attempt_at=lease)

    fresh.refresh_from_db()
    assert (first, second) == (1, 0)  # the lease made it not due: a second worker gets nothing
    assert (fresh.attempts, fresh.next_attempt_at) == (1, lease)


def test_stuck_is_claimed_longer_ago_than_a_task_may_run(make_account, make_template):
    from templates_lib.models import TemplateSync

    account = make_account("sendgrid")
    version = make_template().versions.get()
    now = timezone.now()
    template = version.template
    old = TemplateSync.objects.create(
        template=template,
        account=account,
        version=version,
        status="pushing",
        claimed_at=now - timedelta(hours=1),
    )
    TemplateSync.objects.create(
        template=template,
        account=make_account("sendgrid"),
        version=version,
        status="pushing",
        claimed_at=now,
    )

    found = stuck(
        TemplateSync.objects.filter(status="pushing"), now=now, after=timedelta(minutes=5)
    )

    assert list(found) == [old]
