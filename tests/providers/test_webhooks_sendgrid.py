"""SendGrid Event Webhook: ECDSA signature checks and parsing into NormalizedEvents."""

from __future__ import annotations

import base64
import json
import random
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils.datastructures import CaseInsensitiveMapping

from providers.models import ProviderAccount
from providers.sandbox.sendgrid_events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_events,
    event_body,
    new_signing_key,
    public_key_text,
    signed_headers,
)
from providers.sandbox.webhooks import WebhookTarget
from providers.webhooks import WebhookForged, WebhookMalformed, parse, verify, verify_headers
from providers.webhooks.types import NormalizedEvent, ParsedBatch, SkippedEvent
from tests.conftest import TEST_KEYS
from tests.providers.webhook_receiver import receiving

URL = "https://returns.example/webhooks/sendgrid/1/"
NOW = 1_700_000_000
AT = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # NOW
SG_AT = datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)  # 1513299569, the docs' samples
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
BOUNCED = "550 5.1.1 The email account that you tried to reach does not exist."
BLOCKED = "550 5.7.1 Message rejected due to local policy (sandbox)."
DEFERRED = "451 4.7.1 Temporarily deferred, try again later (sandbox)"


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return new_signing_key()


@pytest.fixture
def account(signing_key) -> ProviderAccount:
    return ProviderAccount(kind="sendgrid", webhook_verification_key=public_key_text(signing_key))


def forged_reason(account: ProviderAccount, body: bytes, headers) -> str:
    with pytest.raises(WebhookForged) as caught:
        verify(
            account, body=body, headers=CaseInsensitiveMapping(headers), url=URL, url_secret=None
        )
    return str(caught.value)


def parse_events(events: list) -> list[NormalizedEvent]:
    batch = parse("sendgrid", body=json.dumps(events).encode(), content_type="application/json")
    assert batch.skipped == []
    return batch.events


# --- verify ------------------------------------------------------------------------------------
BODY = event_body(
    [{"email": "a@x.example", "timestamp": NOW, "event": "delivered", "sg_event_id": "e1"}]
)


def test_a_batch_the_sandbox_signed_verifies(account, signing_key):
    body = event_body(sandbox_events(["a+click@x.example", "b+bounce@x.example"]))
    headers = CaseInsensitiveMapping(signed_headers(signing_key, body))

    assert verify(account, body=body, headers=headers, url=URL, url_secret=None) is None


def test_header_names_are_matched_whatever_their_case(account, signing_key):
    headers = {k.lower(): v for k, v in signed_headers(signing_key, BODY).items()}

    assert verify(account, body=BODY, headers=headers, url=URL, url_secret=None) is None


def test_a_key_pasted_with_pem_armour_is_accepted_too(signing_key):
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    account = ProviderAccount(kind="sendgrid", webhook_verification_key=pem.decode())
    headers = signed_headers(signing_key, BODY)

    assert verify(account, body=BODY, headers=headers, url=URL, url_secret=None) is None


MISMATCH = "signature does not match the body, timestamp and key"


def _without(name):
    return lambda headers, body: ({k: v for k, v in headers.items() if k != name}, body)


