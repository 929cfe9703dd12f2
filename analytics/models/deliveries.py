"""What the providers tell us after sending: raw webhook deliveries and normalized events."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from providers.webhooks.types import BounceKind, DeliveryEventType


class WebhookDeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (our error: re-process after a fix)"


class WebhookDelivery(models.Model):
    """One accepted (signature-checked) webhook request, kept raw so it can be inspected and
    re-processed. Forged requests are never stored, and a body is stored once per account: a
    replayed (or retried) request is the same delivery."""

    # Skipped events whose reasons are kept (the count is kept whole).
    SKIPPED_KEPT = 100

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    # SHA-256 of the body's bytes; kept when retention blanks the body. Empty on deliveries
    # stored before it was recorded.
    body_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # Set by the view before parsing: it dates the events the provider sends undated.
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.TextField(help_text="The request body exactly as received.")
    status = models.CharField(
        max_length=12,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.RECEIVED,
    )
    events_total = models.PositiveIntegerField(default=0, help_text="Events in the body.")
    events_new = models.PositiveIntegerField(default=0, help_text="Stored: not seen before.")
    events_skipped = models.PositiveIntegerField(
        default=0, help_text="Not stored: they lack what we need (see the reasons)."
    )
    # The first SKIPPED_KEPT skipped events: {"index", "event", "reason"} each.
    skipped = models.JSONField(default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["account", "received_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "body_sha256"],
                condition=~Q(body_sha256=""),
                name="one_delivery_per_account_body",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class DeliveryEvent(models.Model):
    """One provider event in our vocabulary, linked to its message when the provider echoed
    our correlation id and the message was sent through the account that reported it. Unique
    by fingerprint: providers deliver the same event more than once, and SendGrid may change
    its event id on a retry."""

    fingerprint = models.CharField(max_length=64, unique=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="events")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    message = models.ForeignKey(
        "returns_mail.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery_events",
    )
    type = models.CharField(max_length=16, choices=DeliveryEventType.choices)
    provider_event = models.CharField(max_length=40)
    bounce_kind = models.CharField(max_length=4, choices=BounceKind.choices, blank=True)
    recipient = models.EmailField(max_length=254, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    # An open no person made (a privacy proxy, a scanner): kept, never counted as an open.
    machine_open = models.BooleanField(default=False)
    provider_message_id = models.CharField(max_length=255, blank=True)
    provider_event_id = models.CharField(max_length=255, blank=True)
    # As the provider echoed it: with no message, it names no message sent through the account
    # (not ours, or sent through another account: such an event changes nothing).
    correlation_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["account", "occurred_at"]),
            models.Index(fields=["type", "occurred_at"]),
            models.Index(fields=["message", "type"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.recipient} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"
