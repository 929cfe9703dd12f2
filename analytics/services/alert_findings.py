"""What an alert condition returns (`Finding`) and the helpers every condition shares: the
accounts a rule watches, its time window. Kept apart from the evaluation (alerts.py) so that
conditions can live in their own modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.models import AlertRule
from providers.models import ProviderAccount


@dataclass(frozen=True)
class Finding:
    """One subject for which a rule fires now."""

    subject: str
    value: float | None
    detail: str
    account_id: int | None = None


def accounts_watched(rule: AlertRule, *, kinds=None) -> dict[int, ProviderAccount]:
    """The active accounts the rule watches: its own, or all (each alerts on its own)."""
    accounts = ProviderAccount.objects.filter(is_active=True)
    if rule.account_id:
        accounts = accounts.filter(pk=rule.account_id)
    if kinds:
        accounts = accounts.filter(kind__in=kinds)
    return {a.pk: a for a in accounts}


def window(rule: AlertRule, now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(minutes=rule.window_minutes), now


def account_finding(account: ProviderAccount, value: float, detail: str) -> Finding:
    return Finding(str(account.pk), value, detail, account.pk)


def open_subjects(rule: AlertRule) -> set[str]:
    return set(rule.alerts.filter(resolved_at__isnull=True).values_list("subject", flat=True))
