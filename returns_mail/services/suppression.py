"""The suppression list: who must not get mail (all mail, or promotional mail only)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from providers.webhooks.types import BounceKind, DeliveryEventType
from returns_mail.models import Suppression, SuppressionReason, SuppressionScope

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


# What a provider event means for the address: (scope, reason) of the suppression it adds.
_SUPPRESSES = {
    DeliveryEventType.COMPLAINED: (SuppressionScope.ALL, SuppressionReason.COMPLAINT),
    DeliveryEventType.UNSUBSCRIBED: (SuppressionScope.PROMOTIONAL, SuppressionReason.UNSUBSCRIBE),
}


def suppression_effect(
    *, type: str, bounce_kind: str = "", cause: str = ""
) -> tuple[str, str] | None:
    """The (scope, reason) a provider's event calls for, whether a webhook reported it or the
    provider's own list holds it: hard bounces and complaints stop all mail to the address,
    unsubscribes promotional mail. A deny-list entry suppresses as the event that listed it
    (`cause`) would, and one made by hand all mail; a soft bounce suppresses nothing (the
    provider lifts its entry once it expires)."""
    if type == DeliveryEventType.DENYLIST_ADDED:
        if not cause:
            return SuppressionScope.ALL, SuppressionReason.PROVIDER_DENY_LIST
        return suppression_effect(type=cause, bounce_kind=bounce_kind)
    if type == DeliveryEventType.BOUNCED:
        if bounce_kind != BounceKind.HARD:
            return None
        return SuppressionScope.ALL, SuppressionReason.HARD_BOUNCE
    return _SUPPRESSES.get(type)


def suppression_add(
    *, email: str, reason: str, scope: str = SuppressionScope.ALL, note: str = "", actor=None
) -> Suppression:
    """Add (or keep) a suppression; idempotent per (email, scope). A new promotional one is
    mirrored to the providers' unsubscribe lists (services/suppression_mirror.py)."""
    email = email.strip().lower()
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                email=email,
                reason=reason,
                scope=scope,
                note=note,
                created_by=actor,
                mirror_pending=scope == SuppressionScope.PROMOTIONAL,
            )
    except IntegrityError:
        return Suppression.objects.get(email=email, scope=scope)


@dataclass(frozen=True)
class SuppressionEntry:
    email: str
    scope: str
    reason: str
    note: str = ""


def suppressions_add(
    entries: Iterable[SuppressionEntry], *, source_account=None, actor=None
) -> None:
    """Add many suppressions in one INSERT, as reported by `source_account` (its webhooks or
    its own lists; None: by hand, `actor`, or through the API). An (email, scope) suppressed
    already keeps its entry as it is: its reason, note and source. New promotional ones are
    mirrored to the other providers' unsubscribe lists (services/suppression_mirror.py)."""
    Suppression.objects.bulk_create(
        [
            Suppression(
                email=entry.email.strip().lower(),
                scope=entry.scope,
                reason=entry.reason,
                note=entry.note[:255],
                source_account=source_account,
                created_by=actor,
                mirror_pending=entry.scope == SuppressionScope.PROMOTIONAL,
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
