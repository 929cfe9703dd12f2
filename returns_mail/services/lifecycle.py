"""The lifecycle of outgoing mail: the one writer of Message.status (and status_changed_at and
the provider-reported times) and of CampaignRecipient's state (status, sent_at, error and the
provider-reported times). Callers decide *when* (a worker, the sweep, an admin, a webhook); the
rules of *what may follow what* are here, in TRANSITIONS and RANK.

Every status change is a conditional UPDATE on the statuses its transition leaves from, so of
two writers racing for a row only one wins. Provider events only move a message forward (RANK):
a late "delivered" never undoes "opened", and any provider event proves that an "ambiguous"
message was taken. A message still "sending" belongs to its worker: provider events record
their times on it without changing its status, and when the worker records the send, the status
takes those times into account (`_status_when_sent`). Creating a row is not a transition: a
message starts queued, a campaign recipient pending.

Signals are sent inside the transaction that writes the change, by every function here (each
wraps its write and its signal in one atomic block, a savepoint within the caller's): a
receiver's own writes (the rollups) commit or roll back with the change, and a receiver that
raises undoes it, so receivers catch their own errors. Anything leaving the database (a task,
an HTTP call) must wait for the commit: queue it with config.queue.enqueue_on_commit.

- `message_transitioned` (sender=Message): once per group of messages making the same
  transition in one write: transition=<Transition>, message_ids=<tuple of ids>, old=<status
  before>, new=<status after>, at=<status_changed_at>. Provider events of one webhook batch
  move a message once: old is its status before the batch, new after it.
- `campaign_recipients_finished` (sender=CampaignRecipient): once per group of recipients
  settled together: campaign_id, status=<"sent", "failed" or "cancelled">, count, at.

Provider calls stay with the callers (services/sending.py, messages.py, campaign_chunks.py),
outside any transaction; this module only writes rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models import Case, QuerySet, Value, When
from django.utils import timezone

from config.bulk import rows_save
from config.work_rows import claim, due, stuck
from providers.webhooks.types import DeliveryEventType, NormalizedEvent
from returns_mail.models import CampaignRecipient, Message, MessageStatus, RecipientStatus
from returns_mail.signals import campaign_recipients_finished_send, message_transitioned

S = MessageStatus
T = DeliveryEventType


class Transition(StrEnum):
    CLAIMED = "claimed"  # a worker takes a due message
    SENT = "sent"  # the provider took it
    FAILED = "failed"  # refused, no usable account, or given up after retries
    SUPPRESSED = "suppressed"  # the recipient is on the suppression list
    REFUSED = "refused"  # the consent gate refused it when it was planned: never sent
    HELD = "held"  # the provider may have taken it (no answer to the call)
    RETRY = "retry"  # a transient failure: sent again later
    WORKER_LOST = "worker_lost"  # the worker died before the provider call
    LOST_IN_CALL = "lost_in_call"  # the worker died during the provider call
    RECONCILED = "reconciled"  # the provider's activity shows it took the unanswered call
    NOT_AT_PROVIDER = "not_at_provider"  # the provider's activity does not have it
    CANCELLED = "cancelled"  # an admin, or a later event of the return superseding it
    PROVIDER_EVENT = "provider_event"  # a webhook's delivered, bounced, opened...


# How far along a message is, for provider events: they only ever move it up. Statuses not
# listed (queued, suppressed, cancelled) are left alone; "sending" is its worker's.
RANK = {
    S.SENDING: 1,
    S.AMBIGUOUS: 1,
    S.SENT: 2,
    S.DELIVERED: 3,
    S.BOUNCED: 3,
    S.FAILED: 3,
    S.OPENED: 4,
    S.CLICKED: 5,
}
STATUS_OF_EVENT = {
    T.SENT: S.SENT,
    T.DELIVERED: S.DELIVERED,
    T.BOUNCED: S.BOUNCED,
    T.REJECTED: S.FAILED,
    T.OPENED: S.OPENED,
    T.CLICKED: S.CLICKED,
}
# The customer's own actions on a message: response time runs to the first of them.
RESPONSE_EVENTS = frozenset({T.CLICKED, T.REPLIED})
# Recording a send lands on "sent" or further (provider events that came first).
SENT_OR_FURTHER = frozenset({S.SENT, S.DELIVERED, S.OPENED, S.CLICKED})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    targets: frozenset[str]


def _rule(sources: Iterable[str], targets: Iterable[str]) -> Rule:
    return Rule(frozenset(sources), frozenset(targets))


# Who makes each: sending.py (the worker), messages.py (the sweep, reconciliation, an admin's
# cancel), events.py (a later event superseding queued ones), analytics' webhooks.
TRANSITIONS: dict[Transition, Rule] = {
    Transition.CLAIMED: _rule({S.QUEUED}, {S.SENDING}),  # sending.message_claim
    Transition.SENT: _rule({S.SENDING}, SENT_OR_FURTHER),  # sending
    Transition.FAILED: _rule({S.SENDING}, {S.FAILED}),  # sending
    Transition.SUPPRESSED: _rule({S.SENDING}, {S.SUPPRESSED}),  # sending
    Transition.REFUSED: _rule({S.QUEUED}, {S.SUPPRESSED}),  # events.messages_plan_many
    Transition.HELD: _rule({S.SENDING}, {S.AMBIGUOUS}),  # sending
    Transition.RETRY: _rule({S.SENDING}, {S.QUEUED}),  # sending
    Transition.WORKER_LOST: _rule({S.SENDING}, {S.QUEUED}),  # messages.messages_sweep
    Transition.LOST_IN_CALL: _rule({S.SENDING}, {S.AMBIGUOUS}),  # messages.messages_sweep
    Transition.RECONCILED: _rule({S.AMBIGUOUS}, SENT_OR_FURTHER),  # messages.message_reconcile
    Transition.NOT_AT_PROVIDER: _rule({S.AMBIGUOUS}, {S.QUEUED}),  # messages.message_reconcile
    # messages.message_cancel, events.messages_cancel_superseded
    Transition.CANCELLED: _rule({S.QUEUED}, {S.CANCELLED}),
    # analytics' webhooks: any ranked status but the worker's, up to a higher rank (RANK).
    Transition.PROVIDER_EVENT: _rule(set(RANK) - {S.SENDING}, set(STATUS_OF_EVENT.values())),
}
# The worker's outcome, by the status it records.
_FINISHES = {
    S.SENT: Transition.SENT,
    S.FAILED: Transition.FAILED,
    S.SUPPRESSED: Transition.SUPPRESSED,
    S.AMBIGUOUS: Transition.HELD,
    S.QUEUED: Transition.RETRY,
}


def allowed(transition: Transition, old: str, new: str) -> bool:
    rule = TRANSITIONS[transition]
    if old not in rule.sources or new not in rule.targets:
        return False
    return transition != Transition.PROVIDER_EVENT or RANK[new] > RANK[old]


def _source(transition: Transition, new: str) -> str:
    """The one status `transition` leaves from (all but provider events have one)."""
    [old] = TRANSITIONS[transition].sources
    if not allowed(transition, old, new):
        raise ValueError(f"{transition}: {old} → {new} is not a transition")
    return old


def _announce(transition: Transition, ids: Sequence[int], old: str, new: str, at) -> None:
    message_transitioned.send(
        sender=Message, transition=transition, message_ids=tuple(ids), old=old, new=new, at=at
    )


# --- the worker ---------------------------------------------------------------------------------
def message_take(message_id: int, *, at: datetime) -> bool:
    """queued → sending, for the worker about to send it, if it is due and nobody else has it:
    the conditional UPDATE is the lock. Counts the attempt."""
    old = _source(Transition.CLAIMED, S.SENDING)
    claimable = Message.objects.filter(due(at), pk=message_id, status=old, send_after__lte=at)
    with transaction.atomic():
        taken = claim(
            claimable, now=at, status=S.SENDING, status_changed_at=at, handed_over_at=None
        )
        if taken:
            _announce(Transition.CLAIMED, [message_id], old, S.SENDING, at)
    return bool(taken)


def _status_when_sent() -> Case:
    """ "sent", or further where provider events that came before the send was recorded got."""
    return Case(
        When(clicked_at__isnull=False, then=Value(S.CLICKED)),
        When(opened_at__isnull=False, then=Value(S.OPENED)),
        When(delivered_at__isnull=False, then=Value(S.DELIVERED)),
        default=Value(S.SENT),
    )


def message_finish(
    message: Message, status: str, *, error: str = "", account=None, position=None, **fields
) -> Message:
    """Record the worker's outcome: sent, failed, suppressed, ambiguous (held), or queued for a
    retry; only if the row is still the worker's (sending). `fields`: more columns of the
    outcome (sent_at, provider_message_id, next_attempt_at, refusal...). Returns `message`,
    refreshed."""
    transition = _FINISHES[status]
    old = _source(transition, status)
    now = timezone.now()
    values = {"status": status, "status_changed_at": now, "error": error[:2000], **fields}
    if status == S.SENT:
        values["status"] = _status_when_sent()
    if account is not None:
        values["account"] = account
    if position is not None:
        values["route_position"] = position
    with transaction.atomic():
        changed = Message.objects.filter(pk=message.pk, status=old).update(**values)
        message.refresh_from_db()
        if changed:
            _announce(transition, [message.pk], old, message.status, now)
    return message


def messages_refuse(refused: Sequence[tuple[Message, str]], *, texts: Mapping[str, str]) -> None:
    """queued → suppressed, for messages the consent gate refused as they were planned: each
    (message, MessageRefusal code), its error the human text of `texts[code]`. The rows were
    just inserted by the caller's transaction, so nobody else can have them. One UPDATE for
    them all; the `message` objects are updated in memory too, so the caller's answer shows
    what the rows hold."""
    if not refused:
        return
    old = _source(Transition.REFUSED, S.SUPPRESSED)
    now = timezone.now()
    by_code: dict[str, list[int]] = defaultdict(list)
    for message, code in refused:
        by_code[code].append(message.pk)
    ids = [message.pk for message, _ in refused]
    with transaction.atomic():
        Message.objects.filter(pk__in=ids, status=old).update(
            status=S.SUPPRESSED,
            status_changed_at=now,
            refusal=Case(*[When(pk__in=pks, then=Value(code)) for code, pks in by_code.items()]),
            error=Case(
                *[When(pk__in=pks, then=Value(texts[code])) for code, pks in by_code.items()]
            ),
        )
        for message, code in refused:
            message.status, message.status_changed_at = S.SUPPRESSED, now
            message.refusal, message.error = code, texts[code]
        _announce(Transition.REFUSED, ids, old, S.SUPPRESSED, now)


# --- the sweep, reconciliation, cancelling --------------------------------------------------------
def _move_many(transition: Transition, rows: QuerySet, new: str, *, at, **fields) -> list[int]:
    """Move the `rows` still in the transition's source status to `new`; returns their ids.
    They are locked first (in id order, as webhook batches lock them), so the ids announced
    are exactly the rows moved."""
    old = _source(transition, new)
    with transaction.atomic():
        ids = list(
            rows.filter(status=old).select_for_update().order_by("pk").values_list("pk", flat=True)
        )
        if ids:
            Message.objects.filter(pk__in=ids, status=old).update(
                status=new, status_changed_at=at, **fields
            )
            _announce(transition, ids, old, new, at)
    return ids


def messages_release_lost(*, after: timedelta, at: datetime) -> None:
    """Messages still "sending" that a worker claimed longer than `after` ago (it was lost):
    queued again when the provider call had not started; held (ambiguous) when it had, as it
    may have been sent: never send it twice."""
    lost = stuck(Message.objects.filter(status=S.SENDING), now=at, after=after)
    _move_many(
        Transition.WORKER_LOST,
        lost.filter(handed_over_at__isnull=True),
        S.QUEUED,
        at=at,
        next_attempt_at=at,
        error="re-queued: worker lost",
    )
    _move_many(
        Transition.LOST_IN_CALL,
        lost.filter(handed_over_at__isnull=False),
        S.AMBIGUOUS,
        at=at,
        error="worker lost while the provider call was in flight: check the provider before "
        "resending",
    )


def _held(message: Message) -> QuerySet:
    """The message if still held from the same handover (a later attempt is not this one's)."""
    return Message.objects.filter(
        pk=message.pk, status=S.AMBIGUOUS, handed_over_at=message.handed_over_at
    )


def message_reconciled(message: Message, *, at: datetime) -> bool:
    """ambiguous → sent (or further): the provider's activity shows it took the unanswered
    call, so it was sent at the handover. `message` is refreshed. True if it moved."""
    old = _source(Transition.RECONCILED, S.SENT)
    with transaction.atomic():
        changed = _held(message).update(
            status=_status_when_sent(),
            status_changed_at=at,
            sent_at=message.handed_over_at,
            looked_up_at=at,
            error="",
        )
        message.refresh_from_db()
        if changed:
            _announce(Transition.RECONCILED, [message.pk], old, message.status, at)
    return bool(changed)


def message_not_at_provider(message: Message, *, at: datetime) -> bool:
    """ambiguous → queued, due now: the provider's activity has no record of the unanswered
    call, so it is sent again. True if it moved (the caller queues the send)."""
    old = _source(Transition.NOT_AT_PROVIDER, S.QUEUED)
    with transaction.atomic():
        changed = _held(message).update(
            status=S.QUEUED,
            status_changed_at=at,
            next_attempt_at=at,
            looked_up_at=at,
            error="the provider has no record of the unanswered call: sending again",
        )
        if changed:
            _announce(Transition.NOT_AT_PROVIDER, [message.pk], old, S.QUEUED, at)
    return bool(changed)


def messages_cancel(message_ids: Iterable[int], *, error: str) -> int:
    """queued → cancelled, with `error` saying who or what cancelled them; a message being sent
    is not cancelled. Returns how many were."""
    ids = list(message_ids)
    if not ids:
        return 0
    rows = Message.objects.filter(pk__in=ids)
    return len(_move_many(Transition.CANCELLED, rows, S.CANCELLED, at=timezone.now(), error=error))


# --- provider events ----------------------------------------------------------------------------
@dataclass(frozen=True)
class EventEffect:
    """What one provider event did to the row it names (a Message or a CampaignRecipient), for
    the counters: each flag is a first time (a repeat, or a time the row had already, records
    nothing), so counting the flags counts each thing once."""

    event: NormalizedEvent
    row: Message | CampaignRecipient
    changed: bool = False  # the row was written (a first time, an earlier time, a status)
    outcome: bool = False  # its one outcome: delivered, bounced or rejected (the event's type)
    opened: bool = False  # by a person: a machine's open (`event.machine_open`) never is
    clicked: bool = False  # a click implies an open: `opened` too when it is the first
    unsubscribed: bool = False  # campaign recipients only: a message keeps no unsubscribe time
    replied: bool = False  # the message's first (earliest) reply by a person
    # The customer's first action (a click or a reply): when the mail was delivered (else
    # sent), where response time runs from; None otherwise, or when the row has neither time.
    engaged_since: datetime | None = None
    # A first human open (a click implies one): the same start, for "first open (human)".
    opened_since: datetime | None = None


# What reading a message for provider events must load (the locked read is the caller's).
MESSAGE_EVENT_FIELDS = (
    "status",
    "status_changed_at",
    "error",
    "sent_at",
    "handed_over_at",
    "delivered_at",
    "opened_at",
    "clicked_at",
    "replied_at",
    "responded_at",
)
_MESSAGE_SAVED = (
    "status",
    "status_changed_at",
    "error",
    "sent_at",
    "delivered_at",
    "opened_at",
    "clicked_at",
    "replied_at",
    "responded_at",
)


def messages_apply_provider_events(
    events: Sequence[NormalizedEvent], messages: Mapping[str, Message]
) -> list[EventEffect]:
    """Apply `events` (new ones, oldest first) to `messages` (by correlation id, locked by the
    caller, with MESSAGE_EVENT_FIELDS loaded): one UPDATE for all the rows that changed, and a
    signal per (old, new) status pair. Returns an effect per event that names a message."""
    at = timezone.now()
    before: dict[int, str] = {}
    changed: dict[int, Message] = {}
    effects = []
    for event in events:
        message = messages.get(event.correlation_id)
        if message is None:
            continue
        before.setdefault(message.pk, message.status)
        effect = _message_event(event, message, at)
        effects.append(effect)
        if effect.changed:
            changed[message.pk] = message
    moves: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, message in changed.items():
        if message.status != before[pk]:
            moves[(before[pk], message.status)].append(pk)
    with transaction.atomic():
        rows_save(Message, list(changed.values()), _MESSAGE_SAVED)
        for (old, new), ids in moves.items():
            _announce(Transition.PROVIDER_EVENT, ids, old, new, at)
    return effects


def _has_outcome(message: Message) -> bool:
    """Delivered, bounced or dropped: a message has one of them only."""
    return message.delivered_at is not None or message.status in (S.BOUNCED, S.FAILED)


def _message_event(event: NormalizedEvent, message: Message, at: datetime) -> EventEffect:
    """Apply one event to `message` in memory."""
    kind, when = event.type, event.occurred_at
    flags: dict = {}
    changed = False
    if kind == T.DELIVERED and not _has_outcome(message):
        message.delivered_at = when
        flags["outcome"] = True
    elif kind in (T.BOUNCED, T.REJECTED) and not _has_outcome(message):
        message.error = f"{event.provider_event}: {event.reason}"[:2000]
        flags["outcome"] = True
    elif kind == T.OPENED and event.machine_open:
        pass  # no person opened it: stored and counted as a machine's, nothing else
    elif kind in (T.OPENED, T.CLICKED, T.REPLIED):
        since = message.delivered_at or message.sent_at
        if message.opened_at is None and kind != T.REPLIED:  # a click implies an open
            message.opened_at = when
            flags["opened"] = True
            flags["opened_since"] = since
        if kind == T.CLICKED and message.clicked_at is None:
            message.clicked_at = when
            flags["clicked"] = True
        if kind == T.REPLIED and (message.replied_at is None or when < message.replied_at):
            # A tracking time like an open: the status never moves for it. An earlier reply
            # arriving late moves the time, but is no first reply to count.
            flags["replied"] = message.replied_at is None
            message.replied_at = when
            changed = True
        if kind in RESPONSE_EVENTS and message.responded_at is None:
            message.responded_at = when
            flags["responded"] = True
            flags["engaged_since"] = since
    responded = flags.pop("responded", False)  # the row keeps it; the effect has no flag
    changed = changed or responded or any(flags.get(n) for n in ("outcome", "opened", "clicked"))
    target = None if event.machine_open else STATUS_OF_EVENT.get(kind)
    # A message still "sending" keeps its status: its worker is about to record the send and
    # then takes the times recorded here into account.
    if target is not None and allowed(Transition.PROVIDER_EVENT, message.status, target):
        if message.status == S.AMBIGUOUS:  # the provider took the unanswered call: sent then
            message.sent_at = message.sent_at or message.handed_over_at
        message.status, message.status_changed_at = target, at
        changed = True
    return EventEffect(event, message, changed=changed, **flags)


# What reading a campaign recipient for provider events must load.
RECIPIENT_OUTCOMES = ("delivered_at", "bounced_at", "rejected_at")
RECIPIENT_EVENT_FIELDS = (
    "sent_at",
    *RECIPIENT_OUTCOMES,
    "opened_at",
    "clicked_at",
    "unsubscribed_at",
)
_RECIPIENT_SAVED = (*RECIPIENT_OUTCOMES, "opened_at", "clicked_at", "unsubscribed_at")
_OUTCOME_OF = {T.DELIVERED: "delivered_at", T.BOUNCED: "bounced_at", T.REJECTED: "rejected_at"}


def recipients_apply_provider_events(
    pairs: Iterable[tuple[CampaignRecipient, Sequence[NormalizedEvent]]],
) -> list[EventEffect]:
    """Apply provider events to campaign recipients: each recipient (with RECIPIENT_EVENT_FIELDS
    loaded) with its events, oldest first. The earliest time of each kind is kept (providers
    repeat opens and clicks, and batches come out of order); a recipient has one outcome at
    most, the first reported. One UPDATE for the rows that changed. Returns an effect per
    event."""
    effects, changed = [], []
    for recipient, events in pairs:
        touched = False
        for event in events:
            effect = _recipient_event(event, recipient)
            effects.append(effect)
            touched |= effect.changed
        if touched:
            changed.append(recipient)
    rows_save(CampaignRecipient, changed, _RECIPIENT_SAVED)
    return effects


def _recipient_event(event: NormalizedEvent, recipient: CampaignRecipient) -> EventEffect:
    at, kind = event.occurred_at, event.type
    if kind in _OUTCOME_OF:
        name = _OUTCOME_OF[kind]
        if getattr(recipient, name) is None and any(
            getattr(recipient, other) for other in RECIPIENT_OUTCOMES
        ):
            return EventEffect(event, recipient)  # it has another outcome already
        first, changed = _earliest(recipient, name, at)
        return EventEffect(event, recipient, changed=changed, outcome=first)
    if kind == T.UNSUBSCRIBED:
        first, changed = _earliest(recipient, "unsubscribed_at", at)
        return EventEffect(event, recipient, changed=changed, unsubscribed=first)
    if kind not in (T.OPENED, T.CLICKED) or event.machine_open:
        # Nothing on the row marks it (a machine's open is stored and counted, not an open).
        return EventEffect(event, recipient)
    start = recipient.delivered_at or recipient.sent_at
    first_click = kind == T.CLICKED and recipient.clicked_at is None
    opened, changed = _earliest(recipient, "opened_at", at)
    clicked = False
    if kind == T.CLICKED:
        clicked, click_changed = _earliest(recipient, "clicked_at", at)
        changed |= click_changed
    return EventEffect(
        event,
        recipient,
        changed=changed,
        opened=opened,
        clicked=clicked,
        # A recipient keeps no reply: its response is its first click.
        engaged_since=start if first_click else None,
        opened_since=start if opened else None,
    )


def _earliest(recipient: CampaignRecipient, name: str, at: datetime) -> tuple[bool, bool]:
    """Keep the earliest time of `name`: (it is the first, the row changed)."""
    current = getattr(recipient, name)
    if current is not None and at >= current:
        return False, False
    setattr(recipient, name, at)
    return current is None, True


# --- campaign recipients settled by their senders ----------------------------------------------
# A recipient is settled once, from pending: by its chunk's outcome or reconciliation
# (campaign_chunks.py, campaign_mailchimp.py), a suppression added since the audience was
# prepared (campaign_chunks.py), an admin's decision on a held chunk or the campaign's
# cancellation (campaigns.py).
RECIPIENT_SETTLED = frozenset(
    {RecipientStatus.SENT, RecipientStatus.FAILED, RecipientStatus.CANCELLED}
)


def _recipients_settle(rows: QuerySet, status: str, *, campaign_id: int, at, **fields) -> int:
    if status not in RECIPIENT_SETTLED:
        raise ValueError(f"a campaign recipient is not settled as {status}")
    with transaction.atomic():
        count = rows.filter(status=RecipientStatus.PENDING).update(status=status, **fields)
        campaign_recipients_finished_send(
            campaign_id=campaign_id, status=status, count=count, at=at
        )
    return count


def recipients_sent(rows: QuerySet, *, campaign_id: int, at: datetime) -> int:
    """pending → sent at `at`, for the pending ones of `rows`; returns how many."""
    return _recipients_settle(
        rows, RecipientStatus.SENT, campaign_id=campaign_id, at=at, sent_at=at
    )


def recipients_failed(rows: QuerySet, *, campaign_id: int, error: str, at: datetime) -> int:
    """pending → failed, with `error`, for the pending ones of `rows`; returns how many."""
    return _recipients_settle(
        rows, RecipientStatus.FAILED, campaign_id=campaign_id, at=at, error=error[:500]
    )


def recipients_refused(
    rows: QuerySet, reasons: Mapping[str, str], *, campaign_id: int, at: datetime
) -> int:
    """pending → failed for the addresses a provider refused in its answer, each with its
    reason (`reasons` by lower-cased address); one signal for them all. Returns how many."""
    with transaction.atomic():
        count = 0
        for email, reason in reasons.items():
            count += rows.filter(status=RecipientStatus.PENDING, email=email).update(
                status=RecipientStatus.FAILED, error=reason[:500]
            )
        campaign_recipients_finished_send(
            campaign_id=campaign_id, status=RecipientStatus.FAILED, count=count, at=at
        )
    return count


def recipients_withdrawn(rows: QuerySet, *, campaign_id: int, error: str) -> int:
    """pending → cancelled, with `error`: recipients who may no longer get the campaign (their
    address was suppressed after the audience was prepared). Never sent, so never counted as
    sent or failed. Returns how many."""
    return _recipients_settle(
        rows,
        RecipientStatus.CANCELLED,
        campaign_id=campaign_id,
        at=timezone.now(),
        error=error[:500],
    )


def recipients_cancel(rows: QuerySet, *, campaign_id: int) -> int:
    """pending → cancelled (the campaign was); returns how many."""
    return _recipients_settle(
        rows, RecipientStatus.CANCELLED, campaign_id=campaign_id, at=timezone.now()
    )
