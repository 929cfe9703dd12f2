"""Retention: raw webhook bodies are blanked after RETENTION_WEBHOOK_DAYS (daily schedule and
`manage.py purge_old_data`); the delivery's outcome and events stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from analytics.models import DeliveryEvent, WebhookDelivery, WebhookDeliveryStatus
from analytics.services import retention as retention_service
from analytics.services.deliveries import webhook_delivery_process
from analytics.services.retention import webhook_bodies_purge
from tests.analytics.factories import account

pytestmark = pytest.mark.django_db

BODY = '[{"email": "ada@example.com", "event": "delivered"}]'


def delivery(days_old: float, acct, **fields) -> WebhookDelivery:
    row = WebhookDelivery.objects.create(
        account=acct,
        content_type="application/json",
        body=BODY,
        status=WebhookDeliveryStatus.PROCESSED,
        events_total=1,
        events_new=1,
        processed_at=timezone.now(),
        **fields,
    )
    # received_at is auto_now_add: age it with an UPDATE.
    WebhookDelivery.objects.filter(pk=row.pk).update(
        received_at=timezone.now() - timedelta(days=days_old)
    )
    return row


@pytest.fixture
def rows():
    acct = account("sendgrid")
    old = [delivery(days, acct) for days in (31, 45, 300)]
    recent = [delivery(days, acct) for days in (0, 29.5)]
    event = DeliveryEvent.objects.create(
        fingerprint="f" * 64,
        delivery=old[0],
        account=acct,
        type="delivered",
        provider_event="delivered",
        recipient="ada@example.com",
        occurred_at=timezone.now() - timedelta(days=31),
    )
    return old, recent, event


def snapshot() -> dict[int, tuple]:
    return {
        r["pk"]: tuple(r.values())
        for r in WebhookDelivery.objects.values(
            "pk", "body", "status", "events_total", "events_new", "processed_at", "error"
        )
    }


def test_old_bodies_are_blanked_and_recent_ones_kept(rows):
    old, recent, event = rows
    before = snapshot()

    assert webhook_bodies_purge(days=30) == 3

    after = snapshot()
    for row in old:  # the body goes; the outcome stays
        assert after[row.pk][1] == ""
        assert after[row.pk][2:] == before[row.pk][2:]
    for row in recent:
        assert after[row.pk] == before[row.pk]
    assert DeliveryEvent.objects.get(pk=event.pk).delivery_id == old[0].pk
    assert webhook_bodies_purge(days=30) == 0  # nothing left to do


def test_the_purge_works_in_batches(rows, django_assert_max_num_queries):
    # 3 old rows in batches of 1: 3 x (select ids + update) + the final empty select.
    with django_assert_max_num_queries(7):
        assert webhook_bodies_purge(days=30, batch_size=1) == 3
    assert WebhookDelivery.objects.filter(body="").count() == 3


def test_the_default_comes_from_the_setting(rows, settings):
    settings.RETENTION_WEBHOOK_DAYS = 40
    assert retention_service.old_data_purge().webhook_bodies == 2  # 45 and 300 days old


def test_the_command_prints_counts_and_dry_run_changes_nothing(rows):
    before = snapshot()
    out = StringIO()
    call_command("purge_old_data", "--dry-run", stdout=out)
    assert "would be purged: 3" in out.getvalue()
    assert snapshot() == before

    out = StringIO()
    call_command("purge_old_data", stdout=out)
    assert f"older than {settings.RETENTION_WEBHOOK_DAYS} days purged: 3" in out.getvalue()
    assert WebhookDelivery.objects.filter(body="").count() == 3


def test_a_purged_delivery_cannot_be_reprocessed_and_keeps_its_outcome(rows):
    old, _, _ = rows
    webhook_bodies_purge(days=30)
    row = WebhookDelivery.objects.get(pk=old[0].pk)

    with pytest.raises(ValueError, match="purged"):
        webhook_delivery_process(delivery=row)

    row.refresh_from_db()
    assert (row.status, row.events_total, row.error) == (WebhookDeliveryStatus.PROCESSED, 1, "")


def test_a_daily_schedule_runs_the_purge():
    schedule = Schedule.objects.get(func="analytics.tasks.purge_old_data")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.DAILY, -1)


def test_the_task_purges(rows):
    from analytics.tasks import purge_old_data

    assert purge_old_data() == {
        "webhook_bodies": 3,
        "dry_run": False,
        "delivery_events": 0,
        "webhook_deliveries": 0,
        "messages": 0,
        "attempts": 0,
        "return_events": 0,
        "customers": 0,
        "consent_records": 0,
        "complete": True,
    }


def test_zero_days_keeps_webhook_bodies_for_good(rows, settings):
    settings.RETENTION_WEBHOOK_DAYS = 0
    assert retention_service.old_data_purge().webhook_bodies == 0
    assert not WebhookDelivery.objects.filter(body="").exists()
