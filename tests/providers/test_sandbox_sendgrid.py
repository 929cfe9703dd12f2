"""The sandbox's SendGrid v3 over raw HTTP: validation, auth, errors, templates, signed events."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from providers.clients import client_for
from providers.clients.types import CORRELATION_KEY, Address, OutgoingEmail
from providers.sandbox.core import Fault
from providers.sandbox.sendgrid_events import BATCH_BYTES, build_events, outcome
from providers.sandbox.sendgrid_validation import validate_mail
from providers.sandbox.webhooks import WebhookTarget
from tests.conftest import TEST_KEYS

KEY = TEST_KEYS["sendgrid"]


def call(sandbox, path, body=None, *, key=KEY, method=None, raw: bytes | None = None):
    """(status, headers, parsed body or None) of one request to the sandbox's SendGrid."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(
        f"{sandbox.base_url('sendgrid')}{path}",
        data=data,
        headers=headers,
        method=method or ("POST" if data is not None else "GET"),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, payload = exc.code, exc.headers, exc.read()
    return status, headers, (json.loads(payload) if payload else None)


def mail(**overrides) -> dict:
    body = {
        "personalizations": [
            {"to": [{"email": "ada@example.com", "name": "Ada"}], "custom_args": {"n": "1"}}
        ],
        "from": {"email": "returns@shop.example", "name": "Shop Returns"},
        "subject": "Your return is approved",
        "content": [
            {"type": "text/plain", "value": "Approved."},
            {"type": "text/html", "value": "<p>Approved.</p>"},
        ],
    }
    body.update(overrides)
    return body


def people(count: int, start: int = 0) -> list[dict]:
    return [{"email": f"customer{n}@example.com"} for n in range(start, start + count)]


# --- mail/send: success ------------------------------------------------------------------------
def test_accepted_mail_is_202_with_message_id_rate_headers_and_a_record(esp_sandbox):
    body = mail(categories=["return_approved"])

    status, headers, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert (status, payload) == (202, None)
    message_id = headers["X-Message-Id"]
    assert len(message_id) == 22
    assert set(message_id) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert int(headers["X-RateLimit-Limit"]) > int(headers["X-RateLimit-Remaining"]) >= 0
    assert int(headers["X-RateLimit-Reset"]) > time.time() - 1
    [record] = esp_sandbox.records("sendgrid", "/v3/mail/send")
    assert record["body"] == body
    assert record["message_id"] == message_id
    assert record["sandbox_mode"] is False
    assert record["key"] == "..." + KEY[-4:]


def test_message_ids_differ_and_rate_remaining_counts_down(esp_sandbox):
    _, first, _ = call(esp_sandbox, "/v3/mail/send", mail())
    _, second, _ = call(esp_sandbox, "/v3/mail/send", mail())

    assert first["X-Message-Id"] != second["X-Message-Id"]
    assert int(second["X-RateLimit-Remaining"]) < int(first["X-RateLimit-Remaining"])


def test_sandbox_mode_is_200_recorded_and_posts_no_events(esp_sandbox):
    esp_sandbox.set_webhook_target(
        "sendgrid", KEY, WebhookTarget(url="http://127.0.0.1:9/", delay=60)
    )
    body = mail(mail_settings={"sandbox_mode": {"enable": True}})

    status, headers, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert (status, payload) == (200, None)
    [record] = esp_sandbox.records("sendgrid", "/v3/mail/send")
    assert record["sandbox_mode"] is True
    assert record["message_id"] == headers["X-Message-Id"]
    assert esp_sandbox.webhooks.pending() == 0
    # Control: the same mail outside sandbox mode queues one post.
    call(esp_sandbox, "/v3/mail/send", mail())
    assert esp_sandbox.webhooks.pending() == 1


def test_subject_may_come_from_every_personalization(esp_sandbox):
    body = mail(personalizations=[{"to": people(1), "subject": "Hi"}])
    del body["subject"]

    assert call(esp_sandbox, "/v3/mail/send", body)[0] == 202


