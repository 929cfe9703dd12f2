"""Customers' replies to our mail, received on the reply domain (services/replies.py)."""

from __future__ import annotations

from django.db import models


class Reply(models.Model):
    """One received message on the reply domain. Linked to the message its signed reply-to
    token names; a token that is not ours (forged, garbled) leaves it unlinked. An auto-reply
    (out of office...) is kept apart: it writes no `replied` delivery event and is not
    forwarded. One per provider message (`key`): a retried post stores nothing new."""

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    key = models.CharField(max_length=255, help_text="The mail's Message-Id, else a digest.")
    message = models.ForeignKey(
        "returns_mail.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
    )
    event = models.ForeignKey(
        "returns_mail.ReturnEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
    )
    customer_email = models.EmailField(blank=True, help_text="The message's recipient.")
    to_address = models.CharField(max_length=320)
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True, help_text="The reply without the quoted history.")
    received_at = models.DateTimeField(db_index=True)
    is_auto_reply = models.BooleanField(default=False)
    headers = models.JSONField(default=dict, blank=True)
    delivery_event = models.ForeignKey(
        "analytics.DeliveryEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    forwarded_at = models.DateTimeField(null=True, blank=True)
    forward_attempts = models.PositiveSmallIntegerField(default=0)
    forward_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "replies"
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="reply_once_per_account_key")
        ]

    def __str__(self) -> str:
        return f"reply from {self.from_address} at {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_linked(self) -> bool:
        return self.message_id is not None
