"""Sending one outbox message: claim the row, render, hand it to a provider outside any
transaction, record the attempt and the outcome (every failure recorded with the provider's
words; only transient ones retried: docs/architecture.md, rules 1 and 3). The status changes
themselves are services/lifecycle.py's: this module decides which, and when.

Transient errors retry with exponential backoff and jitter (never sooner than Retry-After) on
the same account, then fail over to the next account of the rule's route. Failover happens only
after errors that prove the provider did not take the mail; an ambiguous error (a read timeout
after the request went out) holds the message for reconciliation instead of resending it.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from config.work_rows import Backoff
from providers.clients import client_for
from providers.clients.types import Address, OutgoingEmail, SendResult, fits_header
from providers.exceptions import ProviderError
from providers.models import Purpose
from returns_mail.models import Attempt, Message, MessageRefusal, MessageStatus
from returns_mail.services.lifecycle import message_finish, message_take
from returns_mail.services.reply_tokens import reply_address
from returns_mail.services.routing import (
    circuit_failure,
    circuit_open_until,
    circuit_success,
    route,
)
from returns_mail.services.suppression import is_suppressed
from returns_mail.services.unsubscribe_links import unsubscribe_links
from templates_lib.models import SyncStatus, TemplateSync
from templates_lib.rendering import render_subject, render_version, template_context

logger = logging.getLogger(__name__)

ATTEMPTS_PER_ACCOUNT = 3
MAX_ATTEMPTS = 12
# 1-2 s before the first retry, doubling to at most 5 minutes.
BACKOFF = Backoff(base=2.0, cap=300.0)


def message_claim(message_id: int) -> bool:
    """Take the message for sending if it is due and nobody else has it (conditional UPDATE)."""
    return message_take(message_id, at=timezone.now())


def message_send(*, message_id: int) -> Message | None:
    """Send the message if it is due; harmless when run twice or for a row already handled."""
    if not message_claim(message_id):
        return None
    message = Message.objects.select_related(
        "event", "rule__template", "template_version__layout", "template_version__template"
    ).get(pk=message_id)
    purpose = message.template_version.template.purpose
    refusal = _refusal(message, purpose)
    if refusal is not None:
        return message_finish(
            message, MessageStatus.SUPPRESSED, error=refusal[1], refusal=refusal[0]
        )
    # Only accounts whose purpose serves the mail's: failover never moves promotional mail onto
    # a transactional-only account, nor transactional mail onto a promotional-only one.
    accounts = route(message.rule, message.recipient, purpose=purpose) if message.rule else []
    account, position, wait_until = _usable_account(accounts, message.route_position)
    if account is None:
        if wait_until is not None:  # every account's circuit is open: wait for the first
            return _requeue(
                message, at=wait_until, error="all accounts of the route are cooling down"
            )
        return _no_account(message, purpose)
    email = _outgoing(message, account)
    started, clock = timezone.now(), time.perf_counter()
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        handed_over_at=started, account=account
    )
    try:
        result = client_for(account).send(email)  # network: outside any transaction
    except ProviderError as exc:
        return _failed_attempt(message, account, position, len(accounts), exc, started, clock)
    return _sent(message, account, position, result, started, clock)


def _refusal(message: Message, purpose: str) -> tuple[str, str] | None:
    """Why the message must not be sent now (a MessageRefusal code and the human text), or
    None. Consent is checked again because a resend is planned by no one; a consent withdrawn
    since planning shows as a promotional suppression (an unsubscribe always adds one)."""
    if (
        purpose == Purpose.PROMOTIONAL
        and not message.is_internal
        and not message.event.marketing_consent
    ):
        return (
            MessageRefusal.NO_MARKETING_CONSENT,
            "promotional mail refused: the customer has not given marketing consent",
        )
    if is_suppressed(message.recipient, purpose=purpose):
        return MessageRefusal.SUPPRESSED_ADDRESS, "recipient is on the suppression list"
    return None


def _no_account(message: Message, purpose: str) -> Message:
    """No account of the route may send the message: none active (failed), or none of the
    active ones serves the mail's purpose — promotional mail is then refused (suppressed),
    transactional mail failed, both with the reason."""
    if not message.rule or not route(message.rule, message.recipient):
        return message_finish(
            message, MessageStatus.FAILED, error="the rule has no active provider account"
        )
    if purpose == Purpose.PROMOTIONAL:
        return message_finish(
            message,
            MessageStatus.SUPPRESSED,
            error="promotional mail refused: no active account of the rule's route sends "
            "promotional mail",
            refusal=MessageRefusal.NO_PROMOTIONAL_ACCOUNT,
        )
    return message_finish(
        message,
        MessageStatus.FAILED,
        error="no active account of the rule's route sends transactional mail",
        refusal=MessageRefusal.NO_TRANSACTIONAL_ACCOUNT,
    )


def _usable_account(accounts, start: int):
    """The first account, from `start` round the route, whose circuit is closed; else None and
    when the first of them closes again."""
    earliest = None
    for offset in range(len(accounts)):
        position = (start + offset) % len(accounts)
        until = circuit_open_until(accounts[position])
        if until is None:
            return accounts[position], position, None
        earliest = until if earliest is None else min(earliest, until)
    return None, start, earliest


def _outgoing(message: Message, account) -> OutgoingEmail:
    version = message.template_version
    context = message.event.template_context()
    base = {
        "to": Address(message.recipient, message.recipient_name),
        "correlation_id": str(message.correlation_id),
        "categories": (message.event.type,),
    }
    # With REPLY_DOMAIN, a reply comes back to an address naming this message (else the
    # account's own reply-to, as the client sets it).
    if (reply_to := reply_address(message.correlation_id)) is not None:
        base["reply_to"] = Address(reply_to)
    links = None
    if version.template.purpose == Purpose.PROMOTIONAL:
        # The recipient's own links, in the body and as RFC 8058 one-click headers.
        links = unsubscribe_links(
            email=message.recipient, ref=str(message.correlation_id), locale=message.locale
        )
        base["headers"] = links.headers
    unsubscribe = links.template_values() if links else None
    if message.rule and message.rule.use_provider_template:
        sync = TemplateSync.objects.filter(
            template=version.template,
            account=account,
            locale=message.locale,
            version=version,
            status=SyncStatus.CURRENT,
        ).first()
        data = template_context(version, context, unsubscribe=unsubscribe)
        if sync is None:
            logger.info(
                "message %s: no current copy of the template at %s; rendering here",
                message.pk,
                account,
            )
        elif not fits_header(render_subject(version, data, message.locale)):
            # The provider would put a value's line break into the Subject header; here the
            # subject is made one line like every other header.
            logger.info("message %s: a value breaks the subject's line; rendering here", message.pk)
        else:
            return OutgoingEmail(
                subject="",
                html="",
                text="",
                remote_template_id=sync.remote_id,
                template_data=data,
                **base,
            )
    rendered = render_version(version, context, message.locale, unsubscribe=unsubscribe)
    return OutgoingEmail(subject=rendered.subject, html=rendered.html, text=rendered.text, **base)


def _attempt(message, account, started, clock, outcome, *, status=None, provider_id="", error=""):
    Attempt.objects.create(
        message=message,
        account=account,
        started_at=started,
        duration_ms=round((time.perf_counter() - clock) * 1000, 1),
        outcome=outcome,
        http_status=status,
        provider_message_id=provider_id,
        error=error[:2000],
    )


def _sent(message, account, position, result: SendResult, started, clock) -> Message:
    rejected = [r for r in result.recipients if not r.accepted]
    with transaction.atomic():
        if rejected:  # Mandrill can refuse a recipient in a 200 answer
            reason = f"{rejected[0].status}: {rejected[0].reason}"
            _attempt(message, account, started, clock, "permanent", error=reason)
            finished = message_finish(
                message,
                MessageStatus.FAILED,
                error=f"rejected by the provider ({reason})",
                account=account,
                position=position,
            )
        else:
            _attempt(
                message, account, started, clock, "sent", provider_id=result.provider_message_id
            )
            finished = message_finish(
                message,
                MessageStatus.SENT,
                account=account,
                position=position,
                provider_message_id=result.provider_message_id,
                sent_at=timezone.now(),
            )
    circuit_success(account)
    return finished


def _failed_attempt(message, account, position, route_length, exc: ProviderError, started, clock):
    text = str(exc)
    if exc.ambiguous or exc.permanent:
        outcome = "ambiguous" if exc.ambiguous else "permanent"
        status = MessageStatus.AMBIGUOUS if exc.ambiguous else MessageStatus.FAILED
        with transaction.atomic():
            _attempt(message, account, started, clock, outcome, status=exc.status, error=text)
            return message_finish(message, status, error=text, account=account, position=position)
    with transaction.atomic():
        _attempt(message, account, started, clock, "transient", status=exc.status, error=text)
    circuit_failure(account, text)
    if message.attempts >= MAX_ATTEMPTS:
        return message_finish(
            message,
            MessageStatus.FAILED,
            error=f"gave up after {message.attempts} attempts: {text}",
            account=account,
            position=position,
        )
    tries_here = Attempt.objects.filter(
        message=message, account=account, outcome="transient"
    ).count()
    if tries_here % ATTEMPTS_PER_ACCOUNT == 0 and route_length > 1:
        # The provider proved it did not take the mail: the next account may send at once;
        # coming round to the first account again waits like any retry.
        following = (position + 1) % route_length
        delay = 0.0 if following else BACKOFF.seconds(message.attempts, exc.retry_after)
        return _requeue(
            message,
            at=timezone.now() + timedelta(seconds=delay),
            error=text,
            account=account,
            position=following,
        )
    delay = BACKOFF.seconds(tries_here, exc.retry_after)
    return _requeue(
        message,
        at=timezone.now() + timedelta(seconds=delay),
        error=text,
        account=account,
        position=position,
    )


def _requeue(message, *, at, error, account=None, position=None) -> Message:
    fields = {"next_attempt_at": at}
    if position is not None:
        fields["route_position"] = position
    return message_finish(message, MessageStatus.QUEUED, error=error, account=account, **fields)
