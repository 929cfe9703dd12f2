"""Small per-process caches of the configuration read on every API request: the API clients by
token, the enabled rules of each event type (with their templates' active versions), which types
are switched off, and which cancel pending messages of other rules.

Intake reads them for every event, and they change a few times a day, so a query each time
would be most of an event's cost. They expire after CACHE_SECONDS, and a change saved in this
process (a client, a rule, a template publication, an event type switched) clears them at once;
another process (gunicorn worker) sees an admin change within CACHE_SECONDS — a deactivated or
rotated token keeps working there for at most that long."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from returns_mail.models import ApiClient, EventTypeSetting, TriggerRule
from templates_lib.models import Template, TemplatePublication

CACHE_SECONDS = 5.0

T = TypeVar("T")

_lock = threading.Lock()
_cache: dict[str, tuple[float, object]] = {}


def cached(name: str, load: Callable[[], T], *, keep_none: bool = True) -> T:
    """`load()`'s value, kept for CACHE_SECONDS under `name` (None only when `keep_none`)."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and hit[0] > now:
            return hit[1]
    value = load()
    if value is not None or keep_none:
        with _lock:
            _cache[name] = (now + CACHE_SECONDS, value)
    return value


def enabled_rules(event_type: str) -> tuple[TriggerRule, ...]:
    """The enabled rules of `event_type` in priority order, each with its template's active
    version and its pinned version loaded. Shared between threads: read, never modify."""

    def load():
        return tuple(
            TriggerRule.objects.filter(enabled=True, event_type=event_type)
            .select_related("template__active_version", "pinned_version")
            # The versions' contents (every locale's HTML) are not needed, only their locales.
            .defer(
                "template__html",
                "template__text",
                "template__active_version__contents",
                "pinned_version__contents",
            )
            .order_by("priority", "pk")
        )

    return cached(f"rules:{event_type}", load)


def switched_off_types() -> frozenset[str]:
    return cached(
        "off",
        lambda: frozenset(
            EventTypeSetting.objects.filter(enabled=False).values_list("event_type", flat=True)
        ),
    )


def cancelling_types() -> frozenset[str]:
    """Event types that some rule lists in `cancel_on`."""

    def load():
        return frozenset(
            event_type
            for cancel_on in TriggerRule.objects.exclude(cancel_on=[]).values_list(
                "cancel_on", flat=True
            )
            for event_type in cancel_on
        )

    return cached("cancelling", load)


def clear() -> None:
    with _lock:
        _cache.clear()


# A publication row is written whenever a template's active version changes (publish, rollback).
@receiver([post_save, post_delete], sender=ApiClient)
@receiver([post_save, post_delete], sender=EventTypeSetting)
@receiver([post_save, post_delete], sender=TriggerRule)
@receiver([post_save, post_delete], sender=Template)
@receiver([post_save, post_delete], sender=TemplatePublication)
def _clear_on_change(**kwargs) -> None:
    clear()
