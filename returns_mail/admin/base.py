"""Pieces the returns_mail model admins share."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from templates_lib.catalogue import event_type_choices


class EventTypeFilter(admin.SimpleListFilter):
    """Filter by catalogue event type (every type listed, with its label)."""

    title = "event type"
    parameter_name = "type"
    lookup = "type"

    def lookups(self, request, model_admin):
        return [(key, f"{key} — {label}") for key, label in event_type_choices()]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.lookup: value}) if value else queryset


def pretty_json(value) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True),
    )
