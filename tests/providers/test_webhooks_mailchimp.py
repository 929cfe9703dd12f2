"""Mailchimp Marketing audience webhooks: the URL secret check and parsing the form-encoded,
PHP-bracketed event into a NormalizedEvent."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.utils.datastructures import CaseInsensitiveMapping

from providers.exceptions import ProviderConfigurationError
from providers.fields import UndecryptableSecret
from providers.models import ProviderAccount
from providers.sandbox.mailchimp import audience_event_fields
from providers.sandbox.webhooks import WebhookTarget
from providers.webhooks import WebhookForged, WebhookMalformed, parse, verify
from providers.webhooks.types import NormalizedEvent, ParsedBatch, SkippedEvent
from tests.conftest import TEST_KEYS
from tests.providers.webhook_receiver import receiving

KIND = "mailchimp_marketing"
SECRET = "u7Vq-url-secret-0001"
FORM = "application/x-www-form-urlencoded"
FIRED_AT = "2024-03-05 14:30:00"
AT = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)


@pytest.fixture
def account() -> ProviderAccount:
    return ProviderAccount(kind=KIND, webhook_secret=SECRET)


def check(account, url_secret):
    verify(account, body=b"type=subscribe", headers={}, url="", url_secret=url_secret)


def form(fields) -> bytes:
    return urlencode(fields).encode("ascii")


def parse_form(fields) -> list[NormalizedEvent]:
    batch = parse(KIND, body=form(fields), content_type=FORM)
    assert batch.skipped == []
    return batch.events


# --- verify ------------------------------------------------------------------------------------
def test_the_configured_secret_verifies(account):
    assert check(account, SECRET) is None


@pytest.mark.parametrize(
    ("url_secret", "reason"),
    [
        (None, "webhook URL secret missing"),
        ("", "webhook URL secret missing"),
        ("u7Vq-url-secret-0002", "webhook URL secret does not match"),
        (SECRET[:-1], "webhook URL secret does not match"),
        (SECRET + "1", "webhook URL secret does not match"),
        (SECRET.upper(), "webhook URL secret does not match"),
        ("é" + SECRET, "webhook URL secret does not match"),
    ],
    ids=["none", "empty", "wrong", "prefix", "longer", "case", "non-ascii"],
)
def test_a_wrong_or_missing_secret_is_forged(account, url_secret, reason):
    with pytest.raises(WebhookForged) as caught:
        check(account, url_secret)

    assert str(caught.value) == reason
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("url_secret", [None, "", SECRET])
def test_without_a_configured_secret_everything_is_forged(url_secret):
    account = ProviderAccount(kind=KIND, webhook_secret="")

    with pytest.raises(WebhookForged, match=r"^no webhook secret configured for the account$"):
        check(account, url_secret)


def test_a_secret_that_cannot_be_decrypted_is_our_error_not_a_forgery():
    account = ProviderAccount(kind=KIND, name="mc", webhook_secret=UndecryptableSecret("gAAAAAx"))

    with pytest.raises(ProviderConfigurationError, match="cannot be decrypted"):
        check(account, SECRET)


def test_a_mailchimp_secret_does_not_open_a_mandrill_account():
    # Same field, other kind: Mandrill needs a signature, not the URL secret.
    account = ProviderAccount(kind="mailchimp_transactional", webhook_secret=SECRET)

    with pytest.raises(WebhookForged, match=r"^X-Mandrill-Signature header missing$"):
        check(account, SECRET)


# --- parse: what the sandbox sends -------------------------------------------------------------
MEMBER = {
    "id": hashlib.md5(b"jo@x.example", usedforsecurity=False).hexdigest(),
    "list_id": "aud001",
    "email_address": "jo@x.example",
    "email_type": "html",
    "web_id": 123,
    "merge_fields": {"FNAME": "Jo", "LNAME": "", "ADDRESS": {"addr1": ""}},
    "ip_opt": "127.0.0.1",
}


def sandbox_fields(event: str) -> list[tuple[str, str]]:
    """The sandbox's fields, with fired_at pinned (it stamps the current time)."""
    fields = audience_event_fields(event, MEMBER)
    return [(name, FIRED_AT if name == "fired_at" else value) for name, value in fields]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            "unsubscribe",
            NormalizedEvent(
                type="unsubscribed",
                provider_event="unsubscribe",
                occurred_at=AT,
                recipient="jo@x.example",
                reason="manual",
                member_status="unsubscribed",
            ),
        ),
        (
            "cleaned",
            NormalizedEvent(
                type="bounced",
                provider_event="cleaned",
                occurred_at=AT,
                recipient="jo@x.example",
                bounce_kind="hard",
                reason="hard",
                member_status="cleaned",
            ),
        ),
        (
            "profile",
            NormalizedEvent(
                type="unknown",
                provider_event="profile",
                occurred_at=AT,
                recipient="jo@x.example",
                profile={"EMAIL": "jo@x.example", "FNAME": "Jo", "LNAME": ""},
            ),
        ),
    ],
)
def test_every_sandbox_event_kind_maps_to_our_vocabulary(event, expected):
    fields = sandbox_fields(event)

    (parsed,) = parse_form(fields)

    assert parsed == expected
    assert parsed.raw == dict(fields)


