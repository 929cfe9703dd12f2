"""Mailchimp Transactional (Mandrill) webhooks: HMAC signature checks and `mandrill_events`
parsing into NormalizedEvents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tracemalloc
import types
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlencode

import pytest
import requests
from django.utils.datastructures import CaseInsensitiveMapping

from providers.exceptions import ProviderConfigurationError
from providers.fields import UndecryptableSecret
from providers.models import ProviderAccount
from providers.sandbox import mandrill_events
from providers.sandbox.webhooks import WebhookTarget
from providers.webhooks import WebhookForged, WebhookMalformed, WebhookTooLarge, parse, verify
from providers.webhooks.types import NormalizedEvent, ParsedBatch, SkippedEvent
from tests.providers.webhook_receiver import receiving

KIND = "mailchimp_transactional"
WEBHOOK_KEY = "Mx3k-webhook-key-0001"
URL = "https://returns.example/webhooks/mandrill/3/"
FORM = "application/x-www-form-urlencoded"
NOW = 1_700_000_000
DOC_AT = datetime(2016, 4, 19, 19, 47, 26, tzinfo=UTC)  # 1461095246, the docs' samples


@pytest.fixture
def account() -> ProviderAccount:
    return ProviderAccount(kind=KIND, webhook_secret=WEBHOOK_KEY)


def posted(events: list, *, key: str = WEBHOOK_KEY, url: str = URL) -> tuple[bytes, dict]:
    """Body and headers as Mandrill posts them, signed by the sandbox's own signer."""
    events_json = json.dumps(events)
    body = urlencode({"mandrill_events": events_json}).encode("ascii")
    return body, {"X-Mandrill-Signature": mandrill_events.sign(key, url, events_json)}


def forged_reason(account, body: bytes, headers: dict, *, url: str = URL) -> str:
    with pytest.raises(WebhookForged) as caught:
        verify(
            account, body=body, headers=CaseInsensitiveMapping(headers), url=url, url_secret=None
        )
    reason = str(caught.value)
    assert WEBHOOK_KEY not in reason
    return reason


def parse_events(events: list) -> list[NormalizedEvent]:
    body = urlencode({"mandrill_events": json.dumps(events)}).encode("ascii")
    batch = parse(KIND, body=body, content_type=FORM)
    assert batch.skipped == []
    return batch.events


# --- verify ------------------------------------------------------------------------------------
SEND = {"event": "send", "ts": NOW, "_id": "id1", "msg": {"email": "a@x.example"}}
MISMATCH = "signature does not match the body, key and webhook URL"


def test_a_post_the_sandbox_signed_verifies(account):
    body, headers = posted([SEND])

    assert verify(account, body=body, headers=headers, url=URL, url_secret=None) is None


@pytest.mark.parametrize("name", ["x-mandrill-signature", "X-Mailchimp-Signature"])
def test_the_header_name_may_differ_in_case_or_be_the_newer_alias(account, name):
    body, headers = posted([SEND])

    accepted = verify(
        account,
        body=body,
        headers={name: headers["X-Mandrill-Signature"]},
        url=URL,
        url_secret=None,
    )

    assert accepted is None  # a forged one raises WebhookForged


def test_every_post_field_is_signed_sorted_by_name(account):
    # Signed as documented: url, then each field sorted by name as name + value.
    signed = URL + "a2" + "mandrill_events[]" + "z1"
    digest = hmac.new(WEBHOOK_KEY.encode(), signed.encode(), hashlib.sha1).digest()
    headers = {"X-Mandrill-Signature": base64.b64encode(digest).decode()}

    body = b"z=1&mandrill_events=%5B%5D&a=2"

    assert verify(account, body=body, headers=headers, url=URL, url_secret=None) is None
    assert forged_reason(account, body + b"&b=3", headers) == MISMATCH