def test_a_known_template_replaces_subject_and_content(esp_sandbox):
    _, _, template = call(esp_sandbox, "/v3/templates", {"name": "t", "generation": "dynamic"})
    body = mail(template_id=template["id"])
    del body["subject"], body["content"]

    assert call(esp_sandbox, "/v3/mail/send", body)[0] == 202


# --- mail/send: validation ---------------------------------------------------------------------
def test_1001_personalizations_get_the_real_400(esp_sandbox):
    body = mail(personalizations=[{"to": [p]} for p in people(1001)])

    status, _, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert status == 400
    assert payload == {
        "errors": [
            {
                "message": "The personalization block is limited to 1000 personalizations per API "
                "request. You have provided 1001 personalizations. Please consider splitting this "
                "into multiple requests and resending your request.",
                "field": "personalizations",
                "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
                "#message.personalizations",
            }
        ]
    }
    assert esp_sandbox.records("sendgrid") == []


def test_1000_personalizations_each_with_custom_args_are_accepted(esp_sandbox):
    # The 10,000-byte custom_args limit is per message, not summed over the request.
    body = mail(
        personalizations=[
            {"to": [p], "custom_args": {"id": "x" * 50 + str(n)}}
            for n, p in enumerate(people(1000))
        ]
    )

    assert call(esp_sandbox, "/v3/mail/send", body)[0] == 202


def test_1001_recipients_over_cc_and_bcc_get_400(esp_sandbox):
    body = mail(
        personalizations=[
            {"to": people(500), "cc": people(300, 500)},
            {"to": people(100, 800), "bcc": people(101, 900)},
        ]
    )

    status, _, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert status == 400
    assert payload["errors"][0]["field"] == "personalizations"
    assert payload["errors"][0]["message"] == (
        "There is a limit of 1000 total recipients (to + cc + bcc) per request."
    )


def test_missing_from_gets_400_on_from_email(esp_sandbox):
    body = mail()
    del body["from"]

    status, _, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert status == 400
    [problem] = payload["errors"]
    assert problem["field"] == "from.email"
    assert problem["message"].startswith("The from object must be provided for every email send.")


def test_invalid_json_gets_400_bad_request(esp_sandbox):
    status, _, payload = call(esp_sandbox, "/v3/mail/send", raw=b'{"personalizations": [')

    assert status == 400
    assert payload == {"errors": [{"message": "Bad Request", "field": None, "help": None}]}


def test_body_over_30_mb_gets_413(esp_sandbox):
    html = "x" * (30 * 1024 * 1024)
    body = mail(content=[{"type": "text/html", "value": html}])

    status, _, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert status == 413
    assert payload == {"errors": [{"message": "content too large", "field": None}]}
    assert esp_sandbox.records("sendgrid") == []


def _without(key):
    def change(body):
        del body[key]

    return change


