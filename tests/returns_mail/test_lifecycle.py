"""The mail's lifecycle: which status may follow which, the signal each transition sends (one
per write, inside its transaction), and provider events moving messages forward only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from providers.sandbox.core import Fault
from providers.webhooks.types import DeliveryEventType, NormalizedEvent
from returns_mail.models import Message, MessageStatus
from returns_mail.services.lifecycle import (
    Transition,
    allowed,
    message_finish,
    messages_apply_provider_events,
)
from returns_mail.services.messages import message_cancel, messages_sweep
from returns_mail.services.sending import message_send
from returns_mail.signals import message_transitioned
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

S = MessageStatus
T = DeliveryEventType


@pytest.fixture
def sendgrid(make_account):
    return make_account("sendgrid")


@pytest.fixture
def announced():
    """The message_transitioned signals sent during the test: (transition, ids, old, new)."""
    seen = []

    def receive(sender, *, transition, message_ids, old, new, at, **kwargs):
        seen.append((transition, message_ids, old, new))

    message_transitioned.connect(receive, sender=Message, weak=False)
    yield seen
    message_transitioned.disconnect(receive, sender=Message)


def queued(ingest, n: int) -> Message:
    """A queued message whose send task has not run."""
    return ingest(key=f"k{n}", return_id=f"RMA-{n}", execute=False).messages.get()


def event(message: Message, kind: str, *, minutes: int = 1) -> NormalizedEvent:
    return NormalizedEvent(
        type=kind,
        provider_event=kind,
        occurred_at=timezone.now() + timedelta(minutes=minutes),
        recipient=message.recipient,
        correlation_id=str(message.correlation_id),
    )


def apply(message: Message, *kinds: str):
    message = Message.objects.get(pk=message.pk)
    events = [event(message, kind, minutes=n) for n, kind in enumerate(kinds)]
    effects = messages_apply_provider_events(events, {str(message.correlation_id): message})
    message.refresh_from_db()
    return message, effects


def test_a_send_is_announced_as_claimed_then_sent(make_rule, sendgrid, ingest, announced):
    make_rule(accounts=[sendgrid])
    message = queued(ingest, 1)

    message_send(message_id=message.pk)

    assert announced == [
        (Transition.CLAIMED, (message.pk,), S.QUEUED, S.SENDING),
        (Transition.SENT, (message.pk,), S.SENDING, S.SENT),
    ]


def test_a_receiver_error_undoes_the_transition(make_rule, sendgrid, ingest, esp_sandbox):
    make_rule(accounts=[sendgrid])
    message = queued(ingest, 1)

    def broken(sender, **kwargs):
        raise RuntimeError("a receiver's bug")

    message_transitioned.connect(broken, sender=Message, weak=False)
    try:
        with pytest.raises(RuntimeError):
            message_send(message_id=message.pk)
    finally:
        message_transitioned.disconnect(broken, sender=Message)

    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_at) == (S.QUEUED, 0, None)
    assert esp_sandbox.records("sendgrid", path="/v3/mail/send") == []


def test_a_retry_and_a_hold_are_transitions_too(
    make_rule, sendgrid, ingest, esp_sandbox, settings, announced
):
    settings.PROVIDER_TIMEOUT = 0.3
    make_rule(accounts=[sendgrid])
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503", times=1))
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("slow", delay=1.0, times=1))
    message = queued(ingest, 1)

    message_send(message_id=message.pk)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    message_send(message_id=message.pk)

    assert [(t, old, new) for t, _, old, new in announced] == [
        (Transition.CLAIMED, S.QUEUED, S.SENDING),
        (Transition.RETRY, S.SENDING, S.QUEUED),
        (Transition.CLAIMED, S.QUEUED, S.SENDING),
        (Transition.HELD, S.SENDING, S.AMBIGUOUS),
    ]


def test_the_sweep_announces_each_group_it_moves(make_rule, sendgrid, ingest, settings, announced):
    make_rule(accounts=[sendgrid])
    before_call = [queued(ingest, n) for n in (1, 2)]
    in_call = queued(ingest, 3)
    long_ago = timezone.now() - timedelta(hours=1)
    Message.objects.update(status=S.SENDING, claimed_at=long_ago)
    Message.objects.filter(pk=in_call.pk).update(handed_over_at=long_ago)
    settings.RECONCILE_AFTER = 7200

    messages_sweep()  # the sends it queues are not run

    assert announced == [
        (
            Transition.WORKER_LOST,
            tuple(sorted(m.pk for m in before_call)),
            S.SENDING,
            S.QUEUED,
        ),
        (Transition.LOST_IN_CALL, (in_call.pk,), S.SENDING, S.AMBIGUOUS),
    ]


def test_only_a_queued_message_is_cancelled(make_rule, sendgrid, ingest, announced):
    make_rule(accounts=[sendgrid])
    waiting, taken = queued(ingest, 1), queued(ingest, 2)
    Message.objects.filter(pk=taken.pk).update(status=S.SENDING)

    assert message_cancel(message_id=waiting.pk, actor="ops") is True
    assert message_cancel(message_id=taken.pk) is False

    assert announced == [(Transition.CANCELLED, (waiting.pk,), S.QUEUED, S.CANCELLED)]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error) == (S.CANCELLED, "cancelled by ops")


def test_the_transition_table():
    assert allowed(Transition.CLAIMED, S.QUEUED, S.SENDING)
    assert not allowed(Transition.CLAIMED, S.SENT, S.SENDING)
    assert not allowed(Transition.CANCELLED, S.SENDING, S.CANCELLED)  # the worker has it
    assert allowed(Transition.SENT, S.SENDING, S.OPENED)  # events came before the record
    # Provider events: forward only; any of them proves a held message was sent.
    assert allowed(Transition.PROVIDER_EVENT, S.SENT, S.DELIVERED)
    assert not allowed(Transition.PROVIDER_EVENT, S.OPENED, S.DELIVERED)
    assert not allowed(Transition.PROVIDER_EVENT, S.DELIVERED, S.BOUNCED)
    assert allowed(Transition.PROVIDER_EVENT, S.AMBIGUOUS, S.SENT)
    assert not allowed(Transition.PROVIDER_EVENT, S.SENDING, S.DELIVERED)  # the worker's
    assert not allowed(Transition.PROVIDER_EVENT, S.CANCELLED, S.DELIVERED)


def test_a_batch_moves_a_message_once_and_a_late_delivery_never_undoes_an_open(
    make_rule, sendgrid, ingest, announced
):
    make_rule(accounts=[sendgrid])
    message = ingest().messages.get()
    announced.clear()

    message, effects = apply(message, T.DELIVERED, T.OPENED)
    assert message.status == S.OPENED
    assert [(e.outcome, e.opened) for e in effects] == [(True, False), (False, True)]
    assert announced == [(Transition.PROVIDER_EVENT, (message.pk,), S.SENT, S.OPENED)]

    message, effects = apply(message, T.DELIVERED, T.OPENED)  # repeated, late
    assert message.status == S.OPENED
    assert [(e.changed, e.outcome, e.opened) for e in effects] == [(False,) * 3] * 2
    assert len(announced) == 1


def test_a_provider_event_proves_a_held_message_was_sent(make_rule, sendgrid, ingest):
    make_rule(accounts=[sendgrid])
    message = ingest().messages.get()
    Message.objects.filter(pk=message.pk).update(status=S.AMBIGUOUS)

    message, _ = apply(message, T.SENT)

    assert message.status == S.SENT


def test_events_while_sending_keep_the_status_until_the_send_is_recorded(
    make_rule, sendgrid, ingest, announced
):
    make_rule(accounts=[sendgrid])
    message = queued(ingest, 1)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING)

    message, effects = apply(message, T.DELIVERED, T.CLICKED)
    assert message.status == S.SENDING
    assert message.clicked_at is not None
    assert [(e.outcome, e.opened, e.clicked) for e in effects] == [
        (True, False, False),
        (False, True, True),
    ]
    assert announced == []

    message_finish(message, S.SENT)

    assert message.status == S.CLICKED
    assert announced == [(Transition.SENT, (message.pk,), S.SENDING, S.CLICKED)]
