"""Taking in return events: one transaction writes the event and its outbox rows; the sending
tasks are queued on commit (the row is the truth, the task only a bell). Idempotency is the
unique (client, key)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.queue import enqueue_tasks_on_commit
from providers.models import Purpose
from returns_mail.conditions import conditions_match
from returns_mail.exceptions import IdempotencyConflict
from returns_mail.models import (
    ApiClient,
    EventTypeSetting,
    Message,
    MessageRefusal,
    MessageStatus,
    ReturnEvent,
    TriggerRule,
)
from returns_mail.services import config_cache
from returns_mail.services.config_cache import (
    cancelling_types,
    enabled_rules,
    route_purposes,
    switched_off_types,
)
from returns_mail.services.customers import CUSTOMERS_TASK
from returns_mail.services.lifecycle import messages_cancel, messages_refuse
from returns_mail.services.suppression import suppressed_emails
from templates_lib.models import TemplateVersion
from templates_lib.rendering import pick_locale

logger = logging.getLogger(__name__)

SEND_TASK = "returns_mail.tasks.send_message"
# Customers are kept current in the background: intake only queues the event ids, in the same
# push as the sends (one task for all the events of a request; CUSTOMERS_TASK).


@dataclass(frozen=True)
class EventInput:
    """A validated event, as the API hands it over."""

    type: str
    occurred_at: datetime
    return_id: str
    customer_email: str
    order_id: str = ""
    customer_name: str = ""
    customer_locale: str = ""
    marketing_consent: bool = False
    data: dict[str, Any] = field(default_factory=dict)


def request_digest(payload: Any) -> str:
    """Of the request body as parsed JSON, so key order and spacing do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Accepted:
    """An event taken in: the row, the API's answer, and whether this call created it."""

    event: ReturnEvent
    answer: dict
    created: bool


def event_ingest(
    *, client: ApiClient, event: EventInput, idempotency_key: str, digest: str
) -> Accepted:
    """Store the event and its messages once.

    A repeat with the same key and body gets the same event, its statuses read again; another
    body raises IdempotencyConflict. Concurrent repeats are settled by the unique constraint."""
    # Insert first: the unique (client, key) constraint answers repeats, so the common case
    # (a new event) costs no lookup.
    try:
        with transaction.atomic():
            stored = ReturnEvent.objects.create(
                client=client,
                idempotency_key=idempotency_key,
                request_digest=digest,
                **_event_fields(event),
            )
            messages = messages_plan_many(events=[stored])
            messages_cancel_superseded(event=stored)
            _enqueue_for([stored], messages)
    except IntegrityError:
        existing = _existing(client, idempotency_key, digest)
        if existing is None:
            raise
        return Accepted(existing, events_answers([existing])[existing.pk], created=False)
    return Accepted(stored, event_answer(stored, messages), created=True)


def _existing(client, key, digest) -> ReturnEvent | None:
    existing = ReturnEvent.objects.filter(client=client, idempotency_key=key).first()
    if existing is not None and existing.request_digest != digest:
        raise IdempotencyConflict(existing.pk)
    return existing


def event_types_switch(*, changes: dict[str, bool]) -> None:
    """Switch event types on or off (one upsert); a type without a row is on."""
    EventTypeSetting.objects.bulk_create(
        [EventTypeSetting(event_type=key, enabled=on) for key, on in changes.items()],
        update_conflicts=True,
        unique_fields=["event_type"],
        update_fields=["enabled", "updated_at"],
    )
    config_cache.clear()  # a bulk upsert sends no post_save


def messages_plan_many(*, events: list[ReturnEvent]) -> list[Message]:
    """The outbox rows of many events: the cached rules of their types, one insert (the caller
    queues the due ones on commit). Promotional mail passes the consent gate here (`_refusals`):
    a refused message is still a row, suppressed with its reason, and is never queued. The
    suppression list is checked again when a message is sent: it may change before a delayed
    message is due."""
    switched_off = switched_off_types()
    now = timezone.now()
    planned: list[Message] = []
    for event in events:
        if event.type in switched_off:
            continue
        context = event.template_context()
        for rule in enabled_rules(event.type):
            if not conditions_match(context, rule.conditions, rule.match):
                continue
            version = rule.pinned_version or rule.template.active_version
            if version is None:
                logger.warning(
                    "rule %s matched event %s but its template has no active version",
                    rule.pk,
                    event.pk,
                )
                continue
            for email, name, internal in _recipients(rule, event):
                locale = (
                    version.default_locale
                    if internal
                    else pick_locale(
                        version_locales(version.pk), event.customer_locale, version.default_locale
                    )
                )
                planned.append(
                    Message(
                        event=event,
                        rule=rule,
                        recipient=email,
                        recipient_name=name,
                        is_internal=internal,
                        template_version=version,
                        locale=locale,
                        send_after=now + timedelta(minutes=rule.delay_minutes),
                    )
                )
    Message.objects.bulk_create(planned)
    messages_refuse(_refusals(planned), texts=REFUSAL_TEXTS)
    return planned


