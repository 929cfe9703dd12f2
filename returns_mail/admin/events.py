"""Return events: read-only, each with the messages it caused."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join

from config.admin_base import ReadOnlyInline, ViewOnlyAdmin
from returns_mail.admin.base import EventTypeFilter, pretty_json
from returns_mail.models import Message, ReturnEvent, TriggerRule


class EventMessageInline(ReadOnlyInline):
    model = Message
    fields = (
        "recipient",
        "rule",
        "status",
        "refusal",
        "error",
        "account",
        "attempts",
        "sent_at",
        "status_changed_at",
    )
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "messages"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("rule", "account")


@admin.register(ReturnEvent)
class ReturnEventAdmin(ViewOnlyAdmin):
    list_display = ("type", "return_id", "customer_email", "client", "received_at")
    list_filter = (EventTypeFilter, "client", "received_at")
    list_select_related = ("client",)
    search_fields = ("=return_id", "=order_id", "customer_email")
    search_help_text = "Return id or order id (exact), or the customer's email."
    date_hierarchy = "received_at"
    inlines = (EventMessageInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "type",
                    "return_id",
                    "order_id",
                    "occurred_at",
                    "received_at",
                    "client",
                    "idempotency_key",
                )
            },
        ),
        (
            "Customer",
            {"fields": ("customer_email", "customer_name", "customer_locale", "marketing_consent")},
        ),
        ("Event data", {"fields": ("data_pretty", "rules_to_test")}),
    )
    readonly_fields = ("data_pretty", "rules_to_test")

    @admin.display(description="data")
    def data_pretty(self, event):
        return pretty_json(event.data)

    @admin.display(description="test a rule with this event")
    def rules_to_test(self, event):
        rules = TriggerRule.objects.filter(event_type=event.type).only("pk", "name")
        if not rules:
            return f"No rule for {event.type}."
        return format_html_join(
            ", ",
            '<a href="{}?event_id={}">{}</a>',
            (
                (reverse("admin:returns_mail_triggerrule_test", args=[r.pk]), event.pk, r.name)
                for r in rules
            ),
        )
