"""Customers' replies: received as SendGrid Inbound Parse and Mandrill inbound post them, proven
(URL secret + basic auth, signature) before anything is stored, linked to the message their
signed reply-to names, recorded as a `replied` delivery event, kept once, forwarded."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from django.core import mail as django_mail
from django.test import Client

from analytics.models import DeliveryEvent, Reply, WebhookDelivery
from analytics.services import replies
from providers.sandbox.inbound import mandrill_events, mandrill_sign, mime_message, sendgrid_body
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

pytestmark = pytest.mark.django_db

DOMAIN = "reply.shop.example"
INBOUND_SECRET = "inbound-secret-0123456789abcdef"
MANDRILL_KEY = "mandrill-webhook-key"
REPLY_TEXT = "Hello, the parcel was sent back yesterday.\n\nAda"
QUOTED = (
    f"{REPLY_TEXT}\n\nOn Tue, 1 Dec 2026 at 10:00, Shop Returns <returns@shop.example> wrote:\n"
    "> Your return RMA-1 is approved\n> Thanks\n"
)


@pytest.fixture(autouse=True)
def reply_domain(settings):
    settings.REPLY_DOMAIN = DOMAIN
    settings.REPLY_FORWARD_TO = ""


@pytest.fixture(name="sendgrid")
def sendgrid_fixture(make_account):
    return make_account("sendgrid", inbound_secret=INBOUND_SECRET)


@pytest.fixture(name="mandrill")
def mandrill_fixture(make_account):
    return make_account("mailchimp_transactional", webhook_secret=MANDRILL_KEY)


@pytest.fixture(name="sent")
def sent_fixture(make_rule, ingest, esp_sandbox):  # noqa: F811 - imported fixtures
    """sent(account) -> a message sent through the account, with its reply address."""

    def run(account):
        make_rule("return.approved", accounts=[account])
        message = ingest("return.approved").messages.get()
        assert message.status == MessageStatus.SENT
        return message

    return run


def sendgrid_path(account, secret=None):
    return f"/inbound/sendgrid/{account.pk}/{secret or url_secret(INBOUND_SECRET)}/"


def basic(user="inbound", password=INBOUND_SECRET):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def reply(to, *, text=QUOTED, subject="Re: Your return RMA-1 is approved", headers=None):
    return mime_message(
        to=to,
        from_="Ada Lovelace <ada.customer@example.com>",
        subject=subject,
        text=text,
        headers=headers,
    )


def post_sendgrid(account, message, *, raw=False, auth=None, secret=None):
    body, content_type = sendgrid_body(message, raw=raw)
    headers = {"Authorization": auth if auth is not None else basic()}
    if auth == "":
        headers = {}
    return Client().post(
        sendgrid_path(account, secret), body, content_type=content_type, headers=headers
    )


def post_mandrill(account, message, *, key=MANDRILL_KEY, events=None):
    path = f"/inbound/mandrill/{account.pk}/"
    fields = {"mandrill_events": json.dumps(events or mandrill_events(message))}
    signature = mandrill_sign(key, f"http://testserver{path}", fields)
    return Client().post(
        path,
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Mandrill-Signature": signature},
    )


def assert_linked_reply(message):
    stored = Reply.objects.get()
    assert stored.message == message
    assert stored.event == message.event
    assert stored.customer_email == message.recipient
    assert stored.from_address == "ada.customer@example.com"
    assert stored.text == REPLY_TEXT  # the quoted mail is gone
    assert not stored.is_auto_reply
    event = DeliveryEvent.objects.get(type="replied")
    assert event.message == message
    assert event.occurred_at == stored.received_at
    assert stored.delivery_event == event
    message.refresh_from_db()
    assert message.replied_at == stored.received_at
    assert message.status == MessageStatus.SENT  # a reply moves no status
    return stored


# --- each provider's format ----------------------------------------------------------------------
def test_sendgrid_parsed_fields_reply_is_linked(sendgrid, sent):
    message = sent(sendgrid)

    response = post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))

    assert response.status_code == 200, response.content
    assert response.json() == {"new": 1, "linked": 1, "duplicate": 0, "ignored": 0}
    assert_linked_reply(message)


def test_sendgrid_raw_message_reply_is_linked(sendgrid, sent):
    message = sent(sendgrid)

    response = post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)), raw=True)

    assert response.status_code == 200, response.content
    stored = assert_linked_reply(message)
    assert stored.headers["Subject"] == "Re: Your return RMA-1 is approved"


def test_mandrill_inbound_reply_is_linked(mandrill, sent):
    message = sent(mandrill)

    response = post_mandrill(mandrill, reply(reply_address(message.correlation_id)))

    assert response.status_code == 200, response.content
    assert_linked_reply(message)


def test_a_reply_through_another_account_still_links_by_its_signed_token(sendgrid, mandrill, sent):
    """Sent through Mandrill, the reply received by SendGrid's inbound parsing."""
    message = sent(mandrill)

    assert post_sendgrid(sendgrid, reply(reply_address(message.correlation_id))).status_code == 200

    assert_linked_reply(message)
    assert DeliveryEvent.objects.get().account == mandrill  # the account it was sent through


