"""Mailchimp Transactional (Mandrill) webhooks: the HMAC signature and the `mandrill_events` batch
(reference §3.4, mapping as anymail's, §4.2).

Signature: base64(HMAC-SHA1(webhook key, url + every POST field sorted by name, as name + value)),
where url is the webhook URL exactly as configured at Mandrill (a trailing slash matters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from providers.clients.types import CORRELATION_KEY
from providers.webhooks import (
    FORM_CONTENT_TYPE,
    WebhookForged,
    WebhookMalformed,
    form_fields,
    header,
    require_media_type,
    text,
    unix_time,
    wall_time,
)
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent

KIND = "mailchimp_transactional"  # ProviderKind.MAILCHIMP_TRANSACTIONAL
SIGNATURE_HEADER = "X-Mandrill-Signature"
# A newer name Mailchimp support has mentioned (unconfirmed): same value, accepted as a fallback.
ALTERNATE_SIGNATURE_HEADER = "X-Mailchimp-Signature"
EVENTS_FIELD = "mandrill_events"

EVENT_TYPES: dict[str, DeliveryEventType] = {
    "send": DeliveryEventType.SENT,
    "deferral": DeliveryEventType.DEFERRED,
    "hard_bounce": DeliveryEventType.BOUNCED,
    "soft_bounce": DeliveryEventType.BOUNCED,
    "open": DeliveryEventType.OPENED,
    "click": DeliveryEventType.CLICKED,
    "spam": DeliveryEventType.COMPLAINED,
    "unsub": DeliveryEventType.UNSUBSCRIBED,
    "reject": DeliveryEventType.REJECTED,
}
BOUNCE_KINDS = {"hard_bounce": BounceKind.HARD, "soft_bounce": BounceKind.SOFT}


def signature(key: str, url: str, fields: Mapping[str, str]) -> str:
    signed = url + "".join(name + fields[name] for name in sorted(fields))
    digest = hmac.new(key.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(key: str, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
    given = header(headers, SIGNATURE_HEADER) or header(headers, ALTERNATE_SIGNATURE_HEADER)
    if not given:
        raise WebhookForged(f"{SIGNATURE_HEADER} header missing")
    try:
        fields = form_fields(body)
    except ValueError:
        raise WebhookForged("body is not form-encoded UTF-8, so it cannot be signed") from None
    expected = signature(key, url, fields)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        # Never the URL in the reason: it may carry basic-auth credentials.
        raise WebhookForged("signature does not match the body, key and webhook URL")


def parse(body: bytes, content_type: str) -> list[NormalizedEvent]:
    require_media_type(content_type, FORM_CONTENT_TYPE)
    try:
        fields = form_fields(body)
    except ValueError:
        raise WebhookMalformed("body is not form-encoded UTF-8") from None
    if EVENTS_FIELD not in fields:
        raise WebhookMalformed(f"no {EVENTS_FIELD} field")
    try:
        batch = json.loads(fields[EVENTS_FIELD])
    except (ValueError, RecursionError):
        raise WebhookMalformed(f"{EVENTS_FIELD} is not JSON") from None
    if not isinstance(batch, list):
        raise WebhookMalformed(f"{EVENTS_FIELD} is not a JSON array")
    # Mandrill posts at most 1,000 events; a bigger batch is still taken rather than lost.
    return [_event(index, item) for index, item in enumerate(batch)]


def _event(index: int, item: Any) -> NormalizedEvent:
    if not isinstance(item, dict):
        raise WebhookMalformed(f"event {index} is not an object")
    if "event" not in item:
        return _sync_event(index, item)
    name = item["event"]
    if not isinstance(name, str) or not name:
        raise WebhookMalformed(f"event {index} has no event name")
    msg = item.get("msg")
    if not isinstance(msg, dict):
        raise WebhookMalformed(f"event {index} ({name[:40]}) has no msg object")
    event_type = EVENT_TYPES.get(name, DeliveryEventType.UNKNOWN)
    recipient = msg.get("email", "")
    # Every message event names its recipient; an event we do not know (inbound) may not.
    known = event_type != DeliveryEventType.UNKNOWN
    if not isinstance(recipient, str) or (known and not recipient):
        raise WebhookMalformed(f"event {index} ({name[:40]}) has no msg.email")
    try:
        occurred_at = unix_time(item.get("ts"))
    except ValueError as exc:
        raise WebhookMalformed(f"event {index}: {exc}") from None
    # Metadata is a JSON object; an empty one may come as [] (PHP), so anything else means none.
    metadata = msg.get("metadata")
    correlation_id = text(metadata.get(CORRELATION_KEY)) if isinstance(metadata, dict) else ""
    return NormalizedEvent(
        type=event_type,
        provider_event=name,
        occurred_at=occurred_at,
        recipient=recipient,
        correlation_id=correlation_id,
        provider_message_id=text(item.get("_id")) or text(msg.get("_id")),
        bounce_kind=BOUNCE_KINDS.get(name, ""),
        reason=text(msg.get("diag")) or text(msg.get("bounce_description")) or _smtp_diag(msg),
        url=text(item.get("url")) if name == "click" else "",
        user_agent=text(item.get("user_agent")),
        raw=item,
    )


def _sync_event(index: int, item: dict[str, Any]) -> NormalizedEvent:
    """A deny/safe list change (`type` blacklist or whitelist): no message, no `event` key."""
    name = item.get("type")
    if not isinstance(name, str) or not name:
        raise WebhookMalformed(f"event {index} has neither an event nor a type")
    reject = item.get("reject")
    if not isinstance(reject, dict):
        reject = {}
    recipient = reject.get("email", "")
    if not isinstance(recipient, str):
        raise WebhookMalformed(f"event {index} ({name[:40]}) has a reject.email that is not text")
    try:
        # Mandrill's samples carry `ts`; fall back to when the list entry last changed.
        if "ts" in item:
            occurred_at = unix_time(item["ts"])
        else:
            occurred_at = wall_time(reject.get("last_event_at"))
    except ValueError as exc:
        raise WebhookMalformed(f"event {index}: {exc}") from None
    return NormalizedEvent(
        type=DeliveryEventType.UNKNOWN,
        provider_event=name,
        occurred_at=occurred_at,
        recipient=recipient,
        reason=text(reject.get("detail")) or text(reject.get("reason")),
        raw=item,
    )


def _smtp_diag(msg: dict[str, Any]) -> str:
    """A deferral's words are in its latest SMTP event."""
    smtp_events = msg.get("smtp_events")
    if isinstance(smtp_events, list) and smtp_events and isinstance(smtp_events[-1], dict):
        return text(smtp_events[-1].get("diag"))
    return ""
