"""Marketing consent history: who gave or withdrew consent, when and where (ConsentRecord)."""

from __future__ import annotations

from datetime import datetime

from returns_mail.models import ConsentRecord


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