def _with(name, value):
    return lambda headers, body: ({**headers, name: value}, body)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(_without(SIGNATURE_HEADER), f"{SIGNATURE_HEADER} header missing", id="no-sig"),
        pytest.param(_without(TIMESTAMP_HEADER), f"{TIMESTAMP_HEADER} header missing", id="no-ts"),
        pytest.param(_with(SIGNATURE_HEADER, ""), f"{SIGNATURE_HEADER} header missing", id="empty"),
        pytest.param(
            _with(SIGNATURE_HEADER, base64.b64encode(b"\x30\x06garbage").decode()),
            MISMATCH,
            id="garbage-signature",
        ),
        pytest.param(_with(SIGNATURE_HEADER, "not base64!"), "signature is not base64", id="b64"),
        pytest.param(_with(SIGNATURE_HEADER, "MEUCIQ"), "signature is not base64", id="padding"),
        pytest.param(_with(SIGNATURE_HEADER, "MEUCé=="), "signature is not base64", id="non-ascii"),
        pytest.param(
            lambda headers, body: (headers, body.replace(b"delivered", b"delivereD")),
            MISMATCH,
            id="altered-body",
        ),
        pytest.param(
            # Same events, re-serialised: the signature covers the raw bytes.
            lambda headers, body: (headers, json.dumps(json.loads(body)).encode()),
            MISMATCH,
            id="reserialised-body",
        ),
        pytest.param(
            lambda headers, body: (
                {**headers, TIMESTAMP_HEADER: str(int(headers[TIMESTAMP_HEADER]) - 1)},
                body,
            ),
            MISMATCH,
            id="altered-timestamp",
        ),
        pytest.param(
            _with(SIGNATURE_HEADER, base64.b64encode(b"\x30" * 73).decode()),
            "signature is not an ECDSA P-256 signature",
            id="too-long-for-p256",
        ),
        pytest.param(
            _with(SIGNATURE_HEADER, base64.b64encode(b"\x30\x05").decode()),
            "signature is not an ECDSA P-256 signature",
            id="too-short",
        ),
        pytest.param(
            _with(SIGNATURE_HEADER, "A" * 101),
            "signature is not an ECDSA P-256 signature",
            id="overlong-header",
        ),
        pytest.param(_with(TIMESTAMP_HEADER, "17e8"), "timestamp is not unix seconds", id="ts-e"),
        pytest.param(_with(TIMESTAMP_HEADER, "-60"), "timestamp is not unix seconds", id="ts-neg"),
        pytest.param(
            _with(TIMESTAMP_HEADER, "\u0661\u0667\u0660\u0660"),  # Arabic-Indic digits
            "timestamp is not unix seconds",
            id="ts-not-ascii",
        ),
    ],
)
def test_a_tampered_request_is_forged(account, signing_key, tamper, reason):
    headers, body = tamper(signed_headers(signing_key, BODY), BODY)

    assert forged_reason(account, body, headers) == reason


# --- the timestamp: a body signed long ago is a replay, one signed for the future a forgery ----
SIGNED_AT = 1_800_000_000
STALE = "timestamp is more than 600 s away from our clock"


@pytest.mark.parametrize(
    ("seconds_later", "reason"),
    [
        (0, None),
        (600, None),
        (-600, None),
        (601, STALE),
        (-601, STALE),
        (3 * 365 * 86_400, STALE),  # a body signed three years ago
    ],
)
def test_a_signed_timestamp_must_be_within_the_tolerance_of_now(
    account, signing_key, seconds_later, reason
):
    headers = signed_headers(signing_key, BODY, at=SIGNED_AT)
    now = SIGNED_AT + seconds_later

    if reason is None:
        verify(account, body=BODY, headers=headers, url=URL, url_secret=None, now=now)
    else:
        with pytest.raises(WebhookForged, match=f"^{reason}$"):
            verify(account, body=BODY, headers=headers, url=URL, url_secret=None, now=now)


def test_the_tolerance_is_the_setting(account, signing_key, settings):
    settings.WEBHOOK_TIMESTAMP_TOLERANCE = 30
    headers = signed_headers(signing_key, BODY, at=SIGNED_AT)

    verify(account, body=BODY, headers=headers, url=URL, url_secret=None, now=SIGNED_AT + 30)
    with pytest.raises(WebhookForged, match=r"^timestamp is more than 30 s away from our clock$"):
        verify(account, body=BODY, headers=headers, url=URL, url_secret=None, now=SIGNED_AT + 31)