# The human text of each refusal at planning (the message's error).
REFUSAL_TEXTS = {
    MessageRefusal.NO_MARKETING_CONSENT: "promotional mail refused: the customer has not given "
    "marketing consent (the event's marketing_consent is false)",
    MessageRefusal.SUPPRESSED_ADDRESS: "promotional mail refused: the address is suppressed for "
    "promotional mail",
    MessageRefusal.NO_PROMOTIONAL_ACCOUNT: "promotional mail refused: no active account of the "
    "rule's route sends promotional mail",
}


def _refusals(planned: list[Message]) -> list[tuple[Message, str]]:
    """The promotional messages the consent gate refuses, each with its reason: to a customer
    without marketing consent (a rule's fixed staff addresses are not customers: consent does
    not apply to them), to an address suppressed for promotional mail, or when no active account
    of the route serves promotional mail. One suppression query for the whole batch."""
    promotional = [m for m in planned if m.rule.template.purpose == Purpose.PROMOTIONAL]
    if not promotional:
        return []
    suppressed = suppressed_emails(m.recipient for m in promotional)[Purpose.PROMOTIONAL]
    served = route_purposes()
    refused = []
    for message in promotional:
        if not message.is_internal and not message.event.marketing_consent:
            refused.append((message, MessageRefusal.NO_MARKETING_CONSENT))
        elif message.recipient.strip().lower() in suppressed:
            refused.append((message, MessageRefusal.SUPPRESSED_ADDRESS))
        elif Purpose.PROMOTIONAL not in served.get(message.rule_id, ()):
            refused.append((message, MessageRefusal.NO_PROMOTIONAL_ACCOUNT))
    return refused


def _enqueue_for(events: list[ReturnEvent], messages: list[Message]) -> None:
    """On commit, in one push: a send task per queued message that is due (a refused one has
    none), one customers task."""
    now = timezone.now()
    sends = [
        (SEND_TASK, (m.pk,))
        for m in messages
        if m.status == MessageStatus.QUEUED and m.send_after <= now
    ]
    enqueue_tasks_on_commit([*sends, (CUSTOMERS_TASK, ([e.pk for e in events],))])


@dataclass(frozen=True)
class IngestItem:
    event: EventInput
    idempotency_key: str
    digest: str


def events_ingest_batch(
    *, client: ApiClient, items: list[IngestItem]
) -> list[Accepted | IdempotencyConflict]:
    """Store many events at once — one key lookup, one insert of events, one of messages — with
    the same idempotency as `event_ingest`. Per item: the event accepted (new or replayed), or
    the IdempotencyConflict. If a concurrent request takes one of the keys meanwhile, the batch
    is stored one event at a time instead."""
    try:
        with transaction.atomic():
            return _ingest_together(client, items)
    except IntegrityError:
        pass
    results: list[Accepted | IdempotencyConflict | None] = [None] * len(items)
    for index in sorted(range(len(items)), key=lambda i: items[i].idempotency_key):
        item = items[index]
        try:
            results[index] = event_ingest(
                client=client,
                event=item.event,
                idempotency_key=item.idempotency_key,
                digest=item.digest,
            )
        except IdempotencyConflict as exc:
            results[index] = exc
    return results


