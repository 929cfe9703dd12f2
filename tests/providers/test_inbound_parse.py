"""Inbound mail as each provider posts it, parsed into one shape (providers/webhooks/inbound.py)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from providers.sandbox.inbound import mandrill_events, mime_message, sendgrid_body
from providers.webhooks import WebhookMalformed, WebhookTooLarge
from providers.webhooks.inbound import MAX_FORM_PARTS, parse

TO = "reply+abc@reply.shop.example"


def mail():
    return mime_message(
        to=TO,
        from_="Ada Lovelace <ada@example.com>",
        subject="Re: Rückgabe",
        text="Danke schön!\n",
        headers={"Auto-Submitted": "no", "In-Reply-To": "<x@shop.example>"},
    )


@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw"])
def test_sendgrid_inbound_parse(raw):
    message = mail()
    body, content_type = sendgrid_body(message, raw=raw)

    [parsed] = parse("sendgrid", body=body, content_type=content_type)

    assert parsed.recipients == (TO,)
    assert parsed.from_address == "ada@example.com"
    assert parsed.subject == "Re: Rückgabe"
    assert parsed.text.strip() == "Danke schön!"
    assert parsed.key == str(message["Message-ID"])
    assert parsed.headers["Auto-Submitted"] == "no"
    assert parsed.headers["In-Reply-To"] == "<x@shop.example>"


def test_sendgrid_text_in_the_charset_it_names():
    boundary = "b1"
    fields = {
        "headers": "Message-ID: <1@x>\nSubject: hi\n",
        "envelope": json.dumps({"to": [TO], "from": "a@x.example"}),
        "charsets": json.dumps({"text": "iso-8859-1"}),
        "from": "a@x.example",
        "subject": "hi",
    }
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    text = b'--b1\r\nContent-Disposition: form-data; name="text"\r\n\r\nCaf\xe9\r\n--b1--\r\n'

    [parsed] = parse(
        "sendgrid", body=parts + text, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert parsed.text == "Café"
    assert parsed.key == "<1@x>"


def test_sendgrid_other_shapes_are_malformed():
    with pytest.raises(WebhookMalformed):
        parse("sendgrid", body=b"to=x", content_type="application/x-www-form-urlencoded")
    with pytest.raises(WebhookMalformed):
        parse("sendgrid", body=b"--b--\r\n", content_type="multipart/form-data; boundary=b")


def test_sendgrid_too_many_parts_is_too_large():
    part = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\ny\r\n'
    with pytest.raises(WebhookTooLarge):
        parse(
            "sendgrid",
            body=part * (MAX_FORM_PARTS + 1) + b"--b--\r\n",
            content_type="multipart/form-data; boundary=b",
        )


def test_mandrill_inbound():
    message = mail()
    body = urlencode({"mandrill_events": json.dumps(mandrill_events(message))}).encode()

    [parsed] = parse(
        "mailchimp_transactional", body=body, content_type="application/x-www-form-urlencoded"
    )

    assert parsed.recipients == (TO,)
    assert parsed.from_address == "ada@example.com"
    assert parsed.subject == "Re: Rückgabe"
    assert parsed.text.strip() == "Danke schön!"
    assert parsed.key == str(message["Message-ID"])
    assert parsed.received_at is not None


def test_mandrill_without_raw_msg_uses_its_headers_object():
    events = mandrill_events(mail())
    del events[0]["msg"]["raw_msg"]
    events[0]["msg"]["headers"]["Received"] = ["a", "b"]  # a list when repeated
    body = urlencode({"mandrill_events": json.dumps(events)}).encode()

    [parsed] = parse(
        "mailchimp_transactional", body=body, content_type="application/x-www-form-urlencoded"
    )

    assert parsed.headers["Auto-Submitted"] == "no"
    assert parsed.key.startswith("<")


def test_mandrill_not_json_is_malformed():
    with pytest.raises(WebhookMalformed):
        parse(
            "mailchimp_transactional",
            body=b"mandrill_events=nope",
            content_type="application/x-www-form-urlencoded",
        )
