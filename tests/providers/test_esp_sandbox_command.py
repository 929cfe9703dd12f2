"""`manage.py esp_sandbox --port 0 --port-file PATH`: the sandbox takes free ports itself and
says which, so whoever starts it never picks a port another process could take first."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import time
import urllib.request

from tests.conftest import PROJECT_DIR


def _wait_for(path, process: subprocess.Popen, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.1)
    raise AssertionError("the sandbox wrote no port file")


def test_port_zero_serves_on_the_ports_written_to_the_port_file(tmp_path, child_env):
    port_file = tmp_path / "ports.json"
    command = ["esp_sandbox", "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *command],
        cwd=PROJECT_DIR,
        env=child_env(DEBUG="true"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ports = _wait_for(port_file, process)
        health_url = f"http://127.0.0.1:{ports['http']}/_sandbox/health"
        with urllib.request.urlopen(health_url, timeout=10) as response:
            health = json.load(response)
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as smtp:
            smtp_status = smtp.noop()[0]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]

    assert ports["http"] > 0
    assert ports["smtp"] not in (0, ports["http"])
    assert health == {"status": "ok", "providers": ["mailchimp", "mandrill", "sendgrid"]}
    assert smtp_status == 250
    assert f"ESP sandbox on http://127.0.0.1:{ports['http']}/" in output
    assert f"SMTP on 127.0.0.1:{ports['smtp']}" in output
