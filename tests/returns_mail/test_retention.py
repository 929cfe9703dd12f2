"""Retention of personal data (returns_mail/services/retention.py, run by analytics' daily
purge): old finished messages, their attempts, events and delivery events go; mail in flight,
recent rows and suppressions stay; old customers are erased; consent history outlives its
customer by RETENTION_CONSENT_DAYS; the rollups (the dashboards' numbers) do not move."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import DeliveryEvent, LatencyBin, Rollup, WebhookDelivery
from analytics.selectors.filters import day_range
from analytics.selectors.metrics import totals
from analytics.services.retention import old_data_purge
from returns_mail.models import (
    Attempt,
    AudienceErasure,
    AudienceMember,
    ConsentRecord,
    Customer,
    MemberStatus,
    Message,
    MessageStatus,
    ReturnEvent,
    Suppression,
)
from returns_mail.services import retention
from returns_mail.services.consent import consent_record
from returns_mail.services.suppression import suppression_add

pytestmark = pytest.mark.django_db

OLD = "Old.Customer@Example.com"  # as the returns system sent it
RECENT = "recent@example.com"
DAYS = 400


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def age_event(event: ReturnEvent, days: float) -> None:
    """Date an event, its messages and their attempts `days` back (auto_now_add fields)."""
    moment = ago(days)
    ReturnEvent.objects.filter(pk=event.pk).update(received_at=moment, occurred_at=moment)
    messages = Message.objects.filter(event=event)
    messages.update(created_at=moment, status_changed_at=moment, send_after=moment)
    Attempt.objects.filter(message__in=messages).update(started_at=moment)


def delivery_event(message: Message, days: float, n: int) -> DeliveryEvent:
    delivery = WebhookDelivery.objects.create(
        account=message.account, body="", status="processed", body_sha256=f"{n:064d}"
    )
    event = DeliveryEvent.objects.create(
        fingerprint=f"{n:064d}",
        delivery=delivery,
        account=message.account,
        message=message,
        type="delivered",
        provider_event="delivered",
        recipient=message.recipient,
        occurred_at=ago(days),
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=ago(days))
    DeliveryEvent.objects.filter(pk=event.pk).update(received_at=ago(days))
    return event


@pytest.fixture
def world(make_account, make_rule, ingest):
    """Two old returns of one customer (one message sent, one still queued), a recent return
    of another, each sent through the sandbox (so the rollups count them), with attempts and
    delivery events."""
    sendgrid = make_account("sendgrid")
    make_rule("refund.processed", accounts=[sendgrid])
    make_rule("return.approved", accounts=[sendgrid])
    old_sent = ingest("refund.processed", customer_email=OLD, return_id="R-OLD-1")
    old_queued = ingest("return.approved", customer_email=OLD, return_id="R-OLD-2")
    recent = ingest("refund.processed", customer_email=RECENT, return_id="R-NEW")
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert Attempt.objects.count() == 3
    for event in (old_sent, old_queued):
        age_event(event, DAYS + 100)
    age_event(recent, DAYS - 10)
    # A message of an old event that never left (a rule paused, say): in flight.
    queued = Message.objects.get(event=old_queued)
    Message.objects.filter(pk=queued.pk).update(status=MessageStatus.QUEUED)
    old_message = Message.objects.get(event=old_sent)
    recent_message = Message.objects.get(event=recent)
    suppression_add(email=OLD, reason="complaint")
    return {
        "old_event": old_sent,
        "queued_event": old_queued,
        "recent_event": recent,
        "old_message": old_message,
        "queued": queued,
        "recent_message": recent_message,
        "old_delivery": delivery_event(old_message, DAYS + 90, 1),
        "recent_delivery": delivery_event(recent_message, DAYS - 20, 2),
    }


def table(model) -> list:
    return sorted(map(repr, model.objects.order_by().values_list()))


def everything() -> dict:
    models = (ReturnEvent, Message, Attempt, DeliveryEvent, WebhookDelivery, Customer)
    return {m._meta.label: table(m) for m in (*models, Suppression, ConsentRecord)}


def test_old_finished_mail_goes_and_mail_in_flight_and_recent_mail_stay(world):
    report = old_data_purge()

    assert (report.messages, report.attempts, report.return_events) == (1, 1, 1)
    assert (report.delivery_events, report.webhook_deliveries) == (1, 1)
    assert not Message.objects.filter(pk=world["old_message"].pk).exists()
    assert not ReturnEvent.objects.filter(pk=world["old_event"].pk).exists()
    assert not Attempt.objects.filter(message_id=world["old_message"].pk).exists()
    assert not DeliveryEvent.objects.filter(pk=world["old_delivery"].pk).exists()
    assert not WebhookDelivery.objects.filter(pk=world["old_delivery"].delivery_id).exists()
    # In flight: the message, its attempt and its event are not touched.
    queued = Message.objects.get(pk=world["queued"].pk)
    assert queued.status == MessageStatus.QUEUED
    assert Attempt.objects.filter(message=queued).count() == 1
    assert ReturnEvent.objects.filter(pk=world["queued_event"].pk).exists()
    # Recent rows stay whole.
    recent = world["recent_message"]
    assert Message.objects.filter(pk=recent.pk, recipient=RECENT).exists()
    assert Attempt.objects.filter(message=recent).count() == 1
    assert ReturnEvent.objects.filter(pk=world["recent_event"].pk).exists()
    assert DeliveryEvent.objects.get(pk=world["recent_delivery"].pk).message_id == recent.pk
    # Suppressions are never purged.
    assert Suppression.objects.filter(email=OLD.lower()).exists()


def test_the_rollups_and_the_dashboards_numbers_do_not_move(world):
    rollups = (table(Rollup), table(LatencyBin))
    assert Rollup.objects.filter(sent__gt=0).exists(), "the sends must have been counted"
    wide = day_range(ago(3 * DAYS).date(), ago(-1).date())
    before = totals(wide)

    old_data_purge()

    assert Message.objects.count() == 2, "the purge must have deleted something"
    assert (table(Rollup), table(LatencyBin)) == rollups
    assert totals(wide) == before


def test_a_second_run_finds_nothing_to_do(world):
    old_data_purge()
    after = everything()

    report = old_data_purge()

    assert everything() == after
    assert report.as_dict() == {
        **{key: 0 for key in report.as_dict()},
        "dry_run": False,
        "complete": True,
    }


def test_work_goes_in_batches_of_id_ranges(world):
    more = [Message.objects.get(pk=world["old_message"].pk)]
    for n in range(4):  # four more finished messages of the old event
        copy = Message.objects.create(
            event=world["old_event"],
            rule=None,
            recipient=f"copy{n}@example.com",
            template_version=more[0].template_version,
            send_after=ago(DAYS + 100),
            status=MessageStatus.DELIVERED,
        )
        Message.objects.filter(pk=copy.pk).update(
            created_at=ago(DAYS + 100), status_changed_at=ago(DAYS + 100)
        )
    batches = []

    def spy(rows):
        batches.append(sorted(rows.values_list("pk", flat=True)))
        return rows.delete()[1].get("returns_mail.Message", 0)

    due = retention.messages_due(before=ago(DAYS))
    assert retention.in_batches(due, spy, batch_size=2) == 5
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert Message.objects.count() == 2  # the queued and the recent one


def test_a_small_batch_size_purges_the_same_rows(world):
    report = old_data_purge(batch_size=1)
    assert (report.messages, report.attempts, report.return_events) == (1, 1, 1)
    assert Message.objects.count() == 2


def test_zero_days_keeps_messages_and_events_for_good(world, settings):
    settings.RETENTION_MESSAGE_DAYS = 0
    before = everything()
    report = old_data_purge()
    assert (report.messages, report.return_events, report.delivery_events) == (0, 0, 0)
    assert everything() == before


def test_the_command_reports_and_its_dry_run_changes_nothing(world):
    before = everything()
    out = StringIO()
    call_command("purge_old_data", "--dry-run", stdout=out)
    assert "finished messages older than 400 days would be purged: 1" in out.getvalue()
    assert everything() == before

    out = StringIO()
    call_command("purge_old_data", stdout=out)
    assert "finished messages older than 400 days purged: 1" in out.getvalue()
    assert "return events with no message left older than 400 days purged: 1" in out.getvalue()


# --- customers and consent ----------------------------------------------------------------


@pytest.fixture
def customers(world, make_account, settings):
    """The old customer's last event is four years old; the recent one's is ten days old."""
    settings.RETENTION_MESSAGE_DAYS = 0  # isolate the customer pass
    marketing = make_account("mailchimp_marketing", audience_id="aud001")
    old = Customer.objects.get(email=OLD.lower())
    Customer.objects.filter(pk=old.pk).update(last_event_at=ago(4 * 365))
    AudienceMember.objects.create(account=marketing, customer=old, status=MemberStatus.SUBSCRIBED)
    Message.objects.filter(pk=world["queued"].pk).update(status=MessageStatus.CANCELLED)
    consent_record(email=OLD, granted=True, source="return_event", at=ago(4 * 365))
    consent_record(email=RECENT, granted=True, source="return_event", at=ago(10))
    return {"old": old, "marketing": marketing}


def test_a_customer_with_no_event_for_years_is_erased_but_stays_suppressed(customers):
    report = old_data_purge()

    assert report.customers == 1
    assert not Customer.objects.filter(email=OLD.lower()).exists()
    assert not AudienceMember.objects.exists()
    assert AudienceErasure.objects.filter(account=customers["marketing"]).count() == 1
    # Her events and messages are anonymised (the erasure's placeholders), not deleted.
    assert not ReturnEvent.objects.filter(customer_email__iexact=OLD).exists()
    assert not Message.objects.filter(recipient__iexact=OLD).exists()
    assert ReturnEvent.objects.filter(customer_email__endswith="@erased.invalid").count() == 2
    # What protects her stays: her suppression, and for now her consent history.
    assert Suppression.objects.filter(email=OLD.lower()).exists()
    assert ConsentRecord.objects.filter(email=OLD.lower()).exists()
    assert Customer.objects.filter(email=RECENT).exists()
    assert old_data_purge().customers == 0


def test_a_customer_with_mail_in_flight_is_left_for_a_later_run(customers, world):
    Message.objects.filter(pk=world["queued"].pk).update(status=MessageStatus.QUEUED)

    assert old_data_purge().customers == 0

    assert Customer.objects.filter(email=OLD.lower()).exists()
    assert Message.objects.get(pk=world["queued"].pk).recipient == OLD


def test_consent_history_outlives_its_customer_by_the_consent_period(customers, settings):
    settings.RETENTION_CONSENT_DAYS = 30
    old_data_purge()  # erases the old customer; dates her history
    history = ConsentRecord.objects.filter(email=OLD.lower())
    kept = history.count()  # the fixture's record, and those her events wrote when applied
    assert kept >= 1
    assert not history.filter(customer_gone_at=None).exists()
    assert old_data_purge().consent_records == 0  # not 30 days yet

    history.update(customer_gone_at=ago(31))
    assert old_data_purge().consent_records == kept
    assert not history.exists()
    # A kept customer's history is never dated, so never deleted.
    recent = ConsentRecord.objects.filter(email=RECENT)
    assert recent.exists()
    assert not recent.exclude(customer_gone_at=None).exists()


def test_a_customer_coming_back_undates_the_history(customers, settings):
    settings.RETENTION_CUSTOMER_DAYS = 0  # the customer pass is off: test the consent pass
    ConsentRecord.objects.create(
        email="carol@example.com", granted=True, source="admin", occurred_at=ago(5)
    )
    old_data_purge()
    carol = ConsentRecord.objects.get(email="carol@example.com")
    assert carol.customer_gone_at is not None

    Customer.objects.create(email="carol@example.com")
    ConsentRecord.objects.filter(pk=carol.pk).update(customer_gone_at=ago(10 * 365))
    assert old_data_purge().consent_records == 0
    carol.refresh_from_db()
    assert carol.customer_gone_at is None


def test_a_run_out_of_time_stops_between_batches_and_says_so(world):
    report = old_data_purge(batch_size=1, seconds=0)  # one batch, then time is up

    assert not report.complete
    assert report.delivery_events == 1  # the first pass's first batch
    assert (report.messages, report.return_events) == (0, 0)
    assert old_data_purge().complete


def test_the_scheduled_run_queues_the_rest_when_out_of_time(
    world, settings, django_capture_on_commit_callbacks
):
    from analytics.tasks import purge_old_data

    settings.Q_TIMEOUT = 0
    settings.RETENTION_BATCH_SIZE = 1
    with django_capture_on_commit_callbacks(execute=True) as queued:
        result = purge_old_data()

    assert result["complete"] is False
    assert queued, "the rest must be queued"
    # The continuations (run inline here) finished the work.
    assert not Message.objects.filter(pk=world["old_message"].pk).exists()
    assert not ReturnEvent.objects.filter(pk=world["old_event"].pk).exists()


@pytest.mark.parametrize(
    "status", [MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.AMBIGUOUS]
)
def test_an_old_message_in_flight_is_never_touched(world, status):
    old = world["old_message"]
    Message.objects.filter(pk=old.pk).update(status=status)
    before = everything()["returns_mail.Message"]

    report = old_data_purge()

    assert (report.messages, report.attempts, report.return_events) == (0, 0, 0)
    assert everything()["returns_mail.Message"] == before
    assert Attempt.objects.filter(message=old).count() == 1
    assert ReturnEvent.objects.filter(pk=world["old_event"].pk).exists()


def test_a_recent_resend_of_an_old_message_stays_unlinked(world):
    old = world["old_message"]
    resend = Message.objects.create(
        event=world["recent_event"],
        recipient=RECENT,
        template_version=old.template_version,
        send_after=timezone.now(),
        status=MessageStatus.SENT,
        resend_of=old,
    )

    old_data_purge()

    resend.refresh_from_db()
    assert resend.resend_of_id is None
    assert not Message.objects.filter(pk=old.pk).exists()
