"""SendGrid Event Webhook: the ECDSA signature check and the event batch (events mapped as
django-anymail maps them).

Signed bytes: the timestamp header's value followed by the raw body, no separator; ECDSA P-256 /
SHA-256; base64 DER signature. We use `cryptography` directly: the SDK helper wants str payloads
and raises on malformed base64.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from providers.clients.types import CORRELATION_KEY
from providers.webhooks.common import (
    EventUnusable,
    WebhookForged,
    WebhookMalformed,
    batch_parse,
    header,
    require_media_type,
    text,
    unix_time,
)
from providers.webhooks.machine_opens import machine_user_agent
from providers.webhooks.types import BounceKind, DeliveryEventType, NormalizedEvent, ParsedBatch

KIND = "sendgrid"  # ProviderKind.SENDGRID
ENDPOINT = "sendgrid"  # the first part of its webhook URL path
PROBE_METHOD = ""  # SendGrid sends no request to check the URL: its test is an event post
PROBE_NEEDS_URL_SECRET = False
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
# A DER ECDSA P-256 signature: SEQUENCE of two INTEGERs of at most 33 bytes: 8 to 72 bytes.
_DER_SIGNATURE_BYTES = range(8, 73)

# SendGrid posts a batch every 30 s or once it reaches 768 KB, whichever comes first,
# so a batch is 768 KB plus the event that crossed the line (custom args are at most
# 10,000 bytes per personalization). 2 MiB leaves more than twice that.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_FORM_FIELDS = None  # a JSON array

EVENT_TYPES: dict[str, DeliveryEventType] = {
    "processed": DeliveryEventType.QUEUED,
    "dropped": DeliveryEventType.REJECTED,
    "delivered": DeliveryEventType.DELIVERED,
    "deferred": DeliveryEventType.DEFERRED,
    "bounce": DeliveryEventType.BOUNCED,
    "open": DeliveryEventType.OPENED,
    "click": DeliveryEventType.CLICKED,
    "spamreport": DeliveryEventType.COMPLAINED,
    "unsubscribe": DeliveryEventType.UNSUBSCRIBED,
    "group_unsubscribe": DeliveryEventType.UNSUBSCRIBED,
    "group_resubscribe": DeliveryEventType.SUBSCRIBED,
}


@functools.lru_cache(maxsize=64)
def load_verification_key(key_text: str) -> ec.EllipticCurvePublicKey:
    """The public key as SendGrid shows it: base64 DER SubjectPublicKeyInfo. PEM armour is
    accepted too (people paste keys from other tools). Raises ValueError for anything else."""
    key_text = key_text.strip()
    try:
        if key_text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(key_text.encode("ascii"))
        else:
            der = base64.b64decode("".join(key_text.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 (ECDSA) public key")
    return key


def verify_headers(
    key_text: str, *, headers: Mapping[str, str], now: float, tolerance: int
) -> None:
    """The key usable, the signature shaped as SendGrid makes it, the timestamp within
    `tolerance` seconds of `now`: the signature covers the timestamp, so a body signed long ago
    (a replay) or for the future is refused here, before it is read."""
    try:
        load_verification_key(key_text)
    except ValueError as exc:
        raise WebhookForged(f"the configured verification key is unusable: {exc}") from None
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature:
        raise WebhookForged(f"{SIGNATURE_HEADER} header missing")
    if not timestamp:
        raise WebhookForged(f"{TIMESTAMP_HEADER} header missing")
    if len(_signature_der(signature)) not in _DER_SIGNATURE_BYTES:
        raise WebhookForged("signature is not an ECDSA P-256 signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise WebhookForged("timestamp is not unix seconds")
    if abs(int(timestamp) - now) > tolerance:
        raise WebhookForged(f"timestamp is more than {tolerance} s away from our clock")


def verify(key_text: str, *, body: bytes, headers: Mapping[str, str]) -> None:
    """The signature over the timestamp and the body; `verify_headers` has passed."""
    key = load_verification_key(key_text)
    der = _signature_der(header(headers, SIGNATURE_HEADER))
    timestamp = header(headers, TIMESTAMP_HEADER)
    try:
        key.verify(der, timestamp.encode("ascii") + body, _ECDSA_SHA256)
    except InvalidSignature:
        raise WebhookForged("signature does not match the body, timestamp and key") from None


def _signature_der(signature: str) -> bytes:
    if len(signature) > 100:  # base64 of 72 bytes is 96 characters
        raise WebhookForged("signature is not an ECDSA P-256 signature")
    try:
        return base64.b64decode(signature, validate=True)
    except ValueError:
        raise WebhookForged("signature is not base64") from None


def parse(body: bytes, content_type: str, received_at: datetime) -> ParsedBatch:
    """Every SendGrid event is dated: `received_at` is not needed."""
    require_media_type(content_type, "application/json")
    try:
        batch = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookMalformed("body is not JSON") from None
    if not isinstance(batch, list):
        raise WebhookMalformed("body is not a JSON array of events")
    return batch_parse(batch, _event)


def _event(item: Any) -> NormalizedEvent:
    if not isinstance(item, dict):
        raise EventUnusable("not an object")
    name = item.get("event")
    if not isinstance(name, str) or not name:
        raise EventUnusable("no event name")
    event_type = EVENT_TYPES.get(name, DeliveryEventType.UNKNOWN)
    recipient = item.get("email", "")
    # Every message event names its recipient; an event we do not know (an account event) may not.
    known = event_type != DeliveryEventType.UNKNOWN
    if not isinstance(recipient, str) or (known and not recipient):
        raise EventUnusable("no recipient email", name)
    try:
        occurred_at = unix_time(item.get("timestamp"))
    except ValueError as exc:
        raise EventUnusable(str(exc), name) from None
    bounce_kind = ""
    if name == "bounce":
        # Blocked mail comes as a bounce of type "blocked": temporary, unlike type "bounce".
        bounce_kind = BounceKind.SOFT if item.get("type") == "blocked" else BounceKind.HARD
    return NormalizedEvent(
        type=event_type,
        provider_event=name,
        occurred_at=occurred_at,
        recipient=recipient,
        # Custom args arrive as top-level keys.
        correlation_id=text(item.get(CORRELATION_KEY)),
        # sg_message_id can be missing on asynchronous bounces.
        provider_message_id=text(item.get("sg_message_id")) or text(item.get("smtp-id")),
        provider_event_id=text(item.get("sg_event_id")),
        bounce_kind=bounce_kind,
        reason=text(item.get("reason")) or text(item.get("response")) or text(item.get("status")),
        url=text(item.get("url")) if name == "click" else "",
        list_id=text(item.get("asm_group_id")),
        user_agent=text(item.get("useragent")),
        machine_open=name == "open" and _machine_open(item),
        raw=item,
    )


def _machine_open(item: dict[str, Any]) -> bool:
    """SendGrid's own flag (true or "true"), or a known machine's user agent."""
    flag = item.get("sg_machine_open")
    flagged = flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")
    return flagged or machine_user_agent(text(item.get("useragent")))
