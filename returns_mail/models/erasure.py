"""Permanent deletions of an erased customer from the Mailchimp Marketing audiences."""

from __future__ import annotations

from django.db import models


class AudienceErasureStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Deleted at Mailchimp"
    FAILED = "failed", "Failed (see the error)"


class AudienceErasure(models.Model):
    """One `delete-permanent` owed to one audience: the row is the truth, the task a bell.

    It holds Mailchimp's subscriber hash (MD5 of the lower-cased address), the only way to name
    the member once the address is erased here; the hash is blanked once Mailchimp confirms."""

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    audience_id = models.CharField(max_length=64)
    subscriber_hash = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=8,
        choices=AudienceErasureStatus.choices,
        default=AudienceErasureStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"erasure #{self.pk} at {self.account_id}: {self.status}"


# Erased addresses become `erased-<random>@erased.invalid` (RFC 2606: never deliverable).
ERASED_DOMAIN = "erased.invalid"
