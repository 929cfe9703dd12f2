"""The per-message reply-to: a signed token naming the message, on REPLY_DOMAIN."""

from __future__ import annotations

import uuid

import pytest

from returns_mail.services.reply_tokens import (
    address_correlation_id,
    reply_address,
    reply_token,
    token_correlation_id,
)

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.fixture
def reply_domain(settings):
    settings.REPLY_DOMAIN = "reply.shop.example"


def test_token_round_trips_and_fits_a_local_part(reply_domain):
    address = reply_address(ID)
    local = address.partition("@")[0]
    assert address.endswith("@reply.shop.example")
    assert local == local.lower()
    assert len(local) <= 64
    assert token_correlation_id(reply_token(ID)) == ID
    # MTAs that upper- or lower-case the local part do not break it.
    assert (
        address_correlation_id(address.upper().replace("REPLY.SHOP.EXAMPLE", "Reply.Shop.Example"))
        == ID
    )


def test_a_forged_or_enumerated_token_names_no_message(reply_domain):
    token = reply_token(ID)
    other = uuid.UUID("12345678-1234-5678-1234-567812345679")
    # Another message's id with this message's signature.
    assert token_correlation_id(reply_token(other)[:26] + token[26:]) is None
    # One character of the signature changed.
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert token_correlation_id(flipped) is None
    assert token_correlation_id("") is None
    assert token_correlation_id(token + "a") is None
    assert token_correlation_id("!" * len(token)) is None


def test_a_token_signed_under_another_secret_key_is_refused(reply_domain, settings):
    token = reply_token(ID)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert token_correlation_id(token) is None


def test_only_our_reply_domain_is_read(reply_domain):
    local = reply_address(ID).partition("@")[0]
    assert address_correlation_id(f"{local}@elsewhere.example") is None
    assert address_correlation_id("support@reply.shop.example") is None


def test_feature_off_without_a_reply_domain(settings):
    settings.REPLY_DOMAIN = ""
    assert reply_address(ID) is None
    assert address_correlation_id(f"reply+{reply_token(ID)}@") is None


@pytest.mark.django_db
def test_sent_mail_carries_its_own_reply_address(
    reply_domain, make_account, make_rule, ingest, esp_sandbox
):
    make_rule("return.approved", accounts=[make_account("sendgrid", reply_to="help@shop.example")])
    message = ingest("return.approved").messages.get()

    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    reply_to = record["body"]["reply_to"]["email"]
    assert address_correlation_id(reply_to) == message.correlation_id


@pytest.mark.django_db
def test_mandrill_mail_carries_its_reply_address_header(
    reply_domain, make_account, make_rule, ingest, esp_sandbox
):
    make_rule("return.approved", accounts=[make_account("mailchimp_transactional")])
    message = ingest("return.approved").messages.get()

    [record] = esp_sandbox.records("mandrill", path="/api/1.3/messages/send.json")
    reply_to = record["body"]["message"]["headers"]["Reply-To"]
    assert address_correlation_id(reply_to) == message.correlation_id


@pytest.mark.django_db
def test_without_a_reply_domain_the_account_reply_to_stays(
    settings, make_account, make_rule, ingest, esp_sandbox
):
    settings.REPLY_DOMAIN = ""
    make_rule("return.approved", accounts=[make_account("sendgrid", reply_to="help@shop.example")])
    ingest("return.approved")

    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    assert record["body"]["reply_to"]["email"] == "help@shop.example"


@pytest.mark.django_db
def test_smtp_mail_carries_its_reply_address_header(
    reply_domain, make_account, make_rule, ingest, esp_sandbox
):
    make_rule("return.approved", accounts=[make_account("smtp")])
    message = ingest("return.approved").messages.get()

    [record] = esp_sandbox.records("smtp")
    assert address_correlation_id(record["headers"]["Reply-To"]) == message.correlation_id
