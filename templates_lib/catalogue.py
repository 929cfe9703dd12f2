"""The return-event catalogue as this app sees it: loaded from the module named by the
RETURN_EVENT_CATALOGUE setting (returns_mail owns it; a lower app never imports a higher one)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from types import ModuleType
from typing import Any

from django.conf import settings


def _module() -> ModuleType:
    return import_module(settings.RETURN_EVENT_CATALOGUE)


def event_types() -> dict[str, Any]:
    return _module().CATALOGUE


def event_type_choices() -> list[tuple[str, str]]:
    return [(key, event.label) for key, event in event_types().items()]


def allowed_variables(keys: Iterable[str]) -> set[str]:
    """The variables a template for all of `keys` may use: those every one of them provides
    (the common fields alone when there are none)."""
    module = _module()
    sets = [module.CATALOGUE[key].variables() for key in keys if key in module.CATALOGUE]
    if not sets:
        common = set()
        for field in module.COMMON_FIELDS:
            common.update(field.paths())
        return common
    return set.intersection(*sets)


def sample_context(event_type: str) -> dict[str, Any]:
    return _module().sample_context(event_type)


def stored_event_context(event_id: int) -> tuple[str, dict[str, Any]] | None:
    """(event type, template context) of a stored event, or None when there is no such event."""
    return _module().stored_event_context(event_id)
