"""Provider events about campaign recipients: found here, applied by the mail's lifecycle
(returns_mail/services/lifecycle.py keeps the first delivery, open, click, bounce, drop and
unsubscribe of each recipient on its CampaignRecipient row: the campaign's results), and
counted in the rollups (in the cohort of the recipient's send), as outbox messages are.

Campaign mail carries the recipient's correlation id like outbox mail does; events that match
no outbox message are looked up here, among the campaigns sent through the account that reported
them."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from analytics.services.rollups import Increments, campaign_cohort, effect_count
from providers.models import ProviderAccount
from providers.webhooks.types import DeliveryEventType, NormalizedEvent
from returns_mail.models import CampaignRecipient
from returns_mail.services.lifecycle import (
    RECIPIENT_EVENT_FIELDS,
    EventEffect,
    recipients_apply_provider_events,
)

T = DeliveryEventType
# Counted per event, as for outbox messages: nothing on the row marks them.
_COUNTED = {T.DEFERRED: "deferred", T.COMPLAINED: "complained"}
_APPLIED = {T.DELIVERED, T.BOUNCED, T.REJECTED, *_COUNTED, T.OPENED, T.CLICKED, T.UNSUBSCRIBED}


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
        .only(
            "pk",
            "correlation_id",
            *RECIPIENT_EVENT_FIELDS,
            "campaign__account",
            "campaign__template",
        )
    )
    effects = recipients_apply_provider_events(
        (recipient, wanted[str(recipient.correlation_id)]) for recipient in recipients
    )
    increments = Increments()
    for effect in effects:
        _count(effect, increments)
    increments.apply()
    return len({effect.row.pk for effect in effects if effect.changed})


def _count(effect: EventEffect, increments: Increments) -> None:
    """The counts and latencies of what one event did to its recipient."""
    recipient = effect.row
    # A webhook can come before the send is recorded: then it counts in the hour it happened.
    cohort = campaign_cohort(recipient.campaign, recipient.sent_at or effect.event.occurred_at)
    effect_count(increments, cohort, effect, by_type=_COUNTED)
