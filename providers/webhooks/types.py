"""What every provider's webhook becomes: one vocabulary of delivery events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models


class DeliveryEventType(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    DEFERRED = "deferred", "Deferred"
    BOUNCED = "bounced", "Bounced"
    REJECTED = "rejected", "Rejected / dropped"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    COMPLAINED = "complained", "Complained (spam report)"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    SUBSCRIBED = "subscribed", "Subscribed"
    # The provider's own deny list (Mandrill's rejects): it refuses, or again accepts, mail to
    # the address through the account that reported it.
    DENYLIST_ADDED = "denylist_add", "Added to the provider's deny list"
    DENYLIST_REMOVED = "denylist_remove", "Removed from the provider's deny list"
    # Mail received for us (Mandrill inbound): kept for replies, changes no message.
    INBOUND = "inbound", "Inbound mail"
    # A person's reply to one of our emails, linked to it (an auto-reply is not one).
    REPLIED = "replied", "Replied"
    UNKNOWN = "unknown", "Unknown"


class BounceKind(models.TextChoices):
    HARD = "hard", "Hard"
    SOFT = "soft", "Soft"


@dataclass(frozen=True)
class NormalizedEvent:
    """One provider event in our vocabulary. `raw` is the event exactly as the provider sent it
    (one element of a SendGrid batch, of `mandrill_events`, or the audience form fields): kept
    for the record; what callers need is in the typed fields."""

    type: str  # a DeliveryEventType value
    provider_event: str  # the provider's own name: "bounce", "hard_bounce", "cleaned", ...
    occurred_at: datetime  # timezone-aware, UTC
    recipient: str
    correlation_id: str = ""  # our Message.correlation_id, when the provider echoes it back
    provider_message_id: str = ""
    provider_event_id: str = ""  # SendGrid sg_event_id (not stable across retries)
    bounce_kind: str = ""  # a BounceKind value for bounces, else ""
    reason: str = ""  # the provider's words: MTA response, drop reason, diag, ...
    url: str = ""  # clicks
    list_id: str = ""  # the list or group the event is about: SendGrid asm_group_id
    user_agent: str = ""
    # An open no person made (providers/webhooks/machine_opens.py): kept, never counted as one.
    machine_open: bool = False
    # Why an address was added to a deny list, as the event that would have listed it: BOUNCED
    # (with bounce_kind), COMPLAINED, UNSUBSCRIBED; "" when someone listed it by hand.
    cause: str = ""
    # Audience webhooks (Mailchimp Marketing): the member's status after the event
    # ("subscribed", "unsubscribed", "cleaned"; "" when it does not change it), and on a
    # profile update the member's merge fields by tag (FNAME, LNAME, LOCALE...).
    member_status: str = ""
    profile: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SkippedEvent:
    """An event of a batch that lacks what we need (a recipient, a time...): not stored, and
    recorded with the reason on the delivery that carried it."""

    index: int  # its position in the batch, from 0
    provider_event: str  # the provider's name for it, "" when it has none
    reason: str


@dataclass(frozen=True)
class ParsedBatch:
    """What one webhook body holds: the events we can store, and those we cannot."""

    events: list[NormalizedEvent]
    skipped: list[SkippedEvent] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.events) + len(self.skipped)
