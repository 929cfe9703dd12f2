"""The ESP sandbox delivers customers' replies to a live server in each provider's inbound
format: through its control endpoint, and through its SMTP relay for mail to the reply
domain."""

from __future__ import annotations

import smtplib

import pytest
import requests

from analytics.models import DeliveryEvent, Reply
from providers.sandbox.inbound import mime_message
from providers.webhooks.inbound import url_secret
from returns_mail.models import MessageStatus
from returns_mail.services.reply_tokens import reply_address
from tests.returns_mail.conftest import (  # noqa: F401 - fixtures
    event_input,
    ingest,
    make_rule,
    returns_system,
    templates,
)

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "reply.shop.example"
INBOUND_SECRET = "inbound-secret-0123456789abcdef"
MANDRILL_KEY = "mandrill-webhook-key"


@pytest.fixture(autouse=True)
def reply_domain(settings):
    settings.REPLY_DOMAIN = DOMAIN
    settings.REPLY_FORWARD_TO = ""
    settings.WEBHOOK_BASE_URL = ""


@pytest.fixture(name="sent_message")
def sent_message_fixture(make_account, make_rule, ingest):  # noqa: F811 - imported fixtures
    """sent_message(kind, **account fields) -> (account, a message sent through it)."""

    def run(kind, **fields):
        account = make_account(kind, **fields)
        make_rule("return.approved", accounts=[account])
        message = ingest("return.approved").messages.get()
        assert message.status == MessageStatus.SENT
        return account, message

    return run


def target(esp_sandbox, live_server, provider, account, **fields):
    if provider == "sendgrid":
        host = live_server.url.removeprefix("http://")
        path = f"/inbound/sendgrid/{account.pk}/{url_secret(INBOUND_SECRET)}/"
        url = f"http://inbound:{INBOUND_SECRET}@{host}{path}"
    else:
        url = f"{live_server.url}/inbound/mandrill/{account.pk}/"
    body = {"provider": provider, "key": f"{provider}-key", "url": url, **fields}
    answer = requests.post(f"{esp_sandbox.url}/_sandbox/inbound/targets", json=body, timeout=10)
    assert answer.status_code == 201, answer.text


def assert_linked(message):
    stored = Reply.objects.get()
    assert stored.message == message
    assert stored.text == "Yes, please refund to my card."
    event = DeliveryEvent.objects.get(type="replied")
    assert event.message == message


@pytest.mark.parametrize(
    ("provider", "kind", "fields", "target_fields"),
    [
        ("sendgrid", "sendgrid", {"inbound_secret": INBOUND_SECRET}, {}),
        ("sendgrid", "sendgrid", {"inbound_secret": INBOUND_SECRET}, {"raw": True}),
        (
            "mandrill",
            "mailchimp_transactional",
            {"webhook_secret": MANDRILL_KEY},
            {"secret": MANDRILL_KEY},
        ),
    ],
    ids=["sendgrid-parsed", "sendgrid-raw", "mandrill"],
)
def test_sandbox_control_endpoint_delivers_a_reply(
    provider, kind, fields, target_fields, sent_message, esp_sandbox, live_server
):
    account, message = sent_message(kind, **fields)
    target(esp_sandbox, live_server, provider, account, **target_fields)

    answer = requests.post(
        f"{esp_sandbox.url}/_sandbox/inbound",
        json={
            "provider": provider,
            "key": f"{provider}-key",
            "to": reply_address(message.correlation_id),
            "from": "Ada <ada.customer@example.com>",
            "subject": "Re: your return",
            "text": "Yes, please refund to my card.\n\n> Your return is approved",
        },
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == 200, answer.json()
    assert_linked(message)


def test_sandbox_refused_when_the_key_is_wrong(sent_message, esp_sandbox, live_server):
    account, message = sent_message("mailchimp_transactional", webhook_secret=MANDRILL_KEY)
    target(esp_sandbox, live_server, "mandrill", account, secret="not-the-key")

    answer = requests.post(
        f"{esp_sandbox.url}/_sandbox/inbound",
        json={
            "provider": "mandrill",
            "key": "mandrill-key",
            "to": reply_address(message.correlation_id),
            "from": "ada.customer@example.com",
            "text": "hello",
        },
        timeout=30,
    )

    assert answer.json()["status"] == 403
    assert not Reply.objects.exists()


def test_smtp_relay_hands_mail_for_the_reply_domain_to_inbound_delivery(
    sent_message, esp_sandbox, live_server
):
    account, message = sent_message("sendgrid", inbound_secret=INBOUND_SECRET)
    target(esp_sandbox, live_server, "sendgrid", account, domain=DOMAIN, raw=True)
    mail = mime_message(
        to=reply_address(message.correlation_id),
        from_="ada.customer@example.com",
        subject="Re: your return",
        text="Yes, please refund to my card.\n\nOn Tue, 1 Dec 2026, Shop wrote:\n> approved",
    )

    with smtplib.SMTP(esp_sandbox.smtp.host, esp_sandbox.smtp.port, timeout=30) as relay:
        relay.send_message(mail)

    assert_linked(message)
    assert not esp_sandbox.records("smtp")  # not recorded as outgoing mail


@pytest.mark.parametrize(
    ("provider", "kind", "fields", "target_fields"),
    [
        ("sendgrid", "sendgrid", {"inbound_secret": INBOUND_SECRET}, {}),
        (
            "mandrill",
            "mailchimp_transactional",
            {"webhook_secret": MANDRILL_KEY},
            {"secret": MANDRILL_KEY},
        ),
    ],
    ids=["sendgrid", "mandrill"],
)
def test_the_inbox_reply_button_delivers_the_customers_answer(
    provider, kind, fields, target_fields, sent_message, esp_sandbox, live_server
):
    account, message = sent_message(kind, **fields)
    target(esp_sandbox, live_server, provider, account, domain=DOMAIN, **target_fields)

    page = requests.get(f"{esp_sandbox.url}/_sandbox/inbox/1", timeout=10).text
    assert 'action="/_sandbox/inbox/1/reply"' in page
    answer = requests.post(
        f"{esp_sandbox.url}/_sandbox/inbox/1/reply",
        data={"text": "Yes, please refund to my card."},
        timeout=30,
    )

    assert answer.status_code == 200
    assert "HTTP 200" in answer.text
    assert_linked(message)
