"""Pushing template versions to provider accounts and checking their copies for drift.

A sync row is claimed with a conditional update (config.work_rows), the provider is called
outside any transaction, and the outcome is recorded in a new short one."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from config.work_rows import Backoff, claim, stuck
from providers.clients import TemplateLanguage, client_for, template_language
from providers.clients.types import TemplateContent
from providers.exceptions import ProviderError
from providers.models import ProviderAccount
from templates_lib.merge_tags import NotMergeTagCompatible, to_merge_tags
from templates_lib.models import SyncStatus, TemplateSync, TemplateVersion
from templates_lib.rendering import content_hash, provider_content

logger = logging.getLogger(__name__)

MAX_PUSH_ATTEMPTS = 5
# 10-20 s, 20-40 s, 40-80 s, 80-160 s before the four retries (or the provider's Retry-After).
BACKOFF = Backoff(base=20, cap=900)


def content_for(version: TemplateVersion, locale: str, account: ProviderAccount) -> TemplateContent:
    """What `account` stores for this version: our Handlebars sources, or merge tags for a
    provider whose templates are written in those (Mailchimp Marketing)."""
    content = provider_content(version, locale)
    if template_language(account) != TemplateLanguage.MERGE_TAGS:
        return content
    brand = version.layout.brand()
    return TemplateContent(
        name=content.name,
        slug=content.slug,
        subject=to_merge_tags(content.subject, brand, escape=False),
        html=to_merge_tags(content.html, brand),
        text=to_merge_tags(content.text, brand, escape=False),
        version_label=content.version_label,
    )


def template_sync_push(*, sync_id: int) -> TemplateSync | None:
    """Push the sync's version to its account. Harmless when run twice or for a row not due."""
    now = timezone.now()
    claimable = TemplateSync.objects.filter(pk=sync_id).filter(_claimable(now))
    if not claim(claimable, now=now, status=SyncStatus.PUSHING):
        return None
    sync = TemplateSync.objects.select_related(
        "account", "version__layout", "version__template"
    ).get(pk=sync_id)
    version = sync.version
    try:
        content = content_for(version, sync.locale, sync.account)
        result = client_for(sync.account).push_template(content, remote_id=sync.remote_id)
    except NotMergeTagCompatible as exc:
        return _record_failure(sync, str(exc), permanent=True)
    except ProviderError as exc:
        return _record_failure(sync, str(exc), permanent=exc.permanent, retry_after=exc.retry_after)
    # The remote id is kept whatever happened meanwhile: the next push must update, not create.
    TemplateSync.objects.filter(pk=sync.pk).update(
        remote_id=result.remote_id, remote_version_id=result.remote_version_id
    )
    finished = TemplateSync.objects.filter(
        pk=sync.pk, status=SyncStatus.PUSHING, version=version
    ).update(
        status=SyncStatus.CURRENT,
        content_hash=content_hash(content),
        pushed_at=timezone.now(),
        checked_at=None,
        error="",
        attempts=0,
        next_attempt_at=None,
    )
    if not finished:  # published again while we pushed: push the newer version too
        _requeue(sync.pk)
    sync.refresh_from_db()
    return sync


def _record_failure(sync, message, *, permanent, retry_after=None) -> TemplateSync:
    attempts = sync.attempts
    if permanent or attempts >= MAX_PUSH_ATTEMPTS:
        status, next_at = SyncStatus.FAILED, None
    else:
        status, next_at = (
            SyncStatus.RETRYING,
            BACKOFF.next_at(timezone.now(), attempts, retry_after),
        )
    TemplateSync.objects.filter(pk=sync.pk, status=SyncStatus.PUSHING).update(
        status=status, next_attempt_at=next_at, error=message[:2000]
    )
    logger.warning("template sync %s: %s (%s)", sync.pk, message, status)
    sync.refresh_from_db()
    return sync


def _claimable(now) -> Q:
    return Q(status=SyncStatus.PENDING) | Q(status=SyncStatus.RETRYING, next_attempt_at__lte=now)


def _requeue(sync_id: int) -> None:
    from config.queue import enqueue_on_commit

    TemplateSync.objects.filter(pk=sync_id).update(status=SyncStatus.PENDING, next_attempt_at=None)
    enqueue_on_commit("templates_lib.tasks.push_template_sync", sync_id)


def template_sync_sweep() -> int:
    """Queue every push that is due, lost or stuck: a lost task never loses a push."""
    from config.queue import enqueue_on_commit

    now = timezone.now()
    pushing = TemplateSync.objects.filter(status=SyncStatus.PUSHING)
    stuck(pushing, now=now, after=timedelta(seconds=settings.Q_RETRY * 2)).update(
        status=SyncStatus.PENDING
    )
    due = list(TemplateSync.objects.filter(_claimable(now)).values_list("pk", flat=True))
    for sync_id in due:
        enqueue_on_commit("templates_lib.tasks.push_template_sync", sync_id)
    return len(due)


def template_sync_check(*, sync_id: int) -> TemplateSync:
    """Read the provider's copy back and mark the sync current or drifted (with why)."""
    sync = TemplateSync.objects.select_related("account", "template__active_version__layout").get(
        pk=sync_id
    )
    active = sync.template.active_version
    if sync.status in (SyncStatus.PENDING, SyncStatus.PUSHING, SyncStatus.RETRYING) or not active:
        return sync
    reason = ""
    try:
        expected = content_for(active, sync.locale, sync.account)
        remote = client_for(sync.account).fetch_template(sync.remote_id) if sync.remote_id else None
    except (ProviderError, NotMergeTagCompatible) as exc:
        TemplateSync.objects.filter(pk=sync.pk).update(
            checked_at=timezone.now(), error=f"check failed: {exc}"[:2000]
        )
        sync.refresh_from_db()
        return sync
    if not sync.remote_id:
        reason = "never pushed"
    elif remote is None:
        reason = "missing at the provider"
    elif content_hash(expected) != sync.content_hash:
        reason = "the active version (or its layout) changed since the last push"
    elif remote.content_available:
        changed = [
            part
            for part, ours, theirs in (
                ("subject", expected.subject, remote.subject),
                ("HTML", expected.html, remote.html),
                ("text", expected.text, remote.text),
            )
            if ours != theirs
        ]
        if changed:
            reason = f"{', '.join(changed)} edited at the provider"
    elif remote.edited_at and remote.edited_at > _edited_at_push(sync):
        reason = f"edited at the provider on {remote.edited_at:%Y-%m-%d %H:%M:%S}"
    TemplateSync.objects.filter(pk=sync.pk).exclude(
        status__in=[SyncStatus.PENDING, SyncStatus.PUSHING, SyncStatus.RETRYING]
    ).update(
        status=SyncStatus.DRIFTED if reason else SyncStatus.CURRENT,
        error=f"drift: {reason}" if reason else "",
        checked_at=timezone.now(),
    )
    sync.refresh_from_db()
    return sync


def _edited_at_push(sync: TemplateSync) -> datetime:
    """When the provider's copy was last edited by our push. Mailchimp Marketing reports its
    `date_edited` as the remote version; otherwise allow for clock skew after pushed_at."""
    try:
        return datetime.fromisoformat(sync.remote_version_id)
    except (TypeError, ValueError):
        return sync.pushed_at + timedelta(seconds=5)
