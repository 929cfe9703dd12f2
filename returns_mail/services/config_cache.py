"""Small per-process caches of the configuration read on every API request: the API clients by
token, the enabled rules of each event type (with their templates' active versions), which types
are switched off, which cancel pending messages of other rules, and what mail each rule's route
may carry.

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

from providers.models import ProviderAccount, Purpose
from returns_mail.models import ApiClient, EventTypeSetting, RuleAccount, TriggerRule
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


def route_purposes() -> dict[int, frozenset[str]]:
    """The mail purposes ("transactional", "promotional") each rule's route may carry, by rule
    id: those some active account of the route serves (a rule without one is not listed)."""

    def load():
        served: dict[int, set[str]] = {}
        links = RuleAccount.objects.filter(account__is_active=True).values_list(
            "rule_id", "account__purpose"
        )
        for rule_id, account_purpose in links:
            served.setdefault(rule_id, set()).update(
                p
                for p in (Purpose.TRANSACTIONAL, Purpose.PROMOTIONAL)
                if Purpose.serves(account_purpose, p)
            )
        return {rule_id: frozenset(purposes) for rule_id, purposes in served.items()}

    return cached("route_purposes", load)


def clear() -> None:
    with _lock:
        _cache.clear()


# A publication row is written whenever a template's active version changes (publish, rollback).
@receiver([post_save, post_delete], sender=ApiClient)
@receiver([post_save, post_delete], sender=EventTypeSetting)
@receiver([post_save, post_delete], sender=TriggerRule)
@receiver([post_save, post_delete], sender=RuleAccount)
@receiver([post_save, post_delete], sender=ProviderAccount)
@receiver([post_save, post_delete], sender=Template)
@receiver([post_save, post_delete], sender=TemplatePublication)
def _clear_on_change(**kwargs) -> None:
    clear()
