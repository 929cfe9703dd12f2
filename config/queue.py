"""Queueing django-q2 tasks: the one place every app enqueues work.

A task is a wake-up call for work a row already describes (the row is the truth), so
it is enqueued only once the transaction that wrote the row has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.brokers.redis_broker import Redis
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

_local = threading.local()


def _broker() -> Broker:
    """One broker (one Redis connection pool) per thread: django-q2 would build a new one,
    and open a new connection, for every task."""
    broker = getattr(_local, "broker", None)
    if broker is None:
        broker = _local.broker = get_broker()
    return broker


def enqueue(func: str, *args, **kwargs) -> None:
    """Queue ``func(*args)`` now: from an on-commit callback (the row is committed already)."""
    async_task(func, *args, broker=_broker(), **kwargs)


def enqueue_later(func: str, *args, at: datetime) -> None:
    """Queue ``func(*args)`` once, at `at`: a one-off schedule row the cluster's scheduler
    turns into a task then (through the task guard like any other), and deletes."""
    schedule(func, *args, schedule_type=Schedule.ONCE, repeats=-1, next_run=at)


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Queue ``func(*args)`` (a dotted path; arguments are ids) after the current commit."""
    transaction.on_commit(lambda: enqueue(func, *args, **kwargs))


def enqueue_each_on_commit(func: str, ids: Iterable) -> None:
    """Queue ``func(id)`` for each of `ids` after the current commit; with Redis, in one round
    trip (a batch of 100 events would otherwise wait on 100 pushes)."""
    enqueue_tasks_on_commit([(func, (task_id,)) for task_id in ids])


def enqueue_tasks_on_commit(tasks: Iterable[tuple[str, tuple]]) -> None:
    """Queue every ``(func, args)`` after the current commit, in one round trip with Redis:
    a request's tasks of different kinds share one push."""
    tasks = list(tasks)
    if tasks:
        transaction.on_commit(lambda: _push(tasks))


class _Collector:
    """Stands in for the broker while async_task packs the tasks (async_task stays the one
    place that builds and signs a task); the packs are pushed together afterwards."""

    def __init__(self, broker: Broker):
        self.list_key = broker.list_key
        self.packs: list[str] = []

    def enqueue(self, pack: str) -> int:
        self.packs.append(pack)
        return len(self.packs)


def _push(tasks: list[tuple[str, tuple]]) -> None:
    broker = _broker()
    collector = _Collector(broker)
    for func, args in tasks:
        async_task(func, *args, broker=collector)
    if isinstance(broker, Redis):
        if collector.packs:
            broker.connection.rpush(broker.list_key, *collector.packs)
        return
    for pack in collector.packs:
        broker.enqueue(pack)
