"""Outbox messages outside the sending path: sweep, reconcile, resend, cancel (their status
changes are services/lifecycle.py's)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.queue import enqueue_on_commit
from providers.clients import client_for
from providers.clients.types import CORRELATION_KEY
from providers.exceptions import ProviderError
from returns_mail.exceptions import ReturnsMailError
from returns_mail.models import Attempt, Message, MessageStatus
from returns_mail.services.lifecycle import (
    message_not_at_provider,
    message_reconciled,
    messages_cancel,
    messages_release_lost,
)

logger = logging.getLogger(__name__)

SWEEP_BATCH = 2000
# A message due for less than this was queued by its own commit: leave it to that task.
SWEEP_GRACE = timedelta(seconds=30)


def messages_sweep() -> int:
    """Re-queue messages that are due, and those stuck in "sending" longer than a task may run
    (a killed worker): a lost task never loses a message. Returns how many were queued."""
    now = timezone.now()
    # Lost before the provider call: sent again; lost during it: held, never sent twice.
    messages_release_lost(after=timedelta(seconds=settings.Q_RETRY), at=now)
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
        for message_id in _reconcilable(now):
            enqueue_on_commit("returns_mail.tasks.reconcile_message", message_id)
    return len(ids)


def _reconcilable(now):
    """Held messages whose handover is old enough for the provider's activity to show it and
    that were not looked up since (a lookup that failed for a while is asked again)."""
    settle_before = now - timedelta(seconds=settings.RECONCILE_AFTER)
    return (
        Message.objects.filter(
            status=MessageStatus.AMBIGUOUS,
            account__isnull=False,
            handed_over_at__lt=settle_before,
        )
        .filter(Q(looked_up_at__isnull=True) | Q(looked_up_at__lt=F("handed_over_at")))
        .order_by("handed_over_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )


def message_reconcile(*, message_id: int) -> str:
    """Settle a held message from the provider's activity, where it carries its correlation id:
    taken → sent; not there → sent again; the provider cannot say for good (no activity add-on,
    an unindexed Mandrill metadata field, SMTP) → stays held for an admin, noted. A transient
    failure of the lookup leaves it for the next sweep. Returns the message's status."""
    message = Message.objects.select_related("account").get(pk=message_id)
    if message.status != MessageStatus.AMBIGUOUS or message.account is None:
        return message.status
    held = Message.objects.filter(
        pk=message.pk, status=MessageStatus.AMBIGUOUS, handed_over_at=message.handed_over_at
    )
    started = timezone.now()
    try:
        accepted = client_for(message.account).accepted_recipients(
            CORRELATION_KEY, str(message.correlation_id), at_most=1
        )
    except ProviderError as exc:
        if not exc.permanent:
            logger.warning("message %s: lookup failed, asking again later: %s", message.pk, exc)
            return message.status
        held.update(
            looked_up_at=started,
            error=f"the provider cannot say whether it took this message ({exc}): check its "
            "activity for the correlation id, then resend it or leave it",
        )
        return message.status
    if message.recipient.lower() in accepted:
        return _reconciled_sent(message, started)
    with transaction.atomic():
        if message_not_at_provider(message, at=started):
            enqueue_on_commit("returns_mail.tasks.send_message", message.pk)
    logger.info("message %s: not at the provider, sending again", message.pk)
    return MessageStatus.QUEUED


def _reconciled_sent(message: Message, now) -> str:
    with transaction.atomic():
        if message_reconciled(message, at=now):
            Attempt.objects.create(
                message=message,
                account=message.account,
                started_at=now,
                duration_ms=0,
                outcome="reconciled",
                error="the provider's activity shows it took the unanswered call",
            )
    logger.info("message %s: the provider had it; recorded as sent", message.pk)
    return message.status


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
    return bool(messages_cancel([message_id], error=f"cancelled by {actor or 'an admin'}"))
