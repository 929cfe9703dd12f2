"""The Mailchimp Transactional (Mandrill) part of the ESP sandbox, spoken to over raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs

import pytest
import requests

from providers.sandbox.core import Fault
from providers.sandbox.webhooks import WebhookTarget
from tests.providers.webhook_receiver import receiving

KEY = "md-sandbox-key-0001"
WEBHOOK_KEY = "whk-secret-0001"


@pytest.fixture
def call(esp_sandbox):
    def post(path: str, body: dict, *, version: str = "1.3") -> requests.Response:
        url = f"{esp_sandbox.url}/mandrill/api/{version}/{path}.json"
        return requests.post(url, data=json.dumps(body), timeout=10)

    return post


@pytest.fixture
def receiver():
    with receiving() as receiver:
        yield receiver


def message(*emails: str, **extra) -> dict:
    return {
        "from_email": "returns@shop.example",
        "subject": "Your return",
        "html": '<p>Hi <a href="https://shop.example/r/1">track</a></p>',
        "to": [{"email": e} for e in emails],
        **extra,
    }


def signature(secret: str, url: str, events_json: str) -> str:
    digest = hmac.new(
        secret.encode(), (url + "mandrill_events" + events_json).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


@pytest.mark.parametrize("version", ["1.0", "1.3"])
def test_ping_answers_the_json_string_pong_under_both_api_versions(call, version):
    response = call("users/ping", {"key": KEY}, version=version)

    assert response.status_code == 200
    assert response.json() == "PONG!"


def test_ping2_and_info(call):
    assert call("users/ping2", {"key": KEY}).json() == {"PING": "PONG!"}
    info = call("users/info", {"key": KEY}).json()
    assert info["username"] == "sandbox"
    assert set(info["stats"]) == {"today", "last_7_days", "all_time"}


@pytest.mark.parametrize(
    "body",
    [{}, {"key": "sk-not-mandrill"}, {"key": "md-revoked-0001"}, {"key": 42}],
    ids=["missing", "unknown-prefix", "revoked", "not-a-string"],
)
def test_a_bad_key_is_an_http_500_invalid_key(call, body):
    response = call("users/ping", body)

    assert response.status_code == 500
    assert response.json() == {
        "status": "error",
        "code": -1,
        "name": "Invalid_Key",
        "message": "Invalid API key",
    }


def test_a_bad_payload_is_an_http_500_validation_error(call, esp_sandbox):
    response = call("messages/send", {"key": KEY, "message": {"from_email": "a@shop.example"}})

    assert response.status_code == 500
    body = response.json()
    assert (body["status"], body["code"], body["name"]) == ("error", -2, "ValidationError")
    assert body["message"].startswith("Validation error: ")
    assert esp_sandbox.records("mandrill") == []  # refused calls are not recorded


@pytest.mark.parametrize(
    "bad",
    [
        {"tags": ["_reserved"]},
        {"tags": ["x" * 51]},
        {"merge_language": "jinja"},
        {"merge_vars": [{"rcpt": "a@x.example", "vars": [{"name": "_X", "content": 1}]}]},
        {"from_email": "not-an-address"},
    ],
    ids=["underscore-tag", "long-tag", "merge-language", "underscore-var", "bad-sender"],
)
def test_invalid_message_fields_are_validation_errors(call, bad):
    response = call("messages/send", {"key": KEY, "message": message("a@x.example", **bad)})

    assert response.status_code == 500
    assert response.json()["name"] == "ValidationError"


def test_send_answers_one_entry_per_recipient_and_records_the_body_without_the_key(
    call, esp_sandbox
):
    body = {
        "key": KEY,
        "message": message("ok@x.example", "a+reject@x.example", "b+unsub@x.example", "nope"),
    }
    response = call("messages/send", body)

    assert response.status_code == 200
    results = response.json()
    assert [(r["email"], r["status"], r["reject_reason"]) for r in results] == [
        ("ok@x.example", "sent", None),
        ("a+reject@x.example", "rejected", "hard-bounce"),
        ("b+unsub@x.example", "rejected", "unsub"),
        ("nope", "invalid", None),
    ]
    assert all(len(r["_id"]) == 32 and r["queued_reason"] is None for r in results)
    (record,) = esp_sandbox.records("mandrill")
    assert record["path"] == "/api/1.3/messages/send.json"
    assert record["body"] == {"message": body["message"]}
    assert record["results"] == results
    assert KEY not in json.dumps(record)


def test_more_than_ten_recipients_are_queued(call):
    emails = [f"r{i}@x.example" for i in range(11)]
    results = call("messages/send", {"key": KEY, "message": message(*emails)}).json()

    assert {(r["status"], r["queued_reason"]) for r in results} == {
        ("queued", "multiple-recipients")
    }


def test_templates_are_unique_by_name_and_must_exist(call):
    added = call("templates/add", {"key": KEY, "name": "Return Label", "code": "<p>x</p>"})
    assert added.status_code == 200
    assert added.json()["slug"] == "return-label"
    assert added.json()["published_at"] is not None  # publish defaults to true

    again = call("templates/add", {"key": KEY, "name": "Return Label"})
    assert again.status_code == 500
    assert again.json()["name"] == "Invalid_Template"

    unknown = call("templates/update", {"key": KEY, "name": "nope", "code": "x"})
    assert unknown.status_code == 500
    assert unknown.json() == {
        "status": "error",
        "code": 5,
        "name": "Unknown_Template",
        "message": 'No such template "nope"',
    }


def test_a_draft_template_is_published_on_request_and_only_then_sendable(call):
    call("templates/add", {"key": KEY, "name": "draft", "code": "<p>v1</p>", "publish": False})
    send = {
        "key": KEY,
        "template_name": "draft",
        "template_content": [],
        "message": message("a@x.example"),
    }

    assert call("messages/send-template", send).json()["name"] == "Unknown_Template"

    published = call("templates/publish", {"key": KEY, "name": "draft"}).json()
    assert published["publish_code"] == "<p>v1</p>"
    assert call("messages/send-template", send).json()[0]["status"] == "sent"
    assert call("templates/info", {"key": KEY, "name": "draft"}).json()["code"] == "<p>v1</p>"


def test_templates_belong_to_their_key(call):
    call("templates/add", {"key": KEY, "name": "mine"})

    response = call("templates/info", {"key": "md-another-key", "name": "mine"})

    assert response.json()["name"] == "Unknown_Template"


def test_an_unknown_method_is_refused(call):
    response = call("messages/teleport", {"key": KEY})

    assert response.status_code == 500
    assert response.json()["name"] == "ValidationError"


@pytest.mark.parametrize(
    ("kind", "status", "name"),
    [
        ("429", 429, "Too_Many_Requests"),
        ("500", 500, "GeneralError"),
        ("503", 503, "ServiceUnavailable"),
    ],
)
def test_injected_faults_use_mandrills_error_shape(call, esp_sandbox, kind, status, name):
    esp_sandbox.faults.add(KEY, Fault(kind, times=1, retry_after=9))

    response = call("users/ping", {"key": KEY})

    assert response.status_code == status
    assert response.json()["status"] == "error"
    assert response.json()["name"] == name
    assert (response.headers.get("Retry-After") == "9") == (kind == "429")


def test_webhook_events_are_signed_and_carry_merged_metadata(call, esp_sandbox, receiver):
    url = receiver.url("/hooks/mandrill?account=7")
    esp_sandbox.set_webhook_target("mandrill", KEY, WebhookTarget(url, WEBHOOK_KEY, delay=0))
    body = {
        "key": KEY,
        "message": message(
            "a+click@x.example",
            "b+bounce@x.example",
            tags=["rma"],
            metadata={"rm_correlation_id": "shared", "shop": "eu"},
            recipient_metadata=[
                {"rcpt": "A+Click@x.example", "values": {"rm_correlation_id": "m-1"}}
            ],
        ),
    }
    results = call("messages/send", body).json()

    post = receiver.next_post()
    assert post.path == "/hooks/mandrill?account=7"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(post.body.decode())
    assert list(form) == ["mandrill_events"]
    events_json = form["mandrill_events"][0]
    assert post.headers["X-Mandrill-Signature"] == signature(WEBHOOK_KEY, url, events_json)
    events = json.loads(events_json)
    assert [(e["event"], e["msg"]["email"]) for e in events[:5]] == [
        ("send", "a+click@x.example"),
        ("open", "a+click@x.example"),
        ("click", "a+click@x.example"),
        ("send", "b+bounce@x.example"),
        ("hard_bounce", "b+bounce@x.example"),
    ]
    # The hard bounce puts the address on the deny list: a sync event, undated.
    assert events[5:] == [
        {
            "type": "blacklist",
            "action": "add",
            "reject": {
                "reason": "hard-bounce",
                "detail": "smtp;550 5.1.1 user unknown",
                "last_event_at": events[5]["reject"]["created_at"],
                "email": "b+bounce@x.example",
                "created_at": events[5]["reject"]["created_at"],
                "expires_at": None,
                "expired": False,
                "subaccount": None,
                "sender": None,
            },
        }
    ]
    click, bounce = events[2], events[4]
    assert click["_id"] == click["msg"]["_id"] == results[0]["_id"]
    assert click["url"] == "https://shop.example/r/1"
    assert click["msg"]["metadata"] == {"rm_correlation_id": "m-1", "shop": "eu"}
    assert click["msg"]["tags"] == ["rma"]
    assert click["msg"]["sender"] == "returns@shop.example"
    assert bounce["msg"]["metadata"] == {"rm_correlation_id": "shared", "shop": "eu"}
    assert bounce["msg"]["state"] == "bounced"
    assert bounce["msg"]["diag"].startswith("smtp;550")


def test_a_tampered_body_does_not_verify(call, esp_sandbox, receiver):
    url = receiver.url("/hooks/mandrill")
    esp_sandbox.set_webhook_target("mandrill", KEY, WebhookTarget(url, WEBHOOK_KEY, delay=0))
    call("messages/send", {"key": KEY, "message": message("a@x.example")})

    post = receiver.next_post()
    events_json = parse_qs(post.body.decode())["mandrill_events"][0]
    tampered = events_json.replace("a@x.example", "b@x.example")

    assert post.headers["X-Mandrill-Signature"] == signature(WEBHOOK_KEY, url, events_json)
    assert post.headers["X-Mandrill-Signature"] != signature(WEBHOOK_KEY, url, tampered)
    assert post.headers["X-Mandrill-Signature"] != signature("other-key", url, events_json)


def test_rejected_recipients_get_a_reject_event_and_rates_draw_others(call, esp_sandbox, receiver):
    target = WebhookTarget(receiver.url(), WEBHOOK_KEY, delay=0, rates={"open": 1.0})
    esp_sandbox.set_webhook_target("mandrill", KEY, target)
    call("messages/send", {"key": KEY, "message": message("plain@x.example", "r+reject@x.example")})

    events = json.loads(parse_qs(receiver.next_post().body.decode())["mandrill_events"][0])

    assert [(e["event"], e["msg"]["state"]) for e in events] == [
        ("send", "sent"),
        ("open", "sent"),
        ("reject", "rejected"),
    ]


def test_events_are_posted_at_most_1000_per_post(call, esp_sandbox, receiver):
    esp_sandbox.set_webhook_target("mandrill", KEY, WebhookTarget(receiver.url(), "k", delay=0))
    emails = [f"r{i}@x.example" for i in range(1500)]
    call("messages/send", {"key": KEY, "message": message(*emails)})

    sizes = sorted(
        len(json.loads(parse_qs(receiver.next_post().body.decode())["mandrill_events"][0]))
        for _ in range(2)
    )

    assert sizes == [500, 1000]


def test_test_keys_are_accepted_but_post_no_webhooks(call, esp_sandbox):
    for key in (KEY, "test-key-0001"):
        target = WebhookTarget("http://127.0.0.1:9/never", WEBHOOK_KEY, delay=60)
        esp_sandbox.set_webhook_target("mandrill", key, target)

    live = call("messages/send", {"key": KEY, "message": message("a@x.example")})
    assert live.json()[0]["status"] == "sent"
    assert esp_sandbox.webhooks.pending() == 1

    test = call("messages/send", {"key": "test-key-0001", "message": message("a@x.example")})
    assert test.json()[0]["status"] == "sent"
    assert esp_sandbox.webhooks.pending() == 1  # nothing more queued for the test key
    assert len(esp_sandbox.records("mandrill")) == 2


def test_head_is_answered_for_url_checks(esp_sandbox):
    response = requests.head(f"{esp_sandbox.url}/mandrill/api/1.0/users/ping.json", timeout=10)

    assert response.status_code == 200
