"""SendGrid Event Webhook posts for what the sandbox accepted, signed as SendGrid signs them.

Which events a recipient gets:
- a magic token after "+" in the local part decides, deterministically:
  `a+bounce@x` processed, bounce (hard) · `+blocked` processed, bounce (type blocked) ·
  `+dropped` processed, dropped · `+deferred` processed, deferred · `+delivered` ·
  `+open` processed, delivered, open · `+click` ... delivered, open, click ·
  `+spamreport` ... delivered, spamreport · `+unsubscribe` ... delivered, unsubscribe ·
  `+machineopen` ... delivered, an open by a machine (`sg_machine_open: true`);
- otherwise the target's `rates` (each an overall probability): `dropped` and `bounce` exclude
  delivery; `delivered` defaults to everything not dropped or bounced; `deferred` can precede a
  bounce or a delivery; `open`, `click` (a click implies an open), `spamreport` and
  `unsubscribe` follow a delivery, a minute later (HUMAN_DELAY: a person's actions);
  `machine_open` is an open by Apple Mail Privacy Protection at the delivery (flagged
  `sg_machine_open: true`, as SendGrid flags them). No token and no rates: processed, delivered.

Signature (SendGrid's signed Event Webhook): ECDSA P-256 / SHA-256 over the timestamp header's
bytes followed by the raw body, base64 of the DER signature.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# SendGrid posts a batch every 30 s or once it reaches 768 KB, whichever comes first.
BATCH_BYTES = 768 * 1024

TOKENS: dict[str, tuple[str, ...]] = {
    "bounce": ("bounce",),
    "blocked": ("blocked",),
    "dropped": ("dropped",),
    "deferred": ("deferred",),
    "delivered": ("delivered",),
    "open": ("delivered", "open"),
    "click": ("delivered", "open", "click"),
    "spamreport": ("delivered", "spamreport"),
    "unsubscribe": ("delivered", "unsubscribe"),
    "machineopen": ("delivered", "machine_open"),
}
HUMAN_DELAY = 60  # seconds from the delivery to a person's open, click or report
_HUMAN = ("open", "click", "spamreport", "unsubscribe")
_MACHINE_AGENT = "Mozilla/5.0"  # Apple's image proxy says no more

# Per-event details, as SendGrid words them.
_DETAILS: dict[str, dict[str, Any]] = {
    "bounce": {
        "event": "bounce",
        "type": "bounce",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "bounce_classification": "Invalid Address",
    },
    "blocked": {
        "event": "bounce",
        "type": "blocked",
        "status": "5.7.1",
        "reason": "550 5.7.1 Message rejected due to local policy (sandbox).",
        "bounce_classification": "Reputation",
    },
    # No `type`: parsers (anymail) then take the reject reason from `reason`.
    "dropped": {"event": "dropped", "status": "5.0.0", "reason": "Bounced Address"},
    "deferred": {
        "event": "deferred",
        "response": "451 4.7.1 Temporarily deferred, try again later (sandbox)",
        "attempt": "1",
    },
    "delivered": {"event": "delivered", "response": "250 2.0.0 OK (sandbox)", "tls": 1},
}
_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
_HREF = re.compile(r"""href\s*=\s*["'](https?://[^"']+)["']""", re.IGNORECASE)


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def signing_key_load_or_create(path: Path):
    """The SendGrid webhook signing key kept in `path` (PEM), created once: its public key
    then stays valid across restarts (the demo account holds it)."""
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = new_signing_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def public_key_text(private_key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as SendGrid shows it: base64 DER SubjectPublicKeyInfo, no PEM armour."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def signed_headers(
    private_key: ec.EllipticCurvePrivateKey, body: bytes, *, at: float | None = None
) -> dict[str, str]:
    """Headers of a post of `body` signed at `at` (unix seconds; default now)."""
    timestamp = str(int(time.time() if at is None else at))
    signature = private_key.sign(timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "SendGrid Event API",
        SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        TIMESTAMP_HEADER: timestamp,
    }


def magic_token(email: str) -> str:
    local = email.partition("@")[0]
    return local.partition("+")[2].lower()


def outcome(email: str, rates: Mapping[str, float], rng: random.Random) -> list[str]:
    """The sequence of events for one recipient (names from TOKENS/_DETAILS plus engagement)."""
    token = magic_token(email)
    if token in TOKENS:
        return ["processed", *TOKENS[token]]
    events = ["processed"]
    dropped, bounce = rates.get("dropped", 0.0), rates.get("bounce", 0.0)
    delivered = rates.get("delivered", max(0.0, 1.0 - dropped - bounce))
    draw = rng.random()
    if draw < dropped:
        return [*events, "dropped"]
    if rng.random() < rates.get("deferred", 0.0):
        events.append("deferred")
    if draw < dropped + bounce:
        return [*events, "bounce"]
    if draw >= dropped + bounce + delivered:
        return events  # still on its way when the sandbox stops reporting
    events.append("delivered")
    if rng.random() < rates.get("machine_open", 0.0):
        events.append("machine_open")
    engaged = rng.random()
    if engaged < max(rates.get("open", 0.0), rates.get("click", 0.0)):
        events.append("open")
        if engaged < rates.get("click", 0.0):
            events.append("click")
    if rng.random() < rates.get("spamreport", 0.0):
        events.append("spamreport")
    if rng.random() < rates.get("unsubscribe", 0.0):
        events.append("unsubscribe")
    return events


def recipients(body: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any], str]]:
    """(personalization index, personalization, email) for every to/cc/bcc recipient."""
    for index, personalization in enumerate(body["personalizations"]):
        for kind in ("to", "cc", "bcc"):
            for address in personalization.get(kind) or []:
                yield index, personalization, address["email"]


def build_events(
    body: Mapping[str, Any],
    message_id: str,
    *,
    rates: Mapping[str, float],
    rng: random.Random,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """Every event of an accepted mail/send body, in the order SendGrid would report them."""
    now = int(time.time() if now is None else now)
    categories = body.get("categories")
    group_id = (body.get("asm") or {}).get("group_id")
    click_url = _first_link(body)
    events = []
    for ordinal, (index, personalization, email) in enumerate(recipients(body)):
        shared = {
            # Custom args first: SendGrid's own keys win over a custom arg of the same name.
            **(body.get("custom_args") or {}),
            **(personalization.get("custom_args") or {}),
            "email": email,
            "timestamp": now,
            "smtp-id": f"<{message_id}@ismtpd0001p1sandbox.sendgrid.net>",
            "sg_message_id": f"{message_id}.filterdrecv-sandbox-{index}-{now:X}-{ordinal}.0",
        }
        if categories:
            shared["category"] = categories
        if group_id is not None:
            shared["asm_group_id"] = group_id
        for name in outcome(email, rates, rng):
            event = {**shared, "sg_event_id": secrets.token_urlsafe(16)}
            event.update(_DETAILS.get(name, {"event": name}))
            if name in _HUMAN:
                event["timestamp"] = now + HUMAN_DELAY
            if name == "machine_open":
                event.update(
                    event="open", useragent=_MACHINE_AGENT, ip="17.58.0.1", sg_machine_open=True
                )
            if name in ("open", "click"):
                event.update(useragent=_USER_AGENT, ip="192.0.2.10", sg_machine_open=False)
            if name == "click":
                event.update(url=click_url, url_offset={"index": 0, "type": "html"})
                del event["sg_machine_open"]
            events.append(event)
    return events


def event_body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events, separators=(",", ":")).encode("utf-8")


def event_batches(events: list[dict[str, Any]]) -> Iterator[bytes]:
    """The bodies SendGrid would post for `events`: each closed once it reaches BATCH_BYTES."""
    batch: list[bytes] = []
    size = 0
    for event in events:
        batch.append(json.dumps(event, separators=(",", ":")).encode("utf-8"))
        size += len(batch[-1]) + 1
        if size >= BATCH_BYTES:
            yield b"[" + b",".join(batch) + b"]"
            batch, size = [], 0
    if batch:
        yield b"[" + b",".join(batch) + b"]"


def _first_link(body: Mapping[str, Any]) -> str:
    for block in body.get("content") or []:
        if block.get("type") == "text/html" and (match := _HREF.search(block.get("value", ""))):
            return match.group(1)
    return "https://shop.example/"