def test_a_stale_timestamp_is_refused_from_the_headers_alone(account, signing_key):
    headers = signed_headers(signing_key, BODY, at=SIGNED_AT)

    with pytest.raises(WebhookForged, match=f"^{STALE}$"):
        verify_headers(account, headers=headers, url_secret=None, now=SIGNED_AT + 3600)
    verify_headers(account, headers=headers, url_secret=None, now=SIGNED_AT)


def test_a_signature_by_another_key_is_forged(account):
    headers = signed_headers(new_signing_key(), BODY)

    assert forged_reason(account, BODY, headers) == MISMATCH


def test_a_valid_signature_of_another_body_is_forged(account, signing_key):
    headers = signed_headers(signing_key, BODY + b" ")

    assert forged_reason(account, BODY, headers) == MISMATCH


@pytest.mark.parametrize("key", ["", "  \n"])
def test_without_a_configured_key_everything_is_forged(signing_key, key):
    account = ProviderAccount(kind="sendgrid", webhook_verification_key=key)

    reason = forged_reason(account, BODY, signed_headers(signing_key, BODY))

    assert reason == "no webhook verification key configured for the account"


def _der(public_key) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("not a key!", "not a base64 DER public key"),
        (base64.b64encode(b"random bytes, not DER").decode(), "not a base64 DER public key"),
        (
            _der(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()),
            "not a P-256 (ECDSA) public key",
        ),
        (
            _der(ec.generate_private_key(ec.SECP384R1()).public_key()),
            "not a P-256 (ECDSA) public key",
        ),
    ],
    ids=["text", "not-der", "rsa", "p384"],
)
def test_an_unusable_configured_key_is_forged(signing_key, key, problem):
    account = ProviderAccount(kind="sendgrid", webhook_verification_key=key)

    reason = forged_reason(account, BODY, signed_headers(signing_key, BODY))

    assert reason == f"the configured verification key is unusable: {problem}"


def test_smtp_accounts_have_no_webhooks(signing_key):
    account = ProviderAccount(kind="smtp", webhook_verification_key=public_key_text(signing_key))

    reason = forged_reason(account, BODY, signed_headers(signing_key, BODY))

    assert reason == "'smtp' accounts receive no webhooks"


# --- parse: what the sandbox sends -------------------------------------------------------------
def sandbox_events(emails: list[str]) -> list[dict]:
    body = {
        "personalizations": [
            {"to": [{"email": email}], "custom_args": {"rm_correlation_id": f"m-{n}"}}
            for n, email in enumerate(emails)
        ],
        "categories": ["refund_issued"],
        "content": [{"type": "text/html", "value": '<a href="https://shop.example/r/1">x</a>'}],
    }
    return build_events(body, "MID", rates={}, rng=random.Random(0), now=NOW)  # noqa: S311


