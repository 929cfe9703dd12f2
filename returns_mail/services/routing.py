"""Which provider account a message goes through: the rule's route, minus broken accounts."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from providers.models import ProviderAccount, Purpose
from returns_mail.models import AccountCircuit, RoutingMode, TriggerRule

logger = logging.getLogger(__name__)

CIRCUIT_THRESHOLD = 5  # consecutive transient failures that open an account's circuit
CIRCUIT_COOL_DOWN = timedelta(seconds=60)


def route(
    rule: TriggerRule, recipient: str, *, purpose: str | None = None
) -> list[ProviderAccount]:
    """The accounts to try, in order: the active ones, and with `purpose` (a template's) only
    those that serve it. Weighted: one picked per recipient (the same recipient always gets the
    same one, so providers can be compared), the others as fallback."""
    links = [
        link
        for link in rule.route.select_related("account")
        if link.account.is_active
        and (purpose is None or Purpose.serves(link.account.purpose, purpose))
    ]
    accounts = [link.account for link in links]
    if not accounts:
        return []
    if rule.routing == RoutingMode.SINGLE:
        return accounts[:1]
    if rule.routing == RoutingMode.WEIGHTED:
        total = sum(link.weight for link in links)
        if total:
            point = int(hashlib.sha256(recipient.lower().encode()).hexdigest(), 16) % total
            for link in links:
                if point < link.weight:
                    chosen = link.account
                    break
                point -= link.weight
            return [chosen, *[a for a in accounts if a != chosen]]
    return accounts


def circuit_open_until(account: ProviderAccount):
    """When the account may be used again, or None when its circuit is closed."""
    circuit = AccountCircuit.objects.filter(account=account).first()
    if circuit and circuit.open_until and circuit.open_until > timezone.now():
        return circuit.open_until
    return None


def circuit_failure(account: ProviderAccount, error: str) -> bool:
    """Count a transient failure; open the circuit at the threshold. True when it opened."""
    circuit, _ = AccountCircuit.objects.get_or_create(account=account)
    AccountCircuit.objects.filter(pk=circuit.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=error[:2000]
    )
    circuit.refresh_from_db()
    if circuit.consecutive_failures >= CIRCUIT_THRESHOLD and not circuit_open_until(account):
        now = timezone.now()
        AccountCircuit.objects.filter(pk=circuit.pk).update(
            opened_at=now, open_until=now + CIRCUIT_COOL_DOWN
        )
        # The alert record is the circuit row itself (admin: Account circuits); IT alerting
        # hooks in through the analytics app.
        logger.error(
            "ALERT: circuit opened for provider account %s after %d consecutive failures: %s",
            account.name,
            circuit.consecutive_failures,
            error,
        )
        return True
    return False


def circuit_success(account: ProviderAccount) -> None:
    AccountCircuit.objects.filter(account=account).exclude(
        consecutive_failures=0, open_until=None
    ).update(consecutive_failures=0, open_until=None)
