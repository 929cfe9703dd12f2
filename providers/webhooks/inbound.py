"""Inbound mail (customers' replies) as the providers post it: SendGrid Inbound Parse (a
multipart/form-data POST, parsed fields or the raw MIME message) and Mandrill inbound routes
(`mandrill_events` with `inbound` events). Pure functions over bytes and headers, like the
event webhooks of this package; the analytics app owns the views and the storage.

Proof, checked before the body is read where it can be:
- SendGrid signs nothing: the URL carries a secret segment derived from the account's inbound
  secret, and the request HTTP basic auth with that secret as the password.
- Mandrill signs an inbound post as it signs its event webhooks (X-Mandrill-Signature over the
  URL and the fields) with the account's webhook key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING, Any

from providers.webhooks import mandrill, sendgrid
from providers.webhooks.common import (
    FORM_CONTENT_TYPE,
    WebhookForged,
    WebhookMalformed,
    WebhookTooLarge,
    form_field_count,
    form_fields,
    header,
    require_media_type,
    text,
    unix_time,
)

if TYPE_CHECKING:
    from providers.models import ProviderAccount

MULTIPART = "multipart/form-data"
# SendGrid parses messages up to 30 MB; base64 and the form's own parts add a third.
MAX_BODY_BYTES = 40 * 1024 * 1024
# Inbound Parse posts about 15 text fields plus one per attachment.
MAX_FORM_PARTS = 200
BASIC_AUTH_USER = "inbound"
# Endpoint (first part of the inbound URL path) -> account kind that posts to it.
ENDPOINTS = {"sendgrid": sendgrid.KIND, "mandrill": mandrill.KIND}
# The headers a reply keeps (auto-reply recognition, threading, the record).
KEPT_HEADERS = (
    "Message-Id",
    "In-Reply-To",
    "References",
    "Date",
    "From",
    "To",
    "Subject",
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "X-Auto-Response-Suppress",
    "Precedence",
    "Return-Path",
)


@dataclass(frozen=True)
class InboundMail:
    """One received message in our vocabulary. `key` identifies it for the provider (its
    Message-Id, else a digest of its content): a retried post carries the same key."""

    key: str
    recipients: tuple[str, ...]  # the envelope recipients: the addresses it was received for
    from_address: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None  # the provider's time, when it gives one


def endpoint_kind(endpoint: str) -> str:
    try:
        return ENDPOINTS[endpoint]
    except KeyError:
        raise ValueError(f"no inbound endpoint {endpoint!r}") from None


def url_secret(inbound_secret: str) -> str:
    """The secret segment of an account's SendGrid inbound URL: derived from the inbound
    secret, so the URL (shown in the admin, logged by proxies) does not give the password."""
    digest = hmac.new(inbound_secret.encode("utf-8"), b"inbound-parse-url", hashlib.sha256)
    return digest.hexdigest()[:32]


class BasicAuthMissing(WebhookForged):
    """The URL secret is right but the basic auth is missing or wrong: answered 401."""


def verify_url(account: ProviderAccount, *, url_secret_given: str | None) -> None:
    """Raise WebhookForged when the account's inbound URL needs a secret segment and
    `url_secret_given` is not it (any method: the URL itself is wrong)."""
    if account.kind == sendgrid.KIND:
        expected = url_secret(_inbound_secret(account)).encode()
        if not hmac.compare_digest((url_secret_given or "").encode(), expected):
            raise WebhookForged("wrong inbound URL secret")


def verify_headers(
    account: ProviderAccount, *, headers: Mapping[str, str], url_secret_given: str | None
) -> None:
    """Raise WebhookForged unless what comes before the body is the provider's
    (BasicAuthMissing when only the basic auth fails)."""
    if account.kind == sendgrid.KIND:
        verify_url(account, url_secret_given=url_secret_given)
        _check_basic_auth(headers, _inbound_secret(account))
    elif account.kind == mandrill.KIND:
        if not account.webhook_secret:
            raise WebhookForged("no webhook key configured for the account")
        account.secret("webhook_secret")  # undecryptable: our fault, raised as such
        mandrill.verify_headers(headers)
    else:
        raise WebhookForged(f"{account.kind[:40]!r} accounts receive no inbound mail")


def require_length(length: int) -> None:
    if length > MAX_BODY_BYTES:
        raise WebhookTooLarge(f"body over {MAX_BODY_BYTES} bytes", limit_bytes=MAX_BODY_BYTES)


def verify(
    account: ProviderAccount,
    *,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    url_secret_given: str | None,
) -> None:
    """`verify_headers`, the size, and Mandrill's signature over the body."""
    verify_headers(account, headers=headers, url_secret_given=url_secret_given)
    require_length(len(body))
    if account.kind == mandrill.KIND:
        if form_field_count(body) > mandrill.MAX_FORM_FIELDS:
            most = mandrill.MAX_FORM_FIELDS
            raise WebhookTooLarge(f"more than {most} form fields", limit_fields=most)
        mandrill.verify(account.secret("webhook_secret"), body=body, headers=headers, url=url)


