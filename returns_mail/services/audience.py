"""The customers, synced to each active Mailchimp Marketing account's audience.

A changed customer is marked `audience_sync_pending` (services/customers.py). A sync reads the
pending customers in pages of 500 (keyset pages: memory stays flat, no cursor is held open on
the table being updated), sends each page to every audience in one `members_batch` call, up to
10 pages at once (Mailchimp allows 10 connections per key), and records the outcome per page in
one short transaction: AudienceMember rows, and the flag cleared only for customers every
audience took *and* that did not change meanwhile (a conditional UPDATE on `updated_at`).
Provider calls are made outside any transaction; a failed page stays pending for the next run
(the periodic schedule), with the provider's words on its AudienceMember rows.

Consent: without marketing consent a member is `transactional`, never `subscribed`. A member
unsubscribed or cleaned in an audience is never sent a status again: it is upserted one by one
(PUT with `status_if_new` only), since a batch entry always carries a status.

An unsubscribe another provider's webhook reports (SendGrid's, say) is mirrored to every
audience, one member PUT per address, and to the other providers' unsubscribe lists
(`unsubscribe_mirror`, services/suppression_mirror.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.queue import enqueue, enqueue_each_on_commit
from providers.clients import client_for, kinds_syncing_audience
from providers.clients.mailchimp_marketing import MAX_CONNECTIONS_PER_KEY, MEMBERS_PER_CALL
from providers.clients.mailchimp_marketing_types import AudienceMember as Member
from providers.clients.mailchimp_marketing_types import MergeField
from providers.exceptions import ProviderError
from providers.models import ProviderAccount
from returns_mail.models import (
    AudienceMember,
    Customer,
    MemberStatus,
    Suppression,
    SuppressionScope,
)
from returns_mail.services.suppression_mirror import unsubscribes_mirror

logger = logging.getLogger(__name__)

MERGE_FIELDS = (
    MergeField("RMA", "Last return", "text"),
    MergeField("RETURNS", "Returns", "number"),
    MergeField("REFUNDED", "Total refunded", "number"),
    MergeField("CURRENCY", "Refund currency", "text"),
    MergeField("LASTEVENT", "Last return event", "text"),
    MergeField("LOCALE", "Locale", "text"),
)
NEVER_RESUBSCRIBE = (MemberStatus.UNSUBSCRIBED, MemberStatus.CLEANED)
SYNCED_FIELDS = (
    "email",
    "name",
    "locale",
    "marketing_consent",
    "last_return_id",
    "last_event_type",
    "returns_count",
    "total_refunded",
    "refund_currency",
    "tags",
    "audience_sync_pending",
    "updated_at",
)
LOCK_KEY = "returns_mail:audience-sync"
LOCK_SECONDS = 15 * 60
SYNC_TASK = "returns_mail.tasks.sync_audiences"
MIRROR_TASK = "returns_mail.tasks.unsubscribe_mirror"
# Set while a sync is queued and not started: a burst of changed customers rings once. The
# sync clears it as it starts, so a change after that rings again; the timeout bounds the
# wait where the cache is per process (no Redis).
RING_KEY = "returns_mail:audience-sync-rung"
RING_SECONDS = 5
# Pages submitted ahead of the slowest one (bounds memory).
AHEAD = 2 * MAX_CONNECTIONS_PER_KEY

# (account id, audience id) whose merge fields this process has made sure of.
_ensured: set[tuple[int, str]] = set()


@dataclass
class SyncReport:
    synced: int = 0  # customers every audience took
    failed: int = 0  # customers left for the next run
    pages: int = 0
    skipped: bool = False  # another sync was running

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("synced", "failed", "pages", "skipped")}


def audience_sync_ring() -> None:
    """Queue a sync of the pending customers unless one is queued already. Call on commit."""
    try:
        first = cache.add(RING_KEY, 1, RING_SECONDS)
    except Exception:  # a cache outage: ring anyway (a duplicate sync is harmless)
        first = True
    if first:
        enqueue(SYNC_TASK)


def audience_sync_rung() -> None:
    """The sync is starting: the next change rings again."""
    with suppress(Exception):  # a cache outage: the key expires by itself
        cache.delete(RING_KEY)


def audience_sync_pending(*, account_id: int | None = None) -> SyncReport:
    """Sync the pending customers to every active audience (or the one of `account_id`); one
    sync at a time (a second call returns at once: the running one, or the schedule, covers)."""
    accounts = audience_accounts(account_id=account_id)
    if not accounts:
        return SyncReport()
    with _lock() as acquired:
        if not acquired:
            return SyncReport(skipped=True)
        pending = Customer.objects.filter(audience_sync_pending=True)
        return _sync(accounts, pending, clear_pending=account_id is None)


def audience_resync(*, account_id: int | None = None) -> SyncReport:
    """Rebuild the audiences (or one) from the whole customer table, with the same consent
    rules; pending flags are cleared only when every audience was rebuilt."""
    accounts = audience_accounts(account_id=account_id)
    if not accounts:
        return SyncReport()
    return _sync(accounts, Customer.objects.all(), clear_pending=account_id is None)


def audience_accounts(*, account_id: int | None = None) -> list[ProviderAccount]:
    accounts = ProviderAccount.objects.filter(
        kind__in=kinds_syncing_audience(), is_active=True
    ).exclude(audience_id="")
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    return list(accounts.order_by("pk"))


@contextmanager
def _lock() -> Iterator[bool]:
    token = uuid.uuid4().hex
    try:
        acquired = cache.add(LOCK_KEY, token, LOCK_SECONDS)
    except Exception:  # a cache outage must not stop the sync (a duplicate run is harmless)
        logger.warning("audience sync lock unavailable; syncing without it", exc_info=True)
        acquired, token = True, ""
    try:
        yield acquired
    finally:
        if acquired and token:
            try:
                if cache.get(LOCK_KEY) == token:
                    cache.delete(LOCK_KEY)
            except Exception:
                logger.warning("audience sync lock not released", exc_info=True)


# --- one sync ------------------------------------------------------------------------------------
@dataclass
class _Page:
    customers: list[Customer]
    statuses: dict[tuple[int, int], str]  # (account id, customer id) -> member status now
    suppressed: set[str]  # emails on the suppression list (e.g. unsubscribed through SendGrid)


@dataclass
class _Outcome:
    account: ProviderAccount
    sent: dict[int, str] = field(default_factory=dict)  # customer id -> status now
    errors: dict[int, str] = field(default_factory=dict)  # customer id -> the provider's words


def _sync(accounts: list[ProviderAccount], customers, *, clear_pending: bool) -> SyncReport:
    ready = [a for a in accounts if _merge_fields_ready(a)]
    report = SyncReport()
    if not ready:
        report.failed = customers.count()
        return report
    # An audience that could not be prepared has not seen anyone: everyone stays pending.
    clear_pending = clear_pending and len(ready) == len(accounts)
    running: dict[Future, _Page] = {}
    with ThreadPoolExecutor(MAX_CONNECTIONS_PER_KEY, thread_name_prefix="audience") as pool:
        for page in _pages(customers, ready):
            running[pool.submit(_send_page, ready, page)] = page
            while len(running) >= AHEAD:
                _record_done(running, report, clear_pending)
        while running:
            _record_done(running, report, clear_pending)
    return report


def _pages(customers, accounts: list[ProviderAccount]) -> Iterator[_Page]:
    last = 0
    base = customers.order_by("pk").only(*SYNCED_FIELDS)
    while True:
        rows = list(base.filter(pk__gt=last)[:MEMBERS_PER_CALL])
        if not rows:
            return
        last = rows[-1].pk
        statuses = {
            (account_id, customer_id): status
            for account_id, customer_id, status in AudienceMember.objects.filter(
                customer_id__in=[c.pk for c in rows], account__in=accounts
            ).values_list("account_id", "customer_id", "status")
        }
        suppressed = set(
            Suppression.objects.filter(email__in=[c.email for c in rows]).values_list(
                "email", flat=True
            )
        )
        yield _Page(rows, statuses, suppressed)


def _record_done(running: dict[Future, _Page], report: SyncReport, clear_pending: bool) -> None:
    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
    for future in done:
        page = running.pop(future)
        synced, failed = _record(page, future.result(), clear_pending=clear_pending)
        report.synced += synced
        report.failed += failed
        report.pages += 1


def member_for(
    customer: Customer, status_now: str | None, *, suppressed: bool = False
) -> tuple[Member, bool]:
    """The member as an audience gets it, and whether its status must be left alone: an
    unsubscribed or cleaned member, or an address on the suppression list (its unsubscribe may
    have come through another provider), is never sent a status."""
    first, _, last = customer.name.strip().partition(" ")
    merge_fields = {
        "FNAME": first,
        "LNAME": last.strip(),
        "LOCALE": customer.locale,
        "RMA": customer.last_return_id,
        "RETURNS": customer.returns_count,
        "REFUNDED": f"{customer.total_refunded:.2f}",
        "CURRENCY": customer.refund_currency,
        "LASTEVENT": customer.last_event_type,
    }
    if status_now in NEVER_RESUBSCRIBE:
        status, protected = status_now, True
    elif suppressed:
        status, protected = MemberStatus.UNSUBSCRIBED, True
    else:
        protected = False
        status = (
            MemberStatus.SUBSCRIBED if customer.marketing_consent else MemberStatus.TRANSACTIONAL
        )
    member = Member(
        email=customer.email,
        merge_fields=merge_fields,
        tags=tuple(customer.tags or ()),
        status=str(status),
    )
    return member, protected


def _send_page(accounts: list[ProviderAccount], page: _Page) -> list[_Outcome]:
    """The provider calls of one page (a worker thread: no database access here)."""
    outcomes = []
    for account in accounts:
        outcome = _Outcome(account)
        client = client_for(account)
        batch: list[tuple[int, Member]] = []
        for customer in page.customers:
            member, protected = member_for(
                customer,
                page.statuses.get((account.pk, customer.pk)),
                suppressed=customer.email in page.suppressed,
            )
            if not protected:
                batch.append((customer.pk, member))
                continue
            try:
                client.member_upsert(  # no status: it stays unsubscribed / cleaned
                    email=member.email,
                    merge_fields=member.merge_fields,
                    tags=member.tags,
                    status_if_new=member.status,
                )
                outcome.sent[customer.pk] = member.status
            except Exception as exc:
                outcome.errors[customer.pk] = _words(exc)
        if batch:
            try:
                result = client.members_batch(members=[m for _, m in batch])
            except Exception as exc:
                words = _words(exc)
                outcome.errors.update({pk: words for pk, _ in batch})
            else:
                refused = {e.email.lower(): f"{e.code}: {e.message}" for e in result.errors}
                for pk, member in batch:
                    if member.email.lower() in refused:
                        outcome.errors[pk] = refused[member.email.lower()]
                    else:
                        outcome.sent[pk] = member.status
        outcomes.append(outcome)
    return outcomes


def _words(exc: Exception) -> str:
    if not isinstance(exc, ProviderError):
        logger.exception("audience sync failed unexpectedly")
    return f"{type(exc).__name__}: {exc}"[:2000]


def _record(page: _Page, outcomes: list[_Outcome], *, clear_pending: bool) -> tuple[int, int]:
    """One short transaction: the AudienceMember rows, then the pending flags of the customers
    every audience took, unless they changed since they were read."""
    now = timezone.now()
    pks = [c.pk for c in page.customers]
    failed = {pk for o in outcomes for pk in o.errors}
    with transaction.atomic():
        current = {
            (account_id, customer_id): status
            for account_id, customer_id, status in AudienceMember.objects.select_for_update()
            .filter(customer_id__in=pks, account__in=[o.account for o in outcomes])
            .values_list("account_id", "customer_id", "status")
        }
        took, refused = [], []
        for outcome in outcomes:
            key = outcome.account.pk
            for pk, status in outcome.sent.items():
                # An unsubscribe that arrived meanwhile stays (webhooks are the audience's word).
                if current.get((key, pk)) in NEVER_RESUBSCRIBE:
                    status = current[(key, pk)]
                took.append(
                    AudienceMember(
                        account_id=key, customer_id=pk, status=status, synced_at=now, error=""
                    )
                )
            for pk, error in outcome.errors.items():
                status = current.get((key, pk)) or _intended(page, pk)
                refused.append(
                    AudienceMember(account_id=key, customer_id=pk, status=status, error=error)
                )
        unique = ["account", "customer"]
        AudienceMember.objects.bulk_create(
            took,
            update_conflicts=True,
            unique_fields=unique,
            update_fields=["status", "synced_at", "error"],
        )
        AudienceMember.objects.bulk_create(
            refused, update_conflicts=True, unique_fields=unique, update_fields=["error"]
        )
        if clear_pending:
            done = [c for c in page.customers if c.pk not in failed and c.audience_sync_pending]
            for start in range(0, len(done), 100):  # short OR lists (SQLite's depth limit)
                part = done[start : start + 100]
                unchanged = reduce(or_, (Q(pk=c.pk, updated_at=c.updated_at) for c in part))
                Customer.objects.filter(unchanged).update(audience_sync_pending=False)
    return len(page.customers) - len(failed), len(failed)


def _intended(page: _Page, pk: int) -> str:
    customer = next(c for c in page.customers if c.pk == pk)
    return MemberStatus.SUBSCRIBED if customer.marketing_consent else MemberStatus.TRANSACTIONAL


def _merge_fields_ready(account: ProviderAccount) -> bool:
    """Create the returns merge fields once per audience (per process, a GET says which exist).
    False (logged, the customers stay pending): the audience cannot take them now."""
    key = (account.pk, account.audience_id)
    if key in _ensured:
        return True
    try:
        client_for(account).merge_fields_ensure(fields=MERGE_FIELDS)
    except ProviderError as exc:
        logger.warning("merge fields of %s not ready: %s", account, exc)
        return False
    _ensured.add(key)
    return True


# --- unsubscribes reported by the other providers -------------------------------------------
def unsubscribes_mirror_on_commit(emails: Iterable[str]) -> None:
    """Queue, for after the commit, the mirroring of the promotional suppressions of `emails`
    (an unsubscribe at SendGrid, say) to the other providers: one task per suppression (the
    minute's sweep catches any the queue loses: services/suppression_mirror.py)."""
    ids = Suppression.objects.filter(
        email__in=set(emails), scope=SuppressionScope.PROMOTIONAL
    ).values_list("pk", flat=True)
    enqueue_each_on_commit(MIRROR_TASK, ids)


def unsubscribe_mirror(*, suppression_id: int) -> int:
    """Mirror the promotional suppression to every active provider that takes unsubscribes
    but the one that reported it (services/suppression_mirror.py); returns how many accounts
    took it. A transient provider error is raised, so the task is retried (the calls are
    idempotent)."""
    return unsubscribes_mirror(suppression_ids=[suppression_id])
