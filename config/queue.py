"""Queueing django-q2 tasks: the one place every app enqueues work.

A task is a wake-up call for work a row already describes (DESIGN.md: the row is the truth), so
it is enqueued only once the transaction that wrote the row has committed.
"""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Queue ``func(*args)`` (a dotted path; arguments are ids) after the current commit."""
    transaction.on_commit(lambda: async_task(func, *args, **kwargs))