def _set(path, value):
    def change(body):
        target = body
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (_set(("personalizations",), []), "personalizations", "at least one personalization"),
        (_set(("personalizations", 0, "to"), []), "personalizations.0.to", "to parameter"),
        (
            _set(("personalizations", 0, "to"), [{"email": "not-an-address"}]),
            "personalizations.0.to.0.email",
            "valid address",
        ),
        (
            _set(("personalizations", 0, "cc"), [{"email": "ADA@example.com"}]),
            "personalizations.0.cc.0",
            "only be included once",
        ),
        (
            _set(("personalizations", 0, "to", 0, "name"), "Lovelace, Ada"),
            "personalizations.0.to.0.name",
            "; or ,",
        ),
        (_set(("from",), {"email": "nobody"}), "from.email", "valid address"),
        (_without("subject"), "subject", "subject is required"),
        (_without("content"), "content", "content parameter is required"),
        (
            _set(
                ("content",),
                [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}],
            ),
            "content",
            "text/plain content must be first",
        ),
        (_set(("content", 0, "value"), ""), "content.0.value", "at least one character"),
        (_set(("reply_to_list",), [{"email": "a@example.com"}]), "reply_to", "together"),
        (_set(("categories",), [f"c{n}" for n in range(11)]), "categories", "Too many categories"),
        (_set(("categories",), ["x" * 256]), "categories.0", "255 characters"),
        (_set(("custom_args",), {"order": 42}), "custom_args.order", "Expected: string"),
        (
            _set(("personalizations", 0, "custom_args"), {"n": 1}),
            "personalizations.0.custom_args.n",
            "Expected: string",
        ),
        (_set(("custom_args",), {"blob": "x" * 10_000}), "custom_args", "10000 bytes"),
        (
            _set(("personalizations", 0, "custom_args"), {"blob": "x" * 10_000}),
            "personalizations.0.custom_args",
            "10000 bytes",
        ),
        (_set(("asm",), {"groups_to_display": [1]}), "asm", "group_id"),
        (_set(("send_at",), int(time.time()) + 73 * 3600), "send_at", "72 hours"),
        (_set(("headers",), {"Subject": "sneaky"}), "headers.Subject", "reserved"),
        (
            _set(("template_id",), "d-0123456789abcdef0123456789abcdef"),
            "template_id",
            "template ID",
        ),
    ],
)
def test_invalid_mail_gets_400_naming_the_field(esp_sandbox, change, field, words):
    body = mail(reply_to={"email": "help@shop.example"})
    change(body)

    status, _, payload = call(esp_sandbox, "/v3/mail/send", body)

    assert status == 400, payload
    matching = [e for e in payload["errors"] if e["field"] == field]
    assert matching, payload
    assert words in matching[0]["message"]
    assert set(matching[0]) == {"message", "field", "help"}
    assert esp_sandbox.records("sendgrid") == []


def test_quoted_recipient_name_with_a_comma_is_accepted(esp_sandbox):
    body = mail(personalizations=[{"to": [{"email": "a@example.com", "name": '"Lovelace, Ada"'}]}])

    assert call(esp_sandbox, "/v3/mail/send", body)[0] == 202


# --- auth, scopes, faults ----------------------------------------------------------------------
UNAUTHORIZED = {
    "errors": [
        {
            "message": "The provided authorization grant is invalid, expired, or revoked",
            "field": None,
            "help": None,
        }
    ]
}


@pytest.mark.parametrize("key", [None, "not-a-sendgrid-key", "SG.revoked.key-0001"])
def test_missing_malformed_or_revoked_key_gets_401(esp_sandbox, key):
    status, headers, payload = call(esp_sandbox, "/v3/mail/send", mail(), key=key)

    assert (status, payload) == (401, UNAUTHORIZED)
    assert "X-RateLimit-Remaining" in headers
    assert esp_sandbox.records("sendgrid") == []


def test_key_without_mail_send_scope_gets_403_and_scopes_say_so(esp_sandbox):
    key = "SG.noscope.key-0001"

    status, _, payload = call(esp_sandbox, "/v3/mail/send", mail(), key=key)
    assert (status, payload) == (
        403,
        {"errors": [{"message": "access forbidden", "field": None, "help": None}]},
    )

    _, _, scopes = call(esp_sandbox, "/v3/scopes", key=key)
    assert "mail.send" not in scopes["scopes"]
    _, _, scopes = call(esp_sandbox, "/v3/scopes")
    assert "mail.send" in scopes["scopes"]


def test_account_endpoint(esp_sandbox):
    assert call(esp_sandbox, "/v3/user/account")[::2] == (200, {"type": "paid", "reputation": 100})


def test_unknown_path_is_404_in_sendgrid_shape(esp_sandbox):
    status, _, payload = call(esp_sandbox, "/v3/nothing/here")

    assert (status, payload) == (
        404,
        {"errors": [{"field": None, "message": "resource not found"}]},
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("429", "too many requests"),
        ("500", "internal server error"),
        ("503", "service unavailable"),
    ],
)
def test_injected_faults_use_sendgrids_error_body(esp_sandbox, kind, message):
    esp_sandbox.faults.add(KEY, Fault(kind, times=1, retry_after=9))

    status, headers, payload = call(esp_sandbox, "/v3/mail/send", mail())

    assert (status, payload) == (int(kind), {"errors": [{"field": None, "message": message}]})
    assert "X-RateLimit-Reset" in headers
    if kind == "429":
        assert headers["Retry-After"] == "9"
        assert headers["X-RateLimit-Remaining"] == "0"
    assert esp_sandbox.records("sendgrid") == []


