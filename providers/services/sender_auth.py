"""Sender authentication of each account's sender domain (the domain of its from address), as
Gmail's and Yahoo's bulk-sender rules ask: SPF, DKIM and DMARC in the DNS, and the provider's
own domain-authentication status. The latest checklist per account is stored
(SenderAuthResult); "Test connection" and a daily schedule run it."""

from __future__ import annotations

import logging

from django.utils import timezone

from config.queue import enqueue_each_on_commit
from providers.clients import Capability, account_can, client_for, sender_auth_plan
from providers.clients.sender_auth_types import (
    DkimOption,
    DomainAuthentication,
    SenderAuthPlan,
    SenderAuthScope,
)
from providers.exceptions import ProviderError
from providers.models import ProviderAccount, SenderAuthResult, SenderAuthState
from providers.services.dns_lookup import DnsLookup
from providers.services.sender_auth_checks import (
    FAIL,
    PASS,
    UNKNOWN,
    WARN,
    dkim_item,
    dmarc_items,
    item,
    spf_items,
)

logger = logging.getLogger(__name__)

# The overall verdict is the worst item's, "could not check" ranking below a failure.
_RANK = {PASS: 0, WARN: 1, UNKNOWN: 2, FAIL: 3}


def sender_domain(account: ProviderAccount) -> str:
    return account.from_email.rpartition("@")[2].strip().lower().rstrip(".")


def sender_auth_check(*, account_id: int, lookup: DnsLookup | None = None) -> SenderAuthResult:
    """Check the account's sender domain now and store the checklist (replacing the last)."""
    account = ProviderAccount.objects.get(pk=account_id)
    domain = sender_domain(account)
    plan = sender_auth_plan(account)
    lookup = lookup or DnsLookup()
    status_item, reported = _provider_status(account, domain, plan)  # network: no transaction
    items = []
    if plan.scope == SenderAuthScope.FULL:
        items += spf_items(lookup, domain, plan)
        items.append(dkim_item(lookup, domain, plan, reported))
    items += dmarc_items(lookup, domain, aligned_by_provider=plan.scope == SenderAuthScope.FULL)
    if status_item is not None:
        items.append(status_item)
    state = max((i["state"] for i in items), key=_RANK.__getitem__, default=UNKNOWN)
    result, _ = SenderAuthResult.objects.update_or_create(
        account=account,
        defaults={
            "domain": domain,
            "state": state,
            "items": items,
            "note": plan.note,
            "checked_at": timezone.now(),
        },
    )
    logger.info("sender authentication of account %s (%s): %s", account.pk, domain, state)
    return result


def sender_auth_check_all() -> int:
    """Queue a check of every active account (the daily schedule); returns how many."""
    ids = list(
        ProviderAccount.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )
    enqueue_each_on_commit("providers.tasks.check_sender_auth", ids)
    return len(ids)


def _provider_status(
    account: ProviderAccount, domain: str, plan: SenderAuthPlan
) -> tuple[dict | None, tuple[DkimOption, ...]]:
    """The provider's own verdict on the domain as an item (None: this kind reports none), and
    the DKIM records it asks for (checked in the DNS instead of the plan's generic ones)."""
    if not account_can(account, Capability.DOMAIN_AUTHENTICATION):
        return None, ()
    label = f"{plan.provider} domain authentication"
    try:
        status = client_for(account).domain_authentication(domain)
    except ProviderError as exc:
        return item("provider", label, UNKNOWN, f"Could not ask {plan.provider}: {exc}"), ()
    return _status_item(label, plan, status), _reported_dkim(plan, status)


def _status_item(label: str, plan: SenderAuthPlan, status: DomainAuthentication) -> dict:
    if not status.found:
        return item(
            "provider",
            label,
            FAIL,
            status.detail,
            note=f"Add and authenticate {status.domain} at {plan.provider}: it then shows the "
            "exact records to publish.",
        )
    if status.valid:
        return item("provider", label, PASS, status.detail)
    publish = [r for r in status.records if r.valid is False]
    found = status.detail + (
        f" ({'; '.join(status.problems)})"
        if status.problems and status.detail != "; ".join(status.problems)
        else ""
    )
    return item("provider", label, FAIL, found, publish=publish)


def _reported_dkim(plan: SenderAuthPlan, status: DomainAuthentication) -> tuple[DkimOption, ...]:
    """The DKIM records the provider names for this domain (SendGrid's carry its user id), when
    they are more exact than the plan's; () to check the plan's."""
    records = tuple(r for r in status.records if "._domainkey." in r.host)

    def shape(rs):
        return {(r.type, r.host.lower(), r.value.lower()) for r in rs}

    generic = [shape(r.for_domain(status.domain) for r in o.records) for o in plan.dkim]
    if not records or shape(records) in generic:
        return ()
    return (DkimOption(f"the DKIM records {plan.provider} asks for", records),)


def state_label(state: str) -> str:
    return SenderAuthState(state).label