@pytest.mark.parametrize(
    "url",
    [
        "https://returns.example/webhooks/mandrill/3",  # trailing slash dropped
        "https://returns.example/webhooks/mandrill/3//",
        "http://returns.example/webhooks/mandrill/3/",
        "https://returns.example/webhooks/mandrill/4/",
        "https://returns.example/webhooks/mandrill/3/?x=1",
        "https://user:pw@returns.example/webhooks/mandrill/3/",
        "",
    ],
)
def test_a_signature_for_another_url_is_forged(account, url):
    body, headers = posted([SEND])

    reason = forged_reason(account, body, headers, url=url)

    assert reason == MISMATCH
    assert "pw" not in reason


def test_a_trailing_slash_mandrill_did_not_sign_is_forged(account):
    body, headers = posted([SEND], url="https://returns.example/hooks/mandrill")

    reason = forged_reason(account, body, headers, url="https://returns.example/hooks/mandrill/")

    assert reason == MISMATCH


def test_a_signature_by_another_key_is_forged(account):
    body, headers = posted([SEND], key="some-other-webhook-key")

    assert forged_reason(account, body, headers) == MISMATCH


def test_an_altered_body_is_forged(account):
    body, headers = posted([SEND])
    altered = body.replace(b"a%40x.example", b"b%40x.example")

    assert altered != body
    assert forged_reason(account, altered, headers) == MISMATCH


@pytest.mark.parametrize("headers", [{}, {"X-Mandrill-Signature": ""}, {"X-Other": "sig"}])
def test_a_post_without_a_signature_is_forged(account, headers):
    body, _ = posted([SEND])

    assert forged_reason(account, body, headers) == "X-Mandrill-Signature header missing"


@pytest.mark.parametrize(
    "given",
    [
        "é not base64",
        "c2hvcnQ=",  # base64, but not of 20 bytes
        "!" * 28,
        base64.b64encode(hashlib.sha256(b"x").digest()).decode(),  # 32 bytes: not SHA-1
        base64.b64encode(b"\x01" * 20).decode() + " ",
    ],
    ids=["not-base64", "short", "28-not-base64", "sha256", "trailing-space"],
)
def test_a_signature_not_shaped_as_mandrills_is_forged(account, given):
    body, _ = posted([SEND])

    reason = forged_reason(account, body, {"X-Mandrill-Signature": given})

    assert reason == "X-Mandrill-Signature is not a base64 HMAC-SHA1 digest"


def signed_bytes(signed: bytes, *, key: str = WEBHOOK_KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), signed, hashlib.sha1).digest()
    return {"X-Mandrill-Signature": base64.b64encode(digest).decode()}


def test_a_body_that_is_not_utf8_is_signed_as_its_bytes_and_then_malformed(account):
    # Mandrill signs what PHP sees: bytes. Verified, the body is still not one we can read.
    body = b"mandrill_events=%FF"
    headers = signed_bytes(URL.encode() + b"mandrill_events\xff")

    assert verify(account, body=body, headers=headers, url=URL, url_secret=None) is None
    assert forged_reason(account, b"mandrill_events=%FE", headers) == MISMATCH
    with pytest.raises(WebhookMalformed, match="body is not form-encoded UTF-8"):
        parse(KIND, body=body, content_type=FORM)


def reference_signature(body: bytes, *, url: str = URL) -> dict[str, str]:
    """As documented and as anymail computes it: parse the form, then url + each sorted field
    as name + value (a repeated name keeps its last value)."""
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signed = url + "".join(name + fields[name] for name in sorted(fields))
    return signed_bytes(signed.encode())


SLICE = 64 * 1024


