"""Writes on outbox messages outside the sending path: sweep, resend, cancel."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.queue import enqueue_on_commit
from returns_mail.exceptions import ReturnsMailError
from returns_mail.models import Message, MessageStatus

SWEEP_BATCH = 2000
# A message due for less than this was queued by its own commit: leave it to that task.
SWEEP_GRACE = timedelta(seconds=30)


def messages_sweep() -> int:
    """Re-queue messages that are due, and those stuck in "sending" longer than a task may run
    (a killed worker): a lost task never loses a message. Returns how many were queued."""
    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.Q_RETRY)
    stuck = Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=stuck_before)
    # Lost before the provider call: safe to send again.
    stuck.filter(handed_over_at__isnull=True).update(
        status=MessageStatus.QUEUED,
        status_changed_at=now,
        next_attempt_at=now,
        error="re-queued: worker lost",
    )
    # Lost during the provider call: it may have been sent; hold it, never send it twice.
    stuck.filter(handed_over_at__isnull=False).update(
        status=MessageStatus.AMBIGUOUS,
        status_changed_at=now,
        error="worker lost while the provider call was in flight: check the provider before "
        "resending",
    )
    due = (
        Message.objects.filter(status=MessageStatus.QUEUED, send_after__lte=now)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, send_after__lte=now - SWEEP_GRACE)
        )
        .order_by("send_after")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    ids = list(due)
    with transaction.atomic():
        for message_id in ids:
            enqueue_on_commit("returns_mail.tasks.send_message", message_id)
    return len(ids)


def message_resend(*, message_id: int, actor=None) -> Message:
    """A new message, same event, rule, recipient and template version, linked to the original."""
    original = Message.objects.get(pk=message_id)
    if original.status in (MessageStatus.QUEUED, MessageStatus.SENDING):
        raise ReturnsMailError("the message is still being sent; cancel it or wait")
    with transaction.atomic():
        copy = Message.objects.create(
            event=original.event,
            rule=original.rule,
            recipient=original.recipient,
            recipient_name=original.recipient_name,
            is_internal=original.is_internal,
            template_version=original.template_version,
            locale=original.locale,
            send_after=timezone.now(),
            resend_of=original,
        )
        enqueue_on_commit("returns_mail.tasks.send_message", copy.pk)
    return copy


def message_cancel(*, message_id: int, actor=None) -> bool:
    """Cancel a message that is still queued (not one being sent). True when cancelled."""
    return bool(
        Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
            status=MessageStatus.CANCELLED,
            status_changed_at=timezone.now(),
            error=f"cancelled by {actor or 'an admin'}",
        )
    )