def test_every_sandbox_event_kind_maps_to_our_vocabulary():
    emails = [
        "a+bounce@x.example",
        "b+blocked@x.example",
        "c+dropped@x.example",
        "d+deferred@x.example",
        "e+click@x.example",
        "f+spamreport@x.example",
        "g+unsubscribe@x.example",
        "h+machineopen@x.example",
    ]
    raw = sandbox_events(emails)

    parsed = parse("sendgrid", body=event_body(raw), content_type="application/json").events

    delivered = {"reason": "250 2.0.0 OK (sandbox)"}
    expected = [
        # (recipient number, type, SendGrid event, other fields)
        (0, "queued", "processed", {}),
        (0, "bounced", "bounce", {"bounce_kind": "hard", "reason": BOUNCED}),
        (1, "queued", "processed", {}),
        (1, "bounced", "bounce", {"bounce_kind": "soft", "reason": BLOCKED}),
        (2, "queued", "processed", {}),
        (2, "rejected", "dropped", {"reason": "Bounced Address"}),
        (3, "queued", "processed", {}),
        (3, "deferred", "deferred", {"reason": DEFERRED}),
        (4, "queued", "processed", {}),
        (4, "delivered", "delivered", delivered),
        (4, "opened", "open", {"user_agent": UA}),
        (4, "clicked", "click", {"user_agent": UA, "url": "https://shop.example/r/1"}),
        (5, "queued", "processed", {}),
        (5, "delivered", "delivered", delivered),
        (5, "complained", "spamreport", {}),
        (6, "queued", "processed", {}),
        (6, "delivered", "delivered", delivered),
        (6, "unsubscribed", "unsubscribe", {}),
        (7, "queued", "processed", {}),
        (7, "delivered", "delivered", delivered),
        (7, "opened", "open", {"user_agent": "Mozilla/5.0", "machine_open": True}),
    ]
    human = ("open", "click", "spamreport", "unsubscribe")
    assert parsed == [
        NormalizedEvent(
            type=type_,
            provider_event=provider_event,
            # A person's actions come a minute (the sandbox's HUMAN_DELAY) after the delivery.
            occurred_at=AT + timedelta(minutes=1)
            if fields.get("machine_open") is None and provider_event in human
            else AT,
            recipient=emails[n],
            correlation_id=f"m-{n}",
            provider_message_id=f"MID.filterdrecv-sandbox-{n}-6553F100-{n}.0",
            provider_event_id=raw[position]["sg_event_id"],  # random: taken from what was sent
            **fields,
        )
        for position, (n, type_, provider_event, fields) in enumerate(expected)
    ]
    assert len({event.provider_event_id for event in parsed}) == 21  # random, but each its own
    assert [event.raw for event in parsed] == raw


def test_a_3000_event_batch_is_parsed_whole():
    raw = sandbox_events([f"r{n}+click@x.example" for n in range(750)])

    parsed = parse("sendgrid", body=event_body(raw), content_type="application/json").events

    assert len(parsed) == 3000
    assert [e.type for e in parsed[-4:]] == ["queued", "delivered", "opened", "clicked"]
    assert parsed[-1].correlation_id == "m-749"


