"""Secrets in URLs stay out of every log: the Mailchimp webhook's secret path segment and API
tokens in a query string, as the dev server, Django's own warnings and gunicorn (access and
error logs) write them. Real servers, their real output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config.logging_json import REDACTED, scrub
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "Wh5ecretWh5ecretWh5ecretWh5ecret0123456789ab"
API_TOKEN = "rm_Q2hlY2tpbmcgdGhlIHRva2VuIHNoYXBlIGZvciB0ZXN0cw"
OTHER_TOKEN = "opaque-token-0123456789"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'"POST /webhooks/mailchimp/7/{WEBHOOK_SECRET}/ HTTP/1.1" 403',
            f'"POST /webhooks/mailchimp/7/{REDACTED}/ HTTP/1.1" 403',
        ),
        (
            f"Forbidden: /webhooks/mailchimp/7/{WEBHOOK_SECRET}",
            f"Forbidden: /webhooks/mailchimp/7/{REDACTED}",
        ),
        (
            f"GET /api/v1/events?token={OTHER_TOKEN}&x=1",
            f"GET /api/v1/events?token={REDACTED}&x=1",
        ),
        (f"GET /x?access_token={OTHER_TOKEN}", f"GET /x?access_token={REDACTED}"),
        (f"GET /x?secret={OTHER_TOKEN}", f"GET /x?secret={REDACTED}"),
    ],
)
def test_scrub_redacts_secrets_in_paths_and_query_strings(text, expected):
    assert scrub(text) == expected


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A migrated SQLite database of the servers' own (they cannot see the test database)."""
    folder = tmp_path_factory.mktemp("logs")
    env = _server_env(folder)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return folder


def _server_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DEBUG="true", DATA_DIR=str(folder), ENV_FILE="", LOG_LEVEL="INFO")
    return env


def _serve_and_log(command: list[str], port: int | None, folder: Path) -> str:
    """Start the server, make the requests that carry secrets, stop it: its whole output.
    `port` None: the server binds port 0 and its log says which port it took (gunicorn)."""
    log = folder / f"server-{Path(command[0]).name}.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=_server_env(folder), stdout=out, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port or _bound_port(log, server)}"
            _wait_until_up(base, server)
            for path, method in (
                (f"/webhooks/mailchimp/1/{WEBHOOK_SECRET}/", "POST"),  # no such account
                (f"/webhooks/mailchimp/1/{WEBHOOK_SECRET}/", "GET"),
                (f"/api/v1/events?token={API_TOKEN}", "GET"),
                (f"/api/v1/events?access_token={OTHER_TOKEN}", "GET"),
            ):
                _request(base + path, method)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return log.read_text()


def _bound_port(log: Path, server: subprocess.Popen) -> int:
    """The port of gunicorn's "Listening at: http://127.0.0.1:N" line."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return int(found[1])
        time.sleep(0.1)
    raise AssertionError("the server logged no address")


def _wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError("the server did not come up")


def _request(url: str, method: str) -> int:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _assert_scrubbed(output: str) -> None:
    assert "/webhooks/mailchimp/1/" in output, output  # the requests were logged
    for secret in (WEBHOOK_SECRET, API_TOKEN, OTHER_TOKEN):
        assert secret not in output, output
    assert REDACTED in output


def test_the_dev_server_logs_no_secret_from_a_url(data_dir):
    # runserver cannot be asked for port 0 (it would announce port 0): a port picked here.
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]

    output = _serve_and_log(command, port, data_dir)

    _assert_scrubbed(output)
    # Django's own warning (no such account: 404), scrubbed
    assert f"django.request Not Found: /webhooks/mailchimp/1/{REDACTED}/" in output


def test_gunicorn_logs_no_secret_from_a_url(data_dir):
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *("-c", "python:config.gunicorn", "--bind", "127.0.0.1:0", "--workers", "1"),
        "config.wsgi",
    ]

    output = _serve_and_log(command, None, data_dir)

    _assert_scrubbed(output)
    assert f'"POST /webhooks/mailchimp/1/{REDACTED}/ HTTP/1.1" 404' in output  # access log
