"""Mailchimp Marketing audience (list) webhooks.

Unsigned: the webhook URL carries a secret, which `verify` compares in constant time. One event
per request, form-encoded with PHP-bracketed keys (`type`, `fired_at`, `data[email]`,
`data[merges][FNAME]`, ...): read here, and only here, into the event's typed fields. The
validator's GET carries nothing to parse (see `PROBE_METHOD`).
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime

from providers.webhooks.common import (
    FORM_CONTENT_TYPE,
    EventUnusable,
    WebhookForged,
    WebhookMalformed,
    batch_parse,
    form_fields,
    require_media_type,
    wall_time,
)
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent, ParsedBatch

KIND = "mailchimp_marketing"  # ProviderKind.MAILCHIMP_MARKETING
ENDPOINT = "mailchimp"  # the first part of its webhook URL path (the URL secret follows)
# Mailchimp's validator GETs the URL before saving the webhook: answered 200, and only at the
# right URL secret.
PROBE_METHOD = "GET"
PROBE_NEEDS_URL_SECRET = True

# One event per post: type, fired_at and the member's data, every merge field
# included (a text merge field holds at most 255 characters, an address six parts). A few KB in
# practice; 256 KiB and Django's own default of 1,000 fields leave ample room.
MAX_BODY_BYTES = 256 * 1024
MAX_FORM_FIELDS = 1000

EVENT_TYPES: dict[str, DeliveryEventType] = {
    "subscribe": DeliveryEventType.SUBSCRIBED,
    "unsubscribe": DeliveryEventType.UNSUBSCRIBED,
    "cleaned": DeliveryEventType.BOUNCED,  # or COMPLAINED, by reason: see parse()
}
# The member's status in the audience after the event (Mailchimp's own status names).
MEMBER_STATUS = {"subscribe": "subscribed", "unsubscribe": "unsubscribed", "cleaned": "cleaned"}
# A profile update carries the member's merge fields; nested ones (an address's parts) are not
# kept.
PROFILE_EVENT = "profile"
_MERGE_FIELD = re.compile(r"data\[merges\]\[([^\[\]]+)\]")


def verify(secret: str, *, url_secret: str | None) -> None:
    if not url_secret:
        raise WebhookForged("webhook URL secret missing")
    if not hmac.compare_digest(url_secret.encode("utf-8"), secret.encode("utf-8")):
        raise WebhookForged("webhook URL secret does not match")


def parse(body: bytes, content_type: str, received_at: datetime) -> ParsedBatch:
    """A batch of one. Every event carries fired_at: `received_at` is not needed."""
    require_media_type(content_type, FORM_CONTENT_TYPE)
    try:
        fields = form_fields(body)
    except ValueError:
        raise WebhookMalformed("body is not form-encoded UTF-8") from None
    return batch_parse([fields], _event)


def _event(fields: dict[str, str]) -> NormalizedEvent:
    name = fields.get("type", "")
    if not name:
        raise EventUnusable("no type field")
    try:
        # Its time zone is undocumented: taken as UTC (the sandbox sends UTC).
        occurred_at = wall_time(fields.get("fired_at"))
    except ValueError:
        raise EventUnusable("fired_at is not 'YYYY-MM-DD HH:MM:SS'", name) from None
    event_type = EVENT_TYPES.get(name, DeliveryEventType.UNKNOWN)
    reason = fields.get("data[reason]", "")
    bounce_kind = ""
    if name == "cleaned":
        # Cleaned for "abuse" is a spam complaint; otherwise ("hard") the address bounced.
        if reason == "abuse":
            event_type = DeliveryEventType.COMPLAINED
        else:
            bounce_kind = BounceKind.HARD
    # upemail names the member by its new address (and its old one in data[old_email]).
    recipient = fields.get("data[email]") or fields.get("data[new_email]", "")
    if event_type != DeliveryEventType.UNKNOWN and not recipient:
        raise EventUnusable("no data[email]", name)
    return NormalizedEvent(
        type=event_type,
        provider_event=name,
        occurred_at=occurred_at,
        recipient=recipient,
        bounce_kind=bounce_kind,
        reason=reason,
        member_status=MEMBER_STATUS.get(name, ""),
        profile=_merge_fields(fields) if name == PROFILE_EVENT else {},
        raw=fields,
    )


def _merge_fields(fields: dict[str, str]) -> dict[str, str]:
    """`data[merges][TAG]` fields by TAG."""
    return {
        match[1]: value
        for key, value in fields.items()
        if (match := _MERGE_FIELD.fullmatch(key)) is not None
    }
