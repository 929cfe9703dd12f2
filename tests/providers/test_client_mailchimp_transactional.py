"""The Mailchimp Transactional (Mandrill) client: the real SDK over a real socket to the sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from urllib.parse import parse_qs

import pytest
import responses

from providers.clients import client_for
from providers.clients.mailchimp_transactional import MandrillClient
from providers.clients.types import (
    CORRELATION_KEY,
    Address,
    BatchEmail,
    BatchRecipient,
    OutgoingEmail,
    TemplateContent,
)
from providers.exceptions import ProviderError
from providers.sandbox.core import Fault
from providers.sandbox.webhooks import WebhookTarget
from tests.conftest import TEST_KEYS
from tests.providers.webhook_receiver import receiving


@pytest.fixture(autouse=True)
def _mocked_host_allowed(settings):
    """`responses` answers for mandrill.test: allow the host as an operator would (providers/hosts.py)."""
    settings.PROVIDER_EXTRA_HOSTS = ["mandrill.test"]


KEY = TEST_KEYS["mailchimp_transactional"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def account(make_account):
    return make_account("mailchimp_transactional", reply_to="help@shop.example")


@pytest.fixture
def client(account) -> MandrillClient:
    return client_for(account)


def email(to: str = "jo@x.example", **extra) -> OutgoingEmail:
    fields = {
        "to": Address(to, "Jo"),
        "subject": "Your return RMA-1",
        "html": "<p>Label attached</p>",
        "text": "Label attached",
        "correlation_id": "msg-0001",
        **extra,
    }
    return OutgoingEmail(**fields)


def error_of(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    return caught.value


def test_client_for_picks_the_mandrill_client(client):
    assert isinstance(client, MandrillClient)


def test_send_posts_exactly_this_and_maps_the_result(client, esp_sandbox):
    result = client.send(
        email(
            reply_to=Address("desk@shop.example", "Returns Desk"),
            headers={"X-Campaign": "rma"},
            categories=("returns", "label"),
        )
    )

    (record,) = esp_sandbox.records("mandrill")
    assert record["path"] == "/api/1.3/messages/send.json"
    assert record["body"] == {
        "message": {
            "from_email": "returns@shop.example",
            "from_name": "Shop Returns",
            "subject": "Your return RMA-1",
            "html": "<p>Label attached</p>",
            "text": "Label attached",
            "to": [{"email": "jo@x.example", "name": "Jo", "type": "to"}],
            "headers": {"X-Campaign": "rma", "Reply-To": "Returns Desk <desk@shop.example>"},
            "tags": ["returns", "label"],
            "metadata": {CORRELATION_KEY: "msg-0001"},
        }
    }
    sandbox_id = record["results"][0]["_id"]
    assert result.provider_message_id == sandbox_id
    ((recipient),) = result.recipients
    assert (recipient.email, recipient.status, recipient.reason) == ("jo@x.example", "sent", "")
    assert recipient.provider_message_id == sandbox_id
    assert result.sandboxed is False


def test_send_uses_the_accounts_reply_to_by_default(client, esp_sandbox):
    client.send(email())

    (record,) = esp_sandbox.records("mandrill")
    assert record["body"]["message"]["headers"] == {"Reply-To": "help@shop.example"}


@pytest.mark.parametrize(
    ("to", "status", "reason"),
    [
        ("jo+reject@x.example", "rejected", "hard-bounce"),
        ("jo+unsub@x.example", "rejected", "unsub"),
        ("not-an-address", "invalid", ""),
    ],
)
def test_send_reports_rejected_and_invalid_recipients(client, to, status, reason):
    result = client.send(email(to))

    ((recipient),) = result.recipients
    assert (recipient.status, recipient.reason, recipient.accepted) == (status, reason, False)


def test_a_sandbox_mode_account_marks_results_sandboxed(make_account):
    account = make_account("mailchimp_transactional", api_key="test-key-0001", sandbox_mode=True)

    assert client_for(account).send(email()).sandboxed is True


def test_a_batch_subject_reaches_the_provider_on_one_line(client, esp_sandbox):
    batch = BatchEmail(
        recipients=[BatchRecipient(Address("r@x.example"), "c-1", {"rma": 7})],
        subject="Return {{rma}}\r\nBcc: all@x.example\n",
        html="<p>Hi</p>",
    )

    client.send_batch(batch)

    [record] = esp_sandbox.records("mandrill")
    assert record["body"]["message"]["subject"] == "Return {{rma}} Bcc: all@x.example"


def test_send_batch_splits_2500_recipients_into_three_calls(client, esp_sandbox):
    recipients = [
        BatchRecipient(Address(f"r{i}@x.example"), f"c-{i}", {"name": f"R{i}", "rma": i})
        for i in range(2500)
    ]
    batch = BatchEmail(
        recipients=recipients,
        subject="Return {{rma}}",
        html="<p>Hi {{name}}</p>",
        text="Hi {{name}}",
        categories=("bulk",),
    )

    results = client.send_batch(batch)

    records = esp_sandbox.records("mandrill")
    assert [len(r["body"]["message"]["to"]) for r in records] == [1000, 1000, 500]
    assert [len(r.recipients) for r in results] == [1000, 1000, 500]
    first = records[0]["body"]["message"]
    assert {
        k: v for k, v in first.items() if k not in ("to", "merge_vars", "recipient_metadata")
    } == {
        "from_email": "returns@shop.example",
        "from_name": "Shop Returns",
        "subject": "Return {{rma}}",
        "html": "<p>Hi {{name}}</p>",
        "text": "Hi {{name}}",
        "headers": {"Reply-To": "help@shop.example"},
        "tags": ["bulk"],
        "preserve_recipients": False,
        "merge": True,
        "merge_language": "handlebars",
    }
    assert first["to"][0] == {"email": "r0@x.example", "type": "to"}
    assert first["merge_vars"][0] == {
        "rcpt": "r0@x.example",
        "vars": [{"name": "name", "content": "R0"}, {"name": "rma", "content": 0}],
    }
    last = records[2]["body"]["message"]
    assert last["recipient_metadata"][-1] == {
        "rcpt": "r2499@x.example",
        "values": {CORRELATION_KEY: "c-2499"},
    }
    every = [r for result in results for r in result.recipients]
    assert [r.email for r in every] == [f"r{i}@x.example" for i in range(2500)]
    assert {r.status for r in every} == {"queued"}  # more than 10 recipients: always async
    assert all(r.provider_message_id for r in every)


def test_send_batch_with_a_remote_template_uses_send_template(client, esp_sandbox):
    remote = client.push_template(
        TemplateContent("Label", "label", "Your label", "<p>{{name}}</p>", "{{name}}")
    )
    recipients = [BatchRecipient(Address("a@x.example"), "c-1", {"name": "A"})]

    (result,) = client.send_batch(
        BatchEmail(recipients=recipients, remote_template_id=remote.remote_id)
    )

    record = esp_sandbox.records("mandrill")[-1]
    assert record["path"] == "/api/1.3/messages/send-template.json"
    assert record["body"]["template_name"] == "label"
    assert record["body"]["template_content"] == []
    assert "html" not in record["body"]["message"]
    assert "subject" not in record["body"]["message"]
    assert result.recipients[0].status == "sent"


def test_a_failing_later_chunk_reports_the_chunks_already_sent(client, esp_sandbox):
    recipients = [BatchRecipient(Address(f"r{i}@x.example"), f"c-{i}") for i in range(1000)]
    recipients.append(BatchRecipient(Address("last@x.example"), "c-last", {"_reserved": 1}))

    error = error_of(lambda: client.send_batch(BatchEmail(recipients=recipients, html="x")))

    assert (error.code, error.permanent) == ("ValidationError", True)
    assert [len(r.recipients) for r in error.partial_results] == [1000]
    assert len(esp_sandbox.records("mandrill")) == 1


def test_push_template_adds_a_draft_then_publishes_it(client, esp_sandbox):
    template = TemplateContent("Return label", "return-label", "Your label", "<p>L</p>", "L", "v1")

    result = client.push_template(template)

    add, publish = esp_sandbox.records("mandrill")
    assert (add["path"], publish["path"]) == (
        "/api/1.3/templates/add.json",
        "/api/1.3/templates/publish.json",
    )
    assert add["body"] == {
        "name": "return-label",
        "from_email": "returns@shop.example",
        "from_name": "Shop Returns",
        "subject": "Your label",
        "code": "<p>L</p>",
        "text": "L",
        "publish": False,
    }
    assert publish["body"] == {"name": "return-label"}
    assert result.remote_id == "return-label"
    assert result.remote_version_id  # the published_at stamp


def test_push_template_updates_when_it_has_a_remote_id(client, esp_sandbox):
    template = TemplateContent("Return label", "return-label", "Your label", "<p>L</p>", "L")
    client.push_template(template)

    client.push_template(
        TemplateContent("Return label", "return-label", "New", "<p>2</p>", "2"),
        remote_id="return-label",
    )

    update, publish = esp_sandbox.records("mandrill")[2:]
    assert update["path"] == "/api/1.3/templates/update.json"
    assert update["body"]["code"] == "<p>2</p>"
    assert publish["body"] == {"name": "return-label"}
    assert (
        esp_sandbox.state["mandrill"][KEY]["templates"]["return-label"]["publish_code"]
        == "<p>2</p>"
    )


def test_push_template_without_remote_id_updates_an_existing_template(client, esp_sandbox):
    template = TemplateContent("Return label", "return-label", "Your label", "<p>L</p>", "L")
    client.push_template(template)

    result = client.push_template(template)  # the task ran twice, or the remote id was lost

    paths = [r["path"].rsplit("/", 1)[-1] for r in esp_sandbox.records("mandrill")]
    assert paths == ["add.json", "publish.json", "update.json", "publish.json"]
    assert result.remote_id == "return-label"


def test_check_credentials_pings(client, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("slow", times=1, delay=0.2))

    check = client.check_credentials()

    assert (check.ok, check.detail) == (True, "PONG!")
    assert check.latency_ms >= 200  # the provider's answer took 0.2 s
    assert esp_sandbox.records("mandrill")[0]["body"] == {}


def test_check_credentials_with_a_revoked_key_fails_without_showing_it(make_account):
    account = make_account("mailchimp_transactional", api_key="md-revoked-key-0009")

    check = client_for(account).check_credentials()

    assert check.ok is False
    assert "Invalid_Key" in check.detail
    assert "md-revoked-key-0009" not in check.detail


def test_invalid_key_is_permanent_with_its_name(make_account):
    account = make_account("mailchimp_transactional", api_key="md-revoked-key-0009")

    error = error_of(lambda: client_for(account).send(email()))

    assert (error.status, error.code, error.permanent) == (500, "Invalid_Key", True)
    assert error.message == "Invalid API key"
    assert "md-revoked-key-0009" not in str(error) + repr(error)


def test_validation_error_is_permanent(client):
    error = error_of(lambda: client.send(email(categories=("_reserved",))))

    assert (error.status, error.code, error.permanent) == (500, "ValidationError", True)
    assert error.message.startswith("Validation error:")


def test_unknown_template_is_permanent(client):
    recipients = [BatchRecipient(Address("a@x.example"), "c-1")]

    error = error_of(lambda: client.send_batch(BatchEmail(recipients, remote_template_id="nope")))

    assert (error.code, error.permanent) == ("Unknown_Template", True)


def test_429_is_transient_with_the_retry_after(client, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("429", times=1, retry_after=7))

    error = error_of(lambda: client.send(email()))

    assert (error.status, error.permanent, error.retry_after) == (429, False, 7.0)
    assert esp_sandbox.records("mandrill") == []


@pytest.mark.parametrize(("kind", "name"), [("500", "GeneralError"), ("503", "ServiceUnavailable")])
def test_server_errors_are_transient(client, esp_sandbox, kind, name):
    esp_sandbox.faults.add(KEY, Fault(kind, times=1))

    error = error_of(lambda: client.send(email()))

    assert (error.status, error.code, error.transient, error.ambiguous) == (
        int(kind),
        name,
        True,
        False,
    )


def test_a_slow_answer_beyond_the_timeout_is_transient_and_ambiguous(account, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("slow", times=1, delay=1.5))

    error = error_of(lambda: client_for(account, timeout=0.5).send(email()))

    assert (error.status, error.transient, error.ambiguous) == (None, True, True)


def test_a_dropped_connection_is_transient_and_ambiguous(client, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("drop", times=1))

    error = error_of(lambda: client.send(email()))

    assert (error.status, error.transient, error.ambiguous) == (None, True, True)


def test_an_unreachable_host_is_transient_and_not_ambiguous(make_account):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    account = make_account("mailchimp_transactional", api_base_url=f"http://127.0.0.1:{port}")

    error = error_of(lambda: client_for(account).send(email()))

    assert (error.status, error.transient, error.ambiguous) == (None, True, False)


@responses.activate
def test_a_5xx_without_mandrills_shape_is_transient(make_account):
    account = make_account("mailchimp_transactional", api_base_url="https://mandrill.test")
    responses.post(
        "https://mandrill.test/api/1.3/messages/send.json",
        body="<html>Bad gateway</html>",
        status=502,
        content_type="text/html",
    )

    error = error_of(lambda: client_for(account).send(email()))

    assert (error.status, error.code, error.transient) == (502, "", True)


@responses.activate
def test_an_empty_error_body_still_raises(make_account):
    account = make_account("mailchimp_transactional", api_base_url="https://mandrill.test")
    responses.post("https://mandrill.test/api/1.3/users/ping.json", body="", status=401)

    assert client_for(account).check_credentials().ok is False


@responses.activate
def test_a_key_echoed_by_the_provider_is_scrubbed(make_account):
    account = make_account("mailchimp_transactional", api_base_url="https://mandrill.test")
    responses.post(
        "https://mandrill.test/api/1.3/messages/send.json",
        json={
            "status": "error",
            "code": -1,
            "name": "Invalid_Key",
            "message": f"Invalid API key {KEY}",
        },
        status=500,
    )

    error = error_of(lambda: client_for(account).send(email()))

    assert error.message == "Invalid API key [redacted]"
    sent = json.loads(responses.calls[0].request.body)
    assert sent["key"] == KEY  # it did go where it belongs: in the body


def test_the_sdk_does_not_leak_the_key_into_shared_defaults(client):
    import mailchimp_transactional.api.users_api as users_api

    client.check_credentials()

    assert users_api.UsersApi.ping.__defaults__ == ({},)


def test_webhook_events_carry_the_correlation_id_and_verify(make_account, esp_sandbox):
    with receiving() as receiver:
        url = receiver.url("/webhooks/mandrill/")
        account = make_account("mailchimp_transactional", webhook_secret="whk-0001")
        target = WebhookTarget(url, secret=account.webhook_secret, delay=0)
        esp_sandbox.set_webhook_target("mandrill", KEY, target)
        recipients = [
            BatchRecipient(Address("a+open@x.example"), "c-a"),
            BatchRecipient(Address("b@x.example"), "c-b"),
        ]

        client_for(account).send_batch(BatchEmail(recipients=recipients, html="<p>x</p>"))
        post = receiver.next_post()

    events_json = parse_qs(post.body.decode())["mandrill_events"][0]
    expected = base64.b64encode(
        hmac.new(
            b"whk-0001", (url + "mandrill_events" + events_json).encode(), hashlib.sha1
        ).digest()
    ).decode()
    assert hmac.compare_digest(post.headers["X-Mandrill-Signature"], expected)
    events = json.loads(events_json)
    assert [(e["event"], e["msg"]["metadata"][CORRELATION_KEY]) for e in events] == [
        ("send", "c-a"),
        ("open", "c-a"),
        ("send", "c-b"),
    ]
    tampered = events_json.replace('"c-b"', '"c-x"')
    forged = base64.b64encode(
        hmac.new(b"whk-0001", (url + "mandrill_events" + tampered).encode(), hashlib.sha1).digest()
    ).decode()
    assert not hmac.compare_digest(post.headers["X-Mandrill-Signature"], forged)
