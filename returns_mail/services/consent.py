"""Marketing consent: the history of who gave or withdrew consent, when and where
(ConsentRecord), and the two services every source goes through.

`consent_withdraw` is an unsubscribe: a history row, a promotional-scope Suppression with reason
"unsubscribe" (what the send path checks), the customer's marketing_consent false, and the
Mailchimp audiences (and whatever else the mirror covers) told after the commit.

`consent_grant` records that consent was given. Whether it also lifts the unsubscribe depends on
who gave it: only the customer themself, on the preference page, lifts the promotional
*unsubscribe* suppression; a complaint, a bounce or an all-mail suppression is never lifted
here. A grant from the returns system's event (its
`marketing_consent` flag) or from a Mailchimp subscribe is history only: the customer's own
withdrawal wins until the customer opts in again.

The returns system's events never suppress either: an event saying "no consent" is history and
the customer's flag (services/customers.py recomputes it), not an unsubscribe the next event
could not undo."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction

from returns_mail.models import (
    ConsentRecord,
    ConsentSource,
    Customer,
    Suppression,
    SuppressionReason,
    SuppressionScope,
)
from returns_mail.services.audience import audience_sync_ring, unsubscribes_mirror_on_commit
from returns_mail.services.suppression import SuppressionEntry, suppressions_add

# Sources speaking for the customer themself: their grant lifts their own unsubscribe.
CUSTOMERS_OWN_WORD = (ConsentSource.PREFERENCE_PAGE,)


def consent_record(
    *, email: str, granted: bool, source: str, at: datetime, detail: str = ""
) -> ConsentRecord | None:
    """Append a change of `email`'s consent to its history; None when it is no change (the
    latest record already says `granted`), so a source repeating itself adds nothing."""
    email = email.strip().lower()
    latest = ConsentRecord.objects.filter(email=email).order_by("-occurred_at", "-id").first()
    if latest is not None and latest.granted == granted:
        return None
    return ConsentRecord.objects.create(
        email=email, granted=granted, source=source, detail=detail[:255], occurred_at=at
    )


def consent_history(email: str) -> list[ConsentRecord]:
    """The consent history of `email`, newest first."""
    return list(ConsentRecord.objects.filter(email=email.strip().lower()))


def consent_withdraw(
    *,
    email: str,
    source: str,
    at: datetime,
    detail: str = "",
    account=None,
    mirror: bool = True,
) -> ConsentRecord | None:
    """Unsubscribe `email` from promotional mail (see the module docstring). Idempotent: a
    second withdrawal changes nothing and writes no history (returns None). `account`: the
    provider account that reported it, kept on the suppression so that only its provider can
    lift it again (a deny-list removal). `mirror=False`: the source is the audience itself."""
    email = email.strip().lower()
    with transaction.atomic():
        # The suppression first: its unique (email, scope) key makes a concurrent second
        # withdrawal wait for this one, and then see its history row.
        new = not Suppression.objects.filter(
            email=email, scope=SuppressionScope.PROMOTIONAL
        ).exists()
        suppressions_add(
            [
                SuppressionEntry(
                    email=email,
                    scope=SuppressionScope.PROMOTIONAL,
                    reason=SuppressionReason.UNSUBSCRIBE,
                    note=_note(source, detail),
                )
            ],
            source_account=account,
        )
        record = consent_record(email=email, granted=False, source=source, at=at, detail=detail)
        # A plain UPDATE: the mirror tells the audiences; a re-sync would say nothing more.
        Customer.objects.filter(email=email, marketing_consent=True).update(marketing_consent=False)
        if new and mirror:
            unsubscribes_mirror_on_commit([email])
    return record


def consents_withdrawn(
    withdrawals: Mapping[str, datetime], *, source: str, detail: str = ""
) -> int:
    """History and customer flags for unsubscribes (email -> when) whose suppressions the caller
    wrote itself (a provider webhook's batch, with its account as their source). Returns the
    history rows written."""
    written = 0
    emails = sorted({email.strip().lower() for email in withdrawals})
    with transaction.atomic():
        for email, at in sorted(withdrawals.items()):
            record = consent_record(email=email, granted=False, source=source, at=at, detail=detail)
            written += record is not None
        Customer.objects.filter(email__in=emails, marketing_consent=True).update(
            marketing_consent=False
        )
    return written


def consent_grant(
    *, email: str, source: str, at: datetime, detail: str = ""
) -> ConsentRecord | None:
    """Record that `email` gave consent (see the module docstring for what it lifts). Returns
    the history row, or None when the latest record already says so."""
    email = email.strip().lower()
    with transaction.atomic():
        record = consent_record(email=email, granted=True, source=source, at=at, detail=detail)
        if source not in CUSTOMERS_OWN_WORD:
            return record
        Suppression.objects.filter(
            email=email,
            scope=SuppressionScope.PROMOTIONAL,
            reason=SuppressionReason.UNSUBSCRIBE,
        ).delete()
        if Suppression.objects.filter(email=email).exists():
            return record  # a bounce or complaint still stops the mail: the flag stays off
        changed = Customer.objects.filter(email=email, marketing_consent=False).update(
            marketing_consent=True, audience_sync_pending=True
        )
        if changed:
            transaction.on_commit(audience_sync_ring)
    return record


def consent_latest(email: str) -> ConsentRecord | None:
    return (
        ConsentRecord.objects.filter(email=email.strip().lower())
        .order_by("-occurred_at", "-id")
        .first()
    )


def _note(source: str, detail: str) -> str:
    label = ConsentSource(source).label if source in ConsentSource.values else source
    return f"{label}: {detail}" if detail else label


def offers_state(email: str) -> tuple[bool, bool]:
    """(promotional mail on, blocked): what the preference page shows for `email`. Blocked: a
    bounce, complaint or all-mail suppression keeps offers off whatever the customer says."""
    email = email.strip().lower()
    reasons = set(Suppression.objects.filter(email=email).values_list("reason", flat=True))
    if reasons:
        return False, reasons != {SuppressionReason.UNSUBSCRIBE}
    latest = consent_latest(email)
    if latest is not None:
        return latest.granted, False
    customer = Customer.objects.filter(email=email).only("marketing_consent").first()
    return bool(customer and customer.marketing_consent), False
