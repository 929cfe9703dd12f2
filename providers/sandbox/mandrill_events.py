"""Mandrill webhook events for what the sandbox accepted, signed as Mandrill signs them.

What happens to a recipient is chosen by `+tokens` in the local part of the address, else by
the webhook target's `rates` (event name -> probability), else it is simply sent:

  +bounce → send, hard_bounce, deny-list add    +softbounce → send, soft_bounce
  +deferral → deferral, send
  +open → send, open              +click → send, open, click         +spam → send, spam
  +unsubscribe → send, unsub      rejected at send time (+reject, +unsub) → reject
  +machineopen → send, an open by Apple Mail Privacy Protection (rate `machine_open`)

A person's opens, clicks, spam reports and unsubscribes come a minute (HUMAN_DELAY) after the
send; a machine's open comes a second after it, with Apple's bare "Mozilla/5.0" user agent.

Each POST carries one form field, `mandrill_events` (a JSON array of at most 1,000 events), and
`X-Mandrill-Signature` = base64(HMAC-SHA1(webhook key, url + "mandrill_events" + json)).
A hard bounce puts the address on the account's deny list, and that change follows in the same
post as a sync event: no `event` key and, as real ones come, no `ts`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from providers.sandbox.core import Sandbox

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EVENTS_PER_POST = 1000
TOKEN_EVENTS = {
    "bounce": ["send", "hard_bounce"],
    "softbounce": ["send", "soft_bounce"],
    "deferral": ["deferral", "send"],
    "open": ["send", "open"],
    "click": ["send", "open", "click"],
    "spam": ["send", "spam"],
    "unsubscribe": ["send", "unsub"],
    "machineopen": ["send", "machine_open"],
}
HUMAN_DELAY = 60  # seconds from the send to a person's first action
HUMAN_KINDS = ("open", "click", "spam", "unsub")
STATES = {
    "send": "sent",
    "deferral": "deferred",
    "hard_bounce": "bounced",
    "soft_bounce": "soft-bounced",
    "open": "sent",
    "machine_open": "sent",
    "click": "sent",
    "spam": "spam",
    "unsub": "unsub",
    "reject": "rejected",
}
_rng = random.Random()  # noqa: S311 - simulated recipient behaviour


def local_tokens(email: str) -> set[str]:
    return {t.lower() for t in email.partition("@")[0].split("+")[1:]}


def sign(secret: str, url: str, events_json: str) -> str:
    signed = (url + "mandrill_events" + events_json).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def event_kinds(entry: dict, rates: dict[str, float]) -> list[str]:
    if entry["status"] == "rejected":
        return ["reject"]
    for token in sorted(local_tokens(entry["email"])):
        if token in TOKEN_EVENTS:
            return list(TOKEN_EVENTS[token])

    def drawn(kind: str) -> bool:
        return _rng.random() < float(rates.get(kind, 0.0))

    for bounce in ("hard_bounce", "soft_bounce"):
        if drawn(bounce):
            return ["send", bounce]
    kinds = ["deferral", "send"] if drawn("deferral") else ["send"]
    if drawn("machine_open"):  # the mail client's proxy fetches it as it arrives
        kinds.append("machine_open")
    if drawn("open"):
        kinds.append("open")
        if drawn("click"):
            kinds.append("click")
    kinds += [kind for kind in ("spam", "unsub") if drawn(kind)]
    return kinds


def recipient_metadata(message: dict, email: str) -> dict:
    """The message's metadata overlaid by this recipient's `recipient_metadata` values."""
    metadata = dict(message.get("metadata") or {})
    for entry in message.get("recipient_metadata") or []:
        if isinstance(entry, dict) and str(entry.get("rcpt", "")).lower() == email.lower():
            metadata.update(entry.get("values") or {})
    return metadata


def build_events(entry: dict, message: dict, template: dict | None, kinds: list[str]) -> list:
    sent_at = int(time.time())
    subject = message.get("subject") or (template or {}).get("publish_subject")
    sender = message.get("from_email") or (template or {}).get("publish_from_email")
    html = message.get("html") or (template or {}).get("publish_code") or ""
    link = re.search(r'href="(https?://[^"]+)"', html)
    events = []
    for offset, kind in enumerate(kinds):
        ts = sent_at + offset + (HUMAN_DELAY if kind in HUMAN_KINDS else 0)
        msg = {
            "ts": sent_at,
            "_id": entry["_id"],
            "_version": uuid.uuid4().hex[:22],
            "email": entry["email"],
            "sender": sender,
            "subject": subject,
            "tags": list(message.get("tags") or []),
            "metadata": recipient_metadata(message, entry["email"]),
            "state": STATES[kind],
            "opens": [{"ts": ts}] if kind in ("open", "machine_open", "click") else [],
            "clicks": [],
            "smtp_events": [],
            "resends": [],
            "template": (template or {}).get("slug"),
            "subaccount": message.get("subaccount"),
        }
        name = "open" if kind == "machine_open" else kind
        event = {"event": name, "ts": ts, "_id": entry["_id"], "msg": msg}
        if kind in ("hard_bounce", "soft_bounce"):
            hard = kind == "hard_bounce"
            msg["bounce_description"] = "bad_mailbox" if hard else "mailbox_full"
            msg["bgtools_code"] = 10 if hard else 22
            msg["diag"] = "smtp;550 5.1.1 user unknown" if hard else "smtp;452 4.2.2 mailbox full"
        if kind == "deferral":
            msg["smtp_events"] = [
                {"ts": ts, "type": "deferred", "diag": "451 4.3.0 try again later", "size": 0}
            ]
        if kind in ("open", "click"):
            event.update(
                ip="127.0.0.1",
                user_agent="Mozilla/5.0 (sandbox)",
                user_agent_parsed={"type": "Browser", "ua_family": "Sandbox", "mobile": False},
                location={"country_short": "ZZ", "country_long": "Sandbox", "city": "Loopback"},
            )
        if kind == "machine_open":
            event.update(
                ip="17.58.0.1",  # an address of Apple's
                user_agent="Mozilla/5.0",
                user_agent_parsed={"type": "unknown", "ua_family": "unknown", "mobile": False},
                location={"country_short": "US", "country_long": "United States"},
            )
        if kind == "click":
            url = link.group(1) if link else "https://shop.example/"
            event["url"] = url
            msg["clicks"] = [{"ts": ts, "url": url}]
        events.append(event)
        if kind == "hard_bounce":
            events.append(deny_list_event("add", entry["email"], msg, ts))
    return events


def deny_list_event(action: str, email: str, msg: dict, ts: int) -> dict:
    at = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "type": "blacklist",
        "action": action,
        "reject": {
            "reason": "hard-bounce",
            "detail": msg.get("diag", ""),
            "last_event_at": at,
            "email": email,
            "created_at": at,
            "expires_at": None,
            "expired": False,
            "subaccount": msg.get("subaccount"),
            "sender": None,
        },
    }


def post_message_events(sandbox: Sandbox, key: str, deliveries: list) -> list[dict]:
    """The events of accepted recipients, posted to the key's webhook target if it has one
    (without one, only the `+token` recipients have an outcome). Returns them."""
    target = sandbox.webhook_target("mandrill", key)
    rates = target.rates if target is not None else {}
    events = []
    for entry, message, template in deliveries:
        events += build_events(entry, message, template, event_kinds(entry, rates))
    if target is None:
        return events
    for start in range(0, len(events), EVENTS_PER_POST):
        payload = json.dumps(events[start : start + EVENTS_PER_POST])
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Mandrill-Webhook/1.0",
            "X-Mandrill-Signature": sign(target.secret, target.url, payload),
        }
        body = urlencode({"mandrill_events": payload}).encode("ascii")
        sandbox.post_webhook(target.delay, target.url, body, headers)
    return events
