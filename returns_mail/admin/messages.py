"""Outbox messages: read-only, with their attempts; "Resend" and "Cancel" go through
services.messages (a resend is a new message linked to the original; only queued ones cancel)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from config.admin_base import ReadOnlyInline
from returns_mail.admin.base import EventTypeFilter
from returns_mail.exceptions import ReturnsMailError
from returns_mail.models import Attempt, Message
from returns_mail.services.messages import message_cancel, message_resend


class MessageEventTypeFilter(EventTypeFilter):
    parameter_name = "event__type"
    lookup = "event__type"


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields = (
        "started_at",
        "account",
        "outcome",
        "http_status",
        "duration_ms",
        "provider_message_id",
        "error",
    )
    readonly_fields = fields
    verbose_name_plural = "attempts (each hand-over to a provider)"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "recipient",
        "event_type",
        "rule",
        "status",
        "refusal",
        "account",
        "attempts",
        "status_changed_at",
    )
    list_filter = ("status", "refusal", "account", "rule", MessageEventTypeFilter)
    list_select_related = ("event", "rule", "account")
    search_fields = ("recipient", "=event__return_id", "=provider_message_id")
    search_help_text = "Recipient, return id (exact) or provider message id (exact)."
    date_hierarchy = "created_at"
    actions = ("resend", "cancel")
    inlines = (AttemptInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "event_link",
                    "rule",
                    "recipient",
                    "recipient_name",
                    "is_internal",
                    "template_version",
                    "locale",
                    "resend_of_link",
                )
            },
        ),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "refusal",
                    "status_changed_at",
                    "error",
                    "send_after",
                    "next_attempt_at",
                    "attempts",
                    "account",
                    "provider_message_id",
                    "sent_at",
                    "handed_over_at",
                    "looked_up_at",
                    "correlation_id",
                    "created_at",
                )
            },
        ),
    )
    readonly_fields = ("event_link", "resend_of_link")

    # The row is the system's record: never edited by hand. Change permission is what the
    # actions require, so it is kept for the list and refused for a single message.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request) if obj is None else False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, message):
        return message.event.type

    @admin.display(description="event")
    def event_link(self, message):
        url = reverse("admin:returns_mail_returnevent_change", args=[message.event_id])
        return format_html('<a href="{}">{}</a>', url, message.event)

    @admin.display(description="resend of")
    def resend_of_link(self, message):
        if message.resend_of_id is None:
            return "—"
        url = reverse("admin:returns_mail_message_change", args=[message.resend_of_id])
        return format_html('<a href="{}">message {}</a>', url, message.resend_of_id)

    # --- actions ----------------------------------------------------------------------------
    @admin.action(
        description="Resend (a new message linked to the original)", permissions=["change"]
    )
    def resend(self, request, queryset):
        created, refused = [], []
        for message_id in queryset.values_list("pk", flat=True):
            try:
                copy = message_resend(message_id=message_id, actor=request.user)
            except ReturnsMailError as exc:
                refused.append(f"{message_id} ({exc})")
            else:
                created.append(f"{message_id} → {copy.pk}")
        if created:
            self.message_user(
                request,
                f"Resent {len(created)} message(s): {', '.join(created)}.",
                messages.SUCCESS,
            )
        if refused:
            self.message_user(request, f"Not resent: {'; '.join(refused)}.", messages.WARNING)

    @admin.action(description="Cancel (queued messages only)", permissions=["change"])
    def cancel(self, request, queryset):
        cancelled, skipped = [], []
        for message_id, status in queryset.values_list("pk", "status"):
            if message_cancel(message_id=message_id, actor=request.user):
                cancelled.append(str(message_id))
            else:
                skipped.append(f"{message_id} ({status})")
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {len(cancelled)} message(s): {', '.join(cancelled)}.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {len(skipped)}, not queued: {', '.join(skipped)}.",
                messages.WARNING,
            )
