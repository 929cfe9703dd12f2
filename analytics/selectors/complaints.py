"""The spam-complaint rate (complaints / delivered), as Gmail and Yahoo judge bulk senders: per
account and per sending domain (the domain of the account's from address; accounts sharing a
domain add up, as the mailbox providers count per domain), against their 0.3 % limit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from analytics.selectors import metrics
from analytics.selectors.filters import MetricFilters
from analytics.selectors.metrics import Counts
from providers.models import ProviderAccount

# Gmail and Yahoo: bulk senders must stay under 0.3 %; Gmail asks to keep it under 0.1 %.
SPAM_RATE_LIMIT = 0.003
SPAM_RATE_TARGET = 0.001


@dataclass(frozen=True)
class SpamRate:
    key: object  # an account id, or a domain
    label: str
    domain: str
    counts: Counts

    @property
    def rate(self):
        return self.counts.spam_rate

    @property
    def verdict(self) -> str:
        rate = self.rate
        if not isinstance(rate, float):
            return "no delivered mail reported"
        if rate >= SPAM_RATE_LIMIT:
            return "over the 0.3 % limit"
        if rate > SPAM_RATE_TARGET:
            return "over the 0.1 % target"
        return "under 0.1 %"


def sender_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def spam_rates(filters: MetricFilters) -> tuple[list[SpamRate], list[SpamRate]]:
    """(per account, per sending domain), most delivered first; mail with no account is left
    out (it was never sent)."""
    totals = {pk: c for pk, c in metrics.totals_by_account(filters).items() if pk}
    accounts = {
        pk: (name, sender_domain(email))
        for pk, name, email in ProviderAccount.objects.filter(pk__in=totals).values_list(
            "pk", "name", "from_email"
        )
    }
    per_account = [
        SpamRate(pk, *accounts.get(pk, (f"#{pk} (deleted)", "")), counts)
        for pk, counts in totals.items()
    ]
    summed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in per_account:
        for name in ("sent", "delivered", "complained", "unreported"):
            summed[row.domain][name] += getattr(row.counts, name)
    per_domain = [
        SpamRate(domain, domain or "(account deleted)", domain, Counts(**values))
        for domain, values in summed.items()
    ]
    order = lambda r: (-r.counts.delivered, r.label)  # noqa: E731
    return sorted(per_account, key=order), sorted(per_domain, key=order)
