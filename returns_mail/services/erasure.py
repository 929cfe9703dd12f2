"""Erasing a customer: every row that names the person is anonymised or deleted, in one
transaction, and each connected Mailchimp Marketing audience is told to delete the member
permanently (in the background, retried on provider errors).

What happens to each kind of row:
- return events: the address becomes a per-erasure placeholder (`erased-…@erased.invalid`),
  the name is blanked, and `data` loses its personal keys and any mention of address or name;
  the event itself (type, return id, times) stays, so counts and rollups stay true;
- messages: recipient → the placeholder, name blanked, error texts (and attempts') scrubbed;
- campaign recipients: address → the placeholder, name and data snapshot blanked;
- delivery events and raw webhook bodies (analytics, through the `customer_erasing` signal:
  a lower app never imports a higher one): recipient → the placeholder, texts scrubbed, raw
  bodies that name the person blanked;
- suppression rows: deleted, with nothing hashed kept in their place (see `customer_erase`);
- the customer record (and its audience memberships): deleted;
- the audit trail: rows whose text names the person are scrubbed; one entry records the erasure.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, quote_plus

from django.contrib.admin.models import LogEntry
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

from config.audit import audit_record
from config.queue import enqueue_each_on_commit
from config.work_rows import Backoff, claim, due
from providers.clients import client_for, subscriber_hash
from providers.exceptions import ProviderError
from returns_mail.exceptions import ReturnsMailError
from returns_mail.models import (
    Attempt,
    AudienceErasure,
    AudienceErasureStatus,
    Campaign,
    CampaignRecipient,
    ConsentRecord,
    Customer,
    Message,
    ReturnEvent,
    Suppression,
)
from returns_mail.models.erasure import ERASED_DOMAIN
from returns_mail.services.audience import audience_accounts

logger = logging.getLogger(__name__)

ERASED_NAME = "[erased]"
# Keys of an event's `data` that describe the person rather than the return.
PERSONAL_KEYS = frozenset(
    {"customer", "email", "name", "first_name", "last_name", "phone", "address", "method"}
)
DELETE_TASK = "returns_mail.tasks.audience_member_erase"
MAX_ATTEMPTS = 10

# Sent inside the erasure's transaction; receivers (higher apps) scrub their own rows and
# return how many they changed: {"label": count}. Arguments: email, name, placeholder.
customer_erasing = Signal()


class ErasureError(ReturnsMailError):
    """Nothing to erase, or an address that is not one."""


@dataclass
class ErasureReport:
    placeholder: str
    counts: dict[str, int] = field(default_factory=dict)
    audience_erasures: list[int] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {label}" for label, n in self.counts.items() if n]
        parts.append(f"{len(self.audience_erasures)} Mailchimp audience deletions queued")
        return ", ".join(parts)


@dataclass(frozen=True)
class Scrubber:
    """Replaces the person's address (also URL-encoded) and full name in any text."""

    email: str
    name: str
    placeholder: str

    def _patterns(self) -> list[tuple[re.Pattern, str]]:
        forms = {self.email, quote(self.email, safe=""), quote_plus(self.email)}
        patterns = [(re.compile(re.escape(f), re.IGNORECASE), self.placeholder) for f in forms]
        if len(self.name.strip()) >= 3:
            patterns.append((re.compile(re.escape(self.name.strip()), re.IGNORECASE), ERASED_NAME))
        return patterns

    def text(self, value: str) -> str:
        for pattern, replacement in self._patterns():
            value = pattern.sub(replacement, value)
        return value

    def data(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items() if k not in PERSONAL_KEYS}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def q(self, *fields: str) -> models.Q:
        """Rows with any of `fields` mentioning the person (address or its encodings)."""
        condition = models.Q()
        for name in fields:
            for form in {self.email, quote(self.email, safe=""), quote_plus(self.email)}:
                condition |= models.Q(**{f"{name}__icontains": form})
        return condition

    def rows(self, queryset, fields: tuple[str, ...], *, batch_size: int = 500) -> int:
        """Scrub `fields` of every row of `queryset` (texts replaced, JSON walked)."""
        changed = 0
        batch = []
        for row in queryset.only("pk", *fields).iterator(chunk_size=batch_size):
            for name in fields:
                value = getattr(row, name)
                setattr(row, name, self.text(value) if isinstance(value, str) else self.data(value))
            batch.append(row)
            if len(batch) >= batch_size:
                changed += _flush(queryset.model, batch, fields)
                batch = []
        return changed + _flush(queryset.model, batch, fields)


