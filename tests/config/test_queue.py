"""Tasks are queued after the commit that wrote their rows, signed as django-q2 expects, on
whichever broker is configured (Redis with REDIS_URL, the ORM otherwise)."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from config import queue

pytestmark = pytest.mark.django_db


@pytest.fixture(name="broker")
def broker_fixture(monkeypatch):
    """The configured broker kind, on a queue of this test's own; tasks are queued, not run."""
    monkeypatch.setattr(Conf, "SYNC", False)
    broker = get_broker(list_key=f"test-{uuid.uuid4().hex}")
    monkeypatch.setattr(queue._local, "broker", broker, raising=False)
    yield broker
    broker.delete_queue()


def queued(broker) -> list[tuple[str, tuple]]:
    tasks = []
    while broker.queue_size():
        for ack_id, pack in broker.dequeue() or []:
            task = SignedPackage.loads(pack)
            tasks.append((task["func"], task["args"]))
            broker.acknowledge(ack_id)
    return tasks


def test_each_task_is_queued_after_the_commit(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_each_on_commit("returns_mail.tasks.send_message", [3, 1, 2])
        queue.enqueue_on_commit("templates_lib.tasks.push_template_sync", 9)
        assert broker.queue_size() == 0  # nothing before the commit

    assert queued(broker) == [
        ("returns_mail.tasks.send_message", (3,)),
        ("returns_mail.tasks.send_message", (1,)),
        ("returns_mail.tasks.send_message", (2,)),
        ("templates_lib.tasks.push_template_sync", (9,)),
    ]


def test_a_rolled_back_transaction_queues_nothing(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                queue.enqueue_each_on_commit("returns_mail.tasks.send_message", [1, 2])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        queue.enqueue_each_on_commit("returns_mail.tasks.send_message", [])

    assert queued(broker) == []


def test_tasks_of_different_kinds_are_queued_together(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_tasks_on_commit(
            [
                ("returns_mail.tasks.send_message", (5,)),
                ("returns_mail.tasks.apply_events_to_customers", ([1, 2],)),
            ]
        )

    assert queued(broker) == [
        ("returns_mail.tasks.send_message", (5,)),
        ("returns_mail.tasks.apply_events_to_customers", ([1, 2],)),
    ]