def _ingest_together(client, items: list[IngestItem]) -> list[Accepted | IdempotencyConflict]:
    keys = {item.idempotency_key for item in items}
    existing = {
        e.idempotency_key: e
        for e in ReturnEvent.objects.filter(client=client, idempotency_key__in=keys)
    }
    first_with_key: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.idempotency_key not in existing:
            first_with_key.setdefault(item.idempotency_key, index)
    # Inserted in key order: two batches sharing keys lock them in the same order.
    new = [
        ReturnEvent(
            client=client,
            idempotency_key=key,
            request_digest=items[index].digest,
            **_event_fields(items[index].event),
        )
        for key, index in sorted(first_with_key.items())
    ]
    ReturnEvent.objects.bulk_create(new)
    messages = messages_plan_many(events=new)
    if new:
        _enqueue_for(new, messages)
    for event in new:
        messages_cancel_superseded(event=event)
    by_event: dict[int, list[Message]] = {event.pk: [] for event in new}
    for message in messages:
        by_event[message.event_id].append(message)
    answers = {event.pk: event_answer(event, by_event[event.pk]) for event in new}
    answers.update(events_answers(list(existing.values())))
    stored = {**existing, **{event.idempotency_key: event for event in new}}
    created = set(first_with_key.values())
    results: list[Accepted | IdempotencyConflict] = []
    for index, item in enumerate(items):
        event = stored[item.idempotency_key]
        if event.request_digest != item.digest:
            results.append(IdempotencyConflict(event.pk))
        else:
            results.append(Accepted(event, answers[event.pk], created=index in created))
    return results


def _event_fields(event: EventInput) -> dict:
    return {
        "type": event.type,
        "occurred_at": event.occurred_at,
        "return_id": event.return_id,
        "order_id": event.order_id,
        "customer_email": event.customer_email,
        "customer_name": event.customer_name,
        "customer_locale": event.customer_locale,
        "marketing_consent": event.marketing_consent,
        "data": event.data,
    }


def _recipients(rule: TriggerRule, event: ReturnEvent):
    seen = set()
    if rule.send_to_customer:
        seen.add(event.customer_email.lower())
        yield event.customer_email, event.customer_name, False
    for email in rule.internal_recipients:
        if email.lower() not in seen:
            seen.add(email.lower())
            yield email, "", True


def messages_cancel_superseded(*, event: ReturnEvent) -> int:
    """A later event cancels pending messages of rules that list its type in `cancel_on`
    (e.g. return.received cancels a queued return.reminder) for the same return."""
    if event.type not in cancelling_types():
        return 0
    # Through the return's own events (index on client, return_id), not all queued messages.
    earlier = ReturnEvent.objects.filter(client=event.client, return_id=event.return_id).exclude(
        pk=event.pk
    )
    pending = Message.objects.filter(
        event__in=list(earlier.values_list("pk", flat=True)),
        status=MessageStatus.QUEUED,
        rule__isnull=False,
    ).select_related("rule")
    # cancel_on is a short JSON list: filtered here (JSON containment is not portable).
    ids = [m.pk for m in pending if event.type in m.rule.cancel_on]
    return messages_cancel(ids, error=f"cancelled by {event.type} (event {event.pk})")


@lru_cache(maxsize=1024)
def version_locales(version_id: int) -> tuple[str, ...]:
    """The locales of a template version (versions never change, so this never goes stale)."""
    return tuple(TemplateVersion.objects.get(pk=version_id).contents)


def event_answer(event: ReturnEvent, messages: list[Message]) -> dict:
    """The API's answer for an accepted event: the messages it planned, each with its status
    as the row holds it (a repeat with the same key reads the rows again, so a message sent
    since answers "sent", not the "queued" of the first answer)."""
    return {
        "id": event.pk,
        "type": event.type,
        "return_id": event.return_id,
        "received_at": event.received_at.isoformat(),
        "messages": [
            {
                "id": m.pk,
                "rule": m.rule.name if m.rule else None,
                "recipient": m.recipient,
                "status": m.status,
                # Why the consent gate refused it (a MessageRefusal code and the human text);
                # None for a message it let through.
                "reason": m.refusal or None,
                "reason_text": (m.error or None) if m.refusal else None,
            }
            for m in messages
        ],
    }


def events_answers(events: list[ReturnEvent]) -> dict[int, dict]:
    """The answers of events accepted earlier (one query), by event id: their messages as
    planned at acceptance (resends, added later, are not part of it), with current statuses."""
    by_event: dict[int, list[Message]] = {event.pk: [] for event in events}
    if events:
        planned = (
            Message.objects.filter(event__in=list(by_event), resend_of__isnull=True)
            .select_related("rule")
            .only("pk", "event_id", "recipient", "status", "refusal", "error", "rule__name")
            .order_by("pk")
        )
        for message in planned:
            by_event[message.event_id].append(message)
    return {event.pk: event_answer(event, by_event[event.pk]) for event in events}