def test_mixed_mandrill_batch_keeps_only_inbound_mail(mandrill, sent):
    message = sent(mandrill)
    events = [
        {"event": "open", "ts": 1, "msg": {"email": "x@y.example"}},
        *mandrill_events(reply(reply_address(message.correlation_id))),
    ]

    response = post_mandrill(mandrill, None, events=events)

    assert response.json()["new"] == 1
    assert Reply.objects.count() == 1


# --- refusals: nothing stored ---------------------------------------------------------------------
def nothing_stored():
    return (
        Reply.objects.count() == 0
        and DeliveryEvent.objects.count() == 0
        and WebhookDelivery.objects.count() == 0
    )


def test_sendgrid_wrong_url_secret_is_403(sendgrid, sent):
    message = sent(sendgrid)

    response = post_sendgrid(
        sendgrid, reply(reply_address(message.correlation_id)), secret="x" * 32
    )

    assert response.status_code == 403
    assert Client().get(sendgrid_path(sendgrid, "x" * 32)).status_code == 403
    assert nothing_stored()


@pytest.mark.parametrize(
    "auth",
    ["", basic(password="wrong"), basic(user="someone"), "Basic !!!", "Bearer x"],
    ids=["none", "wrong-password", "wrong-user", "not-base64", "not-basic"],
)
def test_sendgrid_without_the_basic_auth_is_401(sendgrid, sent, auth):
    message = sent(sendgrid)

    response = post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)), auth=auth)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert nothing_stored()


def test_sendgrid_account_without_an_inbound_secret_refuses(make_account, sent):
    account = make_account("sendgrid")
    message = sent(account)

    response = post_sendgrid(account, reply(reply_address(message.correlation_id)))

    assert response.status_code == 403
    assert nothing_stored()


def test_mandrill_bad_signature_is_403(mandrill, sent):
    message = sent(mandrill)

    response = post_mandrill(mandrill, reply(reply_address(message.correlation_id)), key="other")

    assert response.status_code == 403
    assert nothing_stored()


def test_sendgrid_inbound_get_is_405_at_the_right_url(sendgrid):
    assert Client().get(sendgrid_path(sendgrid)).status_code == 405


# --- linking, forgery, idempotency ----------------------------------------------------------------
def test_a_forged_token_is_stored_unlinked(sendgrid, sent):
    message = sent(sendgrid)
    genuine = reply_address(message.correlation_id)
    forged = genuine[:30] + ("a" if genuine[30] != "a" else "b") + genuine[31:]

    response = post_sendgrid(sendgrid, reply(forged))

    assert response.json() == {"new": 1, "linked": 0, "duplicate": 0, "ignored": 0}
    stored = Reply.objects.get()
    assert stored.message is None
    assert stored.event is None
    assert not DeliveryEvent.objects.exists()
    message.refresh_from_db()
    assert message.replied_at is None


def test_mail_not_for_the_reply_domain_is_ignored(sendgrid, sent):
    sent(sendgrid)

    response = post_sendgrid(sendgrid, reply("support@shop.example"))

    assert response.json() == {"new": 0, "linked": 0, "duplicate": 0, "ignored": 1}
    assert nothing_stored()


def test_a_retried_post_stores_one_reply(sendgrid, mandrill, sent):
    message = sent(sendgrid)
    mail = reply(reply_address(message.correlation_id))

    assert post_sendgrid(sendgrid, mail).json()["new"] == 1
    second = post_sendgrid(sendgrid, mail)

    assert second.status_code == 200
    assert second.json() == {"new": 0, "linked": 0, "duplicate": 1, "ignored": 0}
    assert Reply.objects.count() == 1
    assert DeliveryEvent.objects.filter(type="replied").count() == 1


def test_an_auto_reply_is_kept_apart(sendgrid, sent, settings):
    settings.REPLY_FORWARD_TO = "helpdesk@shop.example"
    message = sent(sendgrid)
    mail = reply(
        reply_address(message.correlation_id),
        subject="Out of Office: Re: Your return",
        text="I am away until Monday.",
        headers={"Auto-Submitted": "auto-replied"},
    )

    assert post_sendgrid(sendgrid, mail).json()["new"] == 1

    stored = Reply.objects.get()
    assert stored.is_auto_reply
    assert stored.message == message
    assert not DeliveryEvent.objects.exists()
    message.refresh_from_db()
    assert message.replied_at is None
    assert replies.reply_forward(reply_id=stored.pk) is False
    assert django_mail.outbox == []


