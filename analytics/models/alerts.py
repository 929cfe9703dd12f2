"""Alert rules (thresholds set by IT admins in the admin) and the alerts they open."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class AlertKind(models.TextChoices):
    BOUNCE_RATE = "bounce_rate", "Bounce rate over threshold % in the window"
    FAILED_SENDS = "failed_sends", "More than threshold failed sends in the window"
    CHECK_FAILING = "check_failing", "Credential check failing threshold times in a row"
    WEBHOOK_SILENCE = "webhook_silence", "No webhook in the window from an account that sent"
    SYNC_DRIFT = "sync_drift", "Template sync drift or failure"
    COMPLAINT_RATE = "complaint_rate", "Spam-complaint rate over threshold % in the window"
    SENDER_AUTH = "sender_auth", "Sender authentication check failing (SPF, DKIM, DMARC)"


class AlertRule(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: every account (each one alerts on its own).",
    )
    threshold = models.FloatField(
        default=0,
        help_text="Bounce and complaint rates: percent. Failed sends: count. Checks: failures "
        "in a row.",
    )
    window_minutes = models.PositiveIntegerField(default=60)
    min_volume = models.PositiveIntegerField(
        default=20,
        help_text="Bounce and complaint rates: judged only with at least this many outcomes "
        "(complaint rate: delivered emails).",
    )
    enabled = models.BooleanField(default=True)
    notify_account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Sends the alert email; empty: Django's mail_admins.",
    )
    recipients = models.JSONField(
        default=list, blank=True, help_text="Addresses alerted; empty: the IT admins' emails."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """Open while its rule keeps firing for its subject; one alert, not one per check."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    subject = models.CharField(
        max_length=100, blank=True, help_text="What fired: an account id, a template, ..."
    )
    account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    detail = models.TextField(blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notify_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_alert_per_rule_and_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail[:60]}"
