"""The errors and parsing helpers every provider module (`sendgrid`, `mandrill`, `mailchimp`)
shares; the package re-exports the errors, which are part of its interface."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from providers.webhooks.types import NormalizedEvent, ParsedBatch, SkippedEvent

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class WebhookForged(Exception):
    """Not provably from the provider (or no key to prove it with): answer 403, store nothing.
    `str(exc)` is a short reason for a log line and never contains a secret."""


class WebhookMalformed(Exception):
    """Verified, but the body as a whole is not the provider's shape (not JSON, not a batch):
    answer 400, store nothing."""


class EventUnusable(Exception):
    """One event of a batch lacks what we need: it is skipped, with this reason, and the rest
    of the batch is stored. `provider_event` is its name, when it has one."""

    def __init__(self, reason: str, provider_event: str = ""):
        super().__init__(reason)
        self.provider_event = provider_event


class WebhookTooLarge(Exception):
    """More than the provider ever sends in one request (bytes or form fields): answer 413,
    store nothing. `limits` names the limit that was passed, for the answer's body."""

    def __init__(self, reason: str, **limits: int):
        super().__init__(reason)
        self.limits = limits


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header's value, "" when absent. Views pass a case-insensitive mapping; a plain
    dict (a test, headers kept with a stored body) is searched case-insensitively too."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


def require_media_type(content_type: str, expected: str) -> None:
    """An absent content type is accepted (the body is checked anyway); a different one is not."""
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type and media_type != expected:
        raise WebhookMalformed(f"content type {media_type[:60]!r}, expected {expected}")


def form_field_count(body: bytes) -> int:
    """At least the number of fields of a form-encoded body, counted without splitting it."""
    return body.count(b"&") + 1 if body else 0


def form_fields(body: bytes) -> dict[str, str]:
    """The fields of a form-encoded body. A repeated name keeps its last value, as PHP does (both
    Mailchimp products are PHP-born, and Mandrill signs what PHP sees). Raises ValueError for
    bytes that are not UTF-8."""
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))


def text(value: object) -> str:
    """An optional provider field as text: "" when missing, null or not a scalar."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def batch_parse(items: Iterable[Any], event: Callable[[Any], NormalizedEvent]) -> ParsedBatch:
    """Each item through `event`; those it finds unusable (EventUnusable) are skipped, with
    their position and reason, and the others kept in order."""
    events, skipped = [], []
    for index, item in enumerate(items):
        try:
            events.append(event(item))
        except EventUnusable as exc:
            skipped.append(SkippedEvent(index, exc.provider_event[:40], str(exc)))
    return ParsedBatch(events, skipped)


def unix_time(value: object) -> datetime:
    """A unix timestamp (JSON number) as an aware UTC datetime. Raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a unix timestamp: {value!r:.40}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp out of range: {value!r:.40}") from None


def wall_time(value: object) -> datetime:
    """'YYYY-MM-DD HH:MM:SS' (Mailchimp's fired_at, Mandrill's reject dates), taken as UTC.
    Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"not a date and time: {value!r:.40}")
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
