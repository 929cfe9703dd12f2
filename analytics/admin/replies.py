"""Customers' replies: their own list (linked or not, auto-replies apart), and shown under the
message and the return event they answer. returns_mail cannot know of analytics (the import
layers), so its message and event admins are registered again here with a replies inline."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from analytics.models import Reply
from config.admin_base import ReadOnlyInline, ViewOnlyAdmin
from returns_mail.admin.events import ReturnEventAdmin
from returns_mail.admin.messages import MessageAdmin
from returns_mail.models import Message, ReturnEvent

_SHOWN = ("received_at", "from_address", "subject", "text", "is_auto_reply", "forwarded_at")


class LinkedFilter(admin.SimpleListFilter):
    title = "linked to a message"
    parameter_name = "linked"

    def lookups(self, request, model_admin):
        return (("yes", "Linked"), ("no", "Unlinked (unknown or forged address)"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(message__isnull=self.value() == "no")
        return queryset


@admin.register(Reply)
class ReplyAdmin(ViewOnlyAdmin):
    list_display = (
        "received_at",
        "from_address",
        "subject",
        "linked",
        "is_auto_reply",
        "forwarded_at",
        "account",
    )
    list_filter = (LinkedFilter, "is_auto_reply", "account")
    list_select_related = ("account",)
    search_fields = ("from_address", "customer_email", "=event__return_id")
    search_help_text = "Sender, customer email, or return id (exact)."
    date_hierarchy = "received_at"
    readonly_fields = (
        "received_at",
        "account",
        "to_address",
        "from_address",
        "customer_email",
        "subject",
        "text",
        "is_auto_reply",
        "message_link",
        "event_link",
        "headers",
        "forwarded_at",
        "forward_attempts",
        "forward_error",
    )
    exclude = ("message", "event", "delivery_event", "key")

    @admin.display(boolean=True, description="linked")
    def linked(self, reply) -> bool:
        return reply.message_id is not None

    @admin.display(description="message")
    def message_link(self, reply) -> str:
        if reply.message_id is None:
            return "— (the address names no message of ours)"
        url = reverse("admin:returns_mail_message_change", args=[reply.message_id])
        return format_html('<a href="{}">{}</a>', url, reply.message_id)

    @admin.display(description="return event")
    def event_link(self, reply) -> str:
        if reply.event_id is None:
            return "—"
        url = reverse("admin:returns_mail_returnevent_change", args=[reply.event_id])
        return format_html('<a href="{}">{}</a>', url, reply.event_id)


class MessageReplyInline(ReadOnlyInline):
    model = Reply
    fk_name = "message"
    fields = _SHOWN
    readonly_fields = _SHOWN
    show_change_link = True
    verbose_name_plural = "replies (auto-replies marked)"


class EventReplyInline(MessageReplyInline):
    fk_name = "event"


class MessageWithRepliesAdmin(MessageAdmin):
    inlines = (*MessageAdmin.inlines, MessageReplyInline)


class ReturnEventWithRepliesAdmin(ReturnEventAdmin):
    inlines = (*ReturnEventAdmin.inlines, EventReplyInline)


admin.site.unregister(Message)
admin.site.register(Message, MessageWithRepliesAdmin)
admin.site.unregister(ReturnEvent)
admin.site.register(ReturnEvent, ReturnEventWithRepliesAdmin)
