"""Small per-process caches of configuration read on every event: which event types are
switched off, and which cancel pending messages of other rules.

They expire after CACHE_SECONDS, and a save in this process clears them at once; another
process (gunicorn worker) sees an admin change within CACHE_SECONDS."""

from __future__ import annotations

import threading
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from returns_mail.models import EventTypeSetting, TriggerRule

CACHE_SECONDS = 5.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, frozenset[str]]] = {}


def _cached(name: str, load) -> frozenset[str]:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and hit[0] > now:
            return hit[1]
    value = frozenset(load())
    with _lock:
        _cache[name] = (now + CACHE_SECONDS, value)
    return value


def switched_off_types() -> frozenset[str]:
    return _cached(
        "off",
        lambda: EventTypeSetting.objects.filter(enabled=False).values_list("event_type", flat=True),
    )


def cancelling_types() -> frozenset[str]:
    """Event types that some rule lists in `cancel_on`."""

    def load():
        for cancel_on in TriggerRule.objects.exclude(cancel_on=[]).values_list(
            "cancel_on", flat=True
        ):
            yield from cancel_on

    return _cached("cancelling", load)


def clear() -> None:
    with _lock:
        _cache.clear()


@receiver([post_save, post_delete], sender=EventTypeSetting)
@receiver([post_save, post_delete], sender=TriggerRule)
def _clear_on_change(**kwargs) -> None:
    clear()
