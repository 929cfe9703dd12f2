"""The suppression list: who must not get mail. New entries go through suppression_add."""

from __future__ import annotations

from django.contrib import admin

from returns_mail.forms.suppression import SuppressionForm
from returns_mail.models import Suppression
from returns_mail.services.suppression import suppression_add


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    list_display = ("email", "reason", "scope", "note", "source", "created_at")
    list_filter = ("reason", "scope", "source_account")
    list_select_related = ("created_by", "source_account")
    search_fields = ("email", "note")
    date_hierarchy = "created_at"
    fields = ("email", "reason", "scope", "note", "source", "created_at")
    readonly_fields = ("source", "created_at")

    @admin.display(description="source")
    def source(self, suppression) -> str:
        """Who added it: a person, or the account whose webhook reported it."""
        if suppression.source_account_id:
            return f"webhook of {suppression.source_account}"
        if suppression.created_by_id:
            return f"by {suppression.created_by}"
        return "—"

    def get_changeform_initial_data(self, request):
        return {"reason": "manual", **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        added = suppression_add(
            email=obj.email, reason=obj.reason, scope=obj.scope, note=obj.note, actor=request.user
        )
        # The admin logs and redirects with `obj`: make it the stored row.
        obj.pk, obj.email, obj.created_by, obj.created_at = (
            added.pk,
            added.email,
            added.created_by,
            added.created_at,
        )
        obj._state.adding = False