def test_the_sandbox_over_real_sockets_posts_what_verify_and_parse_accept(esp_sandbox):
    key = TEST_KEYS["mailchimp_marketing"]
    email = "kim+cleaned@x.example"
    with receiving() as receiver:
        url = receiver.url(f"/webhooks/mailchimp/5/?secret={SECRET}")
        esp_sandbox.set_webhook_target("mailchimp", key, WebhookTarget(url, delay=0))
        member_hash = hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()
        response = requests.put(
            f"{esp_sandbox.url}/mailchimp/3.0/lists/aud001/members/{member_hash}",
            data=json.dumps({"email_address": email, "status_if_new": "subscribed"}),
            auth=("user", key),
            timeout=10,
        )
        post = receiver.next_post()
    headers = CaseInsensitiveMapping(post.headers)
    url_secret = parse_qs(urlsplit(post.path).query)["secret"][0]

    assert response.status_code == 200
    verify(
        ProviderAccount(kind=KIND, webhook_secret=SECRET),
        body=post.body,
        headers=headers,
        url=url,
        url_secret=url_secret,
    )
    (event,) = parse(KIND, body=post.body, content_type=headers["Content-Type"]).events

    fired_at = parse_qs(post.body.decode())["fired_at"][0]
    assert event == NormalizedEvent(
        type="bounced",
        provider_event="cleaned",
        occurred_at=datetime.strptime(fired_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC),
        recipient=email,
        bounce_kind="hard",
        reason="hard",
        member_status="cleaned",
    )