def _flush(model, rows: list, fields: tuple[str, ...]) -> int:
    if rows:
        model.objects.bulk_update(rows, fields)
    return len(rows)


def _held(email: str) -> bool:
    return (
        Customer.objects.filter(email=email).exists()
        or ReturnEvent.objects.filter(customer_email__iexact=email).exists()
        or Message.objects.filter(recipient__iexact=email).exists()
        or CampaignRecipient.objects.filter(email__iexact=email).exists()
        or Suppression.objects.filter(email=email).exists()
    )


def _known_name(email: str) -> str:
    customer = Customer.objects.filter(email=email).only("name").first()
    if customer and customer.name:
        return customer.name
    event = (
        ReturnEvent.objects.filter(customer_email__iexact=email)
        .exclude(customer_name="")
        .order_by("-occurred_at")
        .only("customer_name")
        .first()
    )
    return event.customer_name if event else ""


def _idempotency_keys_erase(events, scrub: Scrubber) -> None:
    """A key that names the person (some clients build keys from the address) becomes a
    digest of itself: still unique per client, no longer readable. A replay of the old key
    after the erasure is then a new request."""
    rows = list(events.filter(scrub.q("idempotency_key")).only("pk", "idempotency_key"))
    for row in rows:
        digest = hashlib.sha256(row.idempotency_key.encode("utf-8")).hexdigest()
        row.idempotency_key = f"erased-{digest}"
    ReturnEvent.objects.bulk_update(rows, ["idempotency_key"], batch_size=500)


def customer_erase(*, email: str, actor=None, keep_suppressions: bool = False) -> ErasureReport:
    """Erase everything held about `email` (see the module's docstring); one audit entry.

    `keep_suppressions`: retention (services/retention.py) erases customers nobody asked about;
    their suppressions stay, since those protect the person (no mail after a complaint).

    Suppressions are deleted, not kept as hashes: an erased person is not someone who objected
    to mail (a new return of theirs deserves its emails); promotional mail needs the consent a
    new event would carry; a hash of an address is still personal data (anyone holding the
    address can match it); and the providers keep their own suppression lists, while Mailchimp
    refuses to re-import a permanently deleted member. Raises ErasureError, changing nothing,
    when nothing is held for the address."""
    email = (email or "").strip().lower()
    if "@" not in email:
        raise ErasureError("give a customer's email address")
    if email.endswith(f"@{ERASED_DOMAIN}"):
        raise ErasureError("this is the placeholder of an erased customer: nothing to erase")
    if not _held(email):
        raise ErasureError(f"no customer data is held for {email}")
    placeholder = f"erased-{uuid.uuid4().hex[:12]}@{ERASED_DOMAIN}"
    name = _known_name(email)
    scrub = Scrubber(email=email, name=name, placeholder=placeholder)
    report = ErasureReport(placeholder=placeholder)
    counts = report.counts
    with transaction.atomic():
        event_ids = ReturnEvent.objects.filter(customer_email__iexact=email).values_list(
            "pk", flat=True
        )
        events = ReturnEvent.objects.filter(pk__in=list(event_ids))
        counts["return events"] = scrub.rows(events, ("data", "customer_name"))
        events.update(customer_email=placeholder, customer_name="", marketing_consent=False)
        _idempotency_keys_erase(events, scrub)

        messages = Message.objects.filter(recipient__iexact=email)
        message_ids = list(messages.values_list("pk", flat=True))
        counts["messages"] = scrub.rows(messages, ("error",))
        messages.update(recipient=placeholder, recipient_name="")
        scrub.rows(Attempt.objects.filter(message_id__in=message_ids), ("error",))

        recipients = CampaignRecipient.objects.filter(email__iexact=email)
        counts["campaign recipients"] = scrub.rows(recipients, ("error",))
        recipients.update(email=placeholder, name="", data={})
        scrub.rows(Campaign.objects.filter(scrub.q("test_recipients")), ("test_recipients",))

        if not keep_suppressions:
            counts["suppressions"] = Suppression.objects.filter(email=email).delete()[0]
            # The consent history goes with them, for the same reasons.
            counts["consent records"] = ConsentRecord.objects.filter(email=email).delete()[0]
            scrub.rows(Suppression.objects.filter(scrub.q("note")), ("note",))
        customer = Customer.objects.filter(email=email).first()
        counts["customer records"] = (
            Customer.objects.filter(email=email).delete()[1].get(Customer._meta.label, 0)
        )

        for _receiver, changed in customer_erasing.send(
            sender=Customer, email=email, name=name, placeholder=placeholder
        ):
            for label, n in (changed or {}).items():
                counts[label] = counts.get(label, 0) + n

        scrub.rows(
            LogEntry.objects.filter(scrub.q("object_repr", "change_message")),
            ("object_repr", "change_message"),
        )

        for account in audience_accounts():
            erasure = AudienceErasure.objects.create(
                account=account,
                audience_id=account.audience_id,
                subscriber_hash=subscriber_hash(email),
            )
            report.audience_erasures.append(erasure.pk)
        enqueue_each_on_commit(DELETE_TASK, report.audience_erasures)

        target = customer or Customer()
        target.email = placeholder
        audit_record(
            actor=actor,
            obj=target,
            action="delete",
            message=f"erased a customer ({report.summary()})",
            object_repr=placeholder,
        )
    logger.info("customer erased as %s: %s", placeholder, report.summary())
    return report


