"""Reliability: 50 identical event posts at once make one event and one set of messages.

A real server (Django's live server: a thread per request, each with its own database
connection) and real sockets: the unique (client, idempotency key) constraint settles the race,
on SQLite through its busy timeout, on PostgreSQL through the unique index."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from returns_mail.models import Message, MessageStatus, ReturnEvent
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    EVENTS,
    api_client_fixture,
    event_body,
    make_client_fixture,
    own_cache_keys_fixture,
    refund_rule_fixture,
)

POSTS = 50
MAIL_SEND = "/v3/mail/send"


class _WideServer(ThreadedWSGIServer):
    # Django's (and so pytest-django's live_server's) listen backlog is 10: 50 connections at
    # once overflow it and the kernel resets some. Production servers queue far more.
    request_queue_size = 128


class _ServerThread(LiveServerThread):
    server_class = _WideServer


@pytest.fixture
def server_url(transactional_db, settings):
    """A live server whose request threads open their own database connections."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    thread = _ServerThread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait(timeout=30)
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_identical_posts_make_one_event_and_one_set_of_messages(
    server_url, api_client, refund_rule, esp_sandbox
):
    _, token = api_client
    url = server_url + EVENTS
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "refund-RMA-1001"}
    body = event_body()
    start = threading.Barrier(POSTS)

    def post(_):
        start.wait(timeout=30)  # every thread sends at the same moment
        response = requests.post(url, json=body, headers=headers, timeout=120)
        return response.status_code, response.json(), response.headers.get("Idempotent-Replay")

    with ThreadPoolExecutor(max_workers=POSTS) as pool:
        answers = list(pool.map(post, range(POSTS)))

    assert [status for status, _, _ in answers] == [202] * POSTS, answers
    first = answers[0][1]

    def without_status(answer: dict) -> dict:
        # A replay reads the message's current status: queued, sending or sent by then.
        return {**answer, "messages": [{**m, "status": None} for m in answer["messages"]]}

    # Every answer is the same event and message.
    assert all(without_status(answer) == without_status(first) for _, answer, _ in answers)
    assert {m["status"] for _, answer, _ in answers for m in answer["messages"]} <= {
        "queued",
        "sending",
        "sent",
    }
    assert sorted(replay or "" for _, _, replay in answers) == [""] + ["true"] * (POSTS - 1)
    event = ReturnEvent.objects.get()
    assert first["id"] == event.pk
    message = Message.objects.get()
    assert without_status(first)["messages"] == [
        {
            "id": message.pk,
            "rule": "Refund confirmation",
            "recipient": "ada.customer@example.com",
            "status": None,
            "reason": None,
            "reason_text": None,
        }
    ]
    # ...and it was sent once.
    assert message.status == MessageStatus.SENT
    assert len(esp_sandbox.records("sendgrid", MAIL_SEND)) == 1
