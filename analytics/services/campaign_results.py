"""Provider events about campaign recipients: the first delivery, open, click, bounce, drop and
unsubscribe of each recipient, kept on its CampaignRecipient row (the campaign's results) and
counted in the rollups (in the cohort of the recipient's send), as outbox messages are.

Campaign mail carries the recipient's correlation id like outbox mail does; events that match
no outbox message are looked up here, among the campaigns sent through the account that reported
them. Only the first time of each kind is kept (providers repeat opens and clicks), and a click
implies an open. A recipient has one outcome at most: delivered, bounced or dropped, whichever
the provider reported first."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from analytics.models import LatencyBin
from analytics.services.rollups import Increments, campaign_cohort
from config.bulk import rows_save
from providers.models import ProviderAccount
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent
from returns_mail.models import CampaignRecipient

T = DeliveryEventType
OUTCOMES = ("delivered_at", "bounced_at", "rejected_at")
_OUTCOME_OF = {T.DELIVERED: "delivered_at", T.BOUNCED: "bounced_at", T.REJECTED: "rejected_at"}
# Counted per event, as for outbox messages: nothing on the row marks them.
_COUNTED = {T.DEFERRED: "deferred", T.COMPLAINED: "complained"}
_APPLIED = {*_OUTCOME_OF, *_COUNTED, T.OPENED, T.CLICKED, T.UNSUBSCRIBED}
_SAVED = (*OUTCOMES, "opened_at", "clicked_at", "unsubscribed_at")


def campaign_recipients_apply(
    events: list[NormalizedEvent], *, account: ProviderAccount, skip: Collection[str]
) -> int:
    """Apply `events` (new ones, oldest first), reported by `account`, to the recipients they
    name of campaigns sent through it; `skip`: correlation ids already matched to outbox
    messages. Returns how many rows changed."""
    wanted: dict[str, list[NormalizedEvent]] = {}
    for event in events:
        if event.type in _APPLIED and event.correlation_id and event.correlation_id not in skip:
            try:
                key = str(uuid.UUID(event.correlation_id))
            except ValueError:
                continue  # not one of ours
            wanted.setdefault(key, []).append(event)
    if not wanted:
        return 0
    recipients = (
        CampaignRecipient.objects.filter(correlation_id__in=list(wanted), campaign__account=account)
        .select_related("campaign")
        .only("pk", "correlation_id", "sent_at", *_SAVED, "campaign__account", "campaign__template")
    )
    increments = Increments()
    changed = []
    for recipient in recipients:
        touched = False
        for event in wanted[str(recipient.correlation_id)]:
            touched |= _apply(event, recipient, increments)
        if touched:
            changed.append(recipient)
    rows_save(CampaignRecipient, changed, _SAVED)
    increments.apply()
    return len(changed)


def _apply(event: NormalizedEvent, recipient: CampaignRecipient, increments: Increments) -> bool:
    """Update `recipient` (in memory) and the counts for one new event; True if it changed."""
    at, kind = event.occurred_at, event.type
    # A webhook can come before the send is recorded: then it counts in the hour it happened.
    cohort = campaign_cohort(recipient.campaign, recipient.sent_at or at)
    if kind in _COUNTED:
        increments.count(cohort, _COUNTED[kind])
        return False
    if kind in _OUTCOME_OF:
        name = _OUTCOME_OF[kind]
        current = getattr(recipient, name)
        if current is not None:  # the same outcome again: keep its earliest time
            if at >= current:
                return False
            setattr(recipient, name, at)
            return True
        if any(getattr(recipient, other) for other in OUTCOMES):
            return False  # it has another outcome already
        setattr(recipient, name, at)
        if kind == T.BOUNCED:
            hard = event.bounce_kind == BounceKind.HARD
            increments.count(cohort, "bounced_hard" if hard else "bounced_soft")
        else:
            increments.count(cohort, "delivered" if kind == T.DELIVERED else "rejected")
        return True
    if kind == T.UNSUBSCRIBED:
        return _first(recipient, "unsubscribed_at", at, cohort, increments, "unsubscribed")
    # Opened or clicked (a click implies an open).
    first_engagement = recipient.opened_at is None and recipient.clicked_at is None
    touched = _first(recipient, "opened_at", at, cohort, increments, "opened")
    if kind == T.CLICKED:
        touched |= _first(recipient, "clicked_at", at, cohort, increments, "clicked")
    base = recipient.delivered_at or recipient.sent_at
    if first_engagement and base is not None:
        increments.latency(cohort, LatencyBin.Metric.RESPONSE, (at - base).total_seconds())
    return touched


def _first(recipient, name: str, at, cohort, increments: Increments, counter: str) -> bool:
    """Keep the earliest time of `name`; count `counter` when it is the first."""
    current = getattr(recipient, name)
    if current is None:
        increments.count(cohort, counter)
    elif at >= current:
        return False
    setattr(recipient, name, at)
    return True