def test_the_sandbox_over_real_sockets_posts_what_verify_and_parse_accept(esp_sandbox):
    key = TEST_KEYS["sendgrid"]
    mail = {
        "personalizations": [
            {"to": [{"email": "a+bounce@x.example"}], "custom_args": {"rm_correlation_id": "m-7"}}
        ],
        "from": {"email": "returns@shop.example"},
        "subject": "Your refund",
        "content": [{"type": "text/plain", "value": "Refunded."}],
    }
    with receiving() as receiver:
        esp_sandbox.set_webhook_target("sendgrid", key, WebhookTarget(receiver.url(), delay=0))
        request = urllib.request.Request(
            f"{esp_sandbox.base_url('sendgrid')}/v3/mail/send",
            data=json.dumps(mail).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            message_id = response.headers["X-Message-Id"]
        post = receiver.next_post()
    account = ProviderAccount(
        kind="sendgrid", webhook_verification_key=esp_sandbox.apps["sendgrid"].public_key()
    )
    headers = CaseInsensitiveMapping(post.headers)

    verify(account, body=post.body, headers=headers, url=receiver.url(), url_secret=None)
    events = parse("sendgrid", body=post.body, content_type=headers["Content-Type"]).events

    assert [(e.type, e.provider_event, e.bounce_kind) for e in events] == [
        ("queued", "processed", ""),
        ("bounced", "bounce", "hard"),
    ]
    assert {(e.recipient, e.correlation_id) for e in events} == {("a+bounce@x.example", "m-7")}
    assert events[1].provider_message_id.startswith(f"{message_id}.filterdrecv")


# --- parse: payloads as SendGrid documents them ------------------------------------------------
def sample(event: str, **fields) -> dict:
    return {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": "cat facts",
        "sg_event_id": f"sg-{event}-id",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "rm_correlation_id": "m-42",
        **fields,
    }


def parsed_from(event: str, **fields) -> NormalizedEvent:
    return NormalizedEvent(
        type=fields.pop("type"),
        provider_event=event,
        occurred_at=SG_AT,
        recipient="example@test.com",
        correlation_id="m-42",
        provider_message_id="14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        provider_event_id=f"sg-{event}-id",
        **fields,
    )


DOCUMENTED = [
    (
        sample("processed", pool={"name": "new_MY_test", "id": 210}),
        parsed_from("processed", type="queued"),
    ),
    (
        sample("dropped", reason="Bounced Address", status="5.0.0"),
        parsed_from("dropped", type="rejected", reason="Bounced Address"),
    ),
    (
        sample("delivered", response="250 OK", ip="168.1.1.1", tls=0),
        parsed_from("delivered", type="delivered", reason="250 OK"),
    ),
    (
        sample("deferred", response="400 try again later", attempt="5"),
        parsed_from("deferred", type="deferred", reason="400 try again later"),
    ),
    (
        # Newer docs put a reason on deferrals too: reason first, as for bounces and drops.
        sample("deferred", response="400 try again later", reason="421 too many connections"),
        parsed_from("deferred", type="deferred", reason="421 too many connections"),
    ),
    (
        sample("bounce", reason="500 unknown recipient", status="5.0.0", type="bounce"),
        parsed_from("bounce", type="bounced", bounce_kind="hard", reason="500 unknown recipient"),
    ),
    (
        sample("bounce", reason="550 blocked", status="5.7.1", type="blocked"),
        parsed_from("bounce", type="bounced", bounce_kind="soft", reason="550 blocked"),
    ),
    (
        # No reason text: the enhanced status code is all there is.
        sample("bounce", status="5.1.1", type="bounce"),
        parsed_from("bounce", type="bounced", bounce_kind="hard", reason="5.1.1"),
    ),
    (
        sample("open", useragent="Mozilla/4.0 (compatible; MSIE 6.1)", ip="255.255.255.255"),
        parsed_from("open", type="opened", user_agent="Mozilla/4.0 (compatible; MSIE 6.1)"),
    ),
    (
        sample(
            "click",
            useragent="Mozilla/4.0",
            ip="255.255.255.255",
            url="http://www.sendgrid.com/",
            url_offset={"index": 0, "type": "html"},
        ),
        parsed_from(
            "click", type="clicked", user_agent="Mozilla/4.0", url="http://www.sendgrid.com/"
        ),
    ),
    (sample("spamreport"), parsed_from("spamreport", type="complained")),
    (sample("unsubscribe"), parsed_from("unsubscribe", type="unsubscribed")),
    (
        # The unsubscribe page's URL is not a click.
        sample(
            "group_unsubscribe", asm_group_id=10, useragent="Mozilla/4.0", url="https://u.example/"
        ),
        parsed_from(
            "group_unsubscribe", type="unsubscribed", user_agent="Mozilla/4.0", list_id="10"
        ),
    ),
    (
        sample("group_resubscribe", asm_group_id=10, useragent="Mozilla/4.0"),
        parsed_from("group_resubscribe", type="subscribed", user_agent="Mozilla/4.0", list_id="10"),
    ),
    (sample("machine_opened_v2"), parsed_from("machine_opened_v2", type="unknown")),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    DOCUMENTED,
    ids=[f"{n}-{raw['event']}" for n, (raw, _) in enumerate(DOCUMENTED)],
)
def test_each_documented_event_maps_exactly(raw, expected):
    (event,) = parse_events([raw])

    assert event == expected
    assert event.raw == raw


def test_a_whole_documented_batch_keeps_its_order():
    raws = [raw for raw, _ in DOCUMENTED]

    assert parse_events(raws) == [expected for _, expected in DOCUMENTED]


def test_without_sg_message_id_the_smtp_id_names_the_message():
    raw = sample("bounce", type="bounce", reason="550 no such user")
    del raw["sg_message_id"]

    (event,) = parse_events([raw])

    assert event.provider_message_id == "<14c5d75ce93.dfd.64b469@ismtpd-555>"


def test_missing_optional_fields_are_empty_not_errors():
    (event,) = parse_events([{"email": "a@x.example", "timestamp": 1513299569, "event": "bounce"}])

    assert event == NormalizedEvent(
        type="bounced",
        provider_event="bounce",
        occurred_at=SG_AT,
        recipient="a@x.example",
        bounce_kind="hard",
    )


def test_an_unknown_event_may_have_no_recipient():
    raw = {"event": "account_status_change", "type": "compliance_suspend", "timestamp": 1513299569}

    (event,) = parse_events([raw])

    assert event == NormalizedEvent(
        type="unknown", provider_event="account_status_change", occurred_at=SG_AT, recipient=""
    )


def test_an_empty_batch_is_no_events():
    assert parse("sendgrid", body=b"[]", content_type="application/json") == ParsedBatch([], [])


@pytest.mark.parametrize(
    "content_type", ["", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_content_types_are_accepted(content_type):
    body = json.dumps([sample("delivered")]).encode()

    assert len(parse("sendgrid", body=body, content_type=content_type).events) == 1


OK = {"email": "a@x.example", "timestamp": 1513299569, "event": "delivered"}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"not json", "application/json", "body is not JSON"),
        (b'["\xff"]', "application/json", "body is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "body is not JSON"),
        (b'{"event": "delivered"}', "application/json", "body is not a JSON array of events"),
        (b"3", "application/json", "body is not a JSON array of events"),
        (b"null", "application/json", "body is not a JSON array of events"),
        (
            json.dumps([OK]).encode(),
            "application/x-www-form-urlencoded",
            "content type 'application/x-www-form-urlencoded', expected application/json",
        ),
    ],
    ids=["not-json", "not-utf8", "too-deep", "object", "number", "null", "form-content-type"],
)
def test_a_body_not_shaped_as_documented_is_malformed(body, content_type, message):
    with pytest.raises(WebhookMalformed) as caught:
        parse("sendgrid", body=body, content_type=content_type)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("item", "provider_event", "reason"),
    [
        (1, "", "not an object"),
        (None, "", "not an object"),
        (["a"], "", "not an object"),
        ({**OK, "event": ""}, "", "no event name"),
        ({"email": "a@x.example", "timestamp": 1}, "", "no event name"),
        ({**OK, "event": 3}, "", "no event name"),
        ({"timestamp": 1513299569, "event": "delivered"}, "delivered", "no recipient email"),
        ({**OK, "email": ["a@x.example"]}, "delivered", "no recipient email"),
        ({**OK, "timestamp": None}, "delivered", "not a unix timestamp: None"),
        ({**OK, "timestamp": "1513299569"}, "delivered", "not a unix timestamp: '1513299569'"),
        ({**OK, "timestamp": True}, "delivered", "not a unix timestamp: True"),
        (
            {**OK, "timestamp": 10**20},
            "delivered",
            "timestamp out of range: 100000000000000000000",
        ),
    ],
    ids=[
        "number",
        "null",
        "array",
        "empty-name",
        "no-name",
        "numeric-name",
        "no-email",
        "email-list",
        "no-timestamp",
        "string-timestamp",
        "bool-timestamp",
        "huge-timestamp",
    ],
)
def test_an_event_lacking_what_we_need_is_skipped_and_the_rest_kept(item, provider_event, reason):
    other = {**OK, "email": "b@x.example"}
    body = json.dumps([OK, item, other]).encode()

    batch = parse("sendgrid", body=body, content_type="application/json")

    assert [event.recipient for event in batch.events] == ["a@x.example", "b@x.example"]
    assert batch.skipped == [SkippedEvent(1, provider_event, reason)]
    assert batch.total == 3


@pytest.mark.parametrize("kind", ["smtp", "postmark"])
def test_parse_refuses_kinds_without_webhooks(kind):
    with pytest.raises(ValueError, match=f"no webhooks for provider kind '{kind}'"):
        parse(kind, body=b"[]", content_type="application/json")
