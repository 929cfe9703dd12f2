"""Customers' replies: received mail on the reply domain stored once per provider message,
linked to the message its signed reply-to token names (returns_mail/services/reply_tokens.py),
and — for a person's reply, not an auto-reply — recorded as a `replied` delivery event through
the same path as the providers' webhook events (services/deliveries.py), so that the message's
replied_at, rollups and response times see it. Then forwarded to REPLY_FORWARD_TO.

`reply_received` is sent (after the commit, with the reply's id) for every linked human reply:
the hook for posting replies to the returns system."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.html import strip_tags

from analytics.models import DeliveryEvent, Reply, WebhookDelivery
from analytics.services.deliveries import REPLY_CONTENT_TYPE, webhook_delivery_process
from analytics.services.reply_text import is_auto_reply, quoted_history_strip
from config.queue import enqueue_later, enqueue_on_commit
from config.work_rows import Backoff
from providers.models import ProviderAccount
from providers.webhooks.inbound import InboundMail
from providers.webhooks.types import DeliveryEventType, NormalizedEvent, ParsedBatch
from returns_mail.models import Message
from returns_mail.services.reply_tokens import address_correlation_id, is_reply_domain

logger = logging.getLogger(__name__)

FORWARD_TASK = "analytics.tasks.reply_forward"
FORWARD_ATTEMPTS = 6
FORWARD_BACKOFF = Backoff(base=60.0, cap=3600.0)

# Sent with reply_id= after the commit, for each new human reply linked to a message.
reply_received = Signal()


@dataclass
class Received:
    """What one inbound post did: replies stored, of which linked, duplicates, and mail not
    for the reply domain (ignored)."""

    new: int = 0
    linked: int = 0
    duplicate: int = 0
    ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return vars(self).copy()


def inbound_receive(*, account: ProviderAccount, mails: list[InboundMail]) -> Received:
    received = Received()
    for mail in mails:
        reply = reply_receive(account=account, mail=mail)
        if reply is None:
            received.ignored += 1
        elif reply is False:
            received.duplicate += 1
        else:
            received.new += 1
            received.linked += reply.is_linked
    return received


def reply_receive(*, account: ProviderAccount, mail: InboundMail) -> Reply | bool | None:
    """Store `mail` as a reply: None when it was not sent to the reply domain (nothing stored),
    False when the account received it before (a retried post)."""
    to = next((address for address in mail.recipients if is_reply_domain(address)), None)
    if to is None:
        return None
    correlation_id = address_correlation_id(to)
    message = None
    if correlation_id is not None:
        message = Message.objects.select_related("event").filter(correlation_id=correlation_id)
        message = message.first()
    body = mail.text or strip_tags(mail.html)
    auto = is_auto_reply(mail.headers, mail.subject)
    with transaction.atomic():
        try:
            with transaction.atomic():
                reply = Reply.objects.create(
                    account=account,
                    key=mail.key,
                    message=message,
                    event=message.event if message else None,
                    customer_email=message.recipient if message else "",
                    to_address=to[:320],
                    from_address=mail.from_address,
                    subject=mail.subject,
                    text=quoted_history_strip(body),
                    received_at=mail.received_at or timezone.now(),
                    is_auto_reply=auto,
                    headers=mail.headers,
                )
        except IntegrityError:
            return False
        if message is None:
            logger.warning("reply %s: its address names no message of ours; unlinked", reply.pk)
            return reply
        if not auto:
            _replied_event_record(reply, message)
            reply_id = reply.pk
            if settings.REPLY_FORWARD_TO:
                enqueue_on_commit(FORWARD_TASK, reply_id)
            transaction.on_commit(lambda: reply_received.send(Reply, reply_id=reply_id))
    return reply


def _replied_event_record(reply: Reply, message: Message) -> None:
    """The `replied` delivery event, stored and applied as a webhook's events are. It is the
    account the message was sent through that 'reports' it: an event only reaches messages
    sent through its account, and the signed token already proved which message it is."""
    if message.account_id is None:  # never handed to a provider: nothing was replied to
        return
    delivery = WebhookDelivery.objects.create(
        account_id=message.account_id,
        body=json.dumps({"reply": reply.pk, "key": reply.key}),
        body_sha256=f"reply-{reply.pk}",
        content_type=REPLY_CONTENT_TYPE,
        received_at=timezone.now(),
    )
    event = NormalizedEvent(
        type=DeliveryEventType.REPLIED,
        provider_event="reply",
        occurred_at=reply.received_at,
        recipient=message.recipient,
        correlation_id=str(message.correlation_id),
        provider_message_id=reply.key,
    )
    webhook_delivery_process(delivery=delivery, batch=ParsedBatch([event]))
    reply.delivery_event = DeliveryEvent.objects.filter(delivery=delivery).first()
    Reply.objects.filter(pk=reply.pk).update(delivery_event=reply.delivery_event)


# --- forwarding ----------------------------------------------------------------------------------
def reply_forward(*, reply_id: int) -> bool:
    """Email a person's reply to REPLY_FORWARD_TO (Django's mail, like the alerts without a
    notify account), once: claimed by a conditional update. A failure un-claims it and queues
    a retry with backoff, up to FORWARD_ATTEMPTS."""
    if not settings.REPLY_FORWARD_TO:
        return False
    claimed = Reply.objects.filter(
        pk=reply_id, forwarded_at__isnull=True, is_auto_reply=False
    ).update(forwarded_at=timezone.now())
    if not claimed:
        return False
    reply = Reply.objects.select_related("event").get(pk=reply_id)
    try:
        _forward_email(reply).send(fail_silently=False)  # network: outside any transaction
    except Exception as exc:
        attempts = reply.forward_attempts + 1
        logger.warning("reply %s: forwarding failed (attempt %s): %s", reply_id, attempts, exc)
        Reply.objects.filter(pk=reply_id).update(
            forwarded_at=None,
            forward_attempts=attempts,
            forward_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        if attempts < FORWARD_ATTEMPTS:
            enqueue_later(
                FORWARD_TASK, reply_id, at=FORWARD_BACKOFF.next_at(timezone.now(), attempts)
            )
        return False
    Reply.objects.filter(pk=reply_id).update(
        forward_attempts=reply.forward_attempts + 1, forward_error=""
    )
    return True


def _forward_email(reply: Reply) -> EmailMessage:
    about = f"return {reply.event.return_id}" if reply.event else "no message of ours"
    body = (
        f"{reply.from_address} replied ({about}):\n\n{reply.text}\n\n"
        f"-- \nSubject: {reply.subject}\nReceived: {reply.received_at:%Y-%m-%d %H:%M:%S} UTC\n"
    )
    return EmailMessage(
        subject=f"Customer reply: {reply.subject}"[:200],
        body=body,
        to=[settings.REPLY_FORWARD_TO],
        reply_to=[reply.from_address] if reply.from_address else None,
        # Marked as automatic, so the helpdesk does not answer it with an auto-reply of its own.
        headers={"Auto-Submitted": "auto-forwarded"},
    )
