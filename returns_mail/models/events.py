from __future__ import annotations

from django.db import models


class EventTypeSetting(models.Model):
    """Admins switch event types on or off; a type without a row is on."""

    event_type = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event_type"]

    def __str__(self) -> str:
        return f"{self.event_type}: {'on' if self.enabled else 'off'}"


class ReturnEvent(models.Model):
    """One lifecycle event the returns system posted. Written once, never changed."""

    client = models.ForeignKey(
        "returns_mail.ApiClient", on_delete=models.PROTECT, related_name="events"
    )
    idempotency_key = models.CharField(max_length=255)
    # Of the canonical request body: the same key with another body is a conflict (409).
    request_digest = models.CharField(max_length=64)
    type = models.CharField(max_length=64, db_index=True)
    occurred_at = models.DateTimeField()
    return_id = models.CharField("return (RMA) id", max_length=100, db_index=True)
    order_id = models.CharField(max_length=100, blank=True)
    customer_email = models.EmailField()
    customer_name = models.CharField(max_length=200, blank=True)
    customer_locale = models.CharField(max_length=16, blank=True)
    marketing_consent = models.BooleanField(default=False)
    data = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set once the event's customer record was brought up to date (services/customers.py); a
    # task lost with its worker or broker leaves it False, and the sweep applies it again.
    customer_applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "idempotency_key"], name="one_event_per_client_key"
            )
        ]
        indexes = [
            models.Index(fields=["client", "return_id"]),
            # The sweep's question, kept as small as the backlog it finds.
            models.Index(
                fields=["received_at"],
                condition=models.Q(customer_applied=False),
                name="event_customer_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.return_id}"

    def template_context(self) -> dict:
        """The variables templates see (the catalogue's common fields plus `data`)."""
        name = self.customer_name
        return {
            **self.data,
            "return_id": self.return_id,
            "order_id": self.order_id,
            "occurred_at": self.occurred_at.isoformat(),
            "customer": {
                "email": self.customer_email,
                "name": name,
                "first_name": name.split()[0] if name.strip() else "",
                "locale": self.customer_locale,
            },
        }
