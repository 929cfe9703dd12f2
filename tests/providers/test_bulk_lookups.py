"""Finding out what a provider already took for a bulk send: custom args / metadata on every
recipient of a batch, the providers' message searches, and a campaign's status. Real SDKs over
a real socket to the sandbox."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from providers.clients import client_for
from providers.clients.types import (
    CORRELATION_KEY,
    Address,
    BatchEmail,
    BatchRecipient,
    TemplateContent,
)
from providers.exceptions import ProviderRequestError
from tests.conftest import TEST_KEYS

pytestmark = pytest.mark.django_db

SENDGRID_KEY = TEST_KEYS["sendgrid"]
MARKETING_KEY = TEST_KEYS["mailchimp_marketing"]
RUN = "rm_bulk_run"


def batch(emails: list[str], run: str, **fields) -> BatchEmail:
    return BatchEmail(
        recipients=[
            BatchRecipient(Address(e), correlation_id=f"c-{n}", data={"n": n})
            for n, e in enumerate(emails)
        ],
        custom_args={RUN: run},
        **fields,
    )


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}@example.com" for n in range(count)]


def provider_error(call) -> ProviderRequestError:
    with pytest.raises(ProviderRequestError) as caught:
        call()
    return caught.value


def sendgrid_feed(esp_sandbox, **params) -> tuple[int, dict]:
    """GET /v3/messages on the sandbox directly (what the SDK cannot send: a bad limit)."""
    url = f"{esp_sandbox.base_url('sendgrid')}/v3/messages?{urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SENDGRID_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --- SendGrid ----------------------------------------------------------------------------------
@pytest.fixture
def sendgrid(make_account):
    return client_for(make_account("sendgrid"))


@pytest.fixture
def template_id(sendgrid) -> str:
    """A dynamic template: SendGrid sends batches only through one."""
    content = TemplateContent(name="Bulk", slug="bulk", subject="Hi", html="<p>{{n}}</p>", text="")
    return sendgrid.push_template(content).remote_id


def test_sendgrid_batch_carries_the_custom_args_at_message_level(
    sendgrid, template_id, esp_sandbox
):
    sendgrid.send_batch(batch(["a@example.com"], "run-1", remote_template_id=template_id))

    [record] = esp_sandbox.records("sendgrid", "/v3/mail/send")
    assert record["body"]["custom_args"] == {RUN: "run-1"}
    assert record["body"]["personalizations"][0]["custom_args"] == {CORRELATION_KEY: "c-0"}


def test_sendgrid_accepted_recipients_are_exactly_that_runs(sendgrid, template_id, esp_sandbox):
    sendgrid.send_batch(
        batch(["A@Example.com", "b@example.com"], "run-1", remote_template_id=template_id)
    )
    sendgrid.send_batch(batch(["c@example.com"], "run-2", remote_template_id=template_id))

    assert sendgrid.accepted_recipients(RUN, "run-1") == {"a@example.com", "b@example.com"}
    assert sendgrid.accepted_recipients(RUN, "run-2") == {"c@example.com"}
    assert sendgrid.accepted_recipients(RUN, "run-3") == set()
    # The per-recipient correlation id is searchable too (personalization custom_args).
    assert sendgrid.accepted_recipients(CORRELATION_KEY, "c-1") == {"b@example.com"}
    [lookup, *_] = esp_sandbox.records("sendgrid", "/v3/messages")
    assert (lookup["method"], lookup["results"]) == ("GET", 2)
    assert lookup["query"] == {"query": f"unique_args['{RUN}']=\"run-1\"", "limit": "1000"}


def test_sendgrid_feed_answers_in_sendgrids_shape_newest_first(sendgrid, template_id, esp_sandbox):
    sendgrid.send_batch(batch(["a@example.com"], "run-1", remote_template_id=template_id))
    sendgrid.send_batch(batch(["b@example.com"], "run-1", remote_template_id=template_id))

    status, answer = sendgrid_feed(esp_sandbox, query=f"unique_args['{RUN}']=\"run-1\"", limit=10)

    assert status == 200
    assert [m["to_email"] for m in answer["messages"]] == ["b@example.com", "a@example.com"]
    first = answer["messages"][0]
    assert set(first) == {
        "msg_id",
        "from_email",
        "subject",
        "to_email",
        "status",
        "opens_count",
        "clicks_count",
        "last_event_time",
    }
    assert (first["from_email"], first["status"]) == ("returns@shop.example", "delivered")
    _, by_address = sendgrid_feed(esp_sandbox, query='to_email="a@example.com"', limit=5)
    assert [m["to_email"] for m in by_address["messages"]] == ["a@example.com"]
    _, recent = sendgrid_feed(esp_sandbox, limit=1)
    assert [m["to_email"] for m in recent["messages"]] == ["b@example.com"]


@pytest.mark.parametrize("limit", [0, 1001, "x"])
def test_sendgrid_feed_refuses_a_limit_outside_1_to_1000(esp_sandbox, limit):
    status, answer = sendgrid_feed(esp_sandbox, limit=limit)

    assert status == 400
    assert answer["errors"][0]["field"] == "limit"


def test_sendgrid_feed_matches_every_clause_and_refuses_other_queries(
    sendgrid, template_id, esp_sandbox
):
    sendgrid.send_batch(
        batch(["a@example.com", "b@example.com"], "run-1", remote_template_id=template_id)
    )

    _, both = sendgrid_feed(
        esp_sandbox, query=f'unique_args[\'{RUN}\']="run-1" AND to_email="B@example.com"'
    )
    status, answer = sendgrid_feed(esp_sandbox, query="subject LIKE '%x%'")

    assert [m["to_email"] for m in both["messages"]] == ["b@example.com"]
    assert (status, answer["errors"][0]["field"]) == (400, "query")


def test_sendgrid_sandbox_mode_mail_is_not_in_the_feed(make_account, esp_sandbox):
    client = client_for(make_account("sendgrid", sandbox_mode=True))
    template_id = client.push_template(
        TemplateContent(name="B", slug="b", subject="Hi", html="<p>x</p>", text="")
    ).remote_id

    client.send_batch(batch(["a@example.com"], "run-1", remote_template_id=template_id))

    assert client.accepted_recipients(RUN, "run-1") == set()


def test_sendgrid_1000_results_are_an_incomplete_lookup(sendgrid, template_id, esp_sandbox):
    sendgrid.send_batch(batch(addresses("r", 1000), "run-1", remote_template_id=template_id))

    error = provider_error(lambda: sendgrid.accepted_recipients(RUN, "run-1"))

    assert "incomplete" in str(error)
    assert error.permanent is True  # asking again gets the same full page
    assert len(sendgrid.accepted_recipients(CORRELATION_KEY, "c-999")) == 1


def test_sendgrid_a_revoked_key_is_a_401_without_the_key(make_account):
    key = "SG.revoked.key-0007"
    client = client_for(make_account("sendgrid", api_key=key))

    error = provider_error(lambda: client.accepted_recipients(RUN, "run-1"))

    assert error.status == 401
    assert error.permanent is True
    assert key not in str(error) + repr(error)


def test_sendgrid_without_the_activity_add_on_is_a_403(make_account):
    client = client_for(make_account("sendgrid", api_key="SG.noactivity.key-0008"))

    error = provider_error(lambda: client.accepted_recipients(RUN, "run-1"))

    assert (error.status, error.permanent) == (403, True)
    assert "access forbidden" in str(error)


# --- Mandrill ----------------------------------------------------------------------------------
@pytest.fixture
def mandrill(make_account):
    return client_for(make_account("mailchimp_transactional"))


def test_mandrill_batch_carries_the_custom_args_as_message_metadata(mandrill, esp_sandbox):
    mandrill.send_batch(batch(["a@example.com"], "run-1", subject="Hi", html="<p>{{n}}</p>"))

    [record] = esp_sandbox.records("mandrill")
    message = record["body"]["message"]
    assert message["metadata"] == {RUN: "run-1"}
    assert message["recipient_metadata"] == [
        {"rcpt": "a@example.com", "values": {CORRELATION_KEY: "c-0"}}
    ]


def test_mandrill_accepted_recipients_are_exactly_that_runs(mandrill, esp_sandbox):
    emails = ["A@Example.com", "b@example.com", "c+reject@example.com", "not-an-address"]
    mandrill.send_batch(batch(emails, "run-1", subject="Hi", html="<p>{{n}}</p>"))
    mandrill.send_batch(batch(["d@example.com"], "run-2", subject="Hi", html="<p>x</p>"))

    # The rejected one is searchable but was not taken; the invalid one is not even stored.
    assert mandrill.accepted_recipients(RUN, "run-1") == {"a@example.com", "b@example.com"}
    assert mandrill.accepted_recipients(RUN, "run-2") == {"d@example.com"}
    assert mandrill.accepted_recipients(CORRELATION_KEY, "c-1") == {"b@example.com"}
    search = esp_sandbox.records("mandrill")[2]
    assert search["path"] == "/api/1.3/messages/search.json"
    assert search["body"] == {"query": f"u_{RUN}:run-1", "limit": 1000}


def test_mandrill_search_answers_in_mandrills_shape(mandrill, esp_sandbox):
    mandrill.send_batch(batch(["a@example.com"], "run-1", subject="Hi", html="<p>x</p>"))

    [entry] = mandrill._call("messages", "search", {"query": "email:a@example.com"})

    assert entry["email"] == "a@example.com"
    assert entry["state"] == "sent"
    assert entry["metadata"] == {RUN: "run-1", CORRELATION_KEY: "c-0"}
    assert (entry["sender"], entry["subject"]) == ("returns@shop.example", "Hi")
    assert entry["_id"]
    assert isinstance(entry["ts"], int)


def test_mandrill_search_refuses_a_limit_over_1000(mandrill):
    error = provider_error(
        lambda: mandrill._call("messages", "search", {"query": "*", "limit": 1001})
    )

    assert (error.code, error.permanent) == ("ValidationError", True)


def test_mandrill_1000_results_are_an_incomplete_lookup(mandrill, esp_sandbox):
    mandrill.send_batch(batch(addresses("r", 1000), "run-1", subject="Hi", html="<p>x</p>"))

    error = provider_error(lambda: mandrill.accepted_recipients(RUN, "run-1"))

    assert "incomplete" in str(error)
    assert error.permanent is True  # asking again gets the same full page


def test_mandrill_allows_20_searches_a_minute(mandrill, esp_sandbox):
    for _ in range(20):
        mandrill.accepted_recipients(RUN, "run-1")

    error = provider_error(lambda: mandrill.accepted_recipients(RUN, "run-1"))

    assert (error.status, error.code, error.permanent) == (429, "Too_Many_Requests", False)


def test_mandrill_a_revoked_key_fails_without_the_key(make_account):
    key = "md-revoked-key-0010"
    client = client_for(make_account("mailchimp_transactional", api_key=key))

    error = provider_error(lambda: client.accepted_recipients(RUN, "run-1"))

    assert (error.code, error.permanent) == ("Invalid_Key", True)
    assert key not in str(error) + repr(error)


# --- Mailchimp Marketing -----------------------------------------------------------------------
@pytest.fixture
def marketing(make_account):
    client = client_for(make_account("mailchimp_marketing", reply_to="help@shop.example"))
    client.member_upsert(email="a@x.example")
    return client


def ready_campaign(client) -> str:
    campaign_id = client.campaign_create(subject="Your refund")
    client.campaign_set_content(campaign_id=campaign_id, html="<p>R</p>", text="R")
    return campaign_id


def test_campaign_status_before_and_after_send(marketing, esp_sandbox):
    campaign_id = ready_campaign(marketing)
    assert marketing.campaign_status(campaign_id) == "save"

    marketing.campaign_send(campaign_id=campaign_id)

    assert marketing.campaign_status(campaign_id) == "sent"
    campaigns = esp_sandbox.state["mailchimp"][MARKETING_KEY]["campaigns"]
    assert campaigns[campaign_id]["status"] == "sent"


def test_campaign_status_after_schedule(marketing):
    campaign_id = ready_campaign(marketing)
    when = (datetime.now(UTC) + timedelta(days=1)).replace(minute=15, second=0, microsecond=0)

    marketing.campaign_schedule(campaign_id=campaign_id, send_at=when)

    assert marketing.campaign_status(campaign_id) == "schedule"


def test_campaign_status_of_an_unknown_campaign_is_a_404(marketing):
    error = provider_error(lambda: marketing.campaign_status("nope"))

    assert (error.status, error.permanent) == (404, True)
