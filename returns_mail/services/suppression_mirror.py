"""Our unsubscribes on every provider's own unsubscribe list.

A promotional suppression, from any source (a webhook, an unsubscribe link, the admin, a CSV,
the API, another provider's list), is written with `mirror_pending` set. The webhooks ring a
task per suppression on commit; a sweep every minute takes whatever is still pending, BATCH at
a time, for at most SWEEP_SECONDS a run. Each active account whose provider takes unsubscribes
(`Capability.ADD_UNSUBSCRIBES`) gets the addresses in as few calls as its API allows: SendGrid
into each unsubscribe group our campaigns on it name (else its global unsubscribes), Mandrill
onto its deny list, the Mailchimp audience as unsubscribed members. Never to the account that
reported the address (it has it).

An unsubscribe is from promotional mail only, and transactional mail must still reach the
customer. A Mailchimp audience and a SendGrid unsubscribe group hold promotional mail only; a
SendGrid global unsubscribe or a Mandrill reject stops every email of the account. Those go
only to accounts that send promotional mail alone (purpose "promotional"); an account that also
sends transactional mail keeps the address, and our own suppression list (checked before every
send) keeps promotional mail from it.

Provider calls are idempotent, so a failure leaves the flag set and raises: the task or the
next sweep repeats the whole batch. An account that refuses for good (a revoked key) is logged
and passed over, or one broken account would hold every unsubscribe back forever.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from contextlib import suppress

from django.core.cache import cache

from providers.clients import (
    Capability,
    campaign_needs_unsubscribe_group,
    client_for,
    kinds_that_can,
    syncs_audience,
)
from providers.exceptions import ProviderError
from providers.models import ProviderAccount, Purpose
from returns_mail.models import Campaign, Suppression, SuppressionScope

logger = logging.getLogger(__name__)

# Suppressions per batch: one call each to a provider that takes one address per call.
BATCH = 100
# A sweep starts no batch after this long, well inside the task timeout (Q_TIMEOUT, 60 s by
# default): the rest waits for the next minute's sweep.
SWEEP_SECONDS = 40
LOCK_KEY = "returns_mail:unsubscribes-mirror"
LOCK_SECONDS = 10 * 60
COMMENT = "unsubscribed from promotional mail (Returns Mail)"


def mirror_accounts() -> list[ProviderAccount]:
    """The active accounts that take unsubscribes (an audience account only with its id)."""
    accounts = ProviderAccount.objects.filter(
        kind__in=kinds_that_can(Capability.ADD_UNSUBSCRIBES), is_active=True
    ).order_by("pk")
    return [a for a in accounts if a.audience_id or not syncs_audience(a)]


def unsubscribe_groups(account: ProviderAccount) -> list[int]:
    """The unsubscribe groups our campaigns on the account name (its promotional mail)."""
    if not campaign_needs_unsubscribe_group(account):
        return []
    return sorted(
        set(
            Campaign.objects.filter(account=account, unsubscribe_group_id__isnull=False)
            .values_list("unsubscribe_group_id", flat=True)
            .distinct()
        )
    )


def stops_transactional_mail(account: ProviderAccount, groups: list[int]) -> bool:
    """Whether the account's unsubscribe list, written with `groups`, would stop its
    transactional mail too (the whole account's mail, not one audience or group)."""
    scoped_to_promotional = syncs_audience(account) or bool(groups)
    return not scoped_to_promotional and account.purpose != Purpose.PROMOTIONAL


def unsubscribes_mirror(*, suppression_ids: Iterable[int]) -> int:
    """Mirror these promotional suppressions to every account but each one's source; returns
    how many accounts took some. Raises the first transient provider error (after trying
    every account), leaving them pending."""
    rows = list(
        Suppression.objects.filter(pk__in=list(suppression_ids), scope=SuppressionScope.PROMOTIONAL)
        .order_by("pk")
        .values_list("pk", "email", "source_account_id")
    )
    if not rows:
        return 0
    reached, failed = 0, []
    for account in mirror_accounts():
        emails = [email for _, email, source in rows if source != account.pk]
        groups = unsubscribe_groups(account)
        if not emails or stops_transactional_mail(account, groups):
            continue
        try:
            _add(account, emails, groups)
        except ProviderError as exc:
            failed.append(exc)
            continue
        reached += 1
    if failed:
        raise failed[0]
    Suppression.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(mirror_pending=False)
    return reached


def _add(account: ProviderAccount, emails: list[str], groups: list[int]) -> None:
    """Raises only a transient error. A permanent one (asking again cannot help) is logged; on
    a batch it is retried address by address, so one address the provider refuses (malformed,
    say) does not keep the others off its list."""
    client = client_for(account)
    try:
        client.unsubscribes_add(emails=emails, comment=COMMENT, groups=groups)
        return
    except ProviderError as exc:
        if not exc.permanent:
            raise
        refused_content = exc.status == 400 or getattr(exc, "code", "") == "ValidationError"
        if len(emails) == 1 or not refused_content:  # a revoked key: every call would fail
            logger.warning("unsubscribes not mirrored to account %s: %s", account.pk, exc)
            return
    for email in emails:
        try:
            client.unsubscribes_add(emails=[email], comment=COMMENT, groups=groups)
        except ProviderError as exc:
            if not exc.permanent:
                raise
            logger.warning("unsubscribe not mirrored to account %s: %s", account.pk, exc)


def unsubscribes_mirror_pending() -> int:
    """Mirror the pending promotional suppressions, oldest first (the sweep, every minute;
    one at a time). Returns how many were mirrored."""
    token = uuid.uuid4().hex
    try:
        acquired = cache.add(LOCK_KEY, token, LOCK_SECONDS)
    except Exception:  # a cache outage must not stop mirroring (a repeat is harmless)
        acquired, token = True, ""
    if not acquired:
        return 0
    done, deadline = 0, time.monotonic() + SWEEP_SECONDS
    try:
        while time.monotonic() < deadline:
            ids = list(
                Suppression.objects.filter(mirror_pending=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            unsubscribes_mirror(suppression_ids=ids)
            done += len(ids)
    finally:
        if token:
            with suppress(Exception):
                if cache.get(LOCK_KEY) == token:
                    cache.delete(LOCK_KEY)
    return done
