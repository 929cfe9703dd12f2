"""Promotional campaigns: a segment sent a promotional template through one provider account.

A started campaign materialises its audience as CampaignRecipient rows (one per address: a
database constraint), split into CampaignChunk rows of at most 1,000 recipients. The chunk is
the unit of sending, claiming and crash recovery; the recipient row is the truth of who was
sent what.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    PREPARING = "preparing", "Preparing the audience"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    name = models.CharField(max_length=150)
    segment = models.ForeignKey(
        "returns_mail.Segment", on_delete=models.PROTECT, related_name="campaigns"
    )
    template = models.ForeignKey(
        "templates_lib.Template",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"purpose": "promotional"},
    )
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    send_at = models.DateTimeField(
        null=True, blank=True, help_text="Leave empty to send when started."
    )
    test_recipients = models.TextField(
        blank=True, help_text="Addresses for a test send, one per line or separated by commas."
    )
    unsubscribe_group_id = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="SendGrid unsubscribe group (required for SendGrid): its unsubscribe link.",
    )
    status = models.CharField(
        max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # Pinned when the campaign starts: a later publication does not change a running send.
    template_version = models.ForeignKey(
        "templates_lib.TemplateVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    total = models.PositiveIntegerField(default=0, help_text="Recipients after exclusions.")
    excluded = models.JSONField(default=dict, blank=True, help_text="Excluded, by reason.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Updated by the senders as they go: a sending campaign quiet for long lost its senders.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Mailchimp Marketing: the static segment and the campaign created there.
    remote_segment_id = models.CharField(max_length=64, blank=True)
    remote_campaign_id = models.CharField(max_length=64, blank=True)
    # Kinds whose webhooks say nothing per email (Mailchimp Marketing): the provider's own
    # report, pulled while the campaign is recent. Null: never collected, so its delivery,
    # opens and clicks are "not collected" (never 0 %).
    report_collected_at = models.DateTimeField(null=True, blank=True)
    # The provider's summary as last pulled (its counts, its definitions).
    report_summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    # The provider call may have gone through (a timeout, a lost worker): looked up at the
    # provider before anything is resent.
    UNCONFIRMED = "unconfirmed", "Unconfirmed: checking the provider"
    # The provider could not tell what it took: an admin decides.
    HELD = "held", "Held: the provider cannot say what it took"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class CampaignChunk(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    locale = models.CharField(max_length=16, blank=True)
    size = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    # Travels with every recipient of the chunk (custom argument / metadata) so the provider's
    # activity can say which of them it took after a crash.
    marker = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set (and committed) just before the provider call, as for outbox messages.
    handed_over_at = models.DateTimeField(null=True, blank=True)
    sent_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="one_chunk_number")
        ]
        indexes = [models.Index(fields=["status", "claimed_at"])]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.number} ({self.status})"


class RecipientStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class CampaignRecipient(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    chunk_number = models.PositiveIntegerField()
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    # The per-recipient template data, as sent (a snapshot of the customer at the start).
    data = models.JSONField(default=dict)
    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=10, choices=RecipientStatus.choices, default=RecipientStatus.PENDING
    )
    error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # What the provider's webhooks reported (campaign results).
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    # Dropped or rejected by the provider after it took the request (SendGrid "dropped").
    rejected_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "chunk_number", "id"]
        constraints = [
            # Exactly once per address, whatever a crash or a retry does.
            models.UniqueConstraint(fields=["campaign", "email"], name="one_recipient_per_email")
        ]
        indexes = [
            models.Index(fields=["campaign", "chunk_number", "status"]),
            # A customer's promotional mail by time: conversion attribution (last touch).
            models.Index(fields=["email", "sent_at"], name="recipient_email_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"
