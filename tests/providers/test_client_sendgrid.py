"""The SendGrid client through the real SDK, over a real socket, against the sandbox."""

from __future__ import annotations

import datetime
import logging
import time
from decimal import Decimal

import pytest

from providers.clients import client_for
from providers.clients.sendgrid import SendGridClient
from providers.clients.types import (
    CORRELATION_KEY,
    Address,
    BatchEmail,
    BatchRecipient,
    OutgoingEmail,
    SendResult,
    TemplateContent,
)
from providers.exceptions import ProviderConfigurationError, ProviderError
from providers.sandbox.core import Fault
from tests.conftest import TEST_KEYS, free_port

pytestmark = pytest.mark.django_db

KEY = TEST_KEYS["sendgrid"]
MAIL_SEND = "/v3/mail/send"


def email(**overrides) -> OutgoingEmail:
    fields = {
        "to": Address("customer@example.com", "Ada Customer"),
        "subject": "Your return RMA-1001 is approved",
        "html": "<p>Approved.</p>",
        "text": "Approved.",
        "correlation_id": "msg-42",
        "categories": ("return_approved",),
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def batch(count: int, **overrides) -> BatchEmail:
    fields = {
        "recipients": [
            BatchRecipient(
                to=Address(f"customer{n}@example.com", f"Customer {n}"),
                correlation_id=f"msg-{n}",
                data={"first_name": f"C{n}", "rma": f"RMA-{n}"},
            )
            for n in range(count)
        ],
        "remote_template_id": "",
        "categories": ("spring_campaign",),
    }
    fields.update(overrides)
    return BatchEmail(**fields)


def dynamic_template(account) -> str:
    content = TemplateContent(
        name="Spring", slug="spring", subject="Hi {{first_name}}", html="<p>{{rma}}</p>", text=""
    )
    return client_for(account).push_template(content).remote_id


def assert_secret_free(exc: BaseException, key: str = KEY) -> None:
    assert key not in str(exc)
    assert key not in repr(exc)


# --- send --------------------------------------------------------------------------------------
def test_send_posts_the_exact_payload_and_returns_the_message_id(make_account, esp_sandbox):
    account = make_account("sendgrid", reply_to="help@shop.example")

    result = client_for(account).send(email(headers={"X-Return-Id": "RMA-1001"}))

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert record["body"] == {
        "personalizations": [
            {
                "to": [{"email": "customer@example.com", "name": "Ada Customer"}],
                "custom_args": {CORRELATION_KEY: "msg-42"},
            }
        ],
        "from": {"email": "returns@shop.example", "name": "Shop Returns"},
        "reply_to": {"email": "help@shop.example"},
        "categories": ["return_approved"],
        "subject": "Your return RMA-1001 is approved",
        "content": [
            {"type": "text/plain", "value": "Approved."},
            {"type": "text/html", "value": "<p>Approved.</p>"},
        ],
        "headers": {"X-Return-Id": "RMA-1001"},
    }
    assert record["sandbox_mode"] is False
    assert result.provider_message_id == record["message_id"]
    assert [(r.email, r.status, r.provider_message_id) for r in result.recipients] == [
        ("customer@example.com", "accepted", record["message_id"])
    ]
    assert result.sandboxed is False


def test_send_uses_the_emails_own_sender_and_reply_to(make_account, esp_sandbox):
    account = make_account("sendgrid", reply_to="help@shop.example")

    client_for(account).send(
        email(
            sender=Address("care@shop.example", "Care"),
            reply_to=Address("rma@shop.example"),
            to=Address("ada@example.com", "Lovelace, Ada"),
            html="",
            categories=(),
        )
    )

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    body = record["body"]
    assert body["from"] == {"email": "care@shop.example", "name": "Care"}
    assert body["reply_to"] == {"email": "rma@shop.example"}
    # A comma in a recipient name is quoted, as SendGrid requires.
    assert body["personalizations"][0]["to"] == [
        {"email": "ada@example.com", "name": '"Lovelace, Ada"'}
    ]
    assert body["content"] == [{"type": "text/plain", "value": "Approved."}]
    assert "categories" not in body
    assert "headers" not in body


def test_send_without_any_reply_to_leaves_it_out(make_account, esp_sandbox):
    client_for(make_account("sendgrid")).send(email())

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert "reply_to" not in record["body"]
    assert "mail_settings" not in record["body"]


def test_sandbox_mode_account_sends_sandbox_mode_and_gets_200(make_account, esp_sandbox):
    account = make_account("sendgrid", sandbox_mode=True)

    result = client_for(account).send(email())

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert record["body"]["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert record["sandbox_mode"] is True
    assert result.sandboxed is True
    assert result.provider_message_id == record["message_id"]


def test_client_registry_and_default_host(make_account):
    account = make_account("sendgrid", api_base_url="")

    client = client_for(account)

    assert isinstance(client, SendGridClient)
    assert client.base_url == "https://api.sendgrid.com"


# --- batches -----------------------------------------------------------------------------------
def test_batch_of_2500_goes_out_as_1000_1000_500_with_each_recipients_data(
    make_account, esp_sandbox
):
    account = make_account("sendgrid")
    template_id = dynamic_template(account)

    results = client_for(account).send_batch(
        batch(2500, remote_template_id=template_id, unsubscribe_group_id=12)
    )

    records = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert [len(r["body"]["personalizations"]) for r in records] == [1000, 1000, 500]
    personalizations = [p for r in records for p in r["body"]["personalizations"]]
    assert personalizations == [
        {
            "to": [{"email": f"customer{n}@example.com", "name": f"Customer {n}"}],
            "dynamic_template_data": {"first_name": f"C{n}", "rma": f"RMA-{n}"},
            "custom_args": {CORRELATION_KEY: f"msg-{n}"},
        }
        for n in range(2500)
    ]
    for record in records:
        rest = {k: v for k, v in record["body"].items() if k != "personalizations"}
        assert rest == {
            "from": {"email": "returns@shop.example", "name": "Shop Returns"},
            "categories": ["spring_campaign"],
            "template_id": template_id,
            "asm": {"group_id": 12},
        }
    assert [r.provider_message_id for r in results] == [r["message_id"] for r in records]
    assert [len(r.recipients) for r in results] == [1000, 1000, 500]
    assert results[2].recipients[-1].email == "customer2499@example.com"


def test_batch_never_repeats_an_address_within_one_request(make_account, esp_sandbox):
    account = make_account("sendgrid")
    recipients = [
        BatchRecipient(Address("a@example.com"), "m1"),
        BatchRecipient(Address("b@example.com"), "m2"),
        BatchRecipient(Address("A@example.com"), "m3"),
    ]

    results = client_for(account).send_batch(
        BatchEmail(recipients=recipients, remote_template_id=dynamic_template(account))
    )

    records = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert [
        [p["custom_args"][CORRELATION_KEY] for p in r["body"]["personalizations"]] for r in records
    ] == [
        ["m1", "m2"],
        ["m3"],
    ]
    assert len(results) == 2


def test_batch_data_with_dates_and_decimals_goes_out_as_json(make_account, esp_sandbox):
    account = make_account("sendgrid")
    recipient = BatchRecipient(
        Address("a@example.com"),
        "m1",
        data={"refund": Decimal("19.90"), "due": datetime.date(2026, 5, 1), "items": ["shoe"]},
    )

    client_for(account).send_batch(
        BatchEmail(recipients=[recipient], remote_template_id=dynamic_template(account))
    )

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert record["body"]["personalizations"][0]["dynamic_template_data"] == {
        "refund": "19.90",
        "due": "2026-05-01",
        "items": ["shoe"],
    }


def test_batch_needs_a_dynamic_template(make_account, esp_sandbox):
    with pytest.raises(ProviderConfigurationError, match="dynamic template") as caught:
        client_for(make_account("sendgrid")).send_batch(batch(3))

    assert caught.value.permanent
    assert esp_sandbox.records("sendgrid", MAIL_SEND) == []


def test_batch_failure_reports_the_chunks_already_accepted(make_account, esp_sandbox):
    account = make_account("sendgrid")
    good = batch(1001, remote_template_id=dynamic_template(account))
    broken = BatchRecipient(Address("not-an-address"), "msg-bad")
    bad = BatchEmail(
        recipients=[*good.recipients, broken], remote_template_id=good.remote_template_id
    )

    with pytest.raises(ProviderError) as caught:
        client_for(account).send_batch(bad)

    [accepted] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert caught.value.status == 400
    assert caught.value.permanent
    assert "personalizations.1.to.0.email" in caught.value.message
    [partial] = caught.value.partial_results
    assert isinstance(partial, SendResult)
    assert partial.provider_message_id == accepted["message_id"]


# --- credentials -------------------------------------------------------------------------------
def test_check_credentials_ok_names_mail_send(make_account, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("slow", times=1, delay=0.2))

    check = client_for(make_account("sendgrid")).check_credentials()

    assert check.ok is True
    assert "mail.send granted" in check.detail
    assert check.latency_ms >= 200  # the provider's answer took 0.2 s: measured, not made up
    assert [r["path"] for r in esp_sandbox.records("sendgrid")] == ["/v3/scopes"]


def test_check_credentials_fails_without_mail_send_scope(make_account):
    check = client_for(make_account("sendgrid", api_key="SG.noscope.key-0002")).check_credentials()

    assert check.ok is False
    assert "lacks the mail.send scope" in check.detail


def test_check_credentials_fails_with_a_revoked_key_in_sendgrids_words(make_account):
    key = "SG.revoked.key-0003"

    check = client_for(make_account("sendgrid", api_key=key)).check_credentials()

    assert check.ok is False
    assert "HTTP 401" in check.detail
    assert "authorization grant is invalid, expired, or revoked" in check.detail
    assert key not in check.detail


# --- templates ---------------------------------------------------------------------------------
def test_push_template_creates_a_dynamic_template_with_an_active_version(make_account, esp_sandbox):
    account = make_account("sendgrid")
    content = TemplateContent(
        name="Return approved",
        slug="return-approved",
        subject="{{rma}} approved",
        html="<p>Hello {{first_name}}</p>",
        text="Hello {{first_name}}",
        version_label="v3",
    )

    pushed = client_for(account).push_template(content)

    create, version = [r for r in esp_sandbox.records("sendgrid") if r["method"] == "POST"]
    assert (create["path"], create["body"]) == (
        "/v3/templates",
        {"name": "Return approved", "generation": "dynamic"},
    )
    assert version["path"] == f"/v3/templates/{pushed.remote_id}/versions"
    assert version["body"] == {
        "name": "Return approved v3",
        "subject": "{{rma}} approved",
        "html_content": "<p>Hello {{first_name}}</p>",
        "plain_content": "Hello {{first_name}}",
        "generate_plain_content": False,
        "editor": "code",
        "active": 1,
    }
    assert pushed.remote_id.startswith("d-")
    assert pushed.remote_version_id == version["version_id"]


def test_push_template_with_remote_id_adds_a_version_that_becomes_active(make_account, esp_sandbox):
    account = make_account("sendgrid")
    client = client_for(account)
    content = TemplateContent(name="T", slug="t", subject="S1", html="<p>1</p>", text="1")
    first = client.push_template(content)

    second = client.push_template(
        TemplateContent(name="T", slug="t", subject="S2", html="<p>2</p>", text="2"),
        remote_id=first.remote_id,
    )

    assert second.remote_id == first.remote_id
    assert second.remote_version_id != first.remote_version_id
    posts = [r["path"] for r in esp_sandbox.records("sendgrid") if r["method"] == "POST"]
    assert posts.count("/v3/templates") == 1
    versions = esp_sandbox.state["sendgrid"]["templates"][first.remote_id]["versions"]
    assert [(v["id"], v["subject"], v["active"]) for v in versions] == [
        (first.remote_version_id, "S1", 0),
        (second.remote_version_id, "S2", 1),
    ]


def test_push_template_to_an_unknown_remote_id_is_a_permanent_404(make_account):
    content = TemplateContent(name="T", slug="t", subject="S", html="<p>x</p>", text="x")

    with pytest.raises(ProviderError) as caught:
        client_for(make_account("sendgrid")).push_template(content, remote_id="d-gone")

    assert (caught.value.status, caught.value.permanent) == (404, True)
    assert "resource not found" in caught.value.message


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("api_key", "outgoing", "status", "words"),
    [
        (KEY, email(to=Address("not-an-address")), 400, "personalizations.0.to.0.email: "),
        ("SG.revoked.key-0004", email(), 401, "invalid, expired, or revoked"),
        ("SG.noscope.key-0005", email(), 403, "access forbidden"),
        (KEY, email(html="x" * (30 * 1024 * 1024)), 413, "content too large"),
    ],
)
def test_client_errors_are_permanent_with_sendgrids_words(
    make_account, esp_sandbox, api_key, outgoing, status, words
):
    account = make_account("sendgrid", api_key=api_key)

    with pytest.raises(ProviderError) as caught:
        client_for(account).send(outgoing)

    exc = caught.value
    assert (exc.status, exc.permanent, exc.ambiguous) == (status, True, False)
    assert words in exc.message
    assert (exc.provider, exc.account) == ("sendgrid", account.name)
    assert exc.retry_after is None
    assert_secret_free(exc, api_key)
    assert esp_sandbox.records("sendgrid", MAIL_SEND) == []


def test_429_is_transient_with_retry_after(make_account, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("429", times=1, retry_after=7))

    with pytest.raises(ProviderError) as caught:
        client_for(make_account("sendgrid")).send(email())

    exc = caught.value
    assert (exc.status, exc.transient, exc.ambiguous) == (429, True, False)
    assert exc.retry_after == 7.0
    assert "too many requests" in exc.message
    assert_secret_free(exc)


def test_429_from_the_rate_limit_waits_until_the_window_resets(
    make_account, esp_sandbox, monkeypatch
):
    monkeypatch.setattr(esp_sandbox.apps["sendgrid"], "rate_limit", 1)
    client = client_for(make_account("sendgrid", api_key=f"SG.ratelimit.{time.time_ns()}"))
    assert client.check_credentials().ok  # the one request this minute allows

    with pytest.raises(ProviderError) as caught:
        client.send(email())

    exc = caught.value
    assert (exc.status, exc.transient) == (429, True)
    # No Retry-After here: the delay comes from X-RateLimit-Reset (the window is 60 s).
    assert 0 <= exc.retry_after <= 60
    assert esp_sandbox.records("sendgrid", MAIL_SEND) == []


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503)])
def test_server_errors_are_transient(make_account, esp_sandbox, kind, status):
    esp_sandbox.faults.add(KEY, Fault(kind, times=1))

    with pytest.raises(ProviderError) as caught:
        client_for(make_account("sendgrid")).send(email())

    exc = caught.value
    assert (exc.status, exc.transient, exc.ambiguous) == (status, True, False)
    assert exc.retry_after is None  # X-RateLimit-Reset is no retry hint outside a 429
    assert_secret_free(exc)


