"""Mailchimp Transactional (Mandrill) webhooks: the HMAC signature and the `mandrill_events` batch
(events mapped as django-anymail maps them).

Signature: base64(HMAC-SHA1(webhook key, url + every POST field sorted by name, as name + value)),
where url is the webhook URL exactly as configured at Mandrill (a trailing slash matters). It is
computed over the raw body: the fields are found by their offsets, their names sorted, and each
value percent-decoded into the HMAC a slice at a time, so an unverified body costs no more
memory than its own bytes. There is no timestamp to check: Mandrill signs none, and an event's
`ts` may be old when a batch is retried; a replayed body is absorbed by the analytics app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from providers.clients.mandrill_rejects import MIRRORED_MARK
from providers.clients.types import CORRELATION_KEY
from providers.webhooks.common import (
    FORM_CONTENT_TYPE,
    EventUnusable,
    WebhookForged,
    WebhookMalformed,
    batch_parse,
    form_fields,
    header,
    require_media_type,
    text,
    unix_time,
)
from providers.webhooks.machine_opens import machine_user_agent, opened_too_soon
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent, ParsedBatch

KIND = "mailchimp_transactional"  # ProviderKind.MAILCHIMP_TRANSACTIONAL
ENDPOINT = "mandrill"  # the first part of its webhook URL path
# Mandrill checks the URL with an unsigned HEAD when the webhook is added: answered 200.
PROBE_METHOD = "HEAD"
PROBE_NEEDS_URL_SECRET = False
SIGNATURE_HEADER = "X-Mandrill-Signature"
# A newer name Mailchimp support has mentioned (unconfirmed): same value, accepted as a fallback.
ALTERNATE_SIGNATURE_HEADER = "X-Mailchimp-Signature"
EVENTS_FIELD = "mandrill_events"
# base64 of a 20-byte HMAC-SHA1 digest.
_SIGNATURE_CHARS = 28

# At most 1,000 events per post, form-encoded in one field. An event carries
# its message (subject, metadata, tags, every open and click so far): about 1 KB of JSON, a few
# KB for a much-opened message, and form encoding adds up to half again. 8 MiB is 8 KB per event
# of a full batch. Inbound mail (raw messages) is not received here: it has routes of its own.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Mandrill posts one field, mandrill_events; a few more are signed and tolerated.
MAX_FORM_FIELDS = 16
# Field names are short ("mandrill_events"): a long one is not Mandrill's.
_MAX_NAME_BYTES = 256
# Bytes of a value percent-decoded into the HMAC at a time.
_SLICE = 64 * 1024

EVENT_TYPES: dict[str, DeliveryEventType] = {
    "send": DeliveryEventType.SENT,
    # Seen in real batches though undocumented: `msg.diag` holds the receiving server's answer.
    "delivered": DeliveryEventType.DELIVERED,
    "deferral": DeliveryEventType.DEFERRED,
    "hard_bounce": DeliveryEventType.BOUNCED,
    "soft_bounce": DeliveryEventType.BOUNCED,
    "open": DeliveryEventType.OPENED,
    "click": DeliveryEventType.CLICKED,
    "spam": DeliveryEventType.COMPLAINED,
    "unsub": DeliveryEventType.UNSUBSCRIBED,
    "reject": DeliveryEventType.REJECTED,
    "inbound": DeliveryEventType.INBOUND,
}
BOUNCE_KINDS = {"hard_bounce": BounceKind.HARD, "soft_bounce": BounceKind.SOFT}
# Deny-list (`blacklist`) entries by their `reject.reason`: the event that listed the address
# (`cause`, bounce kind). Any other reason ("custom", ...) is an entry made by hand.
DENY_LIST_CAUSES: dict[str, tuple[DeliveryEventType, str]] = {
    "hard-bounce": (DeliveryEventType.BOUNCED, BounceKind.HARD),
    "soft-bounce": (DeliveryEventType.BOUNCED, BounceKind.SOFT),
    "spam": (DeliveryEventType.COMPLAINED, ""),
    "unsub": (DeliveryEventType.UNSUBSCRIBED, ""),
}
DENY_LIST_ACTIONS = {
    "add": DeliveryEventType.DENYLIST_ADDED,
    "remove": DeliveryEventType.DENYLIST_REMOVED,
}


def verify_headers(headers: Mapping[str, str]) -> None:
    given = _given_signature(headers)
    if len(given) != _SIGNATURE_CHARS:
        raise WebhookForged(f"{SIGNATURE_HEADER} is not a base64 HMAC-SHA1 digest")
    try:
        base64.b64decode(given, validate=True)
    except ValueError:
        raise WebhookForged(f"{SIGNATURE_HEADER} is not a base64 HMAC-SHA1 digest") from None


def verify(key: str, *, body: bytes, headers: Mapping[str, str], url: str) -> None:
    """The signature over `url` and the body's fields; `verify_headers` has passed and the
    body is within MAX_BODY_BYTES and MAX_FORM_FIELDS."""
    digest = hmac.new(key.encode("utf-8"), url.encode("utf-8"), hashlib.sha1)
    fields = _field_offsets(body)
    for name in sorted(fields):
        digest.update(name)
        _update_unquoted(digest, body, *fields[name])
    expected = base64.b64encode(digest.digest())
    if not hmac.compare_digest(expected, _given_signature(headers).encode("utf-8")):
        # Never the URL in the reason: it may carry basic-auth credentials.
        raise WebhookForged("signature does not match the body, key and webhook URL")


def _given_signature(headers: Mapping[str, str]) -> str:
    given = header(headers, SIGNATURE_HEADER) or header(headers, ALTERNATE_SIGNATURE_HEADER)
    if not given:
        raise WebhookForged(f"{SIGNATURE_HEADER} header missing")
    return given


def _field_offsets(body: bytes) -> dict[bytes, tuple[int, int]]:
    """Decoded field name -> (start, end) of its still-encoded value in `body`. A repeated name
    keeps its last value, as PHP (which Mandrill signs for) does; empty fields are skipped, as
    by `form_fields`."""
    fields: dict[bytes, tuple[int, int]] = {}
    start = 0
    while start <= len(body):
        end = body.find(b"&", start)
        if end < 0:
            end = len(body)
        if end > start:
            equals = body.find(b"=", start, end)
            name_end, value_start = (end, end) if equals < 0 else (equals, equals + 1)
            if name_end - start > _MAX_NAME_BYTES:
                raise WebhookForged(f"a form field name is over {_MAX_NAME_BYTES} bytes")
            fields[_unquote(body[start:name_end])] = (value_start, end)
        start = end + 1
    return fields


def _update_unquoted(digest, body: bytes, start: int, end: int) -> None:
    """Feed body[start:end], percent-decoded, to `digest` a slice at a time; a slice never
    ends inside a %XX escape."""
    while start < end:
        stop = min(start + _SLICE, end)
        if stop < end:
            percent = body.rfind(b"%", max(start, stop - 2), stop)
            if percent > start:
                stop = percent
        digest.update(_unquote(body[start:stop]))
        start = stop


def _unquote(encoded: bytes) -> bytes:
    """Percent-decode (and + to space) at C speed: every %XY becomes the escape \\xXY of a
    Python string literal (backslashes doubled first) and the codec decodes them all. A % not
    followed by two hex digits is something Mandrill never sends: forged."""
    literal = encoded.replace(b"+", b" ").replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    try:
        return literal.decode("unicode_escape").encode("latin-1")
    except UnicodeDecodeError:
        raise WebhookForged("the body has a % escape Mandrill would not send") from None


def parse(body: bytes, content_type: str, received_at: datetime) -> ParsedBatch:
    """`received_at` dates the deny/safe-list changes that come without a `ts`."""
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
    return batch_parse(batch, partial(_event, received_at=received_at))


def _event(item: Any, *, received_at: datetime) -> NormalizedEvent:
    if not isinstance(item, dict):
        raise EventUnusable("not an object")
    if "event" not in item:
        return _sync_event(item, received_at)
    name = item["event"]
    if not isinstance(name, str) or not name:
        raise EventUnusable("no event name")
    msg = item.get("msg")
    if not isinstance(msg, dict):
        raise EventUnusable("no msg object", name)
    event_type = EVENT_TYPES.get(name, DeliveryEventType.UNKNOWN)
    recipient = msg.get("email", "")
    # Every message event names its recipient; inbound mail or an event we do not know may not.
    known = event_type not in (DeliveryEventType.UNKNOWN, DeliveryEventType.INBOUND)
    if not isinstance(recipient, str) or (known and not recipient):
        raise EventUnusable("no msg.email", name)
    try:
        occurred_at = unix_time(item.get("ts"))
    except ValueError as exc:
        raise EventUnusable(str(exc), name) from None
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
        machine_open=name == "open" and _machine_open(item, msg, occurred_at),
        raw=item,
    )


def _sync_event(item: dict[str, Any], received_at: datetime) -> NormalizedEvent:
    """A deny- or safe-list change: `type` blacklist or whitelist, `action` add or remove, the
    entry in `reject`; no `event` key, and often no `ts` (then dated `received_at`). Deny-list
    changes become DENYLIST_ADDED / _REMOVED; safe-list ones are kept as unknown."""
    name = item.get("type")
    if not isinstance(name, str) or not name:
        raise EventUnusable("neither an event nor a type")
    action = text(item.get("action"))
    provider_event = f"{name}.{action}" if action else name
    reject = item.get("reject")
    if not isinstance(reject, dict):
        reject = {}
    recipient = reject.get("email", "")
    if not isinstance(recipient, str) or not recipient:
        raise EventUnusable("no reject.email", provider_event)
    # `reject.last_event_at` is when the address last bounced, not when the list changed.
    occurred_at = received_at
    if "ts" in item:
        try:
            occurred_at = unix_time(item["ts"])
        except ValueError as exc:
            raise EventUnusable(str(exc), provider_event) from None
    event_type = DeliveryEventType.UNKNOWN
    cause, bounce_kind = "", ""
    if name == "blacklist":
        event_type = DENY_LIST_ACTIONS.get(action, DeliveryEventType.UNKNOWN)
        if event_type == DeliveryEventType.DENYLIST_ADDED:
            cause, bounce_kind = DENY_LIST_CAUSES.get(text(reject.get("reason")), ("", ""))
            if text(reject.get("detail")).startswith(MIRRORED_MARK):  # our unsubscribe, mirrored
                cause, bounce_kind = DeliveryEventType.UNSUBSCRIBED, ""
    return NormalizedEvent(
        type=event_type,
        provider_event=provider_event,
        occurred_at=occurred_at,
        recipient=recipient,
        bounce_kind=bounce_kind,
        cause=cause,
        reason=text(reject.get("detail")).strip() or text(reject.get("reason")),
        raw=item,
    )


def _smtp_diag(msg: dict[str, Any]) -> str:
    """A deferral's words are in its latest SMTP event."""
    smtp_events = msg.get("smtp_events")
    if isinstance(smtp_events, list) and smtp_events and isinstance(smtp_events[-1], dict):
        return text(smtp_events[-1].get("diag"))
    return ""


def _machine_open(item: dict[str, Any], msg: dict[str, Any], opened: datetime) -> bool:
    """A known machine's user agent, or opened within seconds of sending (`msg.ts`: Mandrill
    reports no delivery)."""
    if machine_user_agent(text(item.get("user_agent"))):
        return True
    try:
        sent = unix_time(msg.get("ts"))
    except ValueError:
        return False
    return opened_too_soon(opened, sent)
