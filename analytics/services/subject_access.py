"""analytics' part of a subject-access export (returns_mail.services.subject_access sends
`customer_exporting` while it builds the document): the provider events about the customer's
mail, matched by recipient (case-insensitively) or by message, and the customer's replies."""

from __future__ import annotations

from django.db.models import Q
from django.dispatch import receiver

from analytics.models import DeliveryEvent, Reply
from returns_mail.services.subject_access import customer_exporting, row


@receiver(customer_exporting, dispatch_uid="analytics.delivery_events_export")
def delivery_events_export(sender, *, email: str, message_ids: tuple[int, ...], **kwargs) -> dict:
    events = DeliveryEvent.objects.filter(
        Q(recipient__iexact=email) | Q(message_id__in=message_ids)
    ).order_by("occurred_at", "pk")
    return {"delivery_events": [row(event) for event in events]}


@receiver(customer_exporting, dispatch_uid="analytics.replies_export")
def replies_export(sender, *, email: str, message_ids: tuple[int, ...], **kwargs) -> dict:
    replies = Reply.objects.filter(
        Q(customer_email__iexact=email)
        | Q(from_address__iexact=email)
        | Q(message_id__in=message_ids)
    ).order_by("received_at", "pk")
    return {"replies": [row(reply) for reply in replies]}