def parse(kind: str, *, body: bytes, content_type: str) -> list[InboundMail]:
    """The mail a verified body holds. Raises WebhookMalformed for another shape."""
    if kind == sendgrid.KIND:
        return [_sendgrid_mail(body, content_type)]
    if kind == mandrill.KIND:
        return _mandrill_mails(body, content_type)
    raise ValueError(f"no inbound mail for provider kind {kind!r}")


# --- proof ---------------------------------------------------------------------------------------
def _inbound_secret(account: ProviderAccount) -> str:
    if not account.inbound_secret:
        raise WebhookForged("no inbound secret configured for the account")
    return account.secret("inbound_secret")


def _check_basic_auth(headers: Mapping[str, str], secret: str) -> None:
    scheme, _, encoded = header(headers, "Authorization").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise BasicAuthMissing("no basic auth")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        raise BasicAuthMissing("basic auth is not base64 user:password") from None
    # Both compared whatever the first gives: no timing hint of which was wrong.
    good_user = hmac.compare_digest(user.encode(), BASIC_AUTH_USER.encode())
    if not (hmac.compare_digest(password.encode(), secret.encode()) and good_user):
        raise BasicAuthMissing("wrong basic auth")


# --- SendGrid Inbound Parse ----------------------------------------------------------------------
def _sendgrid_mail(body: bytes, content_type: str) -> InboundMail:
    if content_type.partition(";")[0].strip().lower() != MULTIPART:
        raise WebhookMalformed(f"content type {content_type[:60]!r}, expected {MULTIPART}")
    fields = _multipart_fields(body, content_type)
    if "email" in fields:  # "send raw": the whole MIME message
        mail = _mime_mail(fields["email"])
    elif "headers" in fields:
        mail = _header_block(fields["headers"])
    else:
        raise WebhookMalformed("neither headers nor email field")
    try:
        envelope = json.loads(fields.get("envelope") or "{}")
    except ValueError:
        raise WebhookMalformed("envelope is not JSON") from None
    to = envelope.get("to") if isinstance(envelope, dict) else None
    recipients = tuple(a for a in to if isinstance(a, str)) if isinstance(to, list) else ()
    if not recipients:
        recipients = tuple(a for _, a in getaddresses([fields.get("to", "")]) if a)
    body_text = fields.get("text", "") if "email" not in fields else _body(mail, "plain")
    html = fields.get("html", "") if "email" not in fields else _body(mail, "html")
    return _mail(
        mail,
        recipients=recipients,
        from_=fields.get("from", "") or str(mail.get("From", "")),
        subject=fields.get("subject", "") if "subject" in fields else str(mail["Subject"] or ""),
        body_text=body_text,
        html=html,
        received_at=None,
        fallback_key=hashlib.sha256(body).hexdigest(),
    )


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The text fields of a form-data body, decoded with the charsets SendGrid names (files
    are skipped: a reply's attachments are not kept)."""
    if body.count(b"Content-Disposition") > MAX_FORM_PARTS:
        raise WebhookTooLarge(f"more than {MAX_FORM_PARTS} form parts", limit_fields=MAX_FORM_PARTS)
    document = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    message = BytesParser(policy=policy.HTTP).parsebytes(document)
    if not message.is_multipart():
        raise WebhookMalformed("not a multipart body")
    raw: dict[str, bytes] = {}
    for part in message.iter_parts():
        if part.get_param("filename", header="content-disposition"):
            continue
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            raw[name] = part.get_payload(decode=True) or b""
    try:
        charsets = json.loads(raw.get("charsets", b"{}").decode("utf-8"))
    except ValueError:
        charsets = {}
    if not isinstance(charsets, dict):
        charsets = {}
    return {name: _decode(value, charsets.get(name)) for name, value in raw.items()}


def _decode(value: bytes, charset: object) -> str:
    try:
        return value.decode(charset if isinstance(charset, str) and charset else "utf-8")
    except (LookupError, UnicodeDecodeError):
        return value.decode("utf-8", errors="replace")


# --- Mandrill inbound ----------------------------------------------------------------------------
def _mandrill_mails(body: bytes, content_type: str) -> list[InboundMail]:
    require_media_type(content_type, FORM_CONTENT_TYPE)
    try:
        batch = json.loads(form_fields(body).get(mandrill.EVENTS_FIELD, ""))
    except (ValueError, RecursionError):
        raise WebhookMalformed(f"{mandrill.EVENTS_FIELD} missing or not JSON") from None
    if not isinstance(batch, list):
        raise WebhookMalformed(f"{mandrill.EVENTS_FIELD} is not a JSON array")
    mails = []
    for item in batch:
        if not isinstance(item, dict) or item.get("event") != "inbound":
            continue  # tracking events belong to the event webhook
        msg = item.get("msg")
        if isinstance(msg, dict):
            mails.append(_mandrill_mail(item, msg))
    return mails


def _mandrill_mail(item: dict[str, Any], msg: dict[str, Any]) -> InboundMail:
    raw_msg = text(msg.get("raw_msg"))
    mail = _mime_mail(raw_msg) if raw_msg else EmailMessage(policy=policy.default)
    for name, value in (msg.get("headers") or {}).items():
        if isinstance(name, str) and name not in mail and isinstance(value, str | list):
            mail[name] = value if isinstance(value, str) else ", ".join(map(str, value))
    try:
        received_at = unix_time(item.get("ts"))
    except ValueError:
        received_at = None
    recipients = tuple(a for a in [text(msg.get("email"))] if a) or tuple(
        text(pair[0]) for pair in msg.get("to") or [] if isinstance(pair, list) and pair
    )
    return _mail(
        mail,
        recipients=recipients,
        from_=text(msg.get("from_email")) or str(mail.get("From", "")),
        subject=text(msg.get("subject")) or str(mail.get("Subject", "")),
        body_text=text(msg.get("text")) or _body(mail, "plain"),
        html=text(msg.get("html")),
        received_at=received_at,
        fallback_key=hashlib.sha256(
            raw_msg.encode("utf-8") or json.dumps(msg).encode()
        ).hexdigest(),
    )


# --- MIME ----------------------------------------------------------------------------------------
def _mime_mail(raw: str) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw.encode("utf-8", errors="replace"))


def _header_block(block: str) -> EmailMessage:
    return BytesHeaderParser(policy=policy.default).parsebytes(block.encode("utf-8", "replace"))


def _body(mail: EmailMessage, subtype: str) -> str:
    try:
        part = mail.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""
    except (LookupError, KeyError, ValueError, AttributeError):
        return ""


def _mail(
    mail: EmailMessage, *, recipients, from_, subject, body_text, html, received_at, fallback_key
):
    headers = {}
    for name in KEPT_HEADERS:
        try:
            value = mail.get(name)
        except (ValueError, IndexError):  # a header the policy cannot parse
            value = None
        if value is not None:
            headers[name] = str(value)[:1000]
    message_id = headers.get("Message-Id", "").strip()
    return InboundMail(
        key=(message_id or fallback_key)[:255],
        recipients=tuple(r.strip() for r in recipients if r.strip()),
        from_address=(parseaddr(from_)[1] or from_)[:320],
        subject=subject.strip()[:500],
        text=body_text,
        html=html,
        headers=headers,
        received_at=received_at,
    )
