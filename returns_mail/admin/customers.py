"""Customers (read-only: the returns data keeps them current), exporting everything held about
one (subject access) and erasing one, and the Mailchimp audience deletions an erasure owes."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from config.admin_base import ViewOnlyAdmin
from returns_mail.models import AudienceErasure, AudienceErasureStatus, Customer
from returns_mail.roles import is_it_admin
from returns_mail.services.consent import consent_history
from returns_mail.services.erasure import (
    ErasureError,
    audience_erasure_retry,
    customer_erase,
)
from returns_mail.services.subject_access import ExportError, customer_export, export_json


@admin.register(Customer)
class CustomerAdmin(ViewOnlyAdmin):
    list_display = (
        "email",
        "name",
        "locale",
        "marketing_consent",
        "returns_count",
        "last_event_at",
    )
    list_filter = ("marketing_consent", "locale")
    search_fields = ("email", "name")
    show_full_result_count = False
    actions = ("export", "erase")
    exclude = ("audience_sync_pending",)
    readonly_fields = ("consent_history",)

    @admin.display(description="Consent history")
    def consent_history(self, obj) -> str:
        """Every change of the customer's marketing consent, newest first, with its source."""
        records = consent_history(obj.email) if obj is not None else []
        if not records:
            return "No record."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    localize(localtime(r.occurred_at)),
                    "given" if r.granted else "withdrawn",
                    r.get_source_display(),
                    r.detail,
                )
                for r in records
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Consent</th><th>Source</th><th>Detail</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def has_export_permission(self, request) -> bool:
        return is_it_admin(request.user)

    @admin.action(
        description="Export everything held about the selected customer (JSON)",
        permissions=["export"],
    )
    def export(self, request, queryset):
        customers = list(queryset[:2])
        if len(customers) != 1:
            self.message_user(request, "Select exactly one customer to export.", messages.ERROR)
            return None
        customer = customers[0]
        try:
            document = customer_export(email=customer.email, actor=request.user)
        except ExportError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        response = HttpResponse(export_json(document), content_type="application/json")
        name = f"customer-{customer.pk}-{timezone.now():%Y%m%d-%H%M%S}.json"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"  # personal data: never kept by a cache
        return response

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("returns_mail.delete_customer")

    @admin.action(
        description="Erase the selected customers (every record of them; Mailchimp too)",
        permissions=["erase"],
    )
    def erase(self, request, queryset):
        for email in list(queryset.values_list("email", flat=True)):
            try:
                report = customer_erase(email=email, actor=request.user)
            except ErasureError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Erased as {report.placeholder}: {report.summary()}.",
                    messages.SUCCESS,
                )


@admin.register(AudienceErasure)
class AudienceErasureAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "account", "status", "attempts", "done_at", "error")
    list_filter = ("status", "account")
    exclude = ("subscriber_hash",)
    actions = ("retry",)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("returns_mail.change_audienceerasure")

    @admin.action(description="Retry the failed deletions", permissions=["retry"])
    def retry(self, request, queryset):
        ids = queryset.filter(status=AudienceErasureStatus.FAILED).values_list("pk", flat=True)
        for erasure_id in ids:
            audience_erasure_retry(erasure_id=erasure_id, actor=request.user)
        self.message_user(request, f"{len(ids)} deletions queued again.")