def test_the_next_attempt_after_a_fault_succeeds(make_account, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("503", times=1))
    client = client_for(make_account("sendgrid"))

    with pytest.raises(ProviderError):
        client.send(email())
    result = client.send(email())

    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    assert result.provider_message_id == record["message_id"]


def test_answer_slower_than_the_timeout_is_transient_and_ambiguous(make_account, esp_sandbox):
    account = make_account("sendgrid")
    esp_sandbox.faults.add(KEY, Fault("slow", times=1, delay=1.5))

    with pytest.raises(ProviderError) as caught:
        client_for(account, timeout=0.5).send(email())

    exc = caught.value
    assert (exc.status, exc.transient, exc.ambiguous) == (None, True, True)
    assert_secret_free(exc)
    # Why "ambiguous": the sandbox still accepts the mail once it wakes up.
    deadline = time.monotonic() + 15
    while not esp_sandbox.records("sendgrid", MAIL_SEND) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(esp_sandbox.records("sendgrid", MAIL_SEND)) == 1


def test_dropped_connection_is_transient_and_ambiguous(make_account, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("drop", times=1))

    with pytest.raises(ProviderError) as caught:
        client_for(make_account("sendgrid")).send(email())

    exc = caught.value
    assert (exc.status, exc.transient, exc.ambiguous) == (None, True, True)
    assert_secret_free(exc)


def test_connection_refused_is_transient_and_not_ambiguous(make_account):
    account = make_account("sendgrid", api_base_url=f"http://127.0.0.1:{free_port()}/sendgrid")

    with pytest.raises(ProviderError) as caught:
        client_for(account).send(email())

    exc = caught.value
    assert (exc.status, exc.transient, exc.ambiguous) == (None, True, False)
    assert "cannot reach SendGrid" in exc.message
    assert_secret_free(exc)


def test_missing_api_key_is_a_configuration_error_before_any_request(make_account, esp_sandbox):
    account = make_account("sendgrid", api_key="")

    with pytest.raises(ProviderConfigurationError, match="api_key is not set"):
        client_for(account).send(email())

    assert esp_sandbox.records("sendgrid") == []


def test_sdk_debug_logging_never_shows_the_api_key(make_account, caplog):
    caplog.set_level(logging.DEBUG, logger="python_http_client")

    client_for(make_account("sendgrid")).send(email())

    assert "HEADERS" in caplog.text  # the SDK did log its headers...
    assert "Bearer [redacted]" in caplog.text
    assert KEY not in caplog.text  # ...without the key
