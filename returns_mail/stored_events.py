"""A stored event's type and template context, for the template library's preview (registered
with templates_lib.stored_events by ReturnsMailConfig.ready: the lower app never imports this)."""

from __future__ import annotations

from typing import Any

from returns_mail.models import ReturnEvent


def stored_event_context(event_id: int) -> tuple[str, dict[str, Any]] | None:
    event = ReturnEvent.objects.filter(pk=event_id).first()
    if event is None:
        return None
    return event.type, event.template_context()
