"""Provider events about campaign recipients: the first delivery, open, click, bounce and
unsubscribe of each recipient, kept on its CampaignRecipient row (the campaign's results).

Campaign mail carries the recipient's correlation id like outbox mail does; events that match
no outbox message are looked up here, among the campaigns sent through the account that reported
them. Only the first time of each kind is kept (providers repeat opens and clicks), and a click
implies an open."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from config.bulk import rows_save
from providers.models import ProviderAccount
from providers.webhooks.types import DeliveryEventType, NormalizedEvent
from returns_mail.models import CampaignRecipient

T = DeliveryEventType
# Event type -> the recipient's time fields it sets (when still empty).
_FIELDS = {
    T.DELIVERED: ("delivered_at",),
    T.OPENED: ("opened_at",),
    T.CLICKED: ("clicked_at", "opened_at"),
    T.BOUNCED: ("bounced_at",),
    T.UNSUBSCRIBED: ("unsubscribed_at",),
}
_SAVED = ("delivered_at", "opened_at", "clicked_at", "bounced_at", "unsubscribed_at")


def campaign_recipients_apply(
    events: list[NormalizedEvent], *, account: ProviderAccount, skip: Collection[str]
) -> int:
    """Apply `events` (new ones, oldest first), reported by `account`, to the recipients they
    name of campaigns sent through it; `skip`: correlation ids already matched to outbox
    messages. Returns how many rows changed."""
    wanted: dict[str, list[NormalizedEvent]] = {}
    for event in events:
        if event.type in _FIELDS and event.correlation_id and event.correlation_id not in skip:
            try:
                key = str(uuid.UUID(event.correlation_id))
            except ValueError:
                continue  # not one of ours
            wanted.setdefault(key, []).append(event)
    if not wanted:
        return 0
    recipients = CampaignRecipient.objects.filter(
        correlation_id__in=list(wanted), campaign__account=account
    ).only("pk", "correlation_id", *_SAVED)
    changed = []
    for recipient in recipients:
        touched = False
        for event in wanted[str(recipient.correlation_id)]:
            for name in _FIELDS[event.type]:
                current = getattr(recipient, name)
                if current is None or event.occurred_at < current:
                    setattr(recipient, name, event.occurred_at)
                    touched = True
        if touched:
            changed.append(recipient)
    rows_save(CampaignRecipient, changed, _SAVED)
    return len(changed)
