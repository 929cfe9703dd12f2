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

from tests.conftest import PROJECT_DIR, free_port, free_port_pair

HANDED_OVER = [["sent"], ["delivered"]]


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo-data")
    port, sandbox_port = free_port(), free_port_pair()
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
        printed = log.read()
        username, password = re.search(r"IT admins login: (\S+) / (\S+)", printed).groups()
        yield {"base": base, "sandbox": sandbox, "login": (username, password), "log": printed}
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


def test_it_admin_sees_each_demo_accounts_sender_authentication_checklist(running_demo):
    session = _admin_session(running_demo)
    listing_url = f"{running_demo['base']}/admin/providers/provideraccount/"
    listing = session.get(listing_url, timeout=10).text
    ids = dict(
        (name, pk)
        for pk, name in re.findall(
            r'href="/admin/providers/provideraccount/(\d+)/change/[^"]*">([^<]+)<', listing
        )
    )
    session.post(  # "Test connection" runs the checklist against the demo's loopback DNS
        listing_url,
        data={
            "action": "test_connection",
            "_selected_action": list(ids.values()),
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": listing_url},
        timeout=60,
    )

    def page(name):
        return session.get(f"{listing_url}{ids[name]}/change/", timeout=10).text

    sendgrid = page("Demo SendGrid (sandbox)")
    mandrill = page("Demo Mailchimp Transactional (sandbox)")
    marketing = page("Demo Mailchimp Marketing (sandbox)")
    assert "Sender authentication of demo-shop.example: Pass" in sendgrid
    assert '<tr class="sender-auth-pass" data-check="provider">' in sendgrid
    assert "Sender authentication of demo-shop.example: Pass" in mandrill
    # The news domain deliberately publishes no DMARC record: the page says what to publish.
    assert "Sender authentication of news.demo-outlet.example: Fail" in marketing
    assert '<tr class="sender-auth-fail" data-check="dmarc">' in marketing
    assert "<code>_dmarc.news.demo-outlet.example</code> <code>v=DMARC1; p=none</code>" in marketing


def _wait_for_text(session, url, text, timeout=90.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        page = session.get(url, timeout=10).text
        if text in page:
            return page
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared at {url}")
        time.sleep(1)


def test_templates_are_pushed_to_every_demo_account_and_drift_is_flagged(running_demo):
    session = _admin_session(running_demo)
    base = running_demo["base"]
    listing_url = f"{base}/admin/templates_lib/template/"
    # The worker pushes the published defaults to the SendGrid and Mandrill demo accounts.
    listing = _wait_for_text(session, listing_url, "Refund processed")
    deadline = time.monotonic() + 120
    while listing.count("2/2 current") < 18 and time.monotonic() < deadline:
        time.sleep(1)
        listing = session.get(listing_url, timeout=10).text
    assert listing.count("2/2 current") == 18, listing

    template_id = re.search(
        r'href="/admin/templates_lib/template/(\d+)/change/[^"]*">Refund processed<', listing
    ).group(1)
    preview = session.get(f"{base}/admin/templates_lib/template/{template_id}/preview/", timeout=10)
    assert "Your refund of 89.80 EUR is on its way" in preview.text

    # Someone edits the copy at "SendGrid": check sync flags it.
    key = {"Authorization": "Bearer SG.demo-sandbox.key-0000000000000001"}
    sendgrid = f"{running_demo['sandbox']}/sendgrid/v3/templates"
    templates = requests.get(
        sendgrid, params={"generations": "dynamic", "page_size": 50}, headers=key, timeout=10
    ).json()
    [remote] = [t for t in templates["result"] if t["name"] == "Refund processed"]
    [active] = [v for v in remote["versions"] if v["active"]]
    requests.patch(
        f"{sendgrid}/{remote['id']}/versions/{active['id']}",
        headers=key,
        json={"name": "edited", "subject": "Edited at SendGrid", "html_content": "<p>changed</p>"},
        timeout=10,
    ).raise_for_status()

    response = session.post(
        listing_url,
        data={
            "action": "check_sync",
            "_selected_action": [template_id],
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": listing_url},
        timeout=60,
    )
    assert "Refund processed: 1/2 current; drift" in response.text
    assert "subject, HTML edited at the provider" in response.text


def test_through_the_api_alone_a_refund_email_reaches_the_sandbox(running_demo):
    log = running_demo["log"]
    token = re.search(r"API token \(Demo returns system\): (rm_\S+)", log).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    event = {
        "type": "refund.processed",
        "occurred_at": "2026-11-26T10:15:00+01:00",
        "return_id": "RMA-E2E-1",
        "order_id": "ORD-1",
        # "+delivered": the sandbox reports exactly processed, delivered.
        "customer": {
            "email": "grace+delivered@example.com",
            "name": "Grace Hopper",
            "locale": "en",
        },
        "data": {
            "items": [{"sku": "S1", "name": "Wool scarf", "quantity": 1}],
            "refund": {"amount": "24.50", "currency": "EUR", "method": "Visa ending 1111"},
        },
    }

    accepted = requests.post(
        f"{running_demo['base']}/api/v1/events",
        json=event,
        headers={**headers, "Idempotency-Key": "e2e-1"},
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    [queued] = accepted.json()["messages"]
    assert queued["recipient"] == "grace+delivered@example.com"

    deadline = time.monotonic() + 60
    while True:
        messages = requests.get(
            f"{running_demo['base']}/api/v1/returns/RMA-E2E-1/messages", headers=headers, timeout=10
        ).json()
        statuses = (
            [m["status"] for m in messages["messages"]] if "messages" in messages else messages
        )
        if statuses in HANDED_OVER or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # Sent, or further along once the sandbox's webhooks have come back.
    assert statuses in HANDED_OVER, messages
    received = requests.get(
        f"{running_demo['sandbox']}/_sandbox/requests", params={"provider": "sendgrid"}, timeout=10
    ).json()["requests"]
    [mail] = [
        r
        for r in received
        if r["path"] == "/v3/mail/send" and "grace+delivered@example.com" in str(r["body"])
    ]
    assert mail["rendered"][0]["subject"] == "Your refund of 24.50 EUR is on its way"
    assert "Wool scarf" in mail["rendered"][0]["html"]


def test_the_sandbox_webhooks_fill_the_dashboards_within_a_minute(running_demo):
    log = running_demo["log"]
    token = re.search(r"API token \(Demo returns system\): (rm_\S+)", log).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    event = {
        "type": "return.approved",
        "occurred_at": "2026-11-26T10:15:00+01:00",
        "return_id": "RMA-E2E-2",
        "order_id": "ORD-2",
        # "+click": the sandbox reports processed, delivered, open, click.
        "customer": {"email": "lin+click@example.com", "name": "Lin Chen", "locale": "en"},
        "data": {"items": [{"sku": "S2", "name": "Linen shirt", "quantity": 1}]},
    }
    accepted = requests.post(
        f"{running_demo['base']}/api/v1/events", json=event, headers=headers, timeout=10
    )
    assert accepted.status_code == 202, accepted.text

    deadline = time.monotonic() + 60
    while True:
        answer = requests.get(
            f"{running_demo['base']}/api/v1/returns/RMA-E2E-2/messages", headers=headers, timeout=10
        ).json()
        statuses = [m["status"] for m in answer.get("messages", [])]
        if statuses == ["clicked"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert statuses == ["clicked"], answer

    manager, password = re.search(r"Managers login: (\S+) / (\S+)", log).groups()
    session = requests.Session()
    login_url = f"{running_demo['base']}/analytics/login/"
    session.get(login_url, timeout=10)
    session.post(
        login_url,
        data={
            "username": manager,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": login_url},
        timeout=10,
    )
    overview = session.get(f"{running_demo['base']}/analytics/", timeout=30)
    assert overview.status_code == 200
    assert overview.url.endswith("/analytics/")
    assert "Email delivery rate" in overview.text
    assert "100.0 %" in overview.text  # every message of the demo so far was delivered


def _id_in_listing(session, url: str, model: str, label: str) -> str:
    listing = session.get(url, timeout=10).text
    match = re.search(rf'href="/admin/{model}/(\d+)/change/[^"]*">{re.escape(label)}<', listing)
    assert match, f"{label!r} not listed at {url}"
    return match.group(1)


def test_an_it_admin_builds_a_segment_and_sends_campaigns_through_sendgrid_and_mailchimp(
    running_demo,
):
    session = _admin_session(running_demo)
    base, sandbox = running_demo["base"], running_demo["sandbox"]
    add_segment = f"{base}/admin/returns_mail/segment/add/"
    session.get(add_segment, timeout=10)
    rows = {"conditions-TOTAL_FORMS": "2", "conditions-INITIAL_FORMS": "0"}
    for index, row in enumerate([{"subject": "event:refund.processed", "days": "30"}, {}]):
        for key in ("subject", "op", "value", "days", "reason", "min_amount", "max_amount"):
            rows[f"conditions-{index}-{key}"] = row.get(key, "")
    response = session.post(
        add_segment,
        data={
            "name": "Refunded in the last 30 days",
            "description": "",
            "match": "all",
            **rows,
            "_continue": "Save",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": add_segment},
        timeout=30,
    )
    segment_id = re.search(r"/segment/(\d+)/change/", response.url).group(1)
    count = re.search(
        r"<strong>(\d+)</strong> members, <strong>(\d+)</strong> eligible", response.text
    )
    members, eligible = int(count.group(1)), int(count.group(2))
    assert 0 < eligible < members < 240  # a slice of the history; some without consent

    template_id = _id_in_listing(
        session,
        f"{base}/admin/templates_lib/template/",
        "templates_lib/template",
        "Come back: 15% off",
    )
    accounts = f"{base}/admin/providers/provideraccount/"
    for account_name, unsubscribe_group in (
        ("Demo SendGrid (sandbox)", "42"),
        ("Demo Mailchimp Marketing (sandbox)", ""),
    ):
        account_id = _id_in_listing(session, accounts, "providers/provideraccount", account_name)
        form = {
            "name": f"Come back ({account_name})",
            "segment": segment_id,
            "template": template_id,
            "account": account_id,
            "send_at_0": "",
            "send_at_1": "",
            "unsubscribe_group_id": unsubscribe_group,
            "test_recipients": "marketing@demo-shop.example",
            "chunks-TOTAL_FORMS": "0",
            "chunks-INITIAL_FORMS": "0",
            "chunks-MIN_NUM_FORMS": "0",
            "chunks-MAX_NUM_FORMS": "0",
        }
        add_campaign = f"{base}/admin/returns_mail/campaign/add/"
        session.get(add_campaign, timeout=10)
        response = session.post(
            add_campaign,
            data={**form, "_continue": "Save", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": add_campaign},
            timeout=30,
        )
        change = response.url
        assert re.search(r"/campaign/\d+/change/$", change), response.text[-2000:]
        # The published template reaches the account in the background: wait until it is ready.
        _wait_for_text(session, change, "Yes.", timeout=120)
        response = session.post(
            change,
            data={
                **form,
                "_campaign_start": "Start",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": change},
            timeout=30,
        )
        assert "Campaign started." in response.text, response.text[-3000:]
        progress_url = change.replace("/change/", "/progress/")
        deadline = time.monotonic() + 120
        while True:
            progress = session.get(progress_url, timeout=10).json()
            if progress["status"] == "finished" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert progress["status"] == "finished", progress
        assert progress["sent"] == eligible
        assert progress["total"] == eligible
        assert progress["excluded"] == members - eligible

    received = requests.get(f"{sandbox}/_sandbox/requests", timeout=30).json()["requests"]
    mail = [
        r
        for r in received
        if r["path"] == "/v3/mail/send" and r["body"].get("asm") == {"group_id": 42}
    ]
    assert len(mail) == 1
    assert len(mail[0]["body"]["personalizations"]) == eligible
    assert mail[0]["rendered"][0]["subject"].endswith(", 15% off your next order")
    sends = [r for r in received if r["path"].endswith("/actions/send")]
    assert len(sends) == 1  # the Mailchimp campaign
    segment_adds = [r for r in received if "/segments/" in r["path"] and r["method"] == "POST"]
    added = sum(len(r["body"].get("members_to_add", [])) for r in segment_adds)
    assert added == eligible
