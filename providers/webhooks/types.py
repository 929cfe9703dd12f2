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
    # Mail received for us (Mandrill inbound): kept for replies, changes no message.
    INBOUND = "inbound", "Inbound mail"
    UNKNOWN = "unknown", "Unknown"


class BounceKind(models.TextChoices):
    HARD = "hard", "Hard"
    SOFT = "soft", "Soft"


@dataclass(frozen=True)
class NormalizedEvent:
    """One provider event in our vocabulary. `raw` is the event exactly as the provider sent it
    (one element of a SendGrid batch, of `mandrill_events`, or the audience form fields)."""

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
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