def test_exceeding_the_rate_limit_gets_429(esp_sandbox, monkeypatch):
    monkeypatch.setattr(esp_sandbox.apps["sendgrid"], "rate_limit", 1)
    key = f"SG.ratelimited.{time.time_ns()}"

    first = call(esp_sandbox, "/v3/scopes", key=key)
    second = call(esp_sandbox, "/v3/scopes", key=key)

    assert first[0] == 200
    assert second[0] == 429
    assert second[1]["X-RateLimit-Remaining"] == "0"
    assert second[2] == {"errors": [{"field": None, "message": "too many requests"}]}


def test_signed_webhook_settings_publish_the_verification_key(esp_sandbox):
    app = esp_sandbox.apps["sendgrid"]

    _, _, plain = call(esp_sandbox, "/v3/user/webhooks/event/settings/signed")
    _, _, by_id = call(esp_sandbox, f"/v3/user/webhooks/event/settings/signed/{plain['id']}")

    assert plain == by_id == {"id": app.webhook_id, "public_key": app.public_key()}
    assert plain["public_key"].startswith("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQ")
    EventWebhook(plain["public_key"])  # loads as SendGrid's own helper expects
    status, _, _ = call(esp_sandbox, "/v3/user/webhooks/event/settings/signed/other")
    assert status == 404


# --- templates ---------------------------------------------------------------------------------
def test_dynamic_template_lifecycle(esp_sandbox):
    status, _, template = call(
        esp_sandbox, "/v3/templates", {"name": "Return approved", "generation": "dynamic"}
    )
    assert status == 201
    assert template["id"].startswith("d-")
    assert template["versions"] == []
    base = f"/v3/templates/{template['id']}/versions"

    version_body = {
        "name": "v1",
        "subject": "{{rma}} approved",
        "html_content": "<p>Hi {{name}}</p>",
        "active": 1,
    }
    status, _, first = call(esp_sandbox, base, version_body)
    assert status == 201
    assert first["active"] == 1
    assert first["plain_content"] == "Hi {{name}}"  # generated from the HTML by default
    status, _, second = call(
        esp_sandbox, base, {"name": "v2", "subject": "s", "plain_content": "p"}
    )
    assert (status, second["active"]) == (201, 0)

    status, _, edited = call(
        esp_sandbox, f"{base}/{second['id']}", {"subject": "s2"}, method="PATCH"
    )
    assert (status, edited["subject"], edited["name"]) == (200, "s2", "v2")
    status, _, activated = call(
        esp_sandbox, f"{base}/{second['id']}/activate", method="POST", raw=b""
    )
    assert (status, activated["active"]) == (200, 1)

    _, _, fetched = call(esp_sandbox, f"/v3/templates/{template['id']}")
    assert [(v["name"], v["active"]) for v in fetched["versions"]] == [("v1", 0), ("v2", 1)]
    _, _, listed = call(esp_sandbox, "/v3/templates?generations=dynamic&page_size=10")
    assert [t["id"] for t in listed["result"]] == [template["id"]]
    paths = [r["path"] for r in esp_sandbox.records("sendgrid") if r["method"] != "GET"]
    assert paths == [
        "/v3/templates",
        base,
        base,
        f"{base}/{second['id']}",
        f"{base}/{second['id']}/activate",
    ]


