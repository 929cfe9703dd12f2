"""Marketing consent as history: every time a customer's consent was given or withdrawn, when,
and where it came from. The customer's flag is the latest word; these rows are the proof."""

from __future__ import annotations

from django.db import models


class ConsentSource(models.TextChoices):
    RETURN_EVENT = "return_event", "The returns system's event"
    UNSUBSCRIBE_LINK = "unsubscribe_link", "One-click unsubscribe"
    PREFERENCE_PAGE = "preference_page", "Preference page"
    MAILCHIMP_AUDIENCE = "mailchimp_audience", "Mailchimp audience webhook"
    PROVIDER_UNSUBSCRIBE = "provider_unsubscribe", "Unsubscribe reported by a provider"
    PROVIDER_IMPORT = "provider_import", "Provider suppression list import"
    ADMIN = "admin", "An administrator"


class ConsentRecord(models.Model):
    """One change of a customer's marketing consent (append-only)."""

    email = models.EmailField(db_index=True, help_text="Stored lower-cased.")
    granted = models.BooleanField(help_text="Given (true) or withdrawn (false).")
    source = models.CharField(max_length=24, choices=ConsentSource.choices)
    # What exactly: the event id, the provider account, the message the link came from...
    detail = models.CharField(max_length=255, blank=True)
    # When it happened at the source (the event's occurred_at, the click, the webhook's time).
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    # When retention first found the address without a customer record: the history, the proof
    # of consent, is deleted RETENTION_CONSENT_DAYS later; cleared if a customer comes back.
    customer_gone_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["email", "occurred_at"])]

    def __str__(self) -> str:
        verb = "gave" if self.granted else "withdrew"
        return f"{self.email} {verb} consent ({self.get_source_display()})"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)
