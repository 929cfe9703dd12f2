"""What the clients say of the providers' own suppression lists: each entry in the webhooks'
vocabulary (an event type, a bounce kind), so that it means for our list what the same event
reported by a webhook means. No SDK here: importing this module is cheap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ListedSuppression:
    """One address on one of the provider's lists."""

    email: str
    # What put it there, as a webhook would report it (a providers.webhooks.types
    # DeliveryEventType value): BOUNCED (with `bounce_kind`), COMPLAINED, UNSUBSCRIBED, or
    # DENYLIST_ADDED for an entry made by hand at the provider.
    type: str
    bounce_kind: str = ""
    listed_at: datetime | None = None
    source: str = ""  # the provider's list: "bounces", "unsubscribe group 42", "rejects" ...
    detail: str = ""  # the provider's words (a bounce reason), if any


@dataclass(frozen=True)
class SuppressionPage:
    entries: tuple[ListedSuppression, ...]
    # Where the next page starts: given back as `resume_from`, the listing continues after
    # this page (JSON-serialisable, kept by the caller between runs).
    resume: Mapping[str, Any] = field(default_factory=dict)
