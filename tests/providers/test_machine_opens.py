"""Opens no person made are flagged by the parsers: SendGrid's own flag, Apple Mail Privacy
Protection's bare user agent, and (Mandrill) an open within MACHINE_OPEN_SECONDS of sending."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from providers.webhooks import parse

NOW = 1_700_000_000
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
APPLE_PROXY = "Mozilla/5.0"


def sendgrid_open(**fields) -> dict:
    return {"event": "open", "email": "a@x.example", "timestamp": NOW, **fields}


def parse_sendgrid(*events: dict):
    body = json.dumps(list(events)).encode()
    return parse("sendgrid", body=body, content_type="application/json").events


@pytest.mark.parametrize(
    ("fields", "machine"),
    [
        ({"sg_machine_open": True, "useragent": APPLE_PROXY}, True),
        ({"sg_machine_open": "true"}, True),  # as a string, as some senders' payloads carry it
        ({"sg_machine_open": False, "useragent": GMAIL_PROXY}, False),  # Gmail: a person
        ({"useragent": APPLE_PROXY}, True),  # no flag, Apple's proxy agent
        ({"useragent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"}, False),
        ({}, False),
    ],
)
def test_sendgrid_opens_are_flagged_by_its_flag_or_apples_proxy_agent(fields, machine):
    (event,) = parse_sendgrid(sendgrid_open(**fields))

    assert event.type == "opened"
    assert event.machine_open is machine


def test_a_sendgrid_click_is_never_a_machine_open():
    (event,) = parse_sendgrid(
        {**sendgrid_open(sg_machine_open=True, useragent=APPLE_PROXY), "event": "click"}
    )

    assert (event.type, event.machine_open) == ("clicked", False)


def mandrill_open(after_send: int, user_agent: str) -> dict:
    return {
        "event": "open",
        "ts": NOW + after_send,
        "_id": "id1",
        "msg": {"ts": NOW, "_id": "id1", "email": "a@x.example"},
        "user_agent": user_agent,
        "ip": "17.58.0.1",
        "user_agent_parsed": {"type": "unknown", "ua_family": "unknown", "mobile": False},
    }


def parse_mandrill(*events: dict):
    body = urlencode({"mandrill_events": json.dumps(list(events))}).encode("ascii")
    form = "application/x-www-form-urlencoded"
    return parse("mailchimp_transactional", body=body, content_type=form).events


@pytest.mark.parametrize(
    ("after_send", "user_agent", "machine"),
    [
        (600, APPLE_PROXY, True),  # Apple's proxy, whenever it fetches
        (3, GMAIL_PROXY, True),  # within 5 s of sending: no person opens that fast
        (5, GMAIL_PROXY, True),
        (6, GMAIL_PROXY, False),
        (600, GMAIL_PROXY, False),  # Gmail's image proxy fetches when a person opens
    ],
)
def test_mandrill_opens_are_flagged_by_user_agent_or_seconds_after_sending(
    after_send, user_agent, machine
):
    (event,) = parse_mandrill(mandrill_open(after_send, user_agent))

    assert event.machine_open is machine


def test_the_seconds_rule_follows_its_setting(settings):
    settings.MACHINE_OPEN_SECONDS = 0  # off: only the agents and flags count

    (prompt, apple) = parse_mandrill(mandrill_open(1, GMAIL_PROXY), mandrill_open(1, APPLE_PROXY))

    assert (prompt.machine_open, apple.machine_open) == (False, True)
