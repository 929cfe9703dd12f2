"""A stored return event as the template preview's context.

The preview may render a real event's data instead of the sample. Stored events are returns_mail
rows and this app sits below returns_mail, so it cannot read them itself: returns_mail registers
the reader when it starts (its AppConfig.ready). Without one, no stored event is found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: event id -> (event type, template context), or None when there is no such event.
StoredEventReader = Callable[[int], tuple[str, dict[str, Any]] | None]

_reader: StoredEventReader | None = None


def register_stored_event_reader(reader: StoredEventReader) -> None:
    global _reader  # one reader per process, set once at start-up
    _reader = reader


def stored_event_context(event_id: int) -> tuple[str, dict[str, Any]] | None:
    """(event type, template context) of a stored event, or None when there is no such event."""
    return _reader(event_id) if _reader is not None else None
