"""Webhook deliveries (raw, re-processable) and the delivery events they carried."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from analytics.models import DeliveryEvent, WebhookDelivery
from analytics.services.deliveries import webhook_delivery_process
from config.admin_base import ViewOnlyAdmin


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    list_display = (
        "received_at",
        "account",
        "status",
        "events_total",
        "events_new",
        "events_skipped",
        "error",
    )
    list_filter = ("status", "account")
    date_hierarchy = "received_at"
    readonly_fields = (
        "account",
        "received_at",
        "content_type",
        "status",
        "events_total",
        "events_new",
        "events_skipped",
        "skipped_reasons",
        "processed_at",
        "error",
        "body",
    )
    actions = ["reprocess"]

    @admin.display(description="skipped events")
    def skipped_reasons(self, delivery) -> str:
        if not delivery.skipped:
            return "—"
        lines = format_html_join(
            "\n",
            "<li>event {}: {}</li>",
            (
                (f"{s['index']} ({s['event']})" if s["event"] else s["index"], s["reason"])
                for s in delivery.skipped
            ),
        )
        more = delivery.events_skipped - len(delivery.skipped)
        tail = format_html("<p>and {} more</p>", more) if more > 0 else ""
        return format_html("<ul>{}</ul>{}", lines, tail)

    def has_reprocess_permission(self, request) -> bool:
        return request.user.has_perm("analytics.change_webhookdelivery")

    @admin.action(
        description="Re-process (after a fix; duplicates are skipped)", permissions=["reprocess"]
    )
    def reprocess(self, request, queryset):
        done, failed = [], []
        for delivery in queryset.select_related("account"):
            try:
                delivery = webhook_delivery_process(delivery=delivery)
            except Exception as exc:  # recorded on the delivery by the service
                failed.append(f"{delivery.pk} ({type(exc).__name__})")
            else:
                done.append(f"{delivery.pk}: {delivery.events_new} new")
        if done:
            self.message_user(request, f"Re-processed {', '.join(done)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Failed again: {', '.join(failed)}.", messages.ERROR)


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(ViewOnlyAdmin):
    list_display = (
        "occurred_at",
        "type",
        "machine_open",
        "bounce_kind",
        "recipient",
        "account",
        "message_link",
    )
    list_filter = ("type", "machine_open", "account")
    search_fields = ("recipient", "provider_message_id", "correlation_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("account",)
    show_full_result_count = False  # millions of rows: no COUNT(*) per page

    @admin.display(description="message")
    def message_link(self, event):
        if event.message_id is None:
            return "—"
        url = reverse("admin:returns_mail_message_change", args=[event.message_id])
        return format_html('<a href="{}">message {}</a>', url, event.message_id)
