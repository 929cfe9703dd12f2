"""The audit trail (IT admins only): who added, changed, deleted, rotated, published, started
or erased what, and when — Django's LogEntry rows (config/audit.py), read-only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from config.admin_base import ViewOnlyAdmin
from returns_mail.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ViewOnlyAdmin):
    list_display = ("action_time", "user", "action", "object_type", "object_link", "what")
    list_filter = ("action_flag", "content_type", "user")
    list_select_related = ("user", "content_type")
    search_fields = ("object_repr", "change_message", "user__username")
    date_hierarchy = "action_time"
    fields = (
        "action_time",
        "user",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "what",
    )
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # Only its own permission (IT admins): not the "view any LogEntry" a role may hold.
        return request.user.has_perm("returns_mail.view_auditentry")

    @admin.display(description="action", ordering="action_flag")
    def action(self, entry: LogEntry) -> str:
        return {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, "?")

    @admin.display(description="model", ordering="content_type")
    def object_type(self, entry: LogEntry) -> str:
        return entry.content_type.name if entry.content_type else "—"

    @admin.display(description="object", ordering="object_repr")
    def object_link(self, entry: LogEntry):
        if entry.action_flag == 3 or not entry.content_type or not entry.object_id:
            return entry.object_repr
        try:
            url = reverse(
                f"admin:{entry.content_type.app_label}_{entry.content_type.model}_change",
                args=[entry.object_id],
            )
        except NoReverseMatch:
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)

    @admin.display(description="what")
    def what(self, entry: LogEntry) -> str:
        return entry.get_change_message() or "—"