@pytest.mark.parametrize(
    "body",
    [
        b"b=2&a=1",
        b"a=1&a=2&a=3",  # the last value counts
        b"a=1&&b=&c&=d&",  # empty fields skipped, blank values and names kept
        b"x+y=a+b%2Bc%20d&%C3%A9t%C3%A9=%E2%82%AC",  # + is a space, escapes decoded
        "é=ü&ä=1".encode(),  # raw UTF-8, not escaped
        b"a=\\x41\\\\%5Cx41\\N{DASH}\\u0041%5C%5C&%5Cn=\\",  # backslashes are data
        # Long values, with escapes across every place a slice can end.
        *(
            b"mandrill_events=" + b"x" * (SLICE - 16 + shift) + b"%5B%22%E2%82%AC%22%5D" * 9
            for shift in range(-4, 4)
        ),
        b"mandrill_events=" + b"%41" * (3 * SLICE),
    ],
    ids=lambda body: f"{len(body)}-bytes-{hashlib.sha256(body).hexdigest()[:6]}",
)
def test_the_signature_over_the_raw_body_is_the_documented_one(account, body):
    headers = reference_signature(body)

    assert verify(account, body=body, headers=headers, url=URL, url_secret=None) is None
    assert forged_reason(account, body + b"&z=1", headers) == MISMATCH


@pytest.mark.parametrize("body", [b"a=%zz", b"a=%4", b"a=%", b"%G1=1", b"a=%41%2"])
def test_a_percent_escape_mandrill_would_not_send_is_forged(account, body):
    # Python's parser would keep it as text; Mandrill always escapes as %XY.
    reason = forged_reason(account, body, reference_signature(body))

    assert reason == "the body has a % escape Mandrill would not send"


def test_more_form_fields_than_mandrill_sends_are_refused_before_the_signature():
    body = b"&".join(b"f%d=1" % n for n in range(17))
    account = ProviderAccount(kind=KIND, webhook_secret=WEBHOOK_KEY)

    with pytest.raises(WebhookTooLarge, match=r"^more than 16 form fields$") as caught:
        verify(account, body=body, headers=reference_signature(body), url=URL, url_secret=None)

    assert caught.value.limits == {"limit_fields": 16}
    sixteen = b"&".join(b"f%d=1" % n for n in range(16))
    verify(account, body=sixteen, headers=reference_signature(sixteen), url=URL, url_secret=None)


def test_a_body_over_the_limit_is_refused(account):
    body = b"mandrill_events=" + b"x" * (8 * 1024 * 1024 - 15)

    with pytest.raises(WebhookTooLarge, match=f"^body over {8 * 1024 * 1024} bytes$"):
        verify(account, body=body, headers=reference_signature(body), url=URL, url_secret=None)


def test_a_long_field_name_is_not_mandrills(account):
    body = b"n" * 257 + b"=1"

    assert forged_reason(account, body, reference_signature(body)) == (
        "a form field name is over 256 bytes"
    )


