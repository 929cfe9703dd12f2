"""The intake probe over HTTP: `manage.py probe` against a live server (up, 5xx, refused,
timeout, each recorded as an intake check from its source) and the worker's fallback probe."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from analytics.models import CheckSource, HealthCheck, HealthComponent
from analytics.services.health import health_checks_run
from analytics.services.probe import readyz_url

pytestmark = pytest.mark.django_db


class Handler(BaseHTTPRequestHandler):
    """/up/readyz answers 200, /down/readyz 503 (as /readyz does when the database is down),
    /gone/readyz 404; every request is remembered."""

    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.path)
        status = {"/up/readyz": 200, "/down/readyz": 503, "/gone/readyz": 404}.get(self.path, 500)
        body = b'{"status": "ok"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port():
    """A port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def intake_rows():
    return list(
        HealthCheck.objects.filter(component=HealthComponent.INTAKE)
        .order_by("id")
        .values_list("source", "ok", "http_status", "detail")
    )


def test_an_answered_probe_is_recorded_up(server):
    call_command("probe", "--url", f"{server}/up", "--once")

    assert intake_rows() == [(CheckSource.PROBE, True, 200, "HTTP 200")]
    assert Handler.seen == ["/up/readyz"]
    assert HealthCheck.objects.get().latency_ms is not None


def test_a_5xx_is_recorded_down(server):
    call_command("probe", "--url", f"{server}/down/", "--once")

    assert intake_rows() == [(CheckSource.PROBE, False, 503, "HTTP 503")]


def test_a_4xx_is_an_answer(server):
    call_command("probe", "--url", f"{server}/gone/readyz", "--once")

    assert intake_rows() == [(CheckSource.PROBE, True, 404, "HTTP 404")]


def test_a_refused_connection_is_recorded_down_without_the_address(closed_port):
    call_command("probe", "--url", f"http://127.0.0.1:{closed_port}", "--once")

    assert intake_rows() == [(CheckSource.PROBE, False, None, "connection refused")]


def test_a_timeout_is_recorded_down():
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        call_command("probe", "--url", f"http://127.0.0.1:{port}", "--timeout", "0.3", "--once")

    assert intake_rows() == [(CheckSource.PROBE, False, None, "timeout")]


@pytest.mark.parametrize("url", ["ftp://host", "host.example", "https://"])
def test_a_bad_url_is_refused_and_records_nothing(url):
    with pytest.raises(CommandError, match="not an absolute http"):
        call_command("probe", "--url", url, "--once")

    assert intake_rows() == []


def test_readyz_url_keeps_a_path_prefix():
    assert readyz_url("https://mail.example.com") == "https://mail.example.com/readyz"
    assert readyz_url("https://example.com/app/") == "https://example.com/app/readyz"
    assert readyz_url("https://example.com/readyz?x=1") == "https://example.com/readyz"


def test_the_worker_probes_the_public_readyz_over_http_when_a_url_is_set(
    server, settings, django_capture_on_commit_callbacks
):
    settings.INTAKE_PROBE_URL = f"{server}/down"

    with django_capture_on_commit_callbacks(execute=True):
        assert health_checks_run() is None

    # Only the HTTP probe: the in-process check would pass while the web tier answers 503.
    assert intake_rows() == [(CheckSource.WORKER_HTTP, False, 503, "HTTP 503")]
    assert Handler.seen == ["/down/readyz"]


def test_without_a_url_the_worker_checks_the_intake_in_process(
    settings, django_capture_on_commit_callbacks
):
    settings.INTAKE_PROBE_URL = ""

    with django_capture_on_commit_callbacks(execute=True):
        row = health_checks_run()

    assert intake_rows() == [(CheckSource.WORKER, True, None, "database ok, broker ok")]
    assert row.pk == HealthCheck.objects.get().pk


def test_the_probe_reads_the_apps_own_readyz(live_server, transactional_db):
    call_command("probe", "--url", live_server.url, "--once")

    assert intake_rows() == [(CheckSource.PROBE, True, 200, "HTTP 200")]


def test_a_result_the_database_refuses_is_reported_and_the_probe_goes_on(server, monkeypatch):
    """Looping: a write that fails (the database is down) is reported, the next probe records."""
    from analytics.management.commands import probe as command

    calls = []

    def record(url, *, timeout, source):
        calls.append(url)
        if len(calls) == 1:
            raise OperationalError("connection refused by db.internal")
        if len(calls) == 2:
            raise KeyboardInterrupt  # end the loop
        raise AssertionError("unreachable")

    monkeypatch.setattr(command, "probe_record", record)
    monkeypatch.setattr(command.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(command.connection, "close", lambda: None)
    err = StringIO()

    with pytest.raises(KeyboardInterrupt):
        call_command("probe", "--url", f"{server}/up", stderr=err)

    assert err.getvalue() == "probe result not recorded (OperationalError)\n"
    assert calls == [f"{server}/up/readyz"] * 2
