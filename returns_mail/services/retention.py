"""Retention of returns_mail's personal data (analytics/services/retention.py runs it daily,
with its own kinds, and `manage.py purge_old_data` on demand).

What goes, and when (0 days: that kind is kept for good):
- messages older than RETENTION_MESSAGE_DAYS (created and last changed before the cutoff) are
  deleted with their attempts; a message still queued, sending or held (ambiguous) is never
  touched. Rollups and latency bins are counters written as mail is sent and reported, never
  recomputed from these rows: the dashboards' numbers stay;
- return events older than that with no message left are deleted. A customer's summary
  (returns count, refunds, tags) is recomputed from the events still held at its next event;
- customers with no return event for RETENTION_CUSTOMER_DAYS are erased as an erasure does
  (services/erasure.py: their rows anonymised, the record and its audience memberships deleted,
  the Mailchimp audiences told), except that their suppressions stay: they protect the person.
  A customer with mail in flight or an event not applied yet is left for a later run;
- consent history (the proof of consent) is kept while its address has a customer record, and
  deleted RETENTION_CONSENT_DAYS after retention first found it without one.

Suppressions are never purged.

Every pass works in batches: one SELECT of the next `batch_size` ids of due rows, then one
statement over that id range that repeats the due condition, so memory and lock time stay flat
whatever the backlog, rows that stopped being due in between are left alone, and a second run
finds nothing to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from returns_mail.models import (
    Attempt,
    CampaignRecipient,
    ConsentRecord,
    Customer,
    Message,
    MessageStatus,
    RecipientStatus,
    ReturnEvent,
)
from returns_mail.services.erasure import ErasureError, customer_erase

logger = logging.getLogger(__name__)

IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.AMBIGUOUS)


class Budget:
    """How long a run may take (a task has Q_TIMEOUT seconds before the cluster kills it):
    passes stop between batches once it is spent, and `cut` says work was left for later."""

    def __init__(self, seconds: float | None = None):
        self.until = None if seconds is None else time.monotonic() + seconds
        self.batches = 0
        self.cut = False

    def spent(self) -> bool:
        """Time is up; never before the run's first batch, so every run moves forward."""
        return self.batches > 0 and self.until is not None and time.monotonic() >= self.until


def in_batches(
    due: QuerySet,
    action: Callable[[QuerySet], int],
    *,
    batch_size: int,
    budget: Budget | None = None,
) -> int:
    """Call `action` on the rows of `due`, `batch_size` ids at a time in ascending id ranges
    (the range's queryset repeats `due`'s condition); returns the sum of what it returned.
    Stops early, marking `budget.cut`, when the budget is spent and rows are left."""
    done, after = 0, None
    while True:
        page = due.order_by("pk") if after is None else due.filter(pk__gt=after).order_by("pk")
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return done
        if budget is not None and budget.spent():
            budget.cut = True
            return done
        done += action(due.filter(pk__gte=ids[0], pk__lte=ids[-1]))
        after = ids[-1]
        if budget is not None:
            budget.batches += 1


def cutoff(days: int, now: datetime | None = None) -> datetime | None:
    """The moment before which rows are due; None when `days` is 0 (kept for good)."""
    return None if days <= 0 else (now or timezone.now()) - timedelta(days=days)


def _days(days: int | None, setting: str) -> int:
    return getattr(settings, setting) if days is None else days


def _deleted(model) -> Callable[[QuerySet], int]:
    return lambda rows: rows.delete()[1].get(model._meta.label, 0)


# --- messages and events ----------------------------------------------------------------------


def messages_due(*, before: datetime) -> QuerySet[Message]:
    return Message.objects.filter(created_at__lt=before, status_changed_at__lt=before).exclude(
        status__in=IN_FLIGHT
    )


def messages_purge(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    budget: Budget | None = None,
) -> dict[str, int]:
    """Delete old finished messages with their attempts: {"messages": n, "attempts": n}."""
    before = cutoff(_days(days, "RETENTION_MESSAGE_DAYS"))
    counts = {"messages": 0, "attempts": 0}
    if before is None:
        return counts
    due = messages_due(before=before)
    if dry_run:
        counts["messages"] = due.count()
        counts["attempts"] = Attempt.objects.filter(message__in=due).count()
        return counts

    def delete(rows: QuerySet) -> int:
        # The ORM's delete: attempts go with their message, and a resend or a delivery event
        # that points at it is unlinked (SET_NULL).
        _, by_model = rows.delete()
        counts["attempts"] += by_model.get(Attempt._meta.label, 0)
        return by_model.get(Message._meta.label, 0)

    counts["messages"] = in_batches(due, delete, batch_size=_batch(batch_size), budget=budget)
    return counts


