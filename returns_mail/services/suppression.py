"""The suppression list: who must not get mail (all mail, or promotional mail only)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from returns_mail.models import Suppression, SuppressionScope


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
