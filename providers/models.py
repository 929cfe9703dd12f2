"""Provider accounts: where Returns Mail sends from, with their encrypted secrets."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from providers.exceptions import ProviderConfigurationError
from providers.fields import SecretField, UndecryptableSecret
from providers.hosts import base_url_problem, smtp_port_problem

logger = logging.getLogger(__name__)


class ProviderKind(models.TextChoices):
    SENDGRID = "sendgrid", "SendGrid"
    MAILCHIMP_MARKETING = "mailchimp_marketing", "Mailchimp Marketing"
    MAILCHIMP_TRANSACTIONAL = "mailchimp_transactional", "Mailchimp Transactional (Mandrill)"
    SMTP = "smtp", "SMTP relay"


class Purpose(models.TextChoices):
    """What mail is for. A template's is transactional or promotional (`MAIL`); an account
    serves one of them, or both."""

    TRANSACTIONAL = "transactional", "Transactional"
    PROMOTIONAL = "promotional", "Promotional"
    BOTH = "both", "Transactional and promotional"

    @classmethod
    def serves(cls, account_purpose: str, mail_purpose: str) -> bool:
        """Whether an account of `account_purpose` may send mail of `mail_purpose`."""
        return account_purpose in (cls.BOTH, mail_purpose)


# The purposes of a piece of mail (a template): "both" is an account's.
MAIL_PURPOSES = [(p.value, p.label) for p in (Purpose.TRANSACTIONAL, Purpose.PROMOTIONAL)]


class SmtpSecurity(models.TextChoices):
    STARTTLS = "starttls", "STARTTLS"
    TLS = "tls", "Implicit TLS (SMTPS)"
    NONE = "none", "None (plain text; loopback only)"


def smtp_endpoint(security: str, host: str, port: int | None) -> str:
    """Where an SMTP password goes: the security, host and port it is sent over and to."""
    return f"{security}://{(host or '').strip().lower()}:{port}"


#: A Mailchimp Marketing webhook URL secret is the only thing that authenticates the posts to
#: its URL, and it travels in the path: long enough not to be guessed, URL characters only.
WEBHOOK_URL_SECRET_MIN_LENGTH = 32
_URL_SECRET = re.compile(r"[A-Za-z0-9._~-]+")


def webhook_secret_problem(kind: str, value: str) -> str:
    """Why ``value`` may not be the webhook secret of a ``kind`` account ("" when it may)."""
    if kind != ProviderKind.MAILCHIMP_MARKETING or not value:
        return ""
    if len(value) < WEBHOOK_URL_SECRET_MIN_LENGTH:
        return (
            f"A webhook URL secret needs at least {WEBHOOK_URL_SECRET_MIN_LENGTH} characters "
            f"(this one has {len(value)}); generate one instead."
        )
    if not _URL_SECRET.fullmatch(value):
        return (
            "A webhook URL secret goes in the URL: use letters, digits and - _ . ~ only, "
            "or generate one instead."
        )
    return ""


class ProviderAccount(models.Model):
    # Secret fields, and the kinds that use each (the admin shows only those).
    SECRET_FIELDS = ("api_key", "webhook_secret", "smtp_password", "inbound_secret")

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
    inbound_secret = SecretField(
        "inbound secret",
        blank=True,
        default="",
        help_text="SendGrid Inbound Parse: the basic-auth password of the inbound URL (its "
        "secret path segment is derived from it). Empty: the account receives no replies.",
    )
    # The smtp_endpoint() the password was entered for. Moving the account to another host,
    # port or security without entering the password again clears it (save), and a row edited
    # past save() still cannot hand it to the new server (secret()).
    smtp_password_endpoint = models.CharField(max_length=300, blank=True, editable=False)

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

    def save(self, *args, **kwargs):
        self._check_webhook_secret()
        bound = self._bind_smtp_password()
        if bound and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], *bound}
        super().save(*args, **kwargs)
        vars(self).pop("_entered", None)
        self._remember_stored(kwargs.get("update_fields"))

    @property
    def smtp_endpoint(self) -> str:
        return smtp_endpoint(self.smtp_security, self.smtp_host, self.smtp_port)

    def clean(self):
        super().clean()
        if problem := base_url_problem(self.kind, self.api_base_url):
            raise ValidationError({"api_base_url": problem})
        if (
            self.kind == ProviderKind.SMTP
            and self.smtp_port is not None
            and (problem := smtp_port_problem(self.smtp_port))
        ):
            raise ValidationError({"smtp_port": problem})

    # --- what was stored, and what a person entered ---------------------------------------------
    # Fields save() compares with the values read from the database.
    _TRACKED = ("kind", "webhook_secret", "smtp_password")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_stored()
        return instance

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        self._remember_stored(fields)

    def _remember_stored(self, fields=None) -> None:
        stored = vars(self).setdefault("_stored", {})
        for name in self._TRACKED if fields is None else set(fields) & set(self._TRACKED):
            if name in vars(self):
                stored[name] = vars(self)[name]

    def secret_enter(self, field: str, value: str) -> None:
        """Set a secret as entered by a person now, for the account's current SMTP host, port
        and security (also when it is the stored value typed again)."""
        if field not in self.SECRET_FIELDS:
            raise ValueError(f"{field} is not a secret field")
        setattr(self, field, value)
        vars(self).setdefault("_entered", set()).add(field)

    def _is_entered(self, field: str) -> bool:
        """Whether ``field`` holds a value set since it was read (a new row's are all new)."""
        if self._state.adding or field in vars(self).get("_entered", ()):
            return True
        stored = vars(self).get("_stored", {})
        return field in stored and getattr(self, field) != stored[field]

    def _check_webhook_secret(self) -> None:
        """A new Mailchimp Marketing URL secret must be a strong one (stored ones are reported
        by the providers.W001 check instead: refusing every save would strand their accounts)."""
        value = self.webhook_secret
        if isinstance(value, UndecryptableSecret):
            return
        if not (self._is_entered("webhook_secret") or self._is_entered("kind")):
            return
        if problem := webhook_secret_problem(self.kind, value):
            raise ValidationError({"webhook_secret": problem})

    def _bind_smtp_password(self) -> list[str]:
        """Tie the SMTP password to the endpoint it was entered for; clear it when the account
        moved to another one without it being entered again. Returns the fields changed."""
        changed = []
        if (
            self.smtp_password
            and not self._is_entered("smtp_password")
            and self.smtp_password_endpoint != self.smtp_endpoint
        ):
            logger.info(
                "SMTP password of account %s cleared: its host, port or security changed",
                self.pk,
            )
            self.smtp_password = ""
            changed.append("smtp_password")
        endpoint = self.smtp_endpoint if self.smtp_password else ""
        if self.smtp_password_endpoint != endpoint:
            self.smtp_password_endpoint = endpoint
            changed.append("smtp_password_endpoint")
        return changed

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
        if field == "smtp_password" and self.smtp_password_endpoint != self.smtp_endpoint:
            raise ProviderConfigurationError(
                "smtp_password was entered for another SMTP host, port or security; enter it again",
                provider=self.kind,
                account=self.name,
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


class SenderAuthState(models.TextChoices):
    """A sender-authentication check's verdict. UNKNOWN: the DNS or the provider could not be
    asked (a timeout, SERVFAIL): neither a pass nor a failure."""

    PASS = "pass", "Pass"
    WARN = "warn", "Warning"
    FAIL = "fail", "Fail"
    UNKNOWN = "unknown", "Could not check"


class SenderAuthResult(models.Model):
    """The latest sender-authentication checklist of an account's sender domain (SPF, DKIM,
    DMARC, the provider's own domain status), replaced at every run.

    `items`: [{"key", "label", "state", "found", "publish": [{"type", "host", "value"}],
    "note"}], in checklist order (providers/services/sender_auth.py writes them)."""

    account = models.OneToOneField(
        ProviderAccount, on_delete=models.CASCADE, related_name="sender_auth"
    )
    domain = models.CharField(max_length=255)
    state = models.CharField(max_length=8, choices=SenderAuthState.choices)
    items = models.JSONField(default=list)
    note = models.TextField(blank=True, help_text="What limits the checks for this account.")
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=SenderAuthState.values), name="sender_auth_state_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.domain}: {self.state} at {self.checked_at:%Y-%m-%d %H:%M}"

    def failing_items(self) -> list[dict]:
        return [item for item in self.items if item.get("state") == SenderAuthState.FAIL]
