"""The first README command, tried the way an IT admin would: log in to the running demo,
send a test email through each demo account, and see it arrive at the ESP sandbox."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import PROJECT_DIR, free_port


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo-data")
    port, sandbox_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    env.update(
        ENV_FILE="",
        DEBUG="true",
        DATA_DIR=str(data_dir),
        ESP_SANDBOX_PORT=str(sandbox_port),
        PYTHONUNBUFFERED="1",
    )
    log = (data_dir / "demo.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "demo", "--port", str(port)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
    try:
        _wait_until_up([f"{base}/healthz", f"{sandbox}/_sandbox/health"], process, log)
        log.seek(0)
        username, password = re.search(r"IT admins login: (\S+) / (\S+)", log.read()).groups()
        yield {"base": base, "sandbox": sandbox, "login": (username, password)}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _wait_until_up(urls, process, log, timeout=90.0):
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"demo exited:\n{log.read()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up")
            time.sleep(0.3)


def _admin_session(demo) -> requests.Session:
    session = requests.Session()
    login_url = f"{demo['base']}/admin/login/"
    session.get(login_url, timeout=10)
    username, password = demo["login"]
    response = session.post(
        login_url,
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login_url},
        timeout=10,
    )
    assert response.url.endswith("/admin/"), "login failed"
    return session


@pytest.mark.parametrize(
    ("account_name", "sandbox_provider"),
    [
        ("Demo SendGrid (sandbox)", "sendgrid"),
        ("Demo Mailchimp Transactional (sandbox)", "mandrill"),
        ("Demo SMTP relay (sandbox)", "smtp"),
    ],
)
def test_it_admin_sends_a_test_email_through_each_demo_account(
    running_demo, account_name, sandbox_provider
):
    session = _admin_session(running_demo)
    listing = session.get(f"{running_demo['base']}/admin/providers/provideraccount/", timeout=10)
    account_id = re.search(
        rf'href="/admin/providers/provideraccount/(\d+)/change/[^"]*">{re.escape(account_name)}<',
        listing.text,
    ).group(1)
    send_url = f"{running_demo['base']}/admin/providers/provideraccount/{account_id}/send-test/"
    session.get(send_url, timeout=10)

    response = session.post(
        send_url,
        data={
            "to": "it-desk@demo-shop.example",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": send_url},
        timeout=30,
    )

    assert "Test email to it-desk@demo-shop.example accepted by" in response.text
    received = requests.get(
        f"{running_demo['sandbox']}/_sandbox/requests",
        params={"provider": sandbox_provider},
        timeout=10,
    ).json()["requests"]
    assert any("it-desk@demo-shop.example" in str(r) for r in received)


def test_it_admin_tests_the_connection_of_every_demo_account(running_demo):
    session = _admin_session(running_demo)
    listing_url = f"{running_demo['base']}/admin/providers/provideraccount/"
    listing = session.get(listing_url, timeout=10)
    ids = re.findall(r'name="_selected_action" value="(\d+)"', listing.text)
    assert len(ids) == 4

    response = session.post(
        listing_url,
        data={
            "action": "test_connection",
            "_selected_action": ids,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": listing_url},
        timeout=60,
    )

    assert response.text.count("connection ok in") == 4, response.text