def test_template_api_validates_and_404s(esp_sandbox):
    assert call(esp_sandbox, "/v3/templates", {"generation": "dynamic"})[0] == 400
    assert call(esp_sandbox, "/v3/templates?generations=dynamic")[0] == 400  # page_size required
    assert call(esp_sandbox, "/v3/templates/d-missing")[0] == 404
    _, _, template = call(esp_sandbox, "/v3/templates", {"name": "t", "generation": "dynamic"})
    status, _, payload = call(
        esp_sandbox, f"/v3/templates/{template['id']}/versions", {"name": "v"}
    )
    assert status == 400
    assert payload["errors"][0]["field"] == "subject"


# --- signed event webhook ----------------------------------------------------------------------
class Receiver:
    """A tiny HTTP endpoint standing in for our webhook view: keeps every POST it gets."""

    def __init__(self):
        self.posts: queue.Queue = queue.Queue()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.put((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/sendgrid/"

    def next(self) -> tuple[dict, bytes]:
        return self.posts.get(timeout=15)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def verify(public_key: str, headers: dict, body: bytes) -> bool:
    return EventWebhook(public_key).verify_signature(
        body.decode("utf-8"),
        headers[EventWebhookHeader.SIGNATURE],
        headers[EventWebhookHeader.TIMESTAMP],
    )


@pytest.mark.django_db
def test_click_recipient_gets_signed_events_with_top_level_custom_args(
    esp_sandbox, make_account, receiver
):
    account = make_account("sendgrid")
    esp_sandbox.set_webhook_target("sendgrid", KEY, WebhookTarget(url=receiver.url, delay=0.0))
    email = OutgoingEmail(
        to=Address("a+click@x.example", "A"),
        subject="Your refund is on its way",
        html='<p><a href="https://shop.example/returns/RMA-1">Track it</a></p>',
        text="Track it: https://shop.example/returns/RMA-1",
        correlation_id="msg-123",
        categories=("refund_issued",),
    )

    result = client_for(account).send(email)
    headers, body = receiver.next()

    public_key = esp_sandbox.apps["sendgrid"].public_key()
    assert verify(public_key, headers, body)
    assert headers["Content-Type"] == "application/json"
    events = json.loads(body)
    assert [e["event"] for e in events] == ["processed", "delivered", "open", "click"]
    for event in events:
        assert event["email"] == "a+click@x.example"
        assert event[CORRELATION_KEY] == "msg-123"  # custom args arrive top level
        assert event["sg_message_id"].startswith(f"{result.provider_message_id}.filter")
        assert event["smtp-id"].startswith(f"<{result.provider_message_id}@")
        assert event["category"] == ["refund_issued"]
        assert isinstance(event["timestamp"], int)
    assert len({e["sg_event_id"] for e in events}) == 4
    assert events[1]["response"].startswith("250")
    assert events[3]["url"] == "https://shop.example/returns/RMA-1"
    assert events[2]["useragent"]
    assert events[3]["ip"]

    tampered = body.replace(b"msg-123", b"msg-999")
    assert not verify(public_key, headers, tampered)
    assert not verify(public_key, {**headers, EventWebhookHeader.TIMESTAMP: "1"}, body)


def test_magic_tokens_decide_each_recipients_events(esp_sandbox, receiver):
    esp_sandbox.set_webhook_target("sendgrid", KEY, WebhookTarget(url=receiver.url, delay=0.0))
    expected = {
        "a+bounce@x.example": ["processed", "bounce"],
        "b+dropped@x.example": ["processed", "dropped"],
        "c+deferred@x.example": ["processed", "deferred"],
        "d+open@x.example": ["processed", "delivered", "open"],
        "e+spamreport@x.example": ["processed", "delivered", "spamreport"],
        "f+unsubscribe@x.example": ["processed", "delivered", "unsubscribe"],
        "plain@x.example": ["processed", "delivered"],
    }
    body = mail(
        personalizations=[
            {"to": [{"email": e}], "custom_args": {"i": str(i)}} for i, e in enumerate(expected)
        ],
        asm={"group_id": 77},
    )
    assert call(esp_sandbox, "/v3/mail/send", body)[0] == 202

    _, raw = receiver.next()
    events = json.loads(raw)

    got: dict[str, list[str]] = {}
    for event in events:
        got.setdefault(event["email"], []).append(event["event"])
        assert event["asm_group_id"] == 77
        assert event["i"] == str(list(expected).index(event["email"]))  # custom args, top level
    assert got == expected
    bounce = next(e for e in events if e["event"] == "bounce")
    assert (bounce["type"], bounce["status"]) == ("bounce", "5.1.1")
    assert bounce["reason"]
    dropped = next(e for e in events if e["event"] == "dropped")
    assert (dropped["reason"], dropped["status"]) == ("Bounced Address", "5.0.0")
    assert next(e for e in events if e["event"] == "deferred")["attempt"] == "1"


def test_a_large_send_is_posted_in_batches_of_768_kb_as_sendgrid_does(esp_sandbox, receiver):
    esp_sandbox.set_webhook_target("sendgrid", KEY, WebhookTarget(url=receiver.url, delay=0.0))
    body = mail(
        personalizations=[
            {"to": [{"email": f"reader-{n}+click@x.example"}], "custom_args": {"m": f"{n:04}"}}
            for n in range(1000)
        ]
    )
    assert call(esp_sandbox, "/v3/mail/send", body)[0] == 202
    public_key = esp_sandbox.apps["sendgrid"].public_key()

    posts = []
    while sum(len(json.loads(raw)) for _, raw in posts) < 4000:
        posts.append(receiver.next())

    assert len(posts) > 1  # over 1 MB of events
    for headers, raw in posts:
        assert verify(public_key, headers, raw)
        assert len(raw) < BATCH_BYTES + 1024  # closed by the event that reached the size
    assert all(len(raw) >= BATCH_BYTES for _, raw in posts[:-1])
    events = [event for _, raw in posts for event in json.loads(raw)]
    assert sorted(e["m"] for e in events[::4]) == [f"{n:04}" for n in range(1000)]


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ({}, ["processed", "delivered"]),
        ({"dropped": 1.0}, ["processed", "dropped"]),
        ({"bounce": 1.0, "deferred": 1.0}, ["processed", "deferred", "bounce"]),
        ({"delivered": 0.0}, ["processed"]),
        ({"click": 1.0}, ["processed", "delivered", "open", "click"]),
        (
            {"open": 1.0, "spamreport": 1.0, "unsubscribe": 1.0},
            ["processed", "delivered", "open", "spamreport", "unsubscribe"],
        ),
    ],
)
def test_rates_pick_events_when_no_token_does(rates, expected):
    assert outcome("someone@x.example", rates, random.Random(1)) == expected  # noqa: S311


