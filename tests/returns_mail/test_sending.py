"""The outbox: events become messages once, and workers send each exactly once, with retries,
backoff, failover, circuit breaking and holds for ambiguous sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from providers.sandbox.core import Fault
from returns_mail.exceptions import IdempotencyConflict
from returns_mail.models import AccountCircuit, Attempt, Message, MessageStatus, ReturnEvent
from returns_mail.services.events import events_answers, request_digest
from returns_mail.services.messages import (
    message_cancel,
    message_reconcile,
    message_resend,
    messages_sweep,
)
from returns_mail.services.routing import CIRCUIT_THRESHOLD, route
from returns_mail.services.sending import message_send
from returns_mail.services.suppression import suppression_add
from tests.conftest import TEST_KEYS
from tests.returns_mail.conftest import event_input

pytestmark = pytest.mark.django_db

SENDGRID_KEY = TEST_KEYS["sendgrid"]


@pytest.fixture
def sendgrid(make_account):
    return make_account("sendgrid")


@pytest.fixture
def mandrill(make_account):
    return make_account("mailchimp_transactional")


def make_due(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_event_becomes_a_sent_email_at_the_provider(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(accounts=[sendgrid])

    event = ingest()

    message = event.messages.get()
    assert message.status == MessageStatus.SENT
    assert message.account == sendgrid
    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert message.provider_message_id == record["message_id"]
    body = record["body"]
    assert body["subject"] == "Your refund of 89.80 EUR is on its way"
    assert body["personalizations"][0]["to"] == [
        {"email": "ada.customer@example.com", "name": "Ada Lovelace"}
    ]
    assert body["personalizations"][0]["custom_args"] == {
        "rm_correlation_id": str(message.correlation_id)
    }
    assert "Visa ending 4242" in record["rendered"][0]["html"]
    [attempt] = Attempt.objects.filter(message=message)
    assert (attempt.outcome, attempt.account, attempt.provider_message_id) == (
        "sent",
        sendgrid,
        record["message_id"],
    )
    assert attempt.duration_ms > 0
    assert events_answers([event])[event.pk]["messages"] == [
        {
            "id": message.pk,
            "rule": message.rule.name,
            "recipient": "ada.customer@example.com",
            "status": "sent",  # a replay's answer reads the row
            "reason": None,
            "reason_text": None,
        }
    ]


def test_same_key_and_body_is_one_event_other_body_is_a_conflict(
    make_rule, sendgrid, ingest, returns_system
):
    make_rule(accounts=[sendgrid])
    first = ingest(key="k1")

    assert ingest(key="k1") == first
    with pytest.raises(IdempotencyConflict):
        ingest(key="k1", return_id="RMA-9999")

    assert ReturnEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_conditions_decide_which_rules_send(make_rule, sendgrid, ingest):
    make_rule(
        name="big refunds",
        accounts=[sendgrid],
        conditions=[{"field": "refund.amount", "op": "gt", "value": "100"}],
    )
    small = make_rule(
        name="small refunds",
        accounts=[sendgrid],
        conditions=[{"field": "refund.amount", "op": "lt", "value": "100"}],
    )
    make_rule(
        name="reason",
        accounts=[sendgrid],
        conditions=[{"field": "items[].reason", "op": "contains", "value": "too small"}],
    )

    event = ingest()

    assert sorted(m.rule.name for m in event.messages.all()) == sorted([small.name, "reason"])


def test_internal_recipients_get_their_own_message(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(
        "return.exception",
        accounts=[sendgrid],
        send_to_customer=False,
        internal_recipients=["warehouse@shop.example"],
    )

    event = ingest("return.exception")

    [message] = event.messages.all()
    assert (message.recipient, message.is_internal, message.status) == (
        "warehouse@shop.example",
        True,
        "sent",
    )


def test_suppressed_recipient_is_recorded_not_sent(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(accounts=[sendgrid])
    suppression_add(email="Ada.Customer@Example.com", reason="hard_bounce")

    message = ingest().messages.get()

    assert message.status == MessageStatus.SUPPRESSED
    assert esp_sandbox.records("sendgrid") == []


def test_disabled_event_type_keeps_the_event_and_sends_nothing(make_rule, sendgrid, ingest):
    from returns_mail.models import EventTypeSetting

    make_rule(accounts=[sendgrid])
    EventTypeSetting.objects.create(event_type="refund.processed", enabled=False)

    event = ingest()

    assert ReturnEvent.objects.filter(pk=event.pk).exists()
    assert events_answers([event])[event.pk]["messages"] == []


def test_delayed_reminder_is_cancelled_by_a_later_event(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(
        "return.reminder", accounts=[sendgrid], delay_minutes=60 * 24, cancel_on=["return.received"]
    )
    reminder = ingest("return.reminder").messages.get()
    assert reminder.status == MessageStatus.QUEUED
    assert reminder.send_after > timezone.now() + timedelta(hours=23)
    assert message_send(message_id=reminder.pk) is None  # not due: not claimed

    ingest("return.received")

    reminder.refresh_from_db()
    assert reminder.status == MessageStatus.CANCELLED
    assert "cancelled by return.received" in reminder.error
    assert esp_sandbox.records("sendgrid") == []


def test_transient_error_backs_off_then_sends(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(accounts=[sendgrid])
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("503", times=1))

    message = ingest().messages.get()

    assert message.status == MessageStatus.QUEUED
    assert message.next_attempt_at > timezone.now()
    assert "503" in message.error
    make_due(message)
    assert message_send(message_id=message.pk).status == MessageStatus.SENT
    assert list(message.attempt_log.values_list("outcome", flat=True)) == ["transient", "sent"]


def test_retry_after_is_honoured(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(accounts=[sendgrid])
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("429", times=1, retry_after=120))

    message = ingest().messages.get()

    assert message.next_attempt_at >= timezone.now() + timedelta(seconds=115)
    assert message.attempt_log.get().http_status == 429


def test_fails_over_to_the_next_account_after_repeated_transient_errors(
    make_rule, sendgrid, mandrill, ingest, esp_sandbox
):
    make_rule(accounts=[sendgrid, mandrill])
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("503"))

    message = ingest().messages.get()
    for _ in range(3):
        make_due(message)
        message = message_send(message_id=message.pk) or message

    assert message.status == MessageStatus.SENT
    assert message.account == mandrill
    outcomes = list(message.attempt_log.values_list("account__kind", "outcome"))
    assert outcomes == [("sendgrid", "transient")] * 3 + [("mailchimp_transactional", "sent")]
    assert (
        len(
            [r for r in esp_sandbox.records("mandrill") if r["path"].endswith("messages/send.json")]
        )
        == 1
    )


def test_ambiguous_timeout_is_held_not_failed_over(
    make_rule, sendgrid, mandrill, ingest, esp_sandbox, settings
):
    settings.PROVIDER_TIMEOUT = 0.5
    make_rule(accounts=[sendgrid, mandrill])
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("slow", delay=1.5, times=1))

    message = ingest().messages.get()

    assert message.status == MessageStatus.AMBIGUOUS
    assert message.attempt_log.get().outcome == "ambiguous"
    assert messages_sweep() == 0
    assert esp_sandbox.records("mandrill") == []


def sweep(django_capture_on_commit_callbacks) -> None:
    """The every-minute sweep, with the tasks it queues run inline."""
    with django_capture_on_commit_callbacks(execute=True):
        messages_sweep()


@pytest.fixture
def lookups(esp_sandbox, monkeypatch) -> list[dict]:
    """The activity searches SendGrid received (the sandbox keeps no record of reads)."""
    seen = []
    dispatch = esp_sandbox.dispatch

    def counting(request, provider):
        if (provider, request.method, request.path) == ("sendgrid", "GET", "/v3/messages"):
            seen.append(request.query)
        return dispatch(request, provider)

    monkeypatch.setattr(esp_sandbox, "dispatch", counting)
    return seen


def test_a_held_message_the_provider_took_is_recorded_sent_not_sent_again(
    make_rule, sendgrid, ingest, esp_sandbox, settings, django_capture_on_commit_callbacks,
    lookups,
):  # fmt: skip
    settings.PROVIDER_TIMEOUT = 0.3
    make_rule(accounts=[sendgrid])
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("slow", delay=1.0, times=1))  # took it, late
    message = ingest().messages.get()
    assert message.status == MessageStatus.AMBIGUOUS
    esp_sandbox.wait_idle()

    sweep(django_capture_on_commit_callbacks)  # too early: the activity may lag the send
    assert (Message.objects.get(pk=message.pk).status, len(lookups)) == ("ambiguous", 0)
    settings.RECONCILE_AFTER = 0
    sweep(django_capture_on_commit_callbacks)
    sweep(django_capture_on_commit_callbacks)  # settled: not asked again

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.sent_at == message.handed_over_at
    assert message.error == ""
    assert list(message.attempt_log.order_by("pk").values_list("outcome", flat=True)) == [
        "ambiguous",
        "reconciled",
    ]
    [lookup] = lookups
    assert str(message.correlation_id) in lookup["query"][0]
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 1


@pytest.mark.parametrize("kind", ["sendgrid", "mailchimp_transactional"])
def test_a_held_message_the_provider_never_took_is_sent_again_once(
    kind, make_rule, make_account, ingest, esp_sandbox, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    account = make_account(kind)
    make_rule(accounts=[account])
    esp_sandbox.faults.add(TEST_KEYS[kind], Fault("drop", times=1))  # lost before it was read
    message = ingest().messages.get()
    assert message.status == MessageStatus.AMBIGUOUS
    settings.RECONCILE_AFTER = 0

    sweep(django_capture_on_commit_callbacks)
    sweep(django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert list(message.attempt_log.order_by("pk").values_list("outcome", flat=True)) == [
        "ambiguous",
        "sent",
    ]
    provider = "sendgrid" if kind == "sendgrid" else "mandrill"
    send_path = "/v3/mail/send" if kind == "sendgrid" else "/api/1.3/messages/send.json"
    assert len(esp_sandbox.records(provider, path=send_path)) == 1
    assert message.looked_up_at is not None


def test_a_provider_that_cannot_say_keeps_the_message_held_for_an_admin(
    make_rule, make_account, ingest, esp_sandbox, settings, django_capture_on_commit_callbacks,
    lookups,
):  # fmt: skip
    key = "SG.noactivity.key-0010"  # the sandbox: no Email Activity add-on (403 on lookups)
    make_rule(accounts=[make_account("sendgrid", api_key=key)])
    esp_sandbox.faults.add(key, Fault("drop", times=1))
    message = ingest().messages.get()
    settings.RECONCILE_AFTER = 0
    esp_sandbox.faults.add(key, Fault("503", times=1))

    sweep(django_capture_on_commit_callbacks)  # the lookup fails for now: asked again later
    message.refresh_from_db()
    assert (message.status, message.looked_up_at) == (MessageStatus.AMBIGUOUS, None)
    sweep(django_capture_on_commit_callbacks)  # 403: this account cannot say, ever
    sweep(django_capture_on_commit_callbacks)  # so it is not asked again

    message.refresh_from_db()
    assert message.status == MessageStatus.AMBIGUOUS
    assert "cannot say" in message.error
    assert message.looked_up_at is not None
    assert len(lookups) == 2
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []
    assert message_reconcile(message_id=message.pk) == MessageStatus.AMBIGUOUS  # by hand: same


def test_permanent_error_fails_with_the_providers_words(make_rule, make_account, mandrill, ingest):
    revoked = make_account("sendgrid", api_key="SG.revoked.key-000001")
    make_rule(accounts=[revoked, mandrill])

    message = ingest().messages.get()

    assert message.status == MessageStatus.FAILED
    assert "authorization grant is invalid" in message.error
    assert message.attempt_log.get().http_status == 401


def test_circuit_breaker_skips_a_failing_account(
    make_rule, sendgrid, mandrill, ingest, esp_sandbox
):
    make_rule(accounts=[sendgrid, mandrill])
    esp_sandbox.faults.add(SENDGRID_KEY, Fault("503"))

    for n in range(CIRCUIT_THRESHOLD):
        ingest(key=f"k{n}", return_id=f"RMA-{n}")

    circuit = AccountCircuit.objects.get(account=sendgrid)
    assert circuit.open_until > timezone.now()
    next_message = ingest(key="after", return_id="RMA-after").messages.get()
    assert next_message.status == MessageStatus.SENT
    assert next_message.account == mandrill
    assert list(next_message.attempt_log.values_list("account__kind", flat=True)) == [
        "mailchimp_transactional"
    ]


def test_weighted_split_is_deterministic_per_recipient(make_rule, sendgrid, mandrill):
    rule = make_rule(accounts=[(sendgrid, 3), (mandrill, 1)], routing="weighted")

    picks = [route(rule, f"customer{n}@example.com")[0] for n in range(400)]

    assert route(rule, "same@example.com") == route(rule, "SAME@example.com")
    share = picks.count(sendgrid) / len(picks)
    assert 0.65 < share < 0.85
    assert route(rule, "x@example.com")[1:] == [
        a for a in (sendgrid, mandrill) if a != route(rule, "x@example.com")[0]
    ]


def test_sweep_requeues_lost_tasks_and_holds_messages_lost_mid_call(
    make_rule, sendgrid, ingest, esp_sandbox, settings, django_capture_on_commit_callbacks
):
    make_rule(accounts=[sendgrid])
    lost = ingest(key="lost", return_id="RMA-1", execute=False).messages.get()  # its task never ran
    stuck_before_call = ingest(key="a", return_id="RMA-2", execute=False).messages.get()
    stuck_in_call = ingest(key="b", return_id="RMA-3", execute=False).messages.get()
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=lost.pk).update(send_after=long_ago)
    Message.objects.filter(pk__in=[stuck_before_call.pk, stuck_in_call.pk]).update(
        status="sending", claimed_at=long_ago
    )
    Message.objects.filter(pk=stuck_in_call.pk).update(handed_over_at=long_ago)
    settings.RECONCILE_AFTER = 7200  # the provider's activity may not show it yet

    with django_capture_on_commit_callbacks(execute=True):
        messages_sweep()

    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == MessageStatus.SENT
    assert statuses[stuck_before_call.pk] == MessageStatus.SENT
    assert statuses[stuck_in_call.pk] == MessageStatus.AMBIGUOUS
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 2


def test_running_a_send_twice_sends_once(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(accounts=[sendgrid])
    message = ingest().messages.get()

    assert message_send(message_id=message.pk) is None

    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 1


def test_resend_and_cancel(
    make_rule, sendgrid, ingest, esp_sandbox, django_capture_on_commit_callbacks
):
    make_rule(accounts=[sendgrid])
    message = ingest().messages.get()

    with django_capture_on_commit_callbacks(execute=True):
        copy = message_resend(message_id=message.pk)

    copy.refresh_from_db()
    assert (copy.resend_of, copy.status) == (message, MessageStatus.SENT)
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 2
    assert message_cancel(message_id=message.pk) is False  # already sent
    queued = ingest(key="q", return_id="RMA-Q", execute=False).messages.get()
    assert message_cancel(message_id=queued.pk) is True
    queued.refresh_from_db()
    assert queued.status == MessageStatus.CANCELLED


def test_provider_template_mode_sends_the_stored_template(
    make_rule, sendgrid, ingest, esp_sandbox, templates, django_capture_on_commit_callbacks
):
    from templates_lib.services.templates import template_publish

    template = templates["refund.processed"]
    with django_capture_on_commit_callbacks(execute=True):  # push it to the SendGrid account
        template_publish(version=template.active_version)
    make_rule(accounts=[sendgrid], use_provider_template=True)

    message = ingest().messages.get()

    assert message.status == MessageStatus.SENT
    record = esp_sandbox.records("sendgrid", path="/v3/mail/send")[-1]
    assert record["body"]["template_id"] == template.syncs.get().remote_id
    assert record["rendered"][0]["subject"] == "Your refund of 89.80 EUR is on its way"


def test_digest_ignores_key_order_but_not_values():
    assert request_digest({"a": 1, "b": [1, 2]}) == request_digest({"b": [1, 2], "a": 1})
    assert request_digest({"a": 1, "b": [1, 2]}) != request_digest({"a": 1, "b": [2, 1]})


def test_batch_ingest_stores_together_with_the_same_idempotency(
    make_rule, sendgrid, returns_system, django_capture_on_commit_callbacks, esp_sandbox
):
    from returns_mail.services.events import IngestItem, events_ingest_batch

    make_rule(accounts=[sendgrid])
    first = event_input(return_id="RMA-B1")
    other = event_input(return_id="RMA-B2")
    items = [
        IngestItem(first, "b-1", "digest-1"),
        IngestItem(other, "b-2", "digest-2"),
        IngestItem(first, "b-1", "digest-1"),  # the same item twice in one batch: one event
        IngestItem(other, "b-2", "digest-other"),  # same key, other body: conflict
    ]

    with django_capture_on_commit_callbacks(execute=True):
        results = events_ingest_batch(client=returns_system, items=items)

    assert results[0].event == results[2].event
    assert results[0].answer == results[2].answer
    assert (results[0].created, results[2].created) == (True, False)
    assert isinstance(results[3], IdempotencyConflict)
    assert results[3].event_id == results[1].event.pk
    assert ReturnEvent.objects.count() == 2
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 2
    assert results[0].answer["messages"][0]["status"] == "queued"
    assert len(esp_sandbox.records("sendgrid", path="/v3/mail/send")) == 2

    with django_capture_on_commit_callbacks(execute=True):
        again = events_ingest_batch(client=returns_system, items=items[:2])

    assert [a.event.pk for a in again] == [results[0].event.pk, results[1].event.pk]
    # A replay answers the same event and messages, each with its current status.
    sent = [
        {**r.answer, "messages": [{**m, "status": "sent"} for m in r.answer["messages"]]}
        for r in results[:2]
    ]
    assert [a.answer for a in again] == sent
    assert ReturnEvent.objects.count() == 2