def test_an_earlier_reply_arriving_later_moves_replied_at_back(sendgrid, sent):
    message = sent(sendgrid)
    address = reply_address(message.correlation_id)
    post_sendgrid(sendgrid, reply(address, headers={"Date": "Wed, 02 Dec 2026 12:00:00 +0000"}))
    first = Reply.objects.get()
    early = first.received_at.replace(year=2020)
    Reply.objects.filter(pk=first.pk).update(received_at=early)  # as if received long ago
    # The lifecycle keeps the earliest of the times it is given.
    from providers.webhooks.types import NormalizedEvent
    from returns_mail.services.lifecycle import messages_apply_provider_events

    message.refresh_from_db()
    event = NormalizedEvent(
        type="replied",
        provider_event="reply",
        occurred_at=early,
        recipient=message.recipient,
        correlation_id=str(message.correlation_id),
    )
    [effect] = messages_apply_provider_events([event], {str(message.correlation_id): message})
    message.refresh_from_db()
    assert message.replied_at == early
    assert effect.changed
    assert not effect.replied  # not a first reply: it had one


# --- forwarding -----------------------------------------------------------------------------------
def test_a_human_reply_is_forwarded_to_the_helpdesk(
    sendgrid, sent, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.REPLY_FORWARD_TO = "helpdesk@shop.example"
    queued = []
    monkeypatch.setattr(replies, "enqueue_on_commit", lambda func, *args: queued.append(args))
    message = sent(sendgrid)

    post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))

    stored = Reply.objects.get()
    assert queued == [(stored.pk,)]
    assert replies.reply_forward(reply_id=stored.pk) is True
    [forwarded] = django_mail.outbox
    assert forwarded.to == ["helpdesk@shop.example"]
    assert forwarded.reply_to == ["ada.customer@example.com"]
    assert REPLY_TEXT in forwarded.body
    assert message.event.return_id in forwarded.body
    assert forwarded.extra_headers["Auto-Submitted"] == "auto-forwarded"
    stored.refresh_from_db()
    assert stored.forwarded_at is not None
    # Once: a second run (a duplicate task) sends nothing.
    assert replies.reply_forward(reply_id=stored.pk) is False
    assert len(django_mail.outbox) == 1


def test_a_failed_forward_is_recorded_and_retried_later(sendgrid, sent, settings, monkeypatch):
    settings.REPLY_FORWARD_TO = "helpdesk@shop.example"
    monkeypatch.setattr(replies, "enqueue_on_commit", lambda *a: None)
    later = []
    monkeypatch.setattr(replies, "enqueue_later", lambda func, *args, at: later.append(args))
    message = sent(sendgrid)
    post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))
    stored = Reply.objects.get()

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("helpdesk relay down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    assert replies.reply_forward(reply_id=stored.pk) is False

    stored.refresh_from_db()
    assert stored.forwarded_at is None
    assert stored.forward_attempts == 1
    assert "helpdesk relay down" in stored.forward_error
    assert later == [(stored.pk,)]


def test_without_a_forward_address_nothing_is_queued_or_sent(sendgrid, sent, monkeypatch):
    queued = []
    monkeypatch.setattr(replies, "enqueue_on_commit", lambda *a: queued.append(a))
    message = sent(sendgrid)

    post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))

    assert queued == []
    assert replies.reply_forward(reply_id=Reply.objects.get().pk) is False
    assert django_mail.outbox == []


# --- shown in the admin ---------------------------------------------------------------------------
def test_the_reply_shows_on_the_message_event_and_replies_pages(sendgrid, sent, admin_client):
    message = sent(sendgrid)
    post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))
    forged = reply_address(message.correlation_id).replace("reply+", "reply+x", 1)
    post_sendgrid(sendgrid, reply(forged, headers={"Message-ID": "<forged@x>"}))

    for url in (
        f"/admin/returns_mail/message/{message.pk}/change/",
        f"/admin/returns_mail/returnevent/{message.event_id}/change/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert "the parcel was sent back yesterday" in page.content.decode()
    unlinked = admin_client.get("/admin/analytics/reply/?linked=no")
    assert unlinked.status_code == 200
    assert "1 reply" in unlinked.content.decode()


# --- the customer's data --------------------------------------------------------------------------
def test_a_customers_replies_are_exported_and_erased_with_them(sendgrid, sent):
    from returns_mail.services.erasure import customer_erase
    from returns_mail.services.subject_access import customer_export

    message = sent(sendgrid)
    post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))

    document = customer_export(email=message.recipient)
    assert [r["text"] for r in document["sections"]["replies"]] == [REPLY_TEXT]

    report = customer_erase(email=message.recipient)

    assert not Reply.objects.exists()
    assert report.counts["replies"] == 1


def test_re_processing_a_replys_delivery_changes_nothing(sendgrid, sent):
    from analytics.services.deliveries import webhook_delivery_process

    message = sent(sendgrid)
    post_sendgrid(sendgrid, reply(reply_address(message.correlation_id)))
    delivery = DeliveryEvent.objects.get(type="replied").delivery

    again = webhook_delivery_process(delivery=delivery)

    assert again.status == "processed"
    assert DeliveryEvent.objects.filter(type="replied").count() == 1