def test_rates_are_overall_probabilities():
    rng = random.Random(7)  # noqa: S311 - a seeded simulation
    rates = {"bounce": 0.1, "open": 0.5, "click": 0.2}
    runs = [outcome("x@example.com", rates, rng) for _ in range(4000)]

    def share(name):
        return sum(name in run for run in runs) / len(runs)

    assert share("bounce") == pytest.approx(0.1, abs=0.03)
    assert share("click") == pytest.approx(0.2 * 0.9, abs=0.03)
    assert share("open") == pytest.approx(0.5 * 0.9, abs=0.03)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict | list):
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            yield from _paths(child, (*path, key))


def test_no_body_shape_breaks_validation_or_event_building():
    """Every field swapped for every JSON type gets an answer (400 or accepted), never a crash."""
    base = mail(
        reply_to={"email": "r@x.example"},
        categories=["c"],
        custom_args={"a": "b"},
        headers={"X-A": "b"},
        asm={"group_id": 1, "groups_to_display": [1]},
        mail_settings={"sandbox_mode": {"enable": False}},
        send_at=1,
    )
    swaps = [None, 1, 1.5, True, "", "s", [], [1], {}, {"a": 1}, [{}], [None]]
    for path in list(_paths(base))[1:]:
        for swap in swaps:
            body = json.loads(json.dumps(base))
            target = body
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = swap
            if not validate_mail(body):
                build_events(body, "id", rates={}, rng=random.Random(0))  # noqa: S311
