"""The work-row kernel: what every piece of row-driven work shares — outbox messages, campaign
chunks, template syncs, audience erasures. The row is the truth and a task only a bell, so a
worker *claims* a row with a conditional UPDATE (a task delivered twice claims once), *backs
off* after a transient failure (exponential with jitter, never sooner than the provider's
Retry-After), and a periodic *sweep* finds rows that are due or stuck (a lost task or a killed
worker never loses work). Each kind of work keeps its own states and records its own outcome;
the fields these helpers use are named `next_attempt_at`, `claimed_at` and `attempts` unless
told otherwise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of
    min(cap, base * 2**(n-1)) seconds, and never less than the provider's Retry-After."""

    base: float
    cap: float

    def seconds(self, attempt: int, retry_after: float | None = None) -> float:
        step = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        delay = random.uniform(step / 2, step)  # noqa: S311 - jitter, not security
        return max(delay, retry_after or 0.0)

    def next_at(self, now: datetime, attempt: int, retry_after: float | None = None) -> datetime:
        return now + timedelta(seconds=self.seconds(attempt, retry_after))


def due(now: datetime, field: str = "next_attempt_at") -> Q:
    """Rows with no retry pending, or whose retry time has come."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now})


def claim(
    rows: QuerySet, *, now: datetime, claimed_field: str | None = "claimed_at", **changes
) -> int:
    """Claim `rows` (filtered to the claimable state and due: a conditional UPDATE, so two
    workers never both get one): `changes` applied, the attempt counted and `claimed_field` set
    to `now` (None for work whose lease is its `next_attempt_at`). Returns how many."""
    if claimed_field:
        changes[claimed_field] = now
    return rows.update(attempts=F("attempts") + 1, **changes)


def stuck(rows: QuerySet, *, now: datetime, after: timedelta) -> QuerySet:
    """Of `rows` (filtered to the in-progress state), those claimed longer ago than `after`: a
    worker longer than a task may run is gone."""
    return rows.filter(claimed_at__lt=now - after)
