"""Queueing django-q2 tasks: the one place every app enqueues work.

A task is a wake-up call for work a row already describes (DESIGN.md: the row is the truth), so
it is enqueued only once the transaction that wrote the row has committed.
"""

from __future__ import annotations

import threading

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

_local = threading.local()


def _broker() -> Broker:
    """One broker (one Redis connection pool) per thread: django-q2 would build a new one,
    and open a new connection, for every task."""
    broker = getattr(_local, "broker", None)
    if broker is None:
        broker = _local.broker = get_broker()
    return broker


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Queue ``func(*args)`` (a dotted path; arguments are ids) after the current commit."""
    transaction.on_commit(lambda: async_task(func, *args, broker=_broker(), **kwargs))
