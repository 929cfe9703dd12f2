"""Layouts, templates (the editable draft), immutable versions, and per-account sync records."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from providers.models import MAIL_PURPOSES, Purpose


class Layout(models.Model):
    """The brand's wrapper around every template: header, footer, colours, logo. Edited once."""

    name = models.CharField(max_length=100, unique=True)
    html = models.TextField(
        help_text="The email body around the template. Must contain {{body}} exactly once; "
        "may use the {{brand.*}} variables."
    )
    css = models.TextField(blank=True, help_text="Inlined into every element before sending.")
    brand_name = models.CharField(max_length=100)
    logo_url = models.URLField(blank=True)
    primary_color = models.CharField(
        max_length=7,
        default="#1f6f5c",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f6f5c.")],
    )
    support_email = models.EmailField(blank=True)
    website_url = models.URLField(blank=True)
    address = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    def brand(self) -> dict[str, str]:
        """The `brand` variables every template can use."""
        return {
            "name": self.brand_name,
            "logo_url": self.logo_url,
            "primary_color": self.primary_color,
            "support_email": self.support_email,
            "website_url": self.website_url,
            "address": self.address,
        }


class Template(models.Model):
    """An email template. Its fields are the draft in the default locale (translations in
    TemplateTranslation); each saved change is snapshotted into a TemplateVersion."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=100, unique=True)
    purpose = models.CharField(max_length=16, choices=MAIL_PURPOSES, default=Purpose.TRANSACTIONAL)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types of the catalogue this template is for."
    )
    layout = models.ForeignKey(Layout, on_delete=models.PROTECT, related_name="templates")
    default_locale = models.CharField(max_length=16, default="en")
    subject = models.CharField(max_length=255)
    html = models.TextField("HTML body")
    text = models.TextField(
        "plain-text body", blank=True, help_text="Empty: generated from the HTML."
    )
    active_version = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateTranslation(models.Model):
    """The draft of a template in another language."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="translations")
    locale = models.CharField(max_length=16, help_text="e.g. fr, de, fr-CA")
    subject = models.CharField(max_length=255)
    html = models.TextField("HTML body")
    text = models.TextField("plain-text body", blank=True)

    class Meta:
        ordering = ["locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "locale"], name="one_translation_per_locale"
            )
        ]

    def __str__(self) -> str:
        return f"{self.template} ({self.locale})"


class ImmutableVersionError(Exception):
    pass


class TemplateVersion(models.Model):
    """A saved state of a template in every locale. Never changes once written."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # {locale: {"subject", "html", "text"}}; "text" is generated from the HTML when left empty.
    contents = models.JSONField()
    default_locale = models.CharField(max_length=16)
    layout = models.ForeignKey(Layout, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="one_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableVersionError(f"{self} is immutable; save the template to add a version")
        super().save(*args, **kwargs)

    @property
    def locales(self) -> list[str]:
        return sorted(self.contents)


class TemplatePublication(models.Model):
    """Who made which version active, and when (a rollback is a publication of an old one)."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="publications")
    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="+")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} published {self.published_at:%Y-%m-%d %H:%M}"


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be pushed"
    PUSHING = "pushing", "Being pushed"
    RETRYING = "retrying", "Retrying after a temporary error"
    CURRENT = "current", "Current"
    FAILED = "failed", "Failed"
    DRIFTED = "drifted", "Differs from the active version"


class TemplateSync(models.Model):
    """The copy of one template (in one locale) at one provider account."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="syncs")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="template_syncs"
    )
    locale = models.CharField(max_length=16)
    version = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    remote_id = models.CharField(max_length=200, blank=True)
    remote_version_id = models.CharField(max_length=200, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, help_text="Of what was pushed.")
    pushed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["template", "account", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "account", "locale"],
                name="one_sync_per_template_account_locale",
            )
        ]

    def __str__(self) -> str:
        return f"{self.template} @ {self.account} ({self.locale}): {self.status}"