def test_a_forged_body_is_checked_without_copying_it(account):
    # 8 MiB less a little, in one field: the signature is computed slice by slice, so checking
    # it allocates a small part of the body, whatever its size (the form parser would copy it
    # several times over: as text, as a field value, joined into the signed string, encoded).
    body = b"mandrill_events=" + b"%5B" * (8 * 1024 * 1024 // 3 - 10)
    headers = {"X-Mandrill-Signature": base64.b64encode(b"\0" * 20).decode()}

    tracemalloc.start()
    try:
        reason = forged_reason(account, body, headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert reason == MISMATCH
    assert peak < len(body) // 16


def test_without_a_configured_key_everything_is_forged():
    body, headers = posted([SEND])

    reason = forged_reason(ProviderAccount(kind=KIND, webhook_secret=""), body, headers)

    assert reason == "no webhook secret configured for the account"


def test_a_key_that_cannot_be_decrypted_is_our_error_not_a_forgery():
    account = ProviderAccount(kind=KIND, name="md", webhook_secret=UndecryptableSecret("gAAAAAx"))
    body, headers = posted([SEND])

    with pytest.raises(ProviderConfigurationError, match="cannot be decrypted"):
        verify(account, body=body, headers=headers, url=URL, url_secret=None)


# --- parse: what the sandbox sends -------------------------------------------------------------
def test_every_sandbox_event_kind_maps_to_our_vocabulary(monkeypatch):
    monkeypatch.setattr(mandrill_events, "time", types.SimpleNamespace(time=lambda: NOW))
    entry = {"_id": "5f1c0a", "email": "a@x.example", "status": "sent"}
    message = {
        "from_email": "returns@shop.example",
        "subject": "Your refund",
        "html": '<p><a href="https://shop.example/r/1">track</a></p>',
        "metadata": {"rm_correlation_id": "shared", "shop": "eu"},
        "recipient_metadata": [{"rcpt": "a@x.example", "values": {"rm_correlation_id": "m-1"}}],
    }
    kinds = ["send", "deferral", "hard_bounce", "soft_bounce", "open", "click", "spam", "unsub"]
    raw = mandrill_events.build_events(entry, message, None, [*kinds, "reject"])
    # The hard bounce's deny-list entry follows it (mapped in the deny-list tests below).
    assert [r.get("type") for r in raw if "event" not in r] == ["blacklist"]
    raw = [r for r in raw if "event" in r]

    parsed = parse_events(raw)

    ua = "Mozilla/5.0 (sandbox)"
    expected = [
        ("sent", "send", {}),
        ("deferred", "deferral", {"reason": "451 4.3.0 try again later"}),
        (
            "bounced",
            "hard_bounce",
            {"bounce_kind": "hard", "reason": "smtp;550 5.1.1 user unknown"},
        ),
        (
            "bounced",
            "soft_bounce",
            {"bounce_kind": "soft", "reason": "smtp;452 4.2.2 mailbox full"},
        ),
        ("opened", "open", {"user_agent": ua}),
        ("clicked", "click", {"user_agent": ua, "url": "https://shop.example/r/1"}),
        ("complained", "spam", {}),
        ("unsubscribed", "unsub", {}),
        ("rejected", "reject", {}),
    ]
    assert parsed == [
        NormalizedEvent(
            type=type_,
            provider_event=provider_event,
            # A person's actions come HUMAN_DELAY after the send.
            occurred_at=datetime.fromtimestamp(
                NOW + offset + (60 if provider_event in ("open", "click", "spam", "unsub") else 0),
                UTC,
            ),
            recipient="a@x.example",
            correlation_id="m-1",
            provider_message_id="5f1c0a",
            **fields,
        )
        for offset, (type_, provider_event, fields) in enumerate(expected)
    ]
    assert [event.raw for event in parsed] == raw


def test_the_sandbox_over_real_sockets_posts_what_verify_and_parse_accept(esp_sandbox):
    key = "md-sandbox-key-0002"
    with receiving() as receiver:
        url = receiver.url("/webhooks/mandrill/3/?account=3")
        esp_sandbox.set_webhook_target("mandrill", key, WebhookTarget(url, WEBHOOK_KEY, delay=0))
        message = {
            "from_email": "returns@shop.example",
            "subject": "Your refund",
            "html": "<p>Refunded.</p>",
            "to": [{"email": "b+bounce@x.example"}],
            "metadata": {"rm_correlation_id": "m-7"},
        }
        sent = requests.post(
            f"{esp_sandbox.url}/mandrill/api/1.0/messages/send.json",
            data=json.dumps({"key": key, "message": message}),
            timeout=10,
        ).json()
        post = receiver.next_post()
    headers = CaseInsensitiveMapping(post.headers)

    verify(
        ProviderAccount(kind=KIND, webhook_secret=WEBHOOK_KEY),
        body=post.body,
        headers=headers,
        url=url,
        url_secret=None,
    )
    batch = parse(KIND, body=post.body, content_type=headers["Content-Type"])
    events = batch.events

    assert batch.skipped == []
    assert [(e.type, e.provider_event, e.bounce_kind, e.reason) for e in events] == [
        ("sent", "send", "", ""),
        ("bounced", "hard_bounce", "hard", "smtp;550 5.1.1 user unknown"),
        ("denylist_add", "blacklist.add", "hard", "smtp;550 5.1.1 user unknown"),
    ]
    assert {(e.recipient, e.correlation_id) for e in events} == {("b+bounce@x.example", "m-7")} | {
        ("b+bounce@x.example", "")
    }
    assert {e.provider_message_id for e in events[:2]} == {sent[0]["_id"]}
    assert [e.raw for e in events] == json.loads(parse_qs(post.body.decode())["mandrill_events"][0])


# --- parse: payloads as Mandrill documents them ------------------------------------------------
MESSAGE_ID = "abcdef012345789abcdef012345789"


def sample(event: str, msg: dict | None = None, **top) -> dict:
    return {
        "event": event,
        "ts": 1461095246,
        "_id": MESSAGE_ID,
        "msg": {
            "ts": 1461095211,
            "_id": MESSAGE_ID,
            "_version": "exampleaaaaaaaaaaaaaaa",
            "subject": "Webhook Test",
            "email": "recipient@example.com",
            "sender": "sender@example.com",
            "tags": ["rma"],
            "metadata": {"rm_correlation_id": "m-9", "user_id": 111},
            "state": "sent",
            "opens": [],
            "clicks": [],
            "smtp_events": [],
            **(msg or {}),
        },
        **top,
    }


def parsed_from(event: str, type_: str, **fields) -> NormalizedEvent:
    return NormalizedEvent(
        type=type_,
        provider_event=event,
        occurred_at=DOC_AT,
        recipient="recipient@example.com",
        correlation_id="m-9",
        provider_message_id=MESSAGE_ID,
        **fields,
    )


LOCATION = {"country_short": "US", "country_long": "United States", "city": "Oklahoma City"}
UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"
DOCUMENTED = [
    (sample("send"), parsed_from("send", "sent")),
    (
        sample(
            "deferral",
            {
                "state": "deferred",
                "smtp_events": [
                    {"ts": 1461095220, "type": "deferred", "diag": "451 4.3.5 Busy", "size": 0},
                    {"ts": 1461095240, "type": "deferred", "diag": "451 4.3.0 Later", "size": 0},
                ],
            },
        ),
        parsed_from("deferral", "deferred", reason="451 4.3.0 Later"),
    ),
    (
        sample(
            "hard_bounce",
            {
                "state": "bounced",
                "bounce_description": "bad_mailbox",
                "bgtools_code": 10,
                "diag": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            },
        ),
        parsed_from(
            "hard_bounce",
            "bounced",
            bounce_kind="hard",
            reason="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        ),
    ),
    (
        # No diag: the bounce description is the provider's only word.
        sample("soft_bounce", {"state": "soft-bounced", "bounce_description": "mailbox_full"}),
        parsed_from("soft_bounce", "bounced", bounce_kind="soft", reason="mailbox_full"),
    ),
    (
        sample("open", ip="127.0.0.1", user_agent=UA, location=LOCATION, user_agent_parsed={}),
        parsed_from("open", "opened", user_agent=UA),
    ),
    (
        sample("click", ip="127.0.0.1", user_agent=UA, url="http://example.com", location=LOCATION),
        parsed_from("click", "clicked", user_agent=UA, url="http://example.com"),
    ),
    (sample("spam", {"state": "spam"}), parsed_from("spam", "complained")),
    (sample("unsub", {"state": "unsub"}), parsed_from("unsub", "unsubscribed")),
    (sample("reject", {"state": "rejected"}), parsed_from("reject", "rejected")),
    (
        # Kept apart (replies), whatever address it names.
        sample("inbound", {"raw_msg": "From: a@b.example\r\n\r\nHi", "from_email": "a@b.example"}),
        parsed_from("inbound", "inbound"),
    ),
    (
        # Real captured batches carry it, though the docs list no such event.
        sample("delivered", {"state": "sent", "diag": "250 2.0.0 OK 1700000000 a1si1"}),
        parsed_from("delivered", "delivered", reason="250 2.0.0 OK 1700000000 a1si1"),
    ),
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
    assert parse_events([raw for raw, _ in DOCUMENTED]) == [e for _, e in DOCUMENTED]


DENY_LISTED = {
    "type": "blacklist",
    "action": "add",
    "reject": {
        "reason": "hard-bounce",
        "detail": " Mail server responded: 550 5.1.1 unknown",
        "last_event_at": "2014-02-01 12:43:56",
        "email": "example.webhook@mandrillapp.com",
        "created_at": "2014-01-15 11:32:19",
        "expires_at": "2014-03-01 12:43:56",
        "expired": False,
        "subaccount": None,
        "sender": None,
    },
    "ts": 1391258636,
}
RECEIVED_AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def test_a_deny_list_addition_names_the_address_and_why():
    (event,) = parse_events([DENY_LISTED])

    assert event == NormalizedEvent(
        type="denylist_add",
        provider_event="blacklist.add",
        occurred_at=datetime(2014, 2, 1, 12, 43, 56, tzinfo=UTC),
        recipient="example.webhook@mandrillapp.com",
        bounce_kind="hard",
        cause="bounced",
        reason="Mail server responded: 550 5.1.1 unknown",
    )
    assert event.raw == DENY_LISTED


@pytest.mark.parametrize(
    ("reason", "cause", "bounce_kind"),
    [
        ("hard-bounce", "bounced", "hard"),
        ("soft-bounce", "bounced", "soft"),
        ("spam", "complained", ""),
        ("unsub", "unsubscribed", ""),
        ("custom", "", ""),
        (None, "", ""),
    ],
)
def test_a_deny_list_reason_becomes_the_event_that_listed_the_address(reason, cause, bounce_kind):
    raw = {**DENY_LISTED, "reject": {"email": "a@x.example", "reason": reason}}

    (event,) = parse_events([raw])

    assert (event.type, event.cause, event.bounce_kind) == ("denylist_add", cause, bounce_kind)


def test_a_deny_list_entry_we_added_for_an_unsubscribe_stays_an_unsubscribe():
    from providers.clients.mandrill_rejects import MIRRORED_MARK

    detail = f"{MIRRORED_MARK} unsubscribed from promotional mail"
    raw = {**DENY_LISTED, "reject": {"email": "a@x.example", "reason": "custom", "detail": detail}}

    (event,) = parse_events([raw])

    assert (event.type, event.cause, event.bounce_kind) == ("denylist_add", "unsubscribed", "")


def test_a_sync_event_without_ts_is_dated_when_received():
    # As real deny-list removals come: no ts, and last_event_at is when the address last
    # bounced, not when the list changed.
    raw = {
        "type": "blacklist",
        "action": "remove",
        "reject": {
            "email": "vip@x.example",
            "reason": "hard-bounce",
            "last_event_at": "2024-03-05 14:30:00",
        },
    }
    body = urlencode({"mandrill_events": json.dumps([raw])}).encode("ascii")

    batch = parse(KIND, body=body, content_type=FORM, received_at=RECEIVED_AT)

    assert batch == ParsedBatch(
        [
            NormalizedEvent(
                type="denylist_remove",
                provider_event="blacklist.remove",
                occurred_at=RECEIVED_AT,
                recipient="vip@x.example",
                reason="hard-bounce",
            )
        ],
        [],
    )


def test_a_safe_list_change_is_kept_as_unknown():
    raw = {"type": "whitelist", "action": "add", "reject": {"email": "vip@x.example"}, "ts": NOW}

    (event,) = parse_events([raw])

    assert (event.type, event.provider_event, event.cause) == ("unknown", "whitelist.add", "")


@pytest.mark.parametrize("metadata", [[], None, "m-9"])
def test_metadata_that_is_not_an_object_carries_no_correlation_id(metadata):
    (event,) = parse_events([sample("send", {"metadata": metadata})])

    assert (event.correlation_id, event.provider_message_id) == ("", MESSAGE_ID)


def test_the_message_id_falls_back_to_msg_id():
    raw = sample("send")
    del raw["_id"]

    (event,) = parse_events([raw])

    assert event.provider_message_id == MESSAGE_ID


def test_an_empty_batch_is_no_events():
    assert parse(KIND, body=b"mandrill_events=%5B%5D", content_type=FORM) == ParsedBatch([], [])


def test_a_form_content_type_with_parameters_or_none_is_accepted():
    body = urlencode({"mandrill_events": json.dumps([sample("send")])}).encode()

    assert len(parse(KIND, body=body, content_type=f"{FORM}; charset=UTF-8").events) == 1
    assert len(parse(KIND, body=body, content_type="").events) == 1


def _form(value) -> bytes:
    return urlencode(
        {"mandrill_events": value if isinstance(value, str) else json.dumps(value)}
    ).encode()


NO_MSG = {k: v for k, v in SEND.items() if k != "msg"}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"mandrill_events=%FF", FORM, "body is not form-encoded UTF-8"),
        (b"events=%5B%5D", FORM, "no mandrill_events field"),
        (b"", FORM, "no mandrill_events field"),
        (_form("GARBAGE DATA"), FORM, "mandrill_events is not JSON"),
        (_form("[" * 100_000), FORM, "mandrill_events is not JSON"),
        (_form({"event": "send"}), FORM, "mandrill_events is not a JSON array"),
        (
            _form([SEND]),
            "application/json",
            "content type 'application/json', expected application/x-www-form-urlencoded",
        ),
        (
            _form([SEND]),
            "multipart/form-data; boundary=x",
            "content type 'multipart/form-data', expected application/x-www-form-urlencoded",
        ),
    ],
    ids=[
        "not-utf8",
        "other-field",
        "empty-body",
        "not-json",
        "too-deep",
        "object",
        "json-content-type",
        "multipart",
    ],
)
def test_a_body_not_shaped_as_documented_is_malformed(body, content_type, message):
    with pytest.raises(WebhookMalformed) as caught:
        parse(KIND, body=body, content_type=content_type)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("item", "provider_event", "reason"),
    [
        ("send", "", "not an object"),
        ({**SEND, "event": ""}, "", "no event name"),
        ({**SEND, "event": None}, "", "no event name"),
        (NO_MSG, "send", "no msg object"),
        ({**SEND, "msg": "a@x.example"}, "send", "no msg object"),
        ({**SEND, "msg": {"subject": "Hi"}}, "send", "no msg.email"),
        ({**SEND, "msg": {"email": 7}}, "send", "no msg.email"),
        (
            {**NO_MSG, "msg": {"email": "a@x.example"}, "ts": None},
            "send",
            "not a unix timestamp: None",
        ),
        ({**SEND, "ts": "1461095246"}, "send", "not a unix timestamp: '1461095246'"),
        ({"action": "add", "reject": {"email": "a@x.example"}}, "", "neither an event nor a type"),
        (
            {"type": "blacklist", "action": "add", "reject": {"email": 1}},
            "blacklist.add",
            "no reject.email",
        ),
        ({"type": "blacklist", "action": "remove"}, "blacklist.remove", "no reject.email"),
        (
            {"type": "blacklist", "reject": {"email": "a@x.example"}, "ts": "yesterday"},
            "blacklist",
            "not a unix timestamp: 'yesterday'",
        ),
    ],
    ids=[
        "string-event",
        "empty-name",
        "null-name",
        "no-msg",
        "string-msg",
        "no-email",
        "numeric-email",
        "null-ts",
        "string-ts",
        "neither",
        "sync-numeric-email",
        "sync-no-entry",
        "sync-bad-ts",
    ],
)
def test_an_event_lacking_what_we_need_is_skipped_and_the_rest_kept(item, provider_event, reason):
    other = {**SEND, "_id": "id2", "msg": {"email": "b@x.example"}}

    batch = parse(KIND, body=_form([SEND, item, other]), content_type=FORM)

    assert [event.recipient for event in batch.events] == ["a@x.example", "b@x.example"]
    assert batch.skipped == [SkippedEvent(1, provider_event, reason)]
