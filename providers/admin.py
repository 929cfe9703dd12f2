"""Admin for provider accounts. Declarative; the actions and views call providers.services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from config.admin_base import ReadOnlyInline, ViewOnlyAdmin
from providers.clients import Capability, account_can, cannot_message
from providers.exceptions import ProviderError
from providers.fields import UndecryptableSecret
from providers.forms import ProviderAccountForm, SendTestEmailForm
from providers.models import (
    ProviderAccount,
    ProviderKind,
    SecretChange,
    SenderAuthResult,
    SenderAuthState,
    webhook_secret_problem,
)
from providers.services.accounts import (
    account_check_credentials,
    account_secrets_set,
    account_send_test,
    webhook_url_secret_new,
)
from providers.services.sender_auth import sender_auth_check
from providers.webhooks.inbound import url_secret as inbound_url_secret
from providers.webhooks.refusals import refusals_count


def secret_status(value) -> str:
    """What the admin may say about a secret: whether it is set, at most its last 4 chars."""
    if isinstance(value, UndecryptableSecret):
        return "cannot be decrypted with the current key"
    if not value:
        return "not set"
    if len(value) >= 16:
        return f"set (ending …{value[-4:]})"
    return "set"


class SecretChangeInline(ReadOnlyInline):
    model = SecretChange
    fields = ("field", "changed_by", "changed_at")
    readonly_fields = fields
    verbose_name_plural = "secret changes (who and when; never the value)"


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    change_form_template = "admin/providers/provideraccount/change_form.html"
    list_display = (
        "name",
        "kind",
        "purpose",
        "priority",
        "is_active",
        "sandbox_mode",
        "last_check",
        "sender_auth_state",
    )
    list_select_related = ("sender_auth",)
    list_filter = ("kind", "purpose", "is_active", "sandbox_mode")
    search_fields = ("name", "from_email")
    actions = ("test_connection",)
    inlines = (SecretChangeInline,)
    readonly_fields = (
        "api_key_status",
        "webhook_url",
        "webhook_refusals",
        "webhook_secret_status",
        "smtp_password_status",
        "inbound_secret_status",
        "inbound_url",
        "last_check_at",
        "last_check_ok",
        "last_check_latency_ms",
        "last_check_detail",
    )
    fieldsets = (
        (None, {"fields": ("name", "kind", "purpose", "priority", "is_active", "sandbox_mode")}),
        ("Sender", {"fields": ("from_email", "from_name", "reply_to")}),
        (
            "API (SendGrid, Mailchimp Marketing, Mailchimp Transactional)",
            {
                "fields": (
                    "api_base_url",
                    "api_key_status",
                    "new_api_key",
                    "audience_id",
                    "webhook_url",
                    "webhook_refusals",
                    "webhook_verification_key",
                    "webhook_secret_status",
                    "new_webhook_secret",
                    "generate_webhook_secret",
                )
            },
        ),
        (
            "Customers' replies (inbound mail on REPLY_DOMAIN)",
            {"fields": ("inbound_url", "inbound_secret_status", "new_inbound_secret")},
        ),
        (
            "SMTP relay",
            {
                "fields": (
                    "smtp_preset",
                    "smtp_host",
                    "smtp_port",
                    "smtp_security",
                    "smtp_username",
                    "smtp_password_status",
                    "new_smtp_password",
                    "smtp_timeout",
                )
            },
        ),
        (
            "Last credential check",
            {
                "fields": (
                    "last_check_at",
                    "last_check_ok",
                    "last_check_latency_ms",
                    "last_check_detail",
                )
            },
        ),
    )

    @admin.display(description="API key")
    def api_key_status(self, obj):
        return secret_status(obj.api_key)

    @admin.display(description="webhook URL")
    def webhook_url(self, obj):
        """What to paste into the provider's webhook settings (the analytics app's endpoints)."""
        if obj.pk is None:
            return "shown once the account is saved"
        names = {
            ProviderKind.SENDGRID: ("webhooks:sendgrid", [obj.pk]),
            ProviderKind.MAILCHIMP_TRANSACTIONAL: ("webhooks:mandrill", [obj.pk]),
            ProviderKind.MAILCHIMP_MARKETING: ("webhooks:mailchimp", [obj.pk, "SECRET"]),
        }
        if obj.kind not in names:
            return "no webhooks for this kind"
        name, args = names[obj.kind]
        url = settings.WEBHOOK_BASE_URL.rstrip("/") + reverse(name, args=args)
        if obj.kind == ProviderKind.MAILCHIMP_MARKETING:
            # The secret is never shown back: the full URL is shown once, when it is generated.
            url = url.replace("/SECRET/", "/<webhook secret>/")
        if not settings.WEBHOOK_BASE_URL:
            url += " (after this site's public address; set PUBLIC_BASE_URL to show it here)"
        return url

    @admin.display(description="refused webhook requests (7 days)")
    def webhook_refusals(self, obj):
        """Forged, unsigned or altered posts to this account's webhook URL (each also logged)."""
        return refusals_count(obj.pk) if obj.pk else 0

    @admin.display(description="webhook secret")
    def webhook_secret_status(self, obj):
        status = secret_status(obj.webhook_secret)
        if isinstance(obj.webhook_secret, UndecryptableSecret):
            return status
        if webhook_secret_problem(obj.kind, obj.webhook_secret):
            status += " — too short for a webhook URL secret: generate a new one"
        return status

    @admin.display(description="inbound secret")
    def inbound_secret_status(self, obj):
        return secret_status(obj.inbound_secret)

    @admin.display(description="inbound URL")
    def inbound_url(self, obj):
        """Where the provider posts received replies (SendGrid Inbound Parse: with basic auth
        user "inbound" and the inbound secret as the password; Mandrill: an inbound route's
        webhook, signed with the webhook key)."""
        if obj.pk is None:
            return "shown once the account is saved"
        if obj.kind == ProviderKind.MAILCHIMP_TRANSACTIONAL:
            path = reverse("inbound:mandrill", args=[obj.pk])
        elif obj.kind != ProviderKind.SENDGRID:
            return "no inbound mail for this kind"
        elif not obj.inbound_secret or isinstance(obj.inbound_secret, UndecryptableSecret):
            return "enter an inbound secret first"
        else:  # the path's segment is derived from the secret, not the secret itself
            path = reverse(
                "inbound:sendgrid", args=[obj.pk, inbound_url_secret(obj.inbound_secret)]
            )
        base = settings.WEBHOOK_BASE_URL.rstrip("/")
        return base + path if base else path + " (after this site's public address)"

    @admin.display(description="SMTP password")
    def smtp_password_status(self, obj):
        return secret_status(obj.smtp_password)

    @admin.display(description="sender authentication")
    def sender_auth_state(self, obj):
        result = getattr(obj, "sender_auth", None)
        if result is None:
            return "not checked"
        return f"{result.get_state_display()} · {result.domain}"

    @admin.display(description="last check", ordering="last_check_at")
    def last_check(self, obj):
        if obj.last_check_at is None:
            return "never"
        verdict = "ok" if obj.last_check_ok else "failed"
        when = timezone.localtime(obj.last_check_at).strftime("%Y-%m-%d %H:%M")
        return f"{verdict} · {when} · {round(obj.last_check_latency_ms or 0)} ms"

    def save_model(self, request, obj, form, change):
        secrets = form.secrets()
        if form.cleaned_data.get("generate_webhook_secret"):
            # In memory only, for the page answering this request (response_add/_change).
            secrets["webhook_secret"] = obj._new_webhook_secret = webhook_url_secret_new()
        account_secrets_set(account=obj, secrets=secrets, actor=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(obj, "_new_webhook_secret", None):
            return self._webhook_url_page(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if getattr(obj, "_new_webhook_secret", None):
            return self._webhook_url_page(request, obj)
        return super().response_change(request, obj)

    def _webhook_url_page(self, request, account):
        """The Mailchimp webhook URL with its new secret: shown this once, never stored in a
        message, a cookie or a cache."""
        path = reverse("webhooks:mailchimp", args=[account.pk, account._new_webhook_secret])
        base = settings.WEBHOOK_BASE_URL.rstrip("/")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Webhook URL of {account.name}",
            "opts": self.model._meta,
            "original": account,
            "webhook_url": base + path if base else request.build_absolute_uri(path),
        }
        response = TemplateResponse(
            request, "admin/providers/provideraccount/webhook_url.html", context
        )
        response["Cache-Control"] = "no-store"
        return response

    # --- credential checks and test emails -------------------------------------------------
    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request, queryset):
        for account in queryset:
            self._report_check(request, account)

    def _report_check(self, request, account):
        try:
            check = account_check_credentials(account_id=account.pk)
        except ProviderError as exc:
            self.message_user(request, f"{account.name}: {exc}", messages.ERROR)
        else:
            level = messages.SUCCESS if check.ok else messages.ERROR
            verdict = "connection ok" if check.ok else "connection failed"
            self.message_user(
                request,
                f"{account.name}: {verdict} in {check.latency_ms:.0f} ms — {check.detail}",
                level,
            )
        self._report_sender_auth(request, account)

    def _report_sender_auth(self, request, account):
        """The sender-authentication checklist, run with every connection test."""
        result = sender_auth_check(account_id=account.pk)
        failing = [i["label"] for i in result.items if i["state"] == SenderAuthState.FAIL]
        unknown = [i["label"] for i in result.items if i["state"] == SenderAuthState.UNKNOWN]
        words = f"{account.name}: sender authentication of {result.domain}: "
        words += result.get_state_display().lower()
        if failing:
            words += f" ({', '.join(failing)}; the records to publish are on the account's page)"
        elif unknown:
            words += f" ({', '.join(unknown)} could not be checked)"
        levels = {SenderAuthState.PASS: messages.SUCCESS, SenderAuthState.FAIL: messages.ERROR}
        self.message_user(request, words, levels.get(result.state, messages.WARNING))

    def get_urls(self):
        return [
            path(
                "<int:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="providers_provideraccount_test_connection",
            ),
            path(
                "<int:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="providers_provideraccount_send_test",
            ),
            *super().get_urls(),
        ]

    def _account_for_change(self, request, object_id) -> ProviderAccount:
        account = get_object_or_404(ProviderAccount, pk=object_id)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        return account

    def _change_url(self, account) -> str:
        return reverse("admin:providers_provideraccount_change", args=[account.pk])

    def test_connection_view(self, request, object_id):
        return require_POST(self._test_connection)(request, object_id)

    def _test_connection(self, request, object_id):
        account = self._account_for_change(request, object_id)
        self._report_check(request, account)
        return HttpResponseRedirect(self._change_url(account))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "can_send_test": account is not None and account_can(account, Capability.SEND),
            "sender_auth": SenderAuthResult.objects.filter(account=account).first()
            if account is not None
            else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def send_test_view(self, request, object_id):
        account = self._account_for_change(request, object_id)
        if not account_can(account, Capability.SEND):
            refusal = cannot_message(account, Capability.SEND, "send a single test email")
            self.message_user(request, f"{refusal}.", messages.ERROR)
            return HttpResponseRedirect(self._change_url(account))
        if request.method == "POST":
            form = SendTestEmailForm(request.POST)
            if form.is_valid():
                return self._send_test(request, account, form.cleaned_data["to"])
        else:
            form = SendTestEmailForm(initial={"to": request.GET.get("to") or request.user.email})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send a test email through {account.name}",
            "opts": self.model._meta,
            "original": account,
            "form": form,
        }
        return TemplateResponse(request, "admin/providers/provideraccount/send_test.html", context)

    def _send_test(self, request, account, to: str):
        """Send, say how it went, and redirect (a GET): reloading the page sends nothing."""
        try:
            result = account_send_test(account_id=account.pk, to=to)
        except ProviderError as exc:
            self.message_user(request, f"Test email not sent: {exc}", messages.ERROR)
            url = reverse("admin:providers_provideraccount_send_test", args=[account.pk])
            return HttpResponseRedirect(f"{url}?{urlencode({'to': to})}")
        sandboxed = " (sandbox mode: validated, not delivered)" if result.sandboxed else ""
        self.message_user(
            request,
            f"Test email to {to} accepted by {account.get_kind_display()}{sandboxed}; "
            f"provider message id {result.provider_message_id or '—'}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(account))


@admin.register(SecretChange)
class SecretChangeAdmin(ViewOnlyAdmin):
    list_display = ("account", "field", "changed_by", "changed_at")
    list_filter = ("field",)
    date_hierarchy = "changed_at"
