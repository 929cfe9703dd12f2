"""Reliability: a real worker killed mid-load loses nothing and sends nothing twice; provider
storms are ridden out with backoff and failover."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

from providers.sandbox.core import Fault
from returns_mail.models import AccountCircuit, Message, MessageStatus
from returns_mail.services.messages import messages_sweep
from returns_mail.services.sending import message_send
from tests.conftest import PROJECT_DIR, TEST_KEYS

FINAL = {MessageStatus.SENT, MessageStatus.AMBIGUOUS, MessageStatus.FAILED}


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(tmp_path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(
        ENV_FILE="",
        DEBUG="true",
        DATA_DIR=str(tmp_path),
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEY=",".join(settings.FIELD_ENCRYPTION_KEY),
        Q_WORKERS="2",
        Q_TIMEOUT="5",
        Q_RETRY="8",
        Q_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "qcluster"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def statuses() -> collections.Counter:
    return collections.Counter(Message.objects.values_list("status", flat=True))


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_load_loses_nothing_and_sends_nothing_twice(
    make_rule, make_account, ingest, esp_sandbox, tmp_path, settings, monkeypatch
):
    sendgrid = make_account("sendgrid")
    make_rule(accounts=[sendgrid])
    # Every provider call takes a moment, so the kill lands with calls in flight.
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("slow", delay=0.03))
    monkeypatch.setattr(Conf, "SYNC", False)  # tasks go to the real broker, for the worker
    settings.Q_RETRY = 8  # the sweep's "stuck" threshold, as the worker's
    for n in range(500):
        ingest(key=f"k{n}", return_id=f"RMA-{n}")
    assert statuses() == {MessageStatus.QUEUED: 500}

    worker = start_worker(tmp_path)
    deadline = time.monotonic() + 120
    while statuses()[MessageStatus.SENT] < 100 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = statuses()
    assert 0 < killed_at[MessageStatus.SENT] < 500, killed_at

    worker = start_worker(tmp_path)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if not (set(statuses()) - FINAL):
                break
            messages_sweep()  # what the schedule does every minute
            time.sleep(2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    final = statuses()
    print(f"killed with {dict(killed_at)}; final {dict(final)}")
    assert set(final) <= FINAL, final
    assert final[MessageStatus.FAILED] == 0, final
    sends = collections.Counter(
        r["body"]["personalizations"][0]["custom_args"]["rm_correlation_id"]
        for r in esp_sandbox.records("sendgrid", path="/v3/mail/send")
    )
    assert max(sends.values()) == 1, "a message reached the provider twice"
    for message in Message.objects.all():
        received = sends.get(str(message.correlation_id), 0)
        if message.status == MessageStatus.SENT:
            assert received == 1, message
        else:  # held as ambiguous: it reached the provider at most once
            assert received <= 1
    assert final[MessageStatus.SENT] + final[MessageStatus.AMBIGUOUS] == 500


@pytest.mark.django_db
def test_429_and_503_storms_are_ridden_out_with_backoff_and_failover(
    make_rule, make_account, ingest, esp_sandbox
):
    sendgrid = make_account("sendgrid")
    mandrill = make_account("mailchimp_transactional")
    make_rule(accounts=[sendgrid, mandrill])
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("429", probability=0.4, retry_after=30))
    esp_sandbox.faults.add(TEST_KEYS["sendgrid"], Fault("503", probability=0.4))
    esp_sandbox.faults.add(TEST_KEYS["mailchimp_transactional"], Fault("503", probability=0.3))
    for n in range(60):
        ingest(key=f"k{n}", return_id=f"RMA-{n}")
    position = {sendgrid.pk: 0, mandrill.pk: 1}

    for _round in range(40):
        waiting = list(Message.objects.filter(status=MessageStatus.QUEUED))
        if not waiting:
            break
        # Time passes: cool-downs of opened circuits end.
        AccountCircuit.objects.update(open_until=timezone.now() - timedelta(seconds=1))
        for message in waiting:
            last = message.attempt_log.last()
            same_account = last and position[last.account_id] == message.route_position
            if same_account and last.http_status == 429:
                # Never sooner than the provider's Retry-After (failing over need not wait).
                assert message.next_attempt_at >= last.started_at + timedelta(seconds=30)
            Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
            message_send(message_id=message.pk)

    final = statuses()
    assert final == {MessageStatus.SENT: 60}, final
    sends = [
        r["body"]["personalizations"][0]["custom_args"]["rm_correlation_id"]
        for r in esp_sandbox.records("sendgrid", path="/v3/mail/send")
    ] + [
        r["body"]["message"]["metadata"]["rm_correlation_id"]
        for r in esp_sandbox.records("mandrill")
        if r["path"].endswith("messages/send.json")
    ]
    assert sorted(sends) == sorted(
        str(c) for c in Message.objects.values_list("correlation_id", flat=True)
    )
    assert Message.objects.filter(account=mandrill).exists()  # failover was used
