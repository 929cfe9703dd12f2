"""Alerts for IT admins: rules edited here (no code), the alerts they opened (read-only; a
"resolve" action through the service) and the health checks behind integration uptime."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Count, Q
from django.utils.translation import ngettext

from analytics.models import Alert, AlertKind, AlertRule, HealthCheck
from analytics.services.alerts import DELIVERY_WEBHOOKS, alerts_resolve
from config.admin_base import ViewOnlyAdmin
from providers.clients import Capability, account_can, account_reporting, cannot_message


class AlertRuleForm(forms.ModelForm):
    recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="One email address a line (commas work too). Empty: the IT admins' emails. "
        "Used with a notify account; without one, the alert goes to Django's ADMINS.",
    )

    class Meta:
        model = AlertRule
        fields = (
            "name",
            "kind",
            "enabled",
            "account",
            "threshold",
            "window_minutes",
            "min_volume",
            "notify_account",
            "recipients",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["recipients"] = "\n".join(self.instance.recipients or [])

    def clean_recipients(self) -> list[str]:
        raw = self.cleaned_data.get("recipients") or ""
        addresses = [a.strip() for a in raw.replace(",", "\n").splitlines() if a.strip()]
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(f"Not an email address: {', '.join(bad)}.")
        return list(dict.fromkeys(addresses))

    def clean(self):
        cleaned = super().clean()
        kind, threshold = cleaned.get("kind"), cleaned.get("threshold")
        account, notify = cleaned.get("account"), cleaned.get("notify_account")
        if threshold is not None and threshold < 0:
            self.add_error("threshold", "The threshold cannot be negative.")
        rates = (AlertKind.BOUNCE_RATE, AlertKind.COMPLAINT_RATE)
        if kind in rates and threshold is not None and threshold > 100:
            self.add_error("threshold", "A rate threshold is a percentage (0 to 100).")
        if kind == AlertKind.CHECK_FAILING and threshold is not None and threshold < 1:
            self.add_error("threshold", "Failing checks in a row: at least 1.")
        if (
            kind == AlertKind.WEBHOOK_SILENCE
            and account
            and account_reporting(account) not in DELIVERY_WEBHOOKS
        ):
            self.add_error("account", "This account's provider sends no delivery webhooks.")
        if notify and not account_can(notify, Capability.SEND):
            refusal = cannot_message(notify, Capability.SEND, "send single emails")
            self.add_error("notify_account", f"{refusal}; pick another.")
        return cleaned


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = (
        "name",
        "kind",
        "account",
        "threshold",
        "window_minutes",
        "enabled",
        "notify_account",
        "open_alerts",
    )
    list_filter = ("kind", "enabled")
    list_select_related = ("account", "notify_account")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "enabled", "account")}),
        (
            "Condition",
            {
                "fields": ("threshold", "window_minutes", "min_volume"),
                "description": "Bounce rate: percent over the window, judged with at least "
                "the minimum volume of outcomes. Complaint rate: spam complaints over delivered "
                "of the mail sent in the window, in percent (0.1 is Gmail's advice; 0.3 its "
                "and Yahoo's limit), with at least the minimum volume delivered. Failed sends: "
                "more than threshold in the window. Check failing: that many failed credential "
                "checks in a row. Webhook silence: mail accepted in the window but no webhook. "
                "Sync drift and sender authentication (a check of SPF, DKIM, DMARC or the "
                "provider's domain status starting to fail): no threshold.",
            },
        ),
        ("Notification", {"fields": ("notify_account", "recipients")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_open=Count("alerts", filter=Q(alerts__resolved_at__isnull=True)))
        )

    @admin.display(description="open alerts", ordering="_open")
    def open_alerts(self, obj) -> int:
        return obj._open


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("open", "Open"), ("resolved", "Resolved"))

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ViewOnlyAdmin):
    list_display = (
        "rule",
        "subject_shown",
        "state",
        "value",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "notify_error_short",
    )
    list_filter = (AlertStateFilter, "rule__kind", "rule", "account")
    list_select_related = ("rule", "account")
    search_fields = ("detail", "subject")
    fields = (
        "rule",
        "subject",
        "account",
        "detail",
        "value",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "notify_error",
    )
    readonly_fields = fields
    actions = ("resolve",)

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("analytics.change_alert")

    @admin.action(
        description="Resolve the selected alerts (reopen if still firing)", permissions=("resolve",)
    )
    def resolve(self, request, queryset):
        resolved = alerts_resolve(alert_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%d alert resolved.", "%d alerts resolved.", resolved) % resolved,
            messages.SUCCESS,
        )

    @admin.display(description="subject")
    def subject_shown(self, obj) -> str:
        return str(obj.account) if obj.account else obj.subject

    # Words, not the admin's boolean icons: a green check mark on an open alert reads as "fine".
    @admin.display(description="state", ordering="resolved_at")
    def state(self, obj) -> str:
        return "Resolved" if obj.resolved_at else "Open"

    @admin.display(description="notify error")
    def notify_error_short(self, obj) -> str:
        return obj.notify_error[:80]


@admin.register(HealthCheck)
class HealthCheckAdmin(ViewOnlyAdmin):
    list_display = ("checked_at", "component", "source", "account", "ok", "latency_ms", "detail")
    list_filter = ("component", "source", "ok", "account")
    list_select_related = ("account",)
    date_hierarchy = "checked_at"
    show_full_result_count = False  # a row a minute per account: counting all is slow
    fields = (
        "component",
        "source",
        "account",
        "checked_at",
        "ok",
        "http_status",
        "latency_ms",
        "detail",
    )
    readonly_fields = fields
