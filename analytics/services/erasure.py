"""analytics' part of erasing a customer (returns_mail.services.erasure.customer_erase sends
`customer_erasing` inside its transaction): delivery events name the recipient, raw webhook
bodies may name the person anywhere, alerts may quote an address, and the customer's replies
are theirs (deleted whole: the words are the person's)."""

from __future__ import annotations

from django.db.models import Q
from django.dispatch import receiver

from analytics.models import Alert, DeliveryEvent, Reply, WebhookDelivery
from returns_mail.services.erasure import Scrubber, customer_erasing


@receiver(customer_erasing, dispatch_uid="analytics.delivery_data_erase")
def delivery_data_erase(sender, *, email: str, name: str, placeholder: str, **kwargs) -> dict:
    scrub = Scrubber(email=email, name=name, placeholder=placeholder)
    events = DeliveryEvent.objects.filter(Q(recipient__iexact=email) | scrub.q("reason", "url"))
    delivery_ids = set(events.values_list("delivery_id", flat=True))
    changed = scrub.rows(events, ("reason", "url"))
    events.filter(recipient__iexact=email).update(recipient=placeholder)
    # A raw body cannot be edited reliably (signatures, encodings): it is blanked, the row's
    # outcome and events kept — as retention does (services/retention.py).
    bodies = WebhookDelivery.objects.filter(Q(pk__in=delivery_ids) | scrub.q("body")).exclude(
        body=""
    )
    blanked = bodies.update(body="")
    scrub.rows(Alert.objects.filter(scrub.q("detail")), ("detail",))
    return {"delivery events": changed, "webhook bodies": blanked}


@receiver(customer_erasing, dispatch_uid="analytics.replies_erase")
def replies_erase(sender, *, email: str, **kwargs) -> dict:
    replies = Reply.objects.filter(Q(customer_email__iexact=email) | Q(from_address__iexact=email))
    return {"replies": replies.delete()[0]}
