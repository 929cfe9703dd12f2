"""Subject access: everything held about a customer, as one JSON document (the admin's
"Export" action on customers and `manage.py export_customer`), with one audit entry per export.

The address is matched case-insensitively: events keep it as the returns system sent it. Each
section lists the rows as stored; messages carry their content rendered again from the pinned
template version with the event's data and the message's locale (no rendered body is stored).
Higher apps add their own sections through `customer_exporting` (analytics: delivery events),
as they take part in an erasure: a lower app never imports a higher one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import models
from django.dispatch import Signal
from django.utils import timezone

from config.audit import audit_record
from returns_mail.exceptions import ReturnsMailError
from returns_mail.models import (
    Attempt,
    AudienceMember,
    CampaignRecipient,
    ConsentRecord,
    Customer,
    Message,
    ReturnEvent,
    Suppression,
)
from templates_lib.handlebars.errors import HandlebarsError
from templates_lib.rendering import render_version

logger = logging.getLogger(__name__)

FORMAT = "returns-mail subject access export"
CONTENT_NOTE = (
    "rendered again from the pinned version: each message's content is its template version "
    "rendered now with the event's data and the message's locale, as the sending did; no copy "
    "of the email as sent is stored"
)

# Sent while an export is built; receivers (higher apps) return {"section": [rows]}.
# Arguments: email (lower-cased), message_ids (the customer's messages).
customer_exporting = Signal()


class ExportError(ReturnsMailError):
    """Not an address, or nothing held for it."""


def row(obj: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's stored fields as they are (foreign keys as ids)."""
    return {
        field.attname: getattr(obj, field.attname)
        for field in obj._meta.concrete_fields
        if field.attname not in exclude
    }


def _email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ExportError(f"not an email address: {email!r}") from None
    return email


def _held(email: str) -> bool:
    return (
        Customer.objects.filter(email=email).exists()
        or ReturnEvent.objects.filter(customer_email__iexact=email).exists()
        or Message.objects.filter(recipient__iexact=email).exists()
        or CampaignRecipient.objects.filter(email__iexact=email).exists()
        or Suppression.objects.filter(email=email).exists()
        or ConsentRecord.objects.filter(email=email).exists()
    )


def _content(message: Message) -> dict[str, str]:
    try:
        rendered = render_version(
            message.template_version, message.event.template_context(), message.locale
        )
    except (HandlebarsError, KeyError, ValueError) as exc:
        logger.warning("export: message %s could not be rendered again: %s", message.pk, exc)
        return {"error": f"could not be rendered again: {exc}"}
    return {
        "locale": rendered.locale,
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
    }


def _message(message: Message) -> dict[str, Any]:
    version = message.template_version
    return {
        **row(message),
        "template": {"name": version.template.name, "version": version.number},
        "content": _content(message),
    }


def _customer_sections(email: str) -> tuple[dict[str, Any], list[int]]:
    customer = Customer.objects.filter(email=email).first()
    members = AudienceMember.objects.filter(customer__email=email).select_related("account")
    events = ReturnEvent.objects.filter(customer_email__iexact=email).order_by("occurred_at", "pk")
    messages = (
        Message.objects.filter(recipient__iexact=email)
        .select_related("event", "template_version__template", "template_version__layout")
        .order_by("created_at", "pk")
    )
    message_ids = [m.pk for m in messages]
    attempts = Attempt.objects.filter(message_id__in=message_ids).order_by("started_at", "pk")
    recipients = (
        CampaignRecipient.objects.filter(email__iexact=email)
        .select_related("campaign")
        .order_by("pk")
    )
    sections = {
        "customer": row(customer, exclude=("audience_sync_pending",)) if customer else None,
        "audience_memberships": [
            {**row(m), "audience": m.account.name, "audience_id": m.account.audience_id}
            for m in members
        ],
        "return_events": [row(e) for e in events],
        "messages": [_message(m) for m in messages],
        "attempts": [row(a) for a in attempts],
        "consent_history": [
            row(c) for c in ConsentRecord.objects.filter(email=email).order_by("occurred_at", "pk")
        ],
        "suppressions": [row(s) for s in Suppression.objects.filter(email=email).order_by("pk")],
        "campaign_recipients": [{**row(r), "campaign": r.campaign.name} for r in recipients],
    }
    return sections, message_ids


def customer_export(*, email: str, actor=None) -> dict[str, Any]:
    """Everything held about `email`, as a JSON-ready document; one audit entry naming the
    actor. Raises ExportError, recording nothing, for a bad address or one nothing is held
    for."""
    email = _email(email)
    if not _held(email):
        raise ExportError(f"no customer data is held for {email}")
    sections, message_ids = _customer_sections(email)
    for _receiver, extra in customer_exporting.send(
        sender=Customer, email=email, message_ids=tuple(message_ids)
    ):
        sections.update(extra or {})
    counts = {name: len(rows) for name, rows in sections.items() if isinstance(rows, list)}
    customer = Customer.objects.filter(email=email).first()
    audit_record(
        actor=actor,
        obj=customer or Customer(email=email),
        action="change",
        message="exported everything held about the customer (subject access): "
        + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items()),
        object_repr=email,
    )
    logger.info("customer data exported: %s", counts)
    return {
        "format": FORMAT,
        "email": email,
        "exported_at": timezone.now(),
        "exported_by": getattr(actor, "username", ""),
        "notes": {"messages.content": CONTENT_NOTE},
        "sections": sections,
    }


def export_json(document: dict[str, Any]) -> str:
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
