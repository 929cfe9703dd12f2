"""The suppression list: who must not get mail (all mail, or promotional mail only)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from returns_mail.models import Suppression, SuppressionScope

logger = logging.getLogger(__name__)


def suppressed_emails(emails: Iterable[str]) -> dict[str, set[str]]:
    """Which of `emails` are suppressed, per template purpose ("transactional" mail is blocked
    by all-mail entries; "promotional" mail by those and promotional-only entries)."""
    lowered = {e.strip().lower() for e in emails}
    rows = Suppression.objects.filter(email__in=lowered).values_list("email", "scope")
    all_mail = {email for email, scope in rows if scope == SuppressionScope.ALL}
    promotional = {email for email, _ in rows}
    return {"transactional": all_mail, "promotional": promotional}


def is_suppressed(email: str, *, purpose: str) -> bool:
    return email.strip().lower() in suppressed_emails([email])[purpose]


def suppression_add(
    *, email: str, reason: str, scope: str = SuppressionScope.ALL, note: str = "", actor=None
) -> Suppression:
    """Add (or keep) a suppression; idempotent per (email, scope)."""
    email = email.strip().lower()
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                email=email, reason=reason, scope=scope, note=note, created_by=actor
            )
    except IntegrityError:
        return Suppression.objects.get(email=email, scope=scope)


@dataclass(frozen=True)
class SuppressionEntry:
    email: str
    scope: str
    reason: str
    note: str = ""


def suppressions_add(entries: Iterable[SuppressionEntry], *, source_account=None) -> None:
    """Add many suppressions in one INSERT, as reported by `source_account`'s webhooks (None:
    by hand or through the API). An (email, scope) suppressed already keeps its entry as it
    is: its reason, note and source."""
    Suppression.objects.bulk_create(
        [
            Suppression(
                email=entry.email.strip().lower(),
                scope=entry.scope,
                reason=entry.reason,
                note=entry.note[:255],
                source_account=source_account,
            )
            for entry in entries
        ],
        ignore_conflicts=True,
    )


def suppressions_lift_for_source(account, emails: Iterable[str]) -> int:
    """Lift the suppressions of `emails` that `account`'s webhooks added (a deny-list removal
    at its provider); those added by hand or reported by another account stay. Returns how
    many were lifted."""
    emails = {email.strip().lower() for email in emails}
    lifted, _ = Suppression.objects.filter(email__in=emails, source_account=account).delete()
    kept = Suppression.objects.filter(email__in=emails).count()
    if lifted or kept:
        logger.info(
            "account %s lifted %s suppression(s) from its deny list; %s of another source kept",
            account.pk,
            lifted,
            kept,
        )
    return lifted