# --- parse: payloads as Mailchimp documents them -----------------------------------------------
SUBSCRIBE = [
    ("type", "subscribe"),
    ("fired_at", "2009-03-26 21:35:57"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", "api@mailchimp.com"),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp"),
    ("data[merges][LNAME]", "API"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
    ("data[ip_signup]", "10.20.10.30"),
]
DOC_AT = datetime(2009, 3, 26, 21, 35, 57, tzinfo=UTC)


def documented(type_: str, data: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("type", type_), ("fired_at", "2009-03-26 21:35:57"), *data]


DOCUMENTED = [
    (
        SUBSCRIBE,
        NormalizedEvent(
            type="subscribed",
            provider_event="subscribe",
            occurred_at=DOC_AT,
            recipient="api@mailchimp.com",
            member_status="subscribed",
        ),
    ),
    (
        documented(
            "unsubscribe",
            [
                ("data[action]", "unsub"),
                ("data[reason]", "manual"),
                ("data[id]", "8a25ff1d98"),
                ("data[list_id]", "a6b5da1054"),
                ("data[email]", "api+unsub@mailchimp.com"),
                ("data[email_type]", "html"),
                ("data[merges][EMAIL]", "api+unsub@mailchimp.com"),
                ("data[ip_opt]", "10.20.10.30"),
                ("data[campaign_id]", "cb398d21d2"),
            ],
        ),
        NormalizedEvent(
            type="unsubscribed",
            provider_event="unsubscribe",
            occurred_at=DOC_AT,
            recipient="api+unsub@mailchimp.com",
            reason="manual",
            member_status="unsubscribed",
        ),
    ),
    (
        documented(
            "cleaned",
            [
                ("data[list_id]", "a6b5da1054"),
                ("data[campaign_id]", "4fjk2ma9xd"),
                ("data[reason]", "hard"),
                ("data[email]", "api+cleaned@mailchimp.com"),
            ],
        ),
        NormalizedEvent(
            type="bounced",
            provider_event="cleaned",
            occurred_at=DOC_AT,
            recipient="api+cleaned@mailchimp.com",
            bounce_kind="hard",
            reason="hard",
            member_status="cleaned",
        ),
    ),
    (
        documented(
            "cleaned",
            [
                ("data[list_id]", "a6b5da1054"),
                ("data[campaign_id]", "4fjk2ma9xd"),
                ("data[reason]", "abuse"),
                ("data[email]", "api+abuse@mailchimp.com"),
            ],
        ),
        NormalizedEvent(
            type="complained",
            provider_event="cleaned",
            occurred_at=DOC_AT,
            recipient="api+abuse@mailchimp.com",
            reason="abuse",
            member_status="cleaned",
        ),
    ),
    (
        documented(
            "profile",
            [
                ("data[id]", "8a25ff1d98"),
                ("data[list_id]", "a6b5da1054"),
                ("data[email]", "api@mailchimp.com"),
                ("data[email_type]", "html"),
                ("data[merges][FNAME]", "Mailchimp"),
                ("data[ip_opt]", "10.20.10.30"),
            ],
        ),
        NormalizedEvent(
            type="unknown",
            provider_event="profile",
            occurred_at=DOC_AT,
            recipient="api@mailchimp.com",
            profile={"FNAME": "Mailchimp"},
        ),
    ),
    (
        documented(
            "upemail",
            [
                ("data[list_id]", "a6b5da1054"),
                ("data[new_id]", "51da8c3259"),
                ("data[new_email]", "api+new@mailchimp.com"),
                ("data[old_email]", "api+old@mailchimp.com"),
            ],
        ),
        NormalizedEvent(
            type="unknown",
            provider_event="upemail",
            occurred_at=DOC_AT,
            recipient="api+new@mailchimp.com",
        ),
    ),
    (
        documented(
            "campaign",
            [
                ("data[id]", "5aa2102003"),
                ("data[subject]", "Test Campaign Subject"),
                ("data[status]", "sent"),
                ("data[reason]", ""),
                ("data[list_id]", "a6b5da1054"),
            ],
        ),
        NormalizedEvent(
            type="unknown", provider_event="campaign", occurred_at=DOC_AT, recipient=""
        ),
    ),
    (
        documented("sms_subscribe", [("data[sms_phone]", "+15555550100")]),
        NormalizedEvent(
            type="unknown", provider_event="sms_subscribe", occurred_at=DOC_AT, recipient=""
        ),
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    DOCUMENTED,
    ids=[f"{n}-{f[0][1]}" for n, (f, _) in enumerate(DOCUMENTED)],
)
def test_each_documented_event_maps_exactly(fields, expected):
    (event,) = parse_form(fields)

    assert event == expected
    assert event.raw == dict(fields)  # the form fields as sent, brackets and all


def test_a_repeated_field_keeps_its_last_value_as_php_does():
    # Mailchimp's own unsubscribe sample repeats data[reason].
    fields = [*documented("unsubscribe", [("data[email]", "a@x.example")])]
    fields += [("data[reason]", "manual"), ("data[reason]", "hard")]

    (event,) = parse_form(fields)

    assert (event.type, event.reason) == ("unsubscribed", "hard")


def test_a_cleaned_event_without_a_reason_is_a_hard_bounce():
    (event,) = parse_form(documented("cleaned", [("data[email]", "a@x.example")]))

    assert (event.type, event.bounce_kind, event.reason) == ("bounced", "hard", "")


def test_a_form_content_type_with_parameters_or_none_is_accepted():
    assert len(parse(KIND, body=form(SUBSCRIBE), content_type=f"{FORM}; charset=utf-8").events) == 1
    assert len(parse(KIND, body=form(SUBSCRIBE), content_type="").events) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"type=subscribe&data%5Bemail%5D=%FF", FORM, "body is not form-encoded UTF-8"),
        (
            b'{"type": "subscribe"}',
            "application/json",
            "content type 'application/json', expected application/x-www-form-urlencoded",
        ),
    ],
    ids=["not-utf8", "json"],
)
def test_a_body_not_shaped_as_documented_is_malformed(body, content_type, message):
    with pytest.raises(WebhookMalformed) as caught:
        parse(KIND, body=body, content_type=content_type)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("body", "provider_event", "reason"),
    [
        (b"", "", "no type field"),
        (
            form([("fired_at", "2009-03-26 21:35:57"), ("data[email]", "a@x.example")]),
            "",
            "no type field",
        ),
        (form([("type", ""), ("fired_at", "2009-03-26 21:35:57")]), "", "no type field"),
        (
            form([("type", "subscribe"), ("data[email]", "a@x.example")]),
            "subscribe",
            "fired_at is not 'YYYY-MM-DD HH:MM:SS'",
        ),
        (
            form([("type", "subscribe"), ("fired_at", "2009-03-26T21:35:57Z")]),
            "subscribe",
            "fired_at is not 'YYYY-MM-DD HH:MM:SS'",
        ),
        (
            form([("type", "subscribe"), ("fired_at", "1238103357")]),
            "subscribe",
            "fired_at is not 'YYYY-MM-DD HH:MM:SS'",
        ),
        (
            form(documented("subscribe", [("data[list_id]", "a6b5da1054")])),
            "subscribe",
            "no data[email]",
        ),
        (form(documented("unsubscribe", [("data[email]", "")])), "unsubscribe", "no data[email]"),
        (form(documented("cleaned", [("data[reason]", "hard")])), "cleaned", "no data[email]"),
    ],
    ids=[
        "empty",
        "no-type",
        "empty-type",
        "no-fired-at",
        "iso-fired-at",
        "unix-fired-at",
        "subscribe-no-email",
        "unsubscribe-empty-email",
        "cleaned-no-email",
    ],
)
def test_an_event_lacking_what_we_need_is_skipped(body, provider_event, reason):
    assert parse(KIND, body=body, content_type=FORM) == ParsedBatch(
        [], [SkippedEvent(0, provider_event, reason)]
    )


def test_a_profile_update_carries_its_flat_merge_fields_only():
    fields = documented(
        "profile",
        [
            ("data[email]", "a@x.example"),
            ("data[merges][FNAME]", "Ann"),
            ("data[merges][LOCALE]", "de-DE"),
            ("data[merges][ADDRESS][addr1]", "1 Main St"),
            ("data[merges]", "not a field"),
        ],
    )

    (event,) = parse_form(fields)

    assert (event.member_status, event.profile) == ("", {"FNAME": "Ann", "LOCALE": "de-DE"})
