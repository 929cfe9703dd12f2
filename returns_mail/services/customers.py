"""Customers kept current from the return events (in the background, one task per request), and
what the Mailchimp audiences say back about them (unsubscribe, cleaned, profile webhooks).

Every customer field is recomputed from the customer's events in the events table, so applying
an event twice, or events out of order, gives the same record: nothing is incremented."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from config.queue import enqueue_on_commit
from providers.models import ProviderAccount
from providers.webhooks.types import NormalizedEvent
from returns_mail.models import (
    AudienceMember,
    ConsentSource,
    Customer,
    MemberStatus,
    ReturnEvent,
    Suppression,
    SuppressionScope,
)
from returns_mail.models.erasure import ERASED_DOMAIN
from returns_mail.services.audience import audience_sync_ring
from returns_mail.services.consent import (
    consent_grant,
    consent_latest,
    consent_record,
    consent_withdraw,
)

logger = logging.getLogger(__name__)

REFUND_EVENT = "refund.processed"
# Event type -> the tags it gives a customer (reminders and staff alerts give none).
TAGS_OF: dict[str, tuple[str, ...]] = {
    "return.label_created": ("returned",),
    "return.in_transit": ("returned",),
    "return.received": ("returned",),
    "return.inspected": ("returned",),
    "return.completed": ("returned",),
    "return.cancelled": ("cancelled",),
    "return.expired": ("expired",),
    "return.rejected": ("rejected",),
    "refund.processed": ("refunded",),
    "store_credit.issued": ("store_credit",),
    "exchange.created": ("exchanged",),
    "exchange.shipped": ("exchanged",),
    "exchange.out_of_stock": ("exchanged", "out_of_stock"),
}

CUSTOMERS_TASK = "returns_mail.tasks.apply_events_to_customers"
SWEEP_EVENTS = 5_000  # per sweep (every minute)
SWEEP_TASK_EVENTS = 500  # per re-queued task


def customer_apply_event(*, event_id: int) -> Customer | None:
    """Bring the customer of `event_id` up to date with all of its events; mark it for the
    audience sync (and ring the sync) if anything changed. None: no such event."""
    event = ReturnEvent.objects.filter(pk=event_id).only("customer_email").first()
    if event is None:
        return None
    _consents_from_events([event_id])
    customer = _customer_refresh(event.customer_email.strip().lower())
    ReturnEvent.objects.filter(pk=event_id).update(customer_applied=True)
    return customer


def customers_apply_events(*, event_ids: Sequence[int]) -> int:
    """The same for the customers of many events (a request's), each recomputed once however
    many of the events are its; then the events are marked applied. Returns how many customers
    were looked at."""
    # Only events not applied yet: a task the sweep queued again for events whose own task
    # came after all (a backlog, not a loss) costs one query.
    ids = list(
        ReturnEvent.objects.filter(pk__in=list(event_ids), customer_applied=False).values_list(
            "pk", flat=True
        )
    )
    emails = set(
        ReturnEvent.objects.filter(pk__in=ids)
        .exclude(customer_email__endswith=f"@{ERASED_DOMAIN}")  # erased: no customer again
        .annotate(email_lower=Lower("customer_email"))
        .values_list("email_lower", flat=True)
    )
    _consents_from_events(ids)
    for email in sorted(emails):  # a fixed order: concurrent tasks lock customers alike
        _customer_refresh(email.strip())
    ReturnEvent.objects.filter(pk__in=ids).update(customer_applied=True)
    return len(emails)


def customers_sweep() -> int:
    """Events whose customers task was lost (a worker killed, a broker that lost its queue, a
    database outage during the task) are applied again; recomputing is harmless, so a task
    that is merely late costs a second look. Returns how many events were re-queued."""
    settled_before = timezone.now() - timedelta(seconds=settings.Q_RETRY)
    ids = list(
        ReturnEvent.objects.filter(customer_applied=False, received_at__lt=settled_before)
        .order_by("received_at")
        .values_list("pk", flat=True)[:SWEEP_EVENTS]
    )
    with transaction.atomic():
        for start in range(0, len(ids), SWEEP_TASK_EVENTS):
            enqueue_on_commit(CUSTOMERS_TASK, ids[start : start + SWEEP_TASK_EVENTS])
    if ids:
        logger.warning("customers of %s events were not applied in time: queued again", len(ids))
    return len(ids)


def _consents_from_events(event_ids: Sequence[int]) -> None:
    """The consent each event states, into the history (oldest first; a statement repeating
    the latest record adds nothing). History only: the returns system's word never lifts an
    unsubscribe nor makes one (services/consent.py)."""
    events = (
        ReturnEvent.objects.filter(pk__in=list(event_ids))
        .exclude(customer_email__endswith=f"@{ERASED_DOMAIN}")
        .order_by("occurred_at", "pk")
        .values_list("pk", "customer_email", "marketing_consent", "occurred_at")
    )
    for pk, email, granted, occurred_at in events:
        # consent_record, not consent_grant / consent_withdraw: this source only states.
        consent_record(
            email=email,
            granted=granted,
            source=ConsentSource.RETURN_EVENT,
            at=occurred_at,
            detail=f"event {pk}",
        )


def _customer_refresh(email: str) -> Customer:
    with transaction.atomic():
        customer, _ = Customer.objects.get_or_create(email=email)
        # Locked before the events are read: two events of one customer applied at once are
        # applied one after the other, the second seeing the first's event.
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        values = customer_values(email=email)
        changed = {k: v for k, v in values.items() if getattr(customer, k) != v}
        if not changed:
            return customer
        for name, value in changed.items():
            setattr(customer, name, value)
        customer.audience_sync_pending = True
        customer.save(update_fields=[*changed, "audience_sync_pending", "updated_at"])
        transaction.on_commit(audience_sync_ring)
    return customer


def customer_values(*, email: str) -> dict[str, Any]:
    """The computed fields of the customer `email` (lower-cased), from its events."""
    events = list(
        ReturnEvent.objects.alias(email_lower=Lower("customer_email"))
        .filter(email_lower=email)
        .order_by("occurred_at", "pk")
        .values(
            "type",
            "occurred_at",
            "return_id",
            "customer_name",
            "customer_locale",
            "marketing_consent",
            "data",
        )
    )
    if not events:
        return {}
    last = events[-1]  # by occurred_at: a late-arriving older event never moves it back
    tags: set[str] = set()
    for e in events:
        tags.update(TAGS_OF.get(e["type"], ()))
    total, currency = _refunds(email, [e for e in events if e["type"] == REFUND_EVENT])
    suppressed = Suppression.objects.filter(
        email=email, scope__in=[SuppressionScope.PROMOTIONAL, SuppressionScope.ALL]
    ).exists()
    # The newest word on consent (an event's, the customer's on the preference page, ...);
    # the last event's when there is no history.
    latest = consent_latest(email)
    consents = latest.granted if latest is not None else bool(last["marketing_consent"])
    return {
        "name": next((e["customer_name"] for e in reversed(events) if e["customer_name"]), ""),
        "locale": next(
            (e["customer_locale"] for e in reversed(events) if e["customer_locale"]), ""
        ),
        # An unsubscribe (or bounce, complaint) sticks whatever later events claim.
        "marketing_consent": consents and not suppressed,
        "last_return_id": last["return_id"],
        "last_event_type": last["type"],
        "last_event_at": last["occurred_at"],
        "returns_count": len({e["return_id"] for e in events}),
        "total_refunded": total,
        "refund_currency": currency,
        "tags": sorted(tags),
    }


def _refunds(email: str, refunds: list[dict]) -> tuple[Decimal, str]:
    """The refunds summed in the currency of the customer's first refund; refunds in another
    currency are left out of the total (and logged): one currency per customer."""
    total, currency = Decimal("0.00"), ""
    for event in refunds:
        refund = (event["data"] or {}).get("refund") or {}
        try:
            amount = Decimal(str(refund.get("amount")))
        except (InvalidOperation, ValueError):
            continue
        if not amount.is_finite():
            continue
        this = str(refund.get("currency") or "").upper()[:3]
        currency = currency or this
        if this and this != currency:
            logger.warning("customer %s has refunds in %s and %s: %s left out", email,
                           currency, this, this)  # fmt: skip
            continue
        total += amount
    return total.quantize(Decimal("0.01")), currency


# --- audience webhooks flowing back -----------------------------------------------------------
# The member statuses that take marketing consent away (a re-subscribe there gives none back).
_LEAVING_STATUSES = {
    "unsubscribed": MemberStatus.UNSUBSCRIBED,
    "cleaned": MemberStatus.CLEANED,
}


def customers_apply_audience_events(
    *, account: ProviderAccount, events: Sequence[NormalizedEvent]
) -> int:
    """A Mailchimp Marketing account's audience webhooks, into the customers: unsubscribe and
    cleaned set the member's status and withdraw marketing consent (services/consent.py: the
    history, the promotional suppression, the flag); a subscribe is recorded in the history
    only; profile updates the name and locale from the merge fields it carries. Returns how
    many customers it changed. The other suppressions an event calls for (a bounce's, a
    complaint's) are written by the analytics webhook handling."""
    changed = 0
    for event in events:
        email = event.recipient.strip().lower()
        customer = Customer.objects.filter(email=email).first() if email else None
        if customer is None:
            continue
        status = _LEAVING_STATUSES.get(event.member_status)
        if status is not None:
            AudienceMember.objects.update_or_create(
                account=account, customer=customer, defaults={"status": status, "error": ""}
            )
            changed += customer.marketing_consent
            # The customer's flag by a plain UPDATE there: the audience already knows, so the
            # customer is not re-synced.
            consent_withdraw(
                email=email,
                source=ConsentSource.MAILCHIMP_AUDIENCE,
                at=event.occurred_at,
                detail=f"{event.provider_event} at {account}",
                account=account,
                mirror=False,  # the audience knows already
            )
        elif event.member_status == "subscribed":
            # History only: a subscribe at the audience does not undo an unsubscribe here.
            consent_grant(
                email=email,
                source=ConsentSource.MAILCHIMP_AUDIENCE,
                at=event.occurred_at,
                detail=f"{event.provider_event} at {account}",
            )
        elif event.profile:
            changed += _profile_apply(customer, event.profile)
    return changed


def _profile_apply(customer: Customer, merge_fields: Mapping[str, str]) -> int:
    """The name and locale from the merge fields the audience sync fills (FNAME, LNAME,
    LOCALE): someone edited them at the provider."""
    first = merge_fields.get("FNAME", "").strip()
    last = merge_fields.get("LNAME", "").strip()
    updates: dict[str, str] = {}
    if first or last:
        updates["name"] = " ".join(p for p in (first, last) if p)[:200]
    locale = merge_fields.get("LOCALE", "").strip()
    if locale:
        updates["locale"] = locale[:16]
    updates = {k: v for k, v in updates.items() if getattr(customer, k) != v}
    if not updates:
        return 0
    return Customer.objects.filter(pk=customer.pk).update(**updates)