def events_due(*, before: datetime) -> QuerySet[ReturnEvent]:
    return ReturnEvent.objects.filter(received_at__lt=before, occurred_at__lt=before).exclude(
        Exists(Message.objects.filter(event=OuterRef("pk")))
    )


def events_purge(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    budget: Budget | None = None,
) -> int:
    """Delete old return events none of whose messages is left (run after messages_purge)."""
    before = cutoff(_days(days, "RETENTION_MESSAGE_DAYS"))
    if before is None:
        return 0
    due = events_due(before=before)
    if dry_run:
        return due.count()
    return in_batches(due, _deleted(ReturnEvent), batch_size=_batch(batch_size), budget=budget)


# --- customers --------------------------------------------------------------------------------


def customers_due(*, before: datetime) -> QuerySet[Customer]:
    return Customer.objects.filter(
        Q(last_event_at__lt=before) | Q(last_event_at__isnull=True, created_at__lt=before)
    )


def _busy(email: str) -> bool:
    """Mail in flight to the address, or an event of it not applied to its record yet (its
    last_event_at is about to move): erasing now would anonymise what is being sent."""
    return (
        Message.objects.filter(status__in=IN_FLIGHT, recipient__iexact=email).exists()
        or CampaignRecipient.objects.filter(
            status=RecipientStatus.PENDING, email__iexact=email
        ).exists()
        or ReturnEvent.objects.filter(customer_applied=False, customer_email__iexact=email).exists()
    )


def _customer_expire(customer_id: int, before: datetime) -> bool:
    with transaction.atomic():
        # Locked: the customers task recomputing it (a new event) waits for this to finish.
        customer = customers_due(before=before).select_for_update().filter(pk=customer_id).first()
        if customer is None or _busy(customer.email):
            return False
        try:
            customer_erase(email=customer.email, keep_suppressions=True)
        except ErasureError as exc:  # cannot happen for a stored customer; never stops the run
            logger.warning("retention: customer %s not erased: %s", customer_id, exc)
            return False
    return True


def customers_purge(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    budget: Budget | None = None,
) -> int:
    """Erase customers with no event since the cutoff (keeping their suppressions); returns
    how many. Each is erased in its own transaction; one that is busy is left for later."""
    before = cutoff(_days(days, "RETENTION_CUSTOMER_DAYS"))
    if before is None:
        return 0
    due = customers_due(before=before)
    if dry_run:
        return due.count()

    def erase(rows: QuerySet) -> int:
        erased = 0
        for pk in list(rows.values_list("pk", flat=True)):
            if budget is not None and budget.spent():  # an erasure is many statements
                budget.cut = True
                break
            erased += _customer_expire(pk, before)
        return erased

    return in_batches(due, erase, batch_size=_batch(batch_size), budget=budget)


# --- consent history --------------------------------------------------------------------------


def _has_customer():
    return Exists(Customer.objects.filter(email=OuterRef("email")))


def consent_purge(
    *,
    days: int | None = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    budget: Budget | None = None,
) -> int:
    """Date the histories whose address has no customer record any more (and undate those
    whose customer came back), then delete those that have been without one for `days`."""
    days = _days(days, "RETENTION_CONSENT_DAYS")
    now = timezone.now()
    before = cutoff(days, now)
    if before is None:
        return 0
    size = _batch(batch_size)
    due = ConsentRecord.objects.filter(customer_gone_at__lt=before).exclude(_has_customer())
    if dry_run:
        return due.count()
    in_batches(
        ConsentRecord.objects.filter(customer_gone_at__isnull=False).filter(_has_customer()),
        lambda rows: rows.update(customer_gone_at=None),
        batch_size=size,
        budget=budget,
    )
    in_batches(
        ConsentRecord.objects.filter(customer_gone_at__isnull=True).exclude(_has_customer()),
        lambda rows: rows.update(customer_gone_at=now),
        batch_size=size,
        budget=budget,
    )
    return in_batches(due, _deleted(ConsentRecord), batch_size=size, budget=budget)


def _batch(batch_size: int | None) -> int:
    return batch_size or settings.RETENTION_BATCH_SIZE