# --- the Mailchimp side -----------------------------------------------------------------------
# From a minute, doubling, up to six hours: Mailchimp's own outages can last that long.
BACKOFF = Backoff(base=60, cap=6 * 3600)
# A claimed deletion is not due again for this long (its lease): a task delivered twice
# calls once.
LEASE = timedelta(minutes=10)


def audience_member_erase(*, erasure_id: int) -> str:
    """Ask Mailchimp to delete the member for good. Claims the row (a conditional UPDATE), so a
    task delivered twice calls once; a transient error is retried by `audience_erasures_sweep`
    after a backoff (never sooner than Retry-After); 404 means already gone."""
    now = timezone.now()
    claimable = AudienceErasure.objects.filter(
        due(now), pk=erasure_id, status=AudienceErasureStatus.PENDING
    )
    if not claim(claimable, now=now, claimed_field=None, next_attempt_at=now + LEASE):
        return "not due"
    erasure = AudienceErasure.objects.select_related("account").get(pk=erasure_id)
    try:
        found = client_for(erasure.account).member_delete_permanent(
            subscriber_hash=erasure.subscriber_hash, audience_id=erasure.audience_id
        )
    except ProviderError as exc:
        give_up = exc.permanent or erasure.attempts >= MAX_ATTEMPTS
        AudienceErasure.objects.filter(pk=erasure_id).update(
            status=AudienceErasureStatus.FAILED if give_up else AudienceErasureStatus.PENDING,
            next_attempt_at=None
            if give_up
            else BACKOFF.next_at(now, erasure.attempts, exc.retry_after),
            error=str(exc)[:2000],
        )
        log: Callable = logger.error if give_up else logger.warning
        log("audience erasure %s: %s", erasure_id, exc)
        return "failed" if give_up else "retrying"
    AudienceErasure.objects.filter(pk=erasure_id).update(
        status=AudienceErasureStatus.DONE,
        subscriber_hash="",  # confirmed: nothing left that could name the person
        next_attempt_at=None,
        done_at=timezone.now(),
        error="" if found else "the audience had no such member",
    )
    return "done"


def audience_erasures_sweep() -> int:
    """Every minute (with the audience sync): re-queue pending deletions that are due."""
    ids = list(
        AudienceErasure.objects.filter(
            due(timezone.now()), status=AudienceErasureStatus.PENDING
        ).values_list("pk", flat=True)[:1000]
    )
    with transaction.atomic():
        enqueue_each_on_commit(DELETE_TASK, ids)
    return len(ids)


def audience_erasure_retry(*, erasure_id: int, actor=None) -> None:
    """An admin retries a failed deletion (after fixing the account's key, say)."""
    with transaction.atomic():
        if (
            AudienceErasure.objects.filter(pk=erasure_id, status=AudienceErasureStatus.FAILED)
            .exclude(subscriber_hash="")
            .update(
                status=AudienceErasureStatus.PENDING, attempts=0, next_attempt_at=None, error=""
            )
        ):
            enqueue_each_on_commit(DELETE_TASK, [erasure_id])
