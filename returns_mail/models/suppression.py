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
    # A promotional suppression not yet mirrored to the other providers' unsubscribe lists
    # (services/suppression_mirror.py clears it once they all have it).
    mirror_pending = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["email", "scope"], name="one_suppression_per_scope")
        ]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(mirror_pending=True),
                name="suppression_mirror_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_scope_display()}: {self.get_reason_display()})"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class SuppressionImport(models.Model):
    """Where importing one provider account's own suppression lists stands: when it last ran,
    how many it read and added, and where an interrupted run resumes."""

    account = models.OneToOneField(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    # The start of the last complete run: the next asks only for what was listed since then
    # (where the provider can filter by time).
    complete_since = models.DateTimeField(null=True, blank=True)
    # The run under way or interrupted (a rate limit): its start, and the provider's position
    # after the last page imported (empty: the next run starts from the beginning).
    run_started_at = models.DateTimeField(null=True, blank=True)
    resume = models.JSONField(default=dict, blank=True)
    # Held while a run reads pages (a conditional UPDATE claims it): one run per account.
    running_until = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_read = models.PositiveIntegerField(default=0, help_text="Entries read by the last run.")
    last_added = models.PositiveIntegerField(
        default=0, help_text="Suppressions the last run added (new addresses only)."
    )
    total_added = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "suppression import"

    def __str__(self) -> str:
        return f"suppression import of {self.account}"
