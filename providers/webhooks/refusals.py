"""A count of refused (forged, unsigned, altered) webhook requests per account, kept in the
cache (shared through Redis in production) for a week: shown on the account's admin page."""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 86_400


def _key(account_id: int) -> str:
    return f"webhooks:refused:{account_id}"


def refusal_record(*, account_id: int) -> None:
    try:
        cache.add(_key(account_id), 0, timeout=KEEP_SECONDS)
        cache.incr(_key(account_id))
    except Exception:  # a count for information: never a reason to answer otherwise
        logger.exception("refused-webhook counter not updated")


def refusals_count(account_id: int) -> int:
    return cache.get(_key(account_id), 0)
