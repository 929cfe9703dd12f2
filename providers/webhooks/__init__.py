"""Incoming provider webhooks: is a request really from the provider (`verify`), and what does it
say in our own vocabulary (`parse`, giving `types.NormalizedEvent`s).

Pure functions over bytes and headers: no database, no request objects. `parse` needs only the
body and its content type, so a stored raw body can be parsed again later. The analytics app owns
the views, the storage and the de-duplication. One module per provider: `sendgrid`, `mandrill`
(Mailchimp Transactional), `mailchimp` (Mailchimp Marketing audience webhooks).

A request is checked in two steps so that a forger costs little: `verify_headers` needs no body
(key configured, signature header present and shaped, timestamp fresh, URL secret), then the
body is read up to `limits(kind)` and `verify` checks the signature over it without building
anything per field. Only a verified body is parsed. Before any of that, `probe_answer` says
whether the request is the provider checking the URL (no events, answered 200), and
`endpoint_kind` which kind of account posts to an endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings

from providers.webhooks import mailchimp, mandrill, sendgrid
from providers.webhooks.common import (
    EventUnusable,
    WebhookForged,
    WebhookMalformed,
    WebhookTooLarge,
    form_field_count,
)
from providers.webhooks.types import ParsedBatch

if TYPE_CHECKING:
    from providers.models import ProviderAccount

__all__ = [
    "EventUnusable",
    "Limits",
    "WebhookForged",
    "WebhookMalformed",
    "WebhookTooLarge",
    "endpoint_kind",
    "limits",
    "parse",
    "probe_answer",
    "require_length",
    "verify",
    "verify_headers",
]


@dataclass(frozen=True)
class Limits:
    """What one request of a provider may hold. `max_form_fields` is None for JSON bodies."""

    max_body_bytes: int
    max_form_fields: int | None


# ProviderKind value -> module; SMTP accounts have no webhooks.
_MODULES = {module.KIND: module for module in (sendgrid, mandrill, mailchimp)}
_ENDPOINTS = {module.ENDPOINT: module.KIND for module in _MODULES.values()}


def endpoint_kind(endpoint: str) -> str:
    """The account kind that posts to the webhook endpoint `endpoint` (the first part of the
    URL path: "sendgrid", "mandrill", "mailchimp"). Raises ValueError for another name."""
    try:
        return _ENDPOINTS[endpoint]
    except KeyError:
        raise ValueError(f"no webhook endpoint {endpoint!r}") from None


def probe_answer(account: ProviderAccount, *, method: str, url_secret: str | None) -> bool:
    """True when the request is the provider checking the account's webhook URL: answer 200
    and store nothing (Mandrill: an unsigned HEAD; Mailchimp Marketing's validator: a GET, at
    the right URL secret). False: not a probe; only a POST carries events. Raises
    WebhookForged for a probe the URL secret does not prove (as `verify_headers`)."""
    module = _MODULES.get(account.kind)
    if module is None or not module.PROBE_METHOD or method != module.PROBE_METHOD:
        return False
    if module.PROBE_NEEDS_URL_SECRET:
        verify_headers(account, headers={}, url_secret=url_secret)
    return True


def limits(kind: str) -> Limits:
    """The most one request of `kind` may hold. Raises ValueError for a kind without webhooks."""
    return Limits(_module(kind).MAX_BODY_BYTES, _module(kind).MAX_FORM_FIELDS)


def require_length(kind: str, length: int) -> None:
    """Raise WebhookTooLarge when a body of `length` bytes is more than `kind` ever sends: the
    view asks with the Content-Length before reading, `verify` with the bytes read."""
    most = limits(kind).max_body_bytes
    if length > most:
        raise WebhookTooLarge(f"body over {most} bytes", limit_bytes=most)


def verify_headers(
    account: ProviderAccount,
    *,
    headers: Mapping[str, str],
    url_secret: str | None,
    now: float | None = None,
    tolerance: int | None = None,
) -> None:
    """Raise WebhookForged unless what comes before the body could be the provider's: a key
    configured, the signature header present and shaped as the provider makes it, its timestamp
    within `tolerance` seconds of `now` (default: the WEBHOOK_TIMESTAMP_TOLERANCE setting and
    the clock), or the URL secret right. Reads no body, so a forger is refused before sending
    one. A secret that cannot be decrypted raises `ProviderConfigurationError` (see `verify`).
    """
    if account.kind == sendgrid.KIND:
        key = account.webhook_verification_key or ""
        if not key.strip():
            raise WebhookForged("no webhook verification key configured for the account")
        if tolerance is None:
            tolerance = settings.WEBHOOK_TIMESTAMP_TOLERANCE
        sendgrid.verify_headers(
            key, headers=headers, now=time.time() if now is None else now, tolerance=tolerance
        )
    elif account.kind == mandrill.KIND:
        _webhook_secret(account)
        mandrill.verify_headers(headers)
    elif account.kind == mailchimp.KIND:
        mailchimp.verify(_webhook_secret(account), url_secret=url_secret)
    else:
        raise WebhookForged(f"{account.kind[:40]!r} accounts receive no webhooks")


def verify(
    account: ProviderAccount,
    *,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    url_secret: str | None,
    now: float | None = None,
    tolerance: int | None = None,
) -> None:
    """Raise WebhookForged unless the request provably comes from the account's provider, and
    WebhookTooLarge when the body holds more than the provider sends (`limits`).

    `headers` is a case-insensitive mapping of the request headers; `url` the absolute URL the
    provider posted to, exactly as configured there (Mandrill signs it); `url_secret` the secret
    part of a Mailchimp Marketing webhook URL; `now` and `tolerance` as for `verify_headers`,
    which this calls first. A secret that cannot be decrypted raises
    `ProviderConfigurationError` instead: that is our fault, so the view answers 5xx and the
    provider retries once the key is restored.
    """
    verify_headers(account, headers=headers, url_secret=url_secret, now=now, tolerance=tolerance)
    require_length(account.kind, len(body))
    most = limits(account.kind).max_form_fields
    if most is not None and form_field_count(body) > most:
        raise WebhookTooLarge(f"more than {most} form fields", limit_fields=most)
    if account.kind == sendgrid.KIND:
        sendgrid.verify(account.webhook_verification_key, body=body, headers=headers)
    elif account.kind == mandrill.KIND:
        mandrill.verify(_webhook_secret(account), body=body, headers=headers, url=url)
    # Mailchimp Marketing: the URL secret is the whole proof, checked by verify_headers.


def parse(
    kind: str, *, body: bytes, content_type: str, received_at: datetime | None = None
) -> ParsedBatch:
    """The events of a verified body, in the order the provider sent them, and those that lack
    what we need (skipped, with the reason). `received_at` (default: now) is the time of an
    event the provider sends undated (Mandrill's deny-list changes): pass the delivery's, so
    that parsing a stored body again gives the same events. Raises WebhookMalformed when the
    body as a whole is not the provider's documented shape, and ValueError for a `kind` that
    has no webhooks (a caller's bug)."""
    return _module(kind).parse(body, content_type, received_at or datetime.now(UTC))


def _module(kind: str):
    module = _MODULES.get(kind)
    if module is None:
        raise ValueError(f"no webhooks for provider kind {kind!r}")
    return module


def _webhook_secret(account: ProviderAccount) -> str:
    if not account.webhook_secret:
        raise WebhookForged("no webhook secret configured for the account")
    return account.secret("webhook_secret")
