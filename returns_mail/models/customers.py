"""Customers as the returns data describes them, for segments and the Mailchimp audiences."""

from __future__ import annotations

from django.db import models


class Customer(models.Model):
    """One per email address, kept current from every return event (in the background)."""

    email = models.EmailField(unique=True, help_text="Stored lower-cased.")
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    marketing_consent = models.BooleanField(default=False)
    last_return_id = models.CharField(max_length=100, blank=True)
    last_event_type = models.CharField(max_length=64, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    returns_count = models.PositiveIntegerField(default=0, help_text="Distinct returns.")
    total_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    refund_currency = models.CharField(
        max_length=3, blank=True, help_text="Of the refunds summed (one currency per customer)."
    )
    tags = models.JSONField(default=list, blank=True, help_text="returned, refunded, ...")
    # Set when the record changed and the audiences have not seen it yet (the sync's queue).
    audience_sync_pending = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class MemberStatus(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    TRANSACTIONAL = "transactional", "Transactional only (no marketing consent)"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    CLEANED = "cleaned", "Cleaned (bounced)"


class AudienceMember(models.Model):
    """A customer as one Mailchimp Marketing audience holds it: what was last synced."""

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    status = models.CharField(max_length=16, choices=MemberStatus.choices)
    synced_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "customer"], name="one_member_per_audience")
        ]

    def __str__(self) -> str:
        return f"{self.customer} in {self.account}: {self.status}"
