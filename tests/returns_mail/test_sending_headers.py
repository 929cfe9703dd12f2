"""Line breaks and other control characters in values that end up in headers (a customer's
name, a subject variable) reach every provider as one line; a header that still cannot be
written fails the message with a recorded attempt."""

from __future__ import annotations

import pytest

from returns_mail.models import Message, MessageStatus
from returns_mail.services.sending import message_send

pytestmark = pytest.mark.django_db

# The default "return approved" subject is "Your return {{return_id}} is approved".
NAME = "Ada\r\nLovelace\n"
RETURN_ID = "RMA-1\r\n\n7\u2028X"
SUBJECT = "Your return RMA-1 7 X is approved"


def test_header_text_turns_breaks_controls_and_tabs_into_single_spaces():
    from providers.clients.types import header_text

    assert header_text("\t Ada \r\n\r\n Lovelace\x00\x0b\x85\u2028\u2029 jr \n") == (
        "Ada Lovelace jr"
    )
    assert header_text("Prix\u00a0: 10\u202f€") == "Prix\u00a0: 10\u202f€"  # not breaks


def send(make_account, make_rule, ingest, kind: str, **rule_fields) -> Message:
    make_rule("return.approved", accounts=[make_account(kind)], **rule_fields)
    return ingest("return.approved", customer_name=NAME, return_id=RETURN_ID).messages.get()


def test_sendgrid_receives_one_line_subject_and_name(make_account, make_rule, ingest, esp_sandbox):
    message = send(make_account, make_rule, ingest, "sendgrid")

    assert message.status == MessageStatus.SENT
    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert record["body"]["subject"] == SUBJECT
    assert record["body"]["personalizations"][0]["to"] == [
        {"email": "ada.customer@example.com", "name": "Ada Lovelace"}
    ]


def test_mandrill_receives_one_line_subject_and_name(make_account, make_rule, ingest, esp_sandbox):
    message = send(make_account, make_rule, ingest, "mailchimp_transactional")

    assert message.status == MessageStatus.SENT
    [record] = esp_sandbox.records("mandrill", path="/api/1.3/messages/send.json")
    sent = record["body"]["message"]
    assert sent["subject"] == SUBJECT
    assert sent["to"] == [
        {"email": "ada.customer@example.com", "type": "to", "name": "Ada Lovelace"}
    ]


def test_smtp_relay_receives_one_line_subject_and_name(
    make_account, make_rule, ingest, esp_sandbox
):
    message = send(make_account, make_rule, ingest, "smtp")

    assert message.status == MessageStatus.SENT
    assert message.attempt_log.get().outcome == "sent"
    [record] = esp_sandbox.records("smtp")
    assert record["subject"] == SUBJECT
    assert record["to"] == "Ada Lovelace <ada.customer@example.com>"


def test_sender_display_name_is_one_line_too(make_account, make_rule, ingest, esp_sandbox):
    account = make_account("smtp", from_name="Shop\r\nReturns")
    make_rule("return.approved", accounts=[account])

    assert ingest("return.approved").messages.get().status == MessageStatus.SENT

    [record] = esp_sandbox.records("smtp")
    assert record["from_"] == "Shop Returns <returns@shop.example>"


def test_provider_template_subject_with_a_line_break_is_rendered_here(
    make_account, make_rule, ingest, esp_sandbox, templates, django_capture_on_commit_callbacks
):
    """The stored template would put the value's line break into the subject at SendGrid, so
    this message is rendered here, with its subject on one line."""
    from templates_lib.services.templates import template_publish

    account = make_account("sendgrid")
    with django_capture_on_commit_callbacks(execute=True):
        template_publish(version=templates["return.approved"].active_version)
    make_rule("return.approved", accounts=[account], use_provider_template=True)

    plain = ingest("return.approved").messages.get()
    broken = ingest("return.approved", customer_name=NAME, return_id=RETURN_ID).messages.get()

    assert (plain.status, broken.status) == (MessageStatus.SENT, MessageStatus.SENT)
    first, second = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert "template_id" in first["body"]  # an ordinary value: the stored template
    assert "template_id" not in second["body"]
    assert second["body"]["subject"] == SUBJECT
    assert second["body"]["personalizations"][0]["to"][0]["name"] == "Ada Lovelace"


def test_a_header_the_relay_cannot_take_fails_the_message_with_an_attempt(
    make_account, make_rule, ingest, esp_sandbox
):
    """An address is never rewritten, so one with a line break (here written past the API's
    validation) still cannot become a header: a permanent, recorded failure, not a held send."""
    make_rule("return.approved", accounts=[make_account("smtp")])
    message = ingest("return.approved", execute=False).messages.get()
    Message.objects.filter(pk=message.pk).update(
        recipient="ada.customer@example.com\r\nBcc: someone@example.org"
    )

    message = message_send(message_id=message.pk)

    assert message.status == MessageStatus.FAILED
    assert "newline" in message.error
    [attempt] = message.attempt_log.all()
    assert attempt.outcome == "permanent"
    assert attempt.error == message.error
    assert esp_sandbox.records("smtp") == []
