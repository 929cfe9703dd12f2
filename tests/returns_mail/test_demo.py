"""`make demo` runs `manage.py demo`: seeded once, serves the admin, stops everything cleanly."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from returns_mail import demo
from tests.conftest import PROJECT_DIR, free_port, free_port_pair


@pytest.mark.django_db
def test_seed_twice_creates_no_duplicates_and_prints_working_logins(client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first, second = io.StringIO(), io.StringIO()

    demo.seed(out=first)
    demo.seed(out=second)

    assert first.getvalue() == second.getvalue()
    User = get_user_model()
    assert User.objects.filter(username="itadmin").count() == 1
    username, password = re.search(r"IT admins login: (\S+) / (\S+)", first.getvalue()).groups()
    user = User.objects.get(username=username)
    assert user.is_staff
    assert not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["IT admins"]
    assert Group.objects.get(name="Managers").user_set.get().username == "manager"

    assert client.login(username=username, password=password)
    assert client.get("/admin/").status_code == 200


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"demo exited early ({process.returncode}):\n{output[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def _port_is_closed(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except OSError:
        return True
    return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_demo_serves_the_admin_and_stops_every_process(child_env, stop_signal):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "demo", "--port", str(port)],
        cwd=PROJECT_DIR,
        env=child_env(DEBUG="true", ESP_SANDBOX_PORT=str(free_port_pair())),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz", process) == b'{"status": "ok"}'
        login_page = _wait_for(f"http://127.0.0.1:{port}/admin/login/", process)
        assert b"<title>Log in | Django site admin</title>" in login_page

        # Ctrl-C reaches the whole foreground group; SIGTERM only the demo process.
        if stop_signal == signal.SIGINT:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    assert "IT admins login: itadmin / " in output
    assert _port_is_closed(port)
    assert _processes_in_session(process.pid) == []


def _processes_in_session(session_id: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == session_id:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids
