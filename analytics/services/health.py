"""Integration uptime: every minute, each active account's credential check and the intake
API's readiness are run and stored as HealthCheck rows (uptime counts the minutes with a
successful check: analytics/selectors/uptime.py).

The intake is probed over HTTP at INTAKE_PROBE_URL's /readyz (a task of its own, bounded by
INTAKE_PROBE_TIMEOUT) when that is set, so a dead web tier shows even without the external
`manage.py probe`; without it the worker checks the database and broker in-process.

Account checks fan out as one django-q2 task per account: each is bounded by the provider
timeout its client applies to every call, and a slow or unreachable provider delays no other
account's check. Rows older than HEALTH_CHECK_RETENTION are pruned by the same periodic run.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from analytics.models import HealthCheck, HealthComponent
from analytics.services.probe import worker_probe
from config import health as readiness
from config.queue import enqueue_each_on_commit, enqueue_on_commit
from providers.clients.base import scrub_secrets
from providers.exceptions import ProviderError
from providers.models import ProviderAccount
from providers.services.accounts import account_check_credentials

logger = logging.getLogger(__name__)

HEALTH_CHECK_RETENTION = timedelta(days=35)
DETAIL_MAX = 500  # HealthCheck.detail


def health_checks_run(*, now: datetime | None = None) -> HealthCheck | None:
    """The periodic run: queue every active account's check and the intake's HTTP probe (or
    check the intake in-process when no probe URL is set), prune.

    Returns the in-process intake check's row, None when the probe was queued (the queued
    checks land as their tasks finish)."""
    account_ids = list(
        ProviderAccount.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )
    enqueue_each_on_commit("analytics.tasks.check_account_health", account_ids)
    intake = None
    if settings.INTAKE_PROBE_URL:
        enqueue_on_commit("analytics.tasks.probe_intake")
    else:
        intake = intake_health_check()
    health_checks_prune(now=now)
    return intake


def intake_http_probe() -> HealthCheck | None:
    """The worker's HTTP probe of INTAKE_PROBE_URL's /readyz (None when no URL is set)."""
    if not settings.INTAKE_PROBE_URL:
        return None
    return worker_probe(settings.INTAKE_PROBE_URL, timeout=settings.INTAKE_PROBE_TIMEOUT)


def account_health_check(*, account_id: int) -> HealthCheck | None:
    """Check one account's credentials through providers (which records last_check_* on the
    account) and store the result. None when the account is gone or no longer active."""
    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return None
    checked_at = timezone.now()
    started = time.perf_counter()
    try:
        check = account_check_credentials(account_id=account_id)  # network, bounded by timeout
    except ProviderAccount.DoesNotExist:
        return None
    except ProviderError as exc:  # e.g. an unknown kind or a secret that cannot be decrypted
        ok, latency_ms, detail = False, _elapsed_ms(started), scrub_secrets(str(exc), account)
    except Exception as exc:  # our bug: keep the failure visible in uptime, never the message
        name = type(exc).__name__
        logger.error("credential check of account %s crashed: %s", account_id, name)
        ok, latency_ms, detail = False, _elapsed_ms(started), f"internal error ({name})"
    else:
        ok, latency_ms, detail = check.ok, check.latency_ms, scrub_secrets(check.detail, account)
    return HealthCheck.objects.create(
        component=HealthComponent.PROVIDER,
        account=account,
        checked_at=checked_at,
        ok=ok,
        latency_ms=latency_ms,
        detail=detail[:DETAIL_MAX],
    )


def intake_health_check() -> HealthCheck:
    """The intake API's readiness: the same database and broker round trips as /readyz."""
    checked_at = timezone.now()
    started = time.perf_counter()
    results = []
    for name, check in readiness.READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:
            # Like /readyz: the error text (hosts, DSNs) stays out of the row and the log line.
            logger.warning("intake readiness check %r failed: %s", name, type(exc).__name__)
            results.append((name, f"failed ({type(exc).__name__})"))
        else:
            results.append((name, "ok"))
    return HealthCheck.objects.create(
        component=HealthComponent.INTAKE,
        checked_at=checked_at,
        ok=all(result == "ok" for _, result in results),
        latency_ms=_elapsed_ms(started),
        detail=", ".join(f"{name} {result}" for name, result in results)[:DETAIL_MAX],
    )


def health_checks_prune(*, now: datetime | None = None) -> int:
    """Delete checks older than the retention (35 days: the 30-day uptime needs 30)."""
    cutoff = (now or timezone.now()) - HEALTH_CHECK_RETENTION
    deleted, _ = HealthCheck.objects.filter(checked_at__lt=cutoff).delete()
    return deleted


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
