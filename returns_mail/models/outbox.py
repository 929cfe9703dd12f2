from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    CANCELLED = "cancelled", "Cancelled"
    # The provider may have accepted it (a read timeout, a dropped connection, a worker lost
    # mid-call): never resent blindly; the sweep looks it up in the provider's activity, and
    # it stays held for an admin only when the provider cannot say.
    AMBIGUOUS = "ambiguous", "Held: provider may have accepted it"


class MessageRefusal(models.TextChoices):
    """Why a message was never handed to a provider (status "suppressed", or "failed" for
    transactional mail no account of its route may send): the API's machine-readable reason,
    the human text being the message's error."""

    NO_MARKETING_CONSENT = "no_marketing_consent", "No marketing consent"
    SUPPRESSED_ADDRESS = "suppressed_address", "Address suppressed"
    NO_PROMOTIONAL_ACCOUNT = (
        "no_promotional_account",
        "No account of the route sends promotional mail",
    )
    NO_TRANSACTIONAL_ACCOUNT = (
        "no_transactional_account",
        "No account of the route sends transactional mail",
    )


class Message(models.Model):
    """One email to one recipient for one (event, rule): the outbox row, the truth."""

    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.ForeignKey(
        "returns_mail.ReturnEvent", on_delete=models.CASCADE, related_name="messages"
    )
    rule = models.ForeignKey(
        "returns_mail.TriggerRule", null=True, on_delete=models.PROTECT, related_name="messages"
    )
    recipient = models.EmailField()
    recipient_name = models.CharField(max_length=200, blank=True)
    is_internal = models.BooleanField(default=False, help_text="A fixed staff address.")
    template_version = models.ForeignKey(
        "templates_lib.TemplateVersion", on_delete=models.PROTECT, related_name="+"
    )
    locale = models.CharField(max_length=16, blank=True)
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    route_position = models.PositiveSmallIntegerField(
        default=0, help_text="Which account of the rule's route is tried next."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set (and committed) just before the provider call: a worker that dies after this point
    # may have sent the mail, so the sweep holds the message instead of re-queueing it.
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # When the provider's activity was asked about the handover (reconciliation): a lookup
    # older than handed_over_at belongs to an earlier attempt.
    looked_up_at = models.DateTimeField(null=True, blank=True)
    account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    provider_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # First delivery, open and click the provider reported (webhooks, analytics). Opens are a
    # person's only: a machine's (a privacy proxy, a scanner) never set `opened_at`.
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    # The customer's first reply (a person's, not an auto-reply): a time, not a status.
    replied_at = models.DateTimeField(null=True, blank=True)
    # The customer's first action on it: a click or a reply (what response time runs to).
    responded_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Set with the status by the lifecycle when the gate refuses the message (empty otherwise).
    refusal = models.CharField(max_length=24, choices=MessageRefusal.choices, blank=True)
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One message per (event, rule, recipient); resends are extra rows linked to it.
            models.UniqueConstraint(
                fields=["event", "rule", "recipient"],
                condition=Q(resend_of__isnull=True),
                name="one_message_per_event_rule_recipient",
            )
        ]
        indexes = [
            models.Index(fields=["status", "send_after"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient} ({self.status})"


class Attempt(models.Model):
    """One try at handing a message to a provider."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempt_log")
    account = models.ForeignKey(
        "providers.ProviderAccount", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()
    # sent | transient | permanent | ambiguous | reconciled (the provider's activity had it)
    outcome = models.CharField(max_length=16)
    http_status = models.PositiveSmallIntegerField(null=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        # Recent attempts are read every minute (alerts) and by the dashboards (call latency).
        indexes = [
            models.Index(fields=["started_at"]),
            models.Index(fields=["account", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} via {self.account_id}: {self.outcome}"


class AccountCircuit(models.Model):
    """Per account: consecutive transient failures; open (skipped) until the cool-down ends."""

    account = models.OneToOneField(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="circuit"
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    open_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.account}: {self.consecutive_failures} failures"
