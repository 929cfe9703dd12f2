"""Provider webhooks in: keep the raw delivery (once per body), store its events once, hand
them to the mail's lifecycle (returns_mail/services/lifecycle.py moves message statuses forward
and records the times), count outcomes from what it reports, and apply the suppression effects
(through returns_mail's suppression services).

An event changes a message only when the message was sent (or tried) through the account whose
webhook reported it: a key of one account must not reach mail sent through another. Other
events are stored unlinked, with the correlation id they named.

A batch is handled with bulk operations: one insert of events (conflicting fingerprints are
skipped: duplicates), one query for the new ones, one locked read of their messages, one
update of those that changed, and one UPDATE per distinct rollup row."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import replace
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from analytics.models import DeliveryEvent, LatencyBin, WebhookDelivery, WebhookDeliveryStatus
from analytics.services.campaign_results import campaign_recipients_apply
from analytics.services.rollups import Increments, effect_count, message_cohort
from providers.clients import syncs_audience
from providers.models import ProviderAccount
from providers.webhooks import parse
from providers.webhooks.machine_opens import opened_too_soon
from providers.webhooks.types import DeliveryEventType, NormalizedEvent, ParsedBatch
from returns_mail.models import (
    Attempt,
    ConsentSource,
    Message,
    SuppressionScope,
)
from returns_mail.services.audience import unsubscribes_mirror_on_commit
from returns_mail.services.consent import consents_withdrawn
from returns_mail.services.customers import customers_apply_audience_events
from returns_mail.services.lifecycle import (
    MESSAGE_EVENT_FIELDS,
    EventEffect,
    messages_apply_provider_events,
)
from returns_mail.services.suppression import (
    SuppressionEntry,
    suppression_effect,
    suppressions_add,
    suppressions_lift_for_source,
)

logger = logging.getLogger(__name__)

T = DeliveryEventType

# The delivery that carries a customer's reply's `replied` event (services/replies.py): no
# provider body, so nothing to parse again; its event was stored when the reply came.
REPLY_CONTENT_TYPE = "application/x-returns-mail-reply"

# What processing reads of a message and its event (rollup dimensions, latencies), besides what
# the lifecycle needs.
_LOADED = (
    "correlation_id",
    "account_id",
    "rule_id",
    "created_at",
    "event__type",
    "event__occurred_at",
    "template_version__template_id",
    *MESSAGE_EVENT_FIELDS,
)
# Counted per event, whatever it did to the message (nothing on the row marks them).
_COUNTED = {T.DEFERRED: "deferred", T.COMPLAINED: "complained", T.UNSUBSCRIBED: "unsubscribed"}


def fingerprint(account_id: int, event: NormalizedEvent) -> str:
    """Of (message, type, time, recipient, URL, provider event, list): SendGrid may re-send an
    event with a new sg_event_id, so the provider's id cannot be the key; an unsubscribe and a
    group unsubscribe of the same message at the same second are two events."""
    return _digest(account_id, event, event.provider_event, event.list_id)


def legacy_fingerprint(account_id: int, event: NormalizedEvent) -> str:
    """The fingerprint before the provider event and list were part of it: rows stored then
    carry it, and a re-posted old event must still be found as a duplicate."""
    return _digest(account_id, event)


def _digest(account_id: int, event: NormalizedEvent, *extra: str) -> str:
    subject = event.correlation_id or event.provider_message_id
    parts = (
        str(account_id),
        subject,
        event.type,
        event.bounce_kind,
        event.occurred_at.isoformat(),
        event.recipient.lower(),
        event.url,
        *extra,
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def webhook_delivery_store(
    *, account: ProviderAccount, body: bytes, content_type: str, received_at: datetime
) -> WebhookDelivery | None:
    """Keep a verified request as received, before processing (so a failure can be redone);
    `received_at` is the time its events were parsed with.

    A body the account received before is not stored again (a unique key on its SHA-256): None
    when there is nothing left to do (a replay, or a retry of a delivery processed or being
    processed); the earlier delivery, claimed for processing, when it failed."""
    digest = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                account=account,
                body_sha256=digest,
                received_at=received_at,
                body=body.decode("utf-8", errors="replace"),
                content_type=content_type,
            )
    except IntegrityError:
        pass
    earlier = WebhookDelivery.objects.filter(account=account, body_sha256=digest)
    if not earlier.filter(status=WebhookDeliveryStatus.FAILED).update(
        status=WebhookDeliveryStatus.RECEIVED
    ):
        return None
    return earlier.get()


def webhook_delivery_process(
    *, delivery: WebhookDelivery, batch: ParsedBatch | None = None
) -> WebhookDelivery:
    """Process a stored delivery (its `batch` when just parsed; else parsed from the stored
    body: re-processing after a fix). Skipped events are counted, with their reasons, on the
    delivery. Any error is recorded on the delivery and raised again, so the provider is
    answered 5xx and retries."""
    if batch is None and delivery.content_type == REPLY_CONTENT_TYPE:
        return delivery
    if batch is None and not delivery.body:
        # Retention blanked it (services/retention.py): keep the recorded outcome as it is.
        raise ValueError("the raw body was purged (retention): nothing to re-process")
    try:
        if batch is None:
            batch = parse(
                delivery.account.kind,
                body=delivery.body.encode("utf-8"),
                content_type=delivery.content_type,
                received_at=delivery.received_at,
            )
        with transaction.atomic():
            new = _store_events(delivery, batch.events)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDeliveryStatus.PROCESSED,
                events_total=batch.total,
                events_new=new,
                events_skipped=len(batch.skipped),
                skipped=[
                    {"index": s.index, "event": s.provider_event, "reason": s.reason}
                    for s in batch.skipped[: WebhookDelivery.SKIPPED_KEPT]
                ],
                processed_at=timezone.now(),
                error="",
            )
    except Exception as exc:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDeliveryStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    delivery.refresh_from_db()
    return delivery


def _store_events(delivery: WebhookDelivery, events: list[NormalizedEvent]) -> int:
    account = delivery.account
    unique: dict[str, NormalizedEvent] = {}
    for event in events:
        unique.setdefault(fingerprint(account.pk, event), event)
    _drop_stored_under_legacy_fingerprints(account.pk, unique)
    messages = _messages_by_correlation(unique.values(), account)
    _flag_prompt_opens(unique, messages)
    # Re-processing a delivery whose events were stored before must not apply them twice.
    stored_before = set(
        DeliveryEvent.objects.filter(delivery=delivery).values_list("fingerprint", flat=True)
    )
    DeliveryEvent.objects.bulk_create(
        [
            DeliveryEvent(
                fingerprint=key,
                delivery=delivery,
                account=account,
                message=messages.get(event.correlation_id),
                type=event.type,
                provider_event=event.provider_event[:40],
                bounce_kind=event.bounce_kind,
                recipient=event.recipient[:254],
                occurred_at=event.occurred_at,
                reason=event.reason,
                url=event.url[:2000],
                machine_open=event.machine_open,
                provider_message_id=event.provider_message_id[:255],
                provider_event_id=event.provider_event_id[:255],
                correlation_id=event.correlation_id[:100],
            )
            for key, event in unique.items()
        ],
        ignore_conflicts=True,  # seen before: a duplicate, absorbed by the unique fingerprint
        batch_size=1000,
    )
    ours = (
        set(DeliveryEvent.objects.filter(delivery=delivery).values_list("fingerprint", flat=True))
        - stored_before
    )
    new = sorted(
        (event for key, event in unique.items() if key in ours), key=lambda e: e.occurred_at
    )
    _apply_to_messages(new, messages)
    campaign_recipients_apply(new, account=account, skip=messages.keys())
    _apply_suppressions(account, new)
    return len(new)


def _flag_prompt_opens(unique: dict[str, NormalizedEvent], messages: dict[str, Message]) -> None:
    """Flag as a machine's the opens that came within MACHINE_OPEN_SECONDS of their message's
    delivery (or sending, before a delivery is recorded): the parsers flag what the event
    itself shows, this what only our record of the message does."""
    for key, event in unique.items():
        message = messages.get(event.correlation_id)
        if event.type != T.OPENED or event.machine_open or message is None:
            continue
        if opened_too_soon(event.occurred_at, message.delivered_at or message.sent_at):
            unique[key] = replace(event, machine_open=True)


def _drop_stored_under_legacy_fingerprints(
    account_id: int, unique: dict[str, NormalizedEvent]
) -> None:
    """Remove from `unique` the events stored under the older fingerprint formula. The stored
    provider event must match too: the older formula gave an unsubscribe and a group
    unsubscribe of one message and second the same fingerprint."""
    legacy: dict[str, list[str]] = {}
    for key, event in unique.items():
        legacy.setdefault(legacy_fingerprint(account_id, event), []).append(key)
    stored = DeliveryEvent.objects.filter(fingerprint__in=legacy).values_list(
        "fingerprint", "provider_event"
    )
    for legacy_key, provider_event in stored:
        for key in legacy[legacy_key]:
            if key in unique and unique[key].provider_event[:40] == provider_event:
                del unique[key]


def _messages_by_correlation(events, account: ProviderAccount) -> dict[str, Message]:
    """The messages the events name that were sent or tried through `account`: the one it was
    last handed to (set before the provider call, so an event that outruns the send's record
    still finds it) or any it was attempted through before a failover."""
    wanted = set()
    for event in events:
        try:
            wanted.add(uuid.UUID(event.correlation_id))
        except ValueError:
            continue  # no correlation id (or not ours): the event is kept unlinked
    if not wanted:
        return {}
    tried_here = Attempt.objects.filter(message=OuterRef("pk"), account=account)
    # Locked in id order: concurrent batches touching the same messages wait, not deadlock.
    found = (
        Message.objects.select_for_update(of=("self",))
        .select_related("event", "template_version")
        .only(*_LOADED)
        .filter(Q(account=account) | Exists(tried_here), correlation_id__in=wanted)
        .order_by("pk")
    )
    messages = {str(m.correlation_id): m for m in found}
    if len(messages) < len(wanted):
        elsewhere = Message.objects.filter(
            correlation_id__in=wanted - {m.correlation_id for m in messages.values()}
        ).count()
        if elsewhere:
            logger.warning(
                "account %s reported events for %s message(s) not sent through it: "
                "stored unlinked, no message changed",
                account.pk,
                elsewhere,
            )
    return messages


def _apply_to_messages(events: list[NormalizedEvent], messages: dict[str, Message]) -> None:
    increments = Increments()
    for effect in messages_apply_provider_events(events, messages):
        _count(effect, increments)
    increments.apply()


def _count(effect: EventEffect, increments: Increments) -> None:
    """The counts and latencies of what one event did to its message."""
    event, message = effect.event, effect.row
    cohort = message_cohort(message)
    effect_count(increments, cohort, effect, by_type=_COUNTED)
    if effect.outcome and event.type == T.DELIVERED:
        lead = (event.occurred_at - message.event.occurred_at).total_seconds()
        increments.latency(cohort, LatencyBin.Metric.LEAD, lead)


def _suppression_of(event: NormalizedEvent) -> tuple[str, str] | None:
    """What the event means for the address (returns_mail's reading, shared with the import
    of the providers' own lists)."""
    return suppression_effect(type=event.type, bounce_kind=event.bounce_kind, cause=event.cause)


def _apply_suppressions(account: ProviderAccount, events: list[NormalizedEvent]) -> None:
    """Add the suppressions the events call for, and lift those a deny-list removal names that
    this account's webhook added (never one added by hand or reported by another account).
    Unsubscribes are mirrored to the Mailchimp audiences (a SendGrid unsubscribe unsubscribes
    the audience member too). Events come oldest first: a later one wins."""
    keeps_audience = syncs_audience(account)
    if keeps_audience:  # its events are about audience members: our customers
        customers_apply_audience_events(account=account, events=events)
    wanted: dict[tuple[str, str], tuple[str, str]] = {}
    unsubscribed_at: dict[str, datetime] = {}
    lifted: set[str] = set()
    for event in events:
        email = event.recipient.strip().lower()
        if not email:
            continue
        if event.type == T.DENYLIST_REMOVED:
            lifted.add(email)
            wanted = {key: value for key, value in wanted.items() if key[0] != email}
        elif (effect := _suppression_of(event)) is not None:
            lifted.discard(email)
            note = f"{event.provider_event} reported by {account}"[:255]
            wanted.setdefault((email, effect[0]), (effect[1], note))
            if effect[0] == SuppressionScope.PROMOTIONAL:
                unsubscribed_at.setdefault(email, event.occurred_at)
    if lifted:
        suppressions_lift_for_source(account, lifted)
    if not wanted:
        return
    suppressions_add(
        [
            SuppressionEntry(email=email, scope=scope, reason=reason, note=note)
            for (email, scope), (reason, note) in wanted.items()
        ],
        source_account=account,
    )
    unsubscribed = {email for (email, scope) in wanted if scope == SuppressionScope.PROMOTIONAL}
    if unsubscribed and not keeps_audience:  # an audience's own unsubscribe needs no mirror
        unsubscribes_mirror_on_commit(unsubscribed)
        # The audience's own events went through returns_mail's consent services above.
        consents_withdrawn(
            {email: unsubscribed_at[email] for email in unsubscribed if email in unsubscribed_at},
            source=ConsentSource.PROVIDER_UNSUBSCRIBE,
            detail=str(account),
        )
