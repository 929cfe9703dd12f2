"""The admin form of the event-type switch: one on/off box per catalogue event type."""

from __future__ import annotations

from django import forms
from django.db.models import Count

from returns_mail.models import EventTypeSetting, TriggerRule
from returns_mail.services.events import event_types_switch
from templates_lib.catalogue import CATALOGUE


def _switch_name(key: str) -> str:
    return "on_" + key.replace(".", "__")


class EventTypeSwitchForm(forms.Form):
    """One on/off box per catalogue event type (a type without a setting row is on)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = dict(EventTypeSetting.objects.values_list("event_type", "enabled"))
        for key, event in CATALOGUE.items():
            self.fields[_switch_name(key)] = forms.BooleanField(
                label=event.label, required=False, initial=stored.get(key, True)
            )

    def rows(self) -> list[dict]:
        counts = dict(
            TriggerRule.objects.filter(enabled=True)
            .values("event_type")
            .annotate(n=Count("pk"))
            .values_list("event_type", "n")
        )
        return [
            {
                "key": key,
                "event": event,
                "switch": self[_switch_name(key)],
                "rules": counts.get(key, 0),
            }
            for key, event in CATALOGUE.items()
        ]

    def save(self) -> dict[str, bool]:
        """Write the types whose switch changed (one statement); returns {type: enabled}."""
        changed = {
            key: self.cleaned_data[_switch_name(key)]
            for key in CATALOGUE
            if _switch_name(key) in self.changed_data
        }
        event_types_switch(changes=changed)
        return changed
