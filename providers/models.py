"""Provider accounts: where Returns Mail sends from, with their encrypted secrets."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from providers.exceptions import ProviderConfigurationError
from providers.fields import SecretField, UndecryptableSecret
from providers.hosts import base_url_problem


class ProviderKind(models.TextChoices):
    SENDGRID = "sendgrid", "SendGrid"
    MAILCHIMP_MARKETING = "mailchimp_marketing", "Mailchimp Marketing"
    MAILCHIMP_TRANSACTIONAL = "mailchimp_transactional", "Mailchimp Transactional (Mandrill)"
    SMTP = "smtp", "SMTP relay"


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    PROMOTIONAL = "promotional", "Promotional"
    BOTH = "both", "Transactional and promotional"


class SmtpSecurity(models.TextChoices):
    STARTTLS = "starttls", "STARTTLS"
    TLS = "tls", "Implicit TLS (SMTPS)"
    NONE = "none", "None (plain text; loopback only)"


class ProviderAccount(models.Model):
    # Secret fields, and the kinds that use each (the admin shows only those).
    SECRET_FIELDS = ("api_key", "webhook_secret", "smtp_password")

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.BOTH)
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Lower numbers are tried first among accounts of the same purpose."
    )
    is_active = models.BooleanField("active", default=True)
    sandbox_mode = models.BooleanField(
        default=False,
        help_text="SendGrid: mail_settings.sandbox_mode (validated, not delivered). "
        "Mailchimp Transactional: use a test API key.",
    )
    api_base_url = models.URLField(
        "API base URL",
        blank=True,
        help_text="Empty: the provider's own. SendGrid EU: https://api.eu.sendgrid.com.",
    )
    from_email = models.EmailField("default sender email")
    from_name = models.CharField("default sender name", max_length=100, blank=True)
    reply_to = models.EmailField("reply-to", blank=True)

    # Secrets: ciphertext in the database, never rendered back (see providers/fields.py).
    api_key = SecretField("API key", blank=True, default="")
    webhook_secret = SecretField(
        "webhook secret",
        blank=True,
        default="",
        help_text="Mailchimp Transactional: the webhook key. Mailchimp Marketing: the secret "
        "in the webhook URL.",
    )
    smtp_password = SecretField("SMTP password", blank=True, default="")

    webhook_verification_key = models.TextField(
        blank=True,
        help_text="SendGrid: the signed event webhook's public key (base64, as SendGrid shows it).",
    )
    audience_id = models.CharField(
        "audience (list) id", max_length=64, blank=True, help_text="Mailchimp Marketing."
    )

    smtp_host = models.CharField("SMTP host", max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField("SMTP port", null=True, blank=True)
    smtp_security = models.CharField(
        "SMTP security", max_length=16, choices=SmtpSecurity.choices, default=SmtpSecurity.STARTTLS
    )
    smtp_username = models.CharField("SMTP username", max_length=255, blank=True)
    smtp_timeout = models.PositiveSmallIntegerField(
        "SMTP timeout (s)", null=True, blank=True, help_text="Empty: PROVIDER_TIMEOUT."
    )

    last_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_latency_ms = models.FloatField(null=True, editable=False)
    last_check_detail = models.TextField(blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ProviderKind.values), name="provider_account_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=Purpose.values), name="provider_account_purpose_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self):
        super().clean()
        if problem := base_url_problem(self.kind, self.api_base_url):
            raise ValidationError({"api_base_url": problem})

    def secret(self, field: str) -> str:
        """The plaintext secret for a client. Refuses ciphertext and missing values."""
        if field not in self.SECRET_FIELDS:
            raise ValueError(f"{field} is not a secret field")
        value = getattr(self, field)
        if isinstance(value, UndecryptableSecret):
            raise ProviderConfigurationError(
                f"{field} cannot be decrypted with FIELD_ENCRYPTION_KEY; re-enter it or restore "
                "the old key",
                provider=self.kind,
                account=self.name,
            )
        if not value:
            raise ProviderConfigurationError(
                f"{field} is not set", provider=self.kind, account=self.name
            )
        return value

    def secret_values(self) -> list[str]:
        """Every plaintext secret, for scrubbing them out of messages and logs."""
        return [
            str(value)
            for field in self.SECRET_FIELDS
            if (value := getattr(self, field)) and not isinstance(value, UndecryptableSecret)
        ]

    def undecryptable_fields(self) -> list[str]:
        return [f for f in self.SECRET_FIELDS if isinstance(getattr(self, f), UndecryptableSecret)]


class SecretChange(models.Model):
    """Who changed which secret of which account, and when. Never the value."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=32)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field} of {self.account_id} at {self.changed_at:%Y-%m-%d %H:%M}"
