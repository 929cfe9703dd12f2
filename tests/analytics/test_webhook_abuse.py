"""Provider webhooks under abuse: forged or oversized requests refused before their body is
read, events reaching only mail sent through the account that reports them, stale SendGrid
timestamps refused and replayed bodies stored once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from analytics.models import DeliveryEvent, Rollup, WebhookDelivery
from analytics.services import deliveries
from providers.sandbox.mandrill_events import sign
from providers.sandbox.sendgrid_events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    event_body,
    new_signing_key,
    public_key_text,
    signed_headers,
)
from providers.webhooks.refusals import refusals_count
from returns_mail.models import Attempt, CampaignRecipient, MessageStatus
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template

pytestmark = pytest.mark.django_db

KEY_A = new_signing_key()
KEY_B = new_signing_key()
MANDRILL_KEY = "mandrill-webhook-key-0001"
AUDIENCE_SECRET = "audience-secret-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
MIB = 1024 * 1024


class RecordingBody:
    """A request body of `size` bytes (made as it is read) that records how much was read."""

    def __init__(self, size: int):
        self.size = size
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.bytes_read
        n = left if size is None or size < 0 else min(size, left)
        self.bytes_read += n
        return b"x" * n

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def post_streamed(path: str, body: RecordingBody, *, content_type: str, headers=None):
    return Client().generic(
        "POST",
        path,
        headers=headers or {},
        **{
            "wsgi.input": body,
            "CONTENT_LENGTH": str(body.size),
            "CONTENT_TYPE": content_type,
        },
    )


@pytest.fixture
def accounts(make_account):
    """SendGrid accounts A and B (each its own key), a Mandrill and a Mailchimp one."""
    return {
        "sendgrid": make_account("sendgrid", webhook_verification_key=public_key_text(KEY_A)),
        "sendgrid_b": make_account("sendgrid", webhook_verification_key=public_key_text(KEY_B)),
        "mandrill": make_account("mailchimp_transactional", webhook_secret=MANDRILL_KEY),
        "mailchimp": make_account("mailchimp_marketing", webhook_secret=AUDIENCE_SECRET),
    }


def path_of(accounts, kind: str, secret: str = AUDIENCE_SECRET) -> str:
    account = accounts[kind]
    if kind == "mailchimp":
        return f"/webhooks/mailchimp/{account.pk}/{secret}/"
    return f"/webhooks/{kind}/{account.pk}/"


def shaped_sendgrid_headers(at: float | None = None) -> dict[str, str]:
    """Shaped as SendGrid signs, but signing nothing."""
    return {
        SIGNATURE_HEADER: base64.b64encode(b"\x30\x44" + b"\x01" * 68).decode(),
        TIMESTAMP_HEADER: str(int(time.time() if at is None else at)),
    }


SHAPED_MANDRILL = {"X-Mandrill-Signature": base64.b64encode(b"\x01" * 20).decode()}


def delivered(correlation_id, email="customer1@example.com") -> list[dict]:
    return [
        {
            "email": email,
            "timestamp": 1_790_000_000,
            "event": event,
            "sg_message_id": "sg-1.filter",
            "rm_correlation_id": str(correlation_id),
        }
        for event in ("delivered", "open", "bounce")
    ]


# --- refused before the body is read ---------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "headers", "secret"),
    [
        ("sendgrid", {}, None),
        ("sendgrid", {SIGNATURE_HEADER: "not base64!", TIMESTAMP_HEADER: "1"}, None),
        ("sendgrid", shaped_sendgrid_headers(at=time.time() - 3600), None),
        ("sendgrid", shaped_sendgrid_headers(at=time.time() + 3600), None),
        ("mandrill", {}, None),
        ("mandrill", {"X-Mandrill-Signature": "garbage"}, None),
        ("mailchimp", {}, "not-the-secret"),
    ],
    ids=[
        "sendgrid-unsigned",
        "sendgrid-garbage",
        "sendgrid-stale",
        "sendgrid-future",
        "mandrill-unsigned",
        "mandrill-garbage",
        "mailchimp-wrong-secret",
    ],
)
def test_a_request_not_signed_as_the_provider_signs_is_403_before_its_body_is_read(
    accounts, kind, headers, secret
):
    body = RecordingBody(64 * MIB)
    refused_before = refusals_count(accounts[kind].pk)

    response = post_streamed(
        path_of(accounts, kind, secret or AUDIENCE_SECRET),
        body,
        content_type="application/json" if kind == "sendgrid" else FORM,
        headers=headers,
    )

    assert (response.status_code, response.json()) == (403, {"error": "forbidden"})
    assert body.bytes_read == 0
    assert refusals_count(accounts[kind].pk) == refused_before + 1
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "limit"), [("sendgrid", 2 * MIB), ("mandrill", 8 * MIB), ("mailchimp", 256 * 1024)]
)
def test_a_body_over_the_providers_limit_is_413_before_it_is_read(accounts, kind, limit):
    # Signature headers shaped as the provider's (or the right URL secret): only the size is wrong.
    headers = {"sendgrid": shaped_sendgrid_headers(), "mandrill": SHAPED_MANDRILL}.get(kind)
    body = RecordingBody(limit + 1)

    response = post_streamed(path_of(accounts, kind), body, content_type=FORM, headers=headers)

    assert response.status_code == 413
    assert response.json() == {
        "error": "payload too large",
        "detail": f"body over {limit} bytes",
        "limit_bytes": limit,
    }
    assert body.bytes_read == 0
    assert WebhookDelivery.objects.count() == 0


def test_a_signed_sendgrid_body_of_exactly_the_limit_is_taken(accounts):
    events = [{"email": "a@example.com", "timestamp": 1_790_000_000, "event": "delivered"}]
    body = event_body(events)
    body += b" " * (2 * MIB - len(body))  # JSON allows the padding

    response = Client().post(
        path_of(accounts, "sendgrid"),
        data=body,
        content_type="application/json",
        headers=signed_headers(KEY_A, body),
    )

    assert (response.status_code, response.json()) == (200, {"events": 1, "new": 1, "skipped": 0})


def mandrill_form(fields: dict[str, str], path: str) -> tuple[bytes, dict[str, str]]:
    """A form body and its signature, as Mandrill signs (url + each sorted name and value)."""
    signed = f"http://testserver{path}" + "".join(k + fields[k] for k in sorted(fields))
    digest = hmac.new(MANDRILL_KEY.encode(), signed.encode(), hashlib.sha1).digest()
    return urlencode(fields).encode(), {"X-Mandrill-Signature": base64.b64encode(digest).decode()}


def test_more_form_fields_than_mandrill_sends_is_413_and_stores_nothing(accounts):
    path = path_of(accounts, "mandrill")
    fields = {"mandrill_events": "[]", **{f"f{n}": "1" for n in range(16)}}
    body, headers = mandrill_form(fields, path)  # signed, even

    response = Client().post(path, data=body, content_type=FORM, headers=headers)

    assert response.status_code == 413
    assert response.json() == {
        "error": "payload too large",
        "detail": "more than 16 form fields",
        "limit_fields": 16,
    }
    assert WebhookDelivery.objects.count() == 0


def test_more_form_fields_than_mailchimp_sends_is_413_and_stores_nothing(accounts):
    form = {"type": "unsubscribe", "fired_at": "2026-11-26 10:30:00", "data[email]": "e@x.io"}
    form |= {f"data[merges][F{n}]": "x" for n in range(998)}

    response = Client().post(
        path_of(accounts, "mailchimp"), data=urlencode(form), content_type=FORM
    )

    assert response.status_code == 413
    assert response.json()["limit_fields"] == 1000
    assert WebhookDelivery.objects.count() == 0


def test_djangos_upload_limits_are_not_the_webhooks_limits(accounts, settings):
    # The views read the body themselves: Django's limits apply to request.body / POST only,
    # which would parse every field of an unverified body.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
    path = path_of(accounts, "mandrill")
    event = {"event": "open", "ts": 1_790_000_000, "_id": "m1", "msg": {"email": "a@x.io"}}
    body, headers = mandrill_form({"mandrill_events": json.dumps([event] * 3)}, path)
    form = {
        "type": "unsubscribe",
        "fired_at": "2026-11-26 10:30:00",
        "data[email]": "eve@example.com",
        "data[reason]": "manual",
    }

    mandrill = Client().post(path, data=body, content_type=FORM, headers=headers)
    mailchimp = Client().post(
        path_of(accounts, "mailchimp"), data=urlencode(form), content_type=FORM
    )

    assert len(body) > 100
    assert (mandrill.status_code, mandrill.json()) == (200, {"events": 3, "new": 1, "skipped": 0})
    assert (mailchimp.status_code, mailchimp.json()) == (200, {"events": 1, "new": 1, "skipped": 0})


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("POST", "type=subscribe&x=%FF", 400),  # not UTF-8
        ("POST", "x=" + "1" * 300_000, 413),
        ("PUT", "", 405),
        ("POST", "type=subscribe&fired_at=2026-11-26+10:30:00&data[email]=a@x.io", 500),
    ],
    ids=["malformed", "too-large", "method", "our-error"],
)
def test_the_mailchimp_url_secret_is_in_no_log_line(
    accounts, method, body, status, caplog, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(deliveries, "_store_events", broken)
    path = path_of(accounts, "mailchimp")

    with caplog.at_level(logging.DEBUG):
        response = Client().generic(method, path, body, content_type=FORM)

    assert response.status_code == status
    assert caplog.records  # each answer is logged, by account
    assert all(AUDIENCE_SECRET not in record.getMessage() for record in caplog.records)
    assert AUDIENCE_SECRET not in caplog.text


# --- an account's events reach only the mail sent through it -------------------------------
def post_events(account, key, events):
    body = event_body(events)
    return Client().post(
        f"/webhooks/sendgrid/{account.pk}/",
        data=body,
        content_type="application/json",
        headers=signed_headers(key, body),
    )


def test_events_signed_for_one_account_do_not_change_mail_sent_through_another(
    accounts, make_message, caplog, admin_client
):
    a, b = accounts["sendgrid"], accounts["sendgrid_b"]
    message = make_message(account=b)

    with caplog.at_level(logging.WARNING, logger="analytics.services.deliveries"):
        response = post_events(a, KEY_A, delivered(message.correlation_id))

    assert (response.status_code, response.json()) == (200, {"events": 3, "new": 3, "skipped": 0})
    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.opened_at) == ("sent", None, None)
    assert message.error == ""
    # Recorded, unlinked, naming the message it claimed.
    assert sorted(
        DeliveryEvent.objects.values_list("account", "message", "correlation_id", "type")
    ) == sorted(
        (a.pk, None, str(message.correlation_id), kind)
        for kind in ("delivered", "opened", "bounced")
    )
    assert not Rollup.objects.exists()
    assert f"account {a.pk} reported events for 1 message(s) not sent through it" in caplog.text
    found = admin_client.get("/admin/analytics/deliveryevent/", {"q": str(message.correlation_id)})
    assert found.content.decode().count(message.recipient) == 3

    # The account it was sent through moves it forward.
    assert post_events(b, KEY_B, delivered(message.correlation_id)).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
    assert DeliveryEvent.objects.filter(message=message).count() == 3


@pytest.fixture
def failed_over(accounts, make_account, make_message):
    """A message tried through A (the call timed out: A may have sent it), then sent via B."""
    a, b = accounts["sendgrid"], accounts["sendgrid_b"]
    message = make_message(account=b)
    Attempt.objects.create(
        message=message,
        account=a,
        started_at=message.created_at,
        duration_ms=10_000,
        outcome="transient",
        error="read timeout",
    )
    return message


def test_the_account_a_message_was_first_tried_through_may_report_it(accounts, failed_over):
    response = post_events(accounts["sendgrid"], KEY_A, delivered(failed_over.correlation_id))

    assert response.status_code == 200
    failed_over.refresh_from_db()
    assert failed_over.status == MessageStatus.OPENED


def test_an_account_a_message_was_never_tried_through_may_not(accounts, failed_over, make_account):
    key_c = new_signing_key()
    c = make_account("sendgrid", webhook_verification_key=public_key_text(key_c))

    response = post_events(c, key_c, delivered(failed_over.correlation_id))

    assert response.status_code == 200
    failed_over.refresh_from_db()
    assert (failed_over.status, failed_over.delivered_at) == ("sent", None)
    assert set(DeliveryEvent.objects.values_list("message", flat=True)) == {None}


def test_campaign_results_come_only_from_the_campaigns_account(
    accounts, make_template, django_capture_on_commit_callbacks
):
    a, b = accounts["sendgrid"], accounts["sendgrid_b"]
    campaign = make_campaign(everyone(), offer_template(make_template), b)
    recipient = CampaignRecipient.objects.create(
        campaign=campaign, chunk_number=1, email="customer1@example.com", status="sent"
    )

    post_events(a, KEY_A, delivered(recipient.correlation_id))
    recipient.refresh_from_db()
    assert (recipient.delivered_at, recipient.opened_at, recipient.bounced_at) == (None,) * 3

    post_events(b, KEY_B, delivered(recipient.correlation_id))
    recipient.refresh_from_db()
    assert recipient.delivered_at is not None
    assert recipient.opened_at is not None


# --- stale SendGrid timestamps, replayed bodies ------------------------------------------------
@pytest.mark.parametrize("seconds", [-601, 601, -3 * 365 * 86_400])
def test_a_sendgrid_body_signed_outside_the_tolerance_is_403(accounts, seconds):
    body = event_body(delivered("00000000-0000-0000-0000-000000000001"))
    headers = signed_headers(KEY_A, body, at=time.time() + seconds)

    response = Client().post(
        path_of(accounts, "sendgrid"), data=body, content_type="application/json", headers=headers
    )

    assert (response.status_code, response.json()) == (403, {"error": "forbidden"})
    assert WebhookDelivery.objects.count() == DeliveryEvent.objects.count() == 0


def test_the_tolerance_setting_applies_to_the_view(accounts, settings):
    settings.WEBHOOK_TIMESTAMP_TOLERANCE = 60
    body = event_body(delivered("00000000-0000-0000-0000-000000000001"))

    def post(seconds_ago):
        headers = signed_headers(KEY_A, body + b" " * seconds_ago, at=time.time() - seconds_ago)
        return (
            Client()
            .post(
                path_of(accounts, "sendgrid"),
                data=body + b" " * seconds_ago,
                content_type="application/json",
                headers=headers,
            )
            .status_code
        )

    assert (post(120), post(30)) == (403, 200)


def test_a_replayed_sendgrid_request_is_answered_and_stored_once(accounts, make_message):
    message = make_message(account=accounts["sendgrid"])
    body = event_body(delivered(message.correlation_id))
    headers = signed_headers(KEY_A, body)

    def post():
        return Client().post(
            path_of(accounts, "sendgrid"),
            data=body,
            content_type="application/json",
            headers=headers,
        )

    first, replay = post(), post()

    assert (first.status_code, first.json()) == (200, {"events": 3, "new": 3, "skipped": 0})
    assert (replay.status_code, replay.json()) == (
        200,
        {"events": 3, "new": 0, "skipped": 0, "duplicate": True},
    )
    assert WebhookDelivery.objects.count() == 1
    assert DeliveryEvent.objects.count() == 3


def test_a_replayed_mandrill_request_is_stored_once(accounts):
    path = path_of(accounts, "mandrill")
    event = {"event": "open", "ts": 1_790_000_000, "_id": "m1", "msg": {"email": "a@x.io"}}
    events_json = json.dumps([event])
    body = urlencode({"mandrill_events": events_json})
    headers = {"X-Mandrill-Signature": sign(MANDRILL_KEY, f"http://testserver{path}", events_json)}

    answers = [
        Client().post(path, data=body, content_type=FORM, headers=headers).json() for _ in range(3)
    ]

    assert answers == [
        {"events": 1, "new": 1, "skipped": 0},
        {"events": 1, "new": 0, "skipped": 0, "duplicate": True},
        {"events": 1, "new": 0, "skipped": 0, "duplicate": True},
    ]
    assert WebhookDelivery.objects.count() == DeliveryEvent.objects.count() == 1


def test_a_retry_of_a_delivery_that_failed_is_processed_on_that_delivery(
    accounts, make_message, monkeypatch
):
    message = make_message(account=accounts["sendgrid"])
    body = event_body(delivered(message.correlation_id))

    def post():
        return Client().post(
            path_of(accounts, "sendgrid"),
            data=body,
            content_type="application/json",
            headers=signed_headers(KEY_A, body),
        )

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(deliveries, "_apply_to_messages", broken)
    assert post().status_code == 500
    monkeypatch.undo()  # the fix; the provider retries the same body

    retry = post()

    assert (retry.status_code, retry.json()) == (200, {"events": 3, "new": 3, "skipped": 0})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error, delivery.events_new) == ("processed", "", 3)
    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
    assert post().json() == {"events": 3, "new": 0, "skipped": 0, "duplicate": True}


def test_a_delivery_whose_body_retention_purged_still_absorbs_its_replay(accounts):
    body = event_body(delivered("00000000-0000-0000-0000-000000000001"))
    headers = signed_headers(KEY_A, body)
    path = path_of(accounts, "sendgrid")
    Client().post(path, data=body, content_type="application/json", headers=headers)
    WebhookDelivery.objects.update(body="")  # as retention leaves it

    replay = Client().post(path, data=body, content_type="application/json", headers=headers)

    assert replay.json()["duplicate"] is True
    assert WebhookDelivery.objects.count() == 1


def test_the_tolerance_comes_from_the_environment_and_must_be_positive(manage, child_env):
    from tests.config.test_settings import settings_of

    env = child_env(DEBUG="true", WEBHOOK_TIMESTAMP_TOLERANCE="90")
    assert settings_of(env, "WEBHOOK_TIMESTAMP_TOLERANCE") == {"WEBHOOK_TIMESTAMP_TOLERANCE": 90}
    assert settings_of(child_env(DEBUG="true"), "WEBHOOK_TIMESTAMP_TOLERANCE") == {
        "WEBHOOK_TIMESTAMP_TOLERANCE": 600
    }

    proc = manage("check", env=child_env(DEBUG="true", WEBHOOK_TIMESTAMP_TOLERANCE="0"))

    assert proc.returncode != 0
    assert "WEBHOOK_TIMESTAMP_TOLERANCE must be at least 1 (seconds)" in proc.stderr
