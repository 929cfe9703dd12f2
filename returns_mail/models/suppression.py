from __future__ import annotations

from django.conf import settings
from django.db import models


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    MANUAL = "manual", "Added by hand"
    PROVIDER_DENY_LIST = "provider_deny", "On the provider's deny list"


class SuppressionScope(models.TextChoices):
    ALL = "all", "All mail"
    PROMOTIONAL = "promotional", "Promotional mail only"


class Suppression(models.Model):
    """An address we must not send to (all mail, or promotional mail only)."""

    email = models.EmailField(help_text="Stored lower-cased.")
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    scope = models.CharField(
        max_length=12, choices=SuppressionScope.choices, default=SuppressionScope.ALL
    )
    note = models.CharField(max_length=255, blank=True)
    # The account whose webhook reported it (none: added by hand or through the API). Only that
    # account's provider can lift it again (a deny-list removal).
    source_account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["email", "scope"], name="one_suppression_per_scope")
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_scope_display()}: {self.get_reason_display()})"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)
