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


def test_it_serves_the_sender_auth_zone_and_provider_domains(tmp_path, child_env):
    import dns.nameserver
    import dns.resolver

    port_file, auth_file = tmp_path / "ports.json", tmp_path / "sender-auth.json"
    auth_file.write_text(
        json.dumps(
            {
                "zone": {"_dmarc.shop.example": {"TXT": ["v=DMARC1; p=reject"]}},
                "domains": [{"provider": "sendgrid", "key": "SG.k.k", "domain": "shop.example"}],
            }
        )
    )
    command = ["esp_sandbox", "--port", "0", "--port-file", str(port_file), "--dns-port", "0"]
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *command, "--sender-auth", str(auth_file)],
        cwd=PROJECT_DIR,
        env=child_env(DEBUG="true"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ports = _wait_for(port_file, process)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", ports["dns"])]
        answer = resolver.resolve("_dmarc.shop.example", "TXT", lifetime=5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['http']}/sendgrid/v3/whitelabel/domains?domain=shop.example",
            headers={"Authorization": "Bearer SG.k.k"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            domains = json.load(response)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]

    assert [b"".join(r.strings) for r in answer] == [b"v=DMARC1; p=reject"]
    assert [(d["domain"], d["valid"]) for d in domains] == [("shop.example", True)]
    assert f"DNS on 127.0.0.1:{ports['dns']}" in output
