"""Importing each provider account's own suppression lists into ours.

An account that can list its suppressions (`Capability.LIST_SUPPRESSIONS`) is imported when it
is connected (added, or made active again, in the admin) and daily after that. A run reads the
provider's lists page by page and adds each page's suppressions in one short transaction,
with the account as their source and the reason and scope a webhook reporting the same thing
would give (`suppression.suppression_effect`); an imported unsubscribe is recorded as a
withdrawal of consent. Each page also records where the provider's listing stands, so a run
stopped by a rate limit (or any transient error) keeps what it imported and resumes after its
last page: a one-off schedule runs it again once the provider's Retry-After has passed. A run
also stops after RUN_SECONDS (the task timeout) and queues its own continuation.

A complete run remembers when it started: the next asks only for what was listed since (an
hour's margin), where the provider filters by time (SendGrid's lists, the audience's members);
the others are read whole, and what is suppressed already is left as it is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.queue import enqueue, enqueue_each_on_commit, enqueue_later
from providers.clients import Capability, account_can, client_for, kinds_that_can
from providers.clients.suppression_types import ListedSuppression
from providers.exceptions import ProviderError
from providers.models import ProviderAccount
from returns_mail.models import (
    ConsentSource,
    Customer,
    Suppression,
    SuppressionImport,
    SuppressionScope,
)
from returns_mail.services.consent import consent_record
from returns_mail.services.suppression import (
    SuppressionEntry,
    suppression_effect,
    suppressions_add,
)

logger = logging.getLogger(__name__)

IMPORT_TASK = "returns_mail.tasks.import_suppressions"
# A run holds its account this long at most (renewed with every page): a worker lost mid-run
# frees it for the next.
LEASE = timedelta(minutes=30)
# Asked again of a time-filtered list: entries dated a little before the last complete run
# (the provider's clock, an entry written while that run read).
SINCE_MARGIN = timedelta(hours=1)
# When the provider names no delay.
RETRY_DEFAULT = timedelta(minutes=5)
# A run starts no page after this long, well inside the task timeout (Q_TIMEOUT, 60 s by
# default): it queues its continuation, which resumes after the last page imported.
RUN_SECONDS = 40
MAX_EMAIL = 254


@dataclass
class ImportReport:
    read: int = 0  # entries the provider listed
    added: int = 0  # suppressions new here
    pages: int = 0
    complete: bool = False
    skipped: str = ""  # why nothing ran
    error: str = ""
    retry_in: float | None = None  # seconds, when a transient error stopped the run
    continued: bool = False  # out of time: a new task carries on from the last page

    def as_dict(self) -> dict:
        return dict(vars(self))


def importable_accounts():
    """The active accounts whose provider can list its suppressions."""
    return ProviderAccount.objects.filter(
        kind__in=kinds_that_can(Capability.LIST_SUPPRESSIONS), is_active=True
    ).order_by("pk")


def suppressions_import_all() -> int:
    """Queue an import of every importable account (the daily schedule); returns how many."""
    ids = list(importable_accounts().values_list("pk", flat=True))
    enqueue_each_on_commit(IMPORT_TASK, ids)
    return len(ids)


def suppressions_import_on_commit(account: ProviderAccount, *, from_scratch: bool = False) -> bool:
    """Queue an import of a newly connected account after the commit, if it can be imported;
    `from_scratch` (a new API key: maybe another provider account) reads the lists whole."""
    if not account.is_active or not account_can(account, Capability.LIST_SUPPRESSIONS):
        return False
    if from_scratch:
        SuppressionImport.objects.filter(account=account).update(complete_since=None, resume={})
    enqueue_each_on_commit(IMPORT_TASK, [account.pk])
    return True


def suppressions_import(*, account_id: int) -> ImportReport:
    """One run for the account: from where an interrupted run stopped, else from the start
    (only what was listed since the last complete run, where the provider can filter)."""
    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return ImportReport(skipped="no such active account")
    if not account_can(account, Capability.LIST_SUPPRESSIONS):
        return ImportReport(skipped="its provider keeps no suppression lists we can read")
    state = _claim(account)
    if state is None:
        return ImportReport(skipped="another run is importing this account")
    report = ImportReport()
    try:
        _run(account, state, report)
    finally:
        SuppressionImport.objects.filter(pk=state.pk).update(running_until=None)
    if report.continued:  # queued once the account is released, or the next run is refused
        enqueue(IMPORT_TASK, account.pk)
    return report


def _claim(account: ProviderAccount) -> SuppressionImport | None:
    """The account's import row, held for this run (a conditional UPDATE), or None when
    another run holds it. A run that starts afresh resets the counts of the last one."""
    state, _ = SuppressionImport.objects.get_or_create(account=account)
    now = timezone.now()
    claimed = (
        SuppressionImport.objects.filter(pk=state.pk)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .update(running_until=now + LEASE, retry_at=None)
    )
    if not claimed:
        return None
    state.refresh_from_db()
    if not state.resume:
        state.run_started_at = now
        state.last_read = state.last_added = 0
        state.error = ""
        state.save(update_fields=["run_started_at", "last_read", "last_added", "error"])
    return state


def _run(account: ProviderAccount, state: SuppressionImport, report: ImportReport) -> None:
    since = state.complete_since - SINCE_MARGIN if state.complete_since else None
    client = client_for(account)
    deadline = time.monotonic() + RUN_SECONDS
    try:
        for page in client.suppressions_listed(since=since, resume_from=state.resume or None):
            added = _import_page(account, page.entries)
            report.pages += 1
            report.read += len(page.entries)
            report.added += added
            SuppressionImport.objects.filter(pk=state.pk).update(
                resume=dict(page.resume),
                last_read=F("last_read") + len(page.entries),
                last_added=F("last_added") + added,
                total_added=F("total_added") + added,
                running_until=timezone.now() + LEASE,
            )
            if time.monotonic() >= deadline:
                report.continued = True
                return
    except ProviderError as exc:
        _stopped(account, state, report, exc)
        return
    SuppressionImport.objects.filter(pk=state.pk).update(
        complete_since=state.run_started_at,
        resume={},
        last_finished_at=timezone.now(),
        error="",
    )
    report.complete = True
    logger.info(
        "account %s: suppression lists imported (%s read, %s added)",
        account.pk,
        report.read,
        report.added,
    )


def _stopped(account, state, report: ImportReport, exc: ProviderError) -> None:
    """A provider error between pages: what was imported stays. Transient (a 429 above all):
    run again once the provider's delay has passed, from the last page imported. Permanent
    (a revoked key, no audience id): recorded; the next run (daily, or by hand) starts over."""
    report.error = str(exc)[:2000]
    if exc.permanent:
        SuppressionImport.objects.filter(pk=state.pk).update(resume={}, error=report.error)
        logger.warning("account %s: suppression import failed: %s", account.pk, exc)
        return
    delay = getattr(exc, "retry_after", None)
    wait = timedelta(seconds=delay) if delay else RETRY_DEFAULT
    report.retry_in = wait.total_seconds()
    retry_at = timezone.now() + wait
    SuppressionImport.objects.filter(pk=state.pk).update(error=report.error, retry_at=retry_at)
    enqueue_later(IMPORT_TASK, account.pk, at=retry_at)
    logger.info(
        "account %s: suppression import paused after %s page(s), again at %s: %s",
        account.pk,
        report.pages,
        retry_at.isoformat(),
        exc,
    )


def _import_page(account: ProviderAccount, entries: tuple[ListedSuppression, ...]) -> int:
    """Add the page's suppressions (one INSERT, one transaction) and the consent withdrawals
    of the unsubscribes new here; returns how many suppressions were new."""
    wanted: dict[tuple[str, str], tuple[str, str, ListedSuppression]] = {}
    for entry in entries:
        email = entry.email.strip().lower()
        if "@" not in email or len(email) > MAX_EMAIL:
            continue
        effect = suppression_effect(type=entry.type, bounce_kind=entry.bounce_kind)
        if effect is None:  # a soft bounce, a block: the provider lifts it by itself
            continue
        scope, reason = effect
        note = f"listed on {entry.source} of {account}"
        if entry.detail:
            note += f": {entry.detail}"
        wanted.setdefault((email, scope), (reason, note[:255], entry))
    if not wanted:
        return 0
    existing = set(
        Suppression.objects.filter(email__in={email for email, _ in wanted}).values_list(
            "email", "scope"
        )
    )
    new = {key: value for key, value in wanted.items() if key not in existing}
    now = timezone.now()
    with transaction.atomic():
        suppressions_add(
            [
                SuppressionEntry(email=email, scope=scope, reason=reason, note=note)
                for (email, scope), (reason, note, _) in new.items()
            ],
            source_account=account,
        )
        for (email, scope), (_, _, entry) in new.items():
            if scope == SuppressionScope.PROMOTIONAL:
                consent_record(
                    email=email,
                    granted=False,
                    source=ConsentSource.PROVIDER_IMPORT,
                    at=entry.listed_at or now,
                    detail=f"{entry.source} of {account}",
                )
        # A suppressed customer has no marketing consent, whatever stopped the mail (the same
        # rule as a customer recomputed from its events).
        Customer.objects.filter(
            email__in={email for email, _ in new}, marketing_consent=True
        ).update(marketing_consent=False)
    return len(new)
