"""POST /api/v1/events: accepted events, the end-to-end send, idempotency; the GET endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import OperationalError, connection

from returns_mail.models import ApiClient, Message, ReturnEvent
from returns_mail.services.messages import message_resend
from returns_mail.services.suppression import suppression_add
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    EVENTS,
    api_client_fixture,
    api_fixture,
    api_for,
    event_body,
    make_client_fixture,
    own_cache_keys_fixture,
    post_json,
    refund_rule_fixture,
    row_counts,
)

pytestmark = pytest.mark.django_db

MAIL_SEND = "/v3/mail/send"


def test_refund_processed_is_rendered_sent_through_the_sandbox_and_read_back_as_sent(
    api, refund_rule, esp_sandbox, django_capture_on_commit_callbacks
):
    # The sending task is queued on commit and runs inline in tests.
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(api, EVENTS, event_body())

    assert response.status_code == 202
    event = ReturnEvent.objects.get()
    message = Message.objects.get()
    assert response.json() == {
        "id": event.pk,
        "type": "refund.processed",
        "return_id": "RMA-1001",
        "received_at": event.received_at.isoformat(),
        "messages": [
            {
                "id": message.pk,
                "rule": "Refund confirmation",
                "recipient": "ada.customer@example.com",
                "status": "queued",
                "reason": None,
                "reason_text": None,
            }
        ],
    }
    assert response["Location"] == f"/api/v1/events/{event.pk}"
    assert "Idempotent-Replay" not in response

    # The sandbox got the rendered email.
    [record] = esp_sandbox.records("sendgrid", MAIL_SEND)
    body = record["body"]
    assert body["personalizations"][0]["to"] == [
        {"email": "ada.customer@example.com", "name": "Ada Lovelace"}
    ]
    assert body["subject"] == "Your refund of 89.80 EUR is on its way"
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    assert "89.80 EUR" in html
    assert "Visa ending 4242" in html
    assert "RMA-1001" in html
    assert "Organic T-shirt, red, M" in html

    listing = api.get("/api/v1/returns/RMA-1001/messages")
    assert listing.status_code == 200
    [sent] = listing.json()["messages"]
    message.refresh_from_db()
    assert sent == {
        "id": message.pk,
        "event_id": event.pk,
        "event_type": "refund.processed",
        "rule": "Refund confirmation",
        "recipient": "ada.customer@example.com",
        "template": {"slug": "refund-processed", "name": "Refund processed", "version": 1},
        "account": "SendGrid (sandbox)",
        "provider_message_id": record["message_id"],
        "status": "sent",
        "reason": None,
        "status_changed_at": _drf_time(message.status_changed_at),
        "send_after": _drf_time(message.send_after),
        "sent_at": _drf_time(message.sent_at),
        "created_at": _drf_time(message.created_at),
        "resend_of": None,
    }


def _drf_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_the_event_is_stored_as_validated_with_data_normalised(api):
    body = event_body(
        occurred_at="2026-11-26T11:15:00+01:00",
        customer={
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "locale": "fr-CA",
            "marketing_consent": True,
        },
    )
    body["data"]["refund"]["amount"] = 49.9

    assert post_json(api, EVENTS, body).status_code == 202

    event = ReturnEvent.objects.get()
    assert event.occurred_at == datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
    assert (event.customer_email, event.customer_name, event.customer_locale) == (
        "ada@example.com",
        "Ada Lovelace",
        "fr-CA",
    )
    assert event.marketing_consent is True
    assert event.data["refund"] == {
        "amount": "49.90",
        "currency": "EUR",
        "method": "Visa ending 4242",
    }
    assert event.data["items"][0] == {
        "sku": "TS-RED-M",
        "name": "Organic T-shirt, red, M",
        "quantity": 1,
        "reason": "Too small",
    }


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("49.90", "49.90"), (49.9, "49.90"), (49, "49.00"), ("0.125", "0.125"), ("-5", "-5.00")],
)
def test_decimals_are_stored_as_decimal_strings(api, sent, stored):
    body = event_body()
    body["data"]["refund"]["amount"] = sent

    assert post_json(api, EVENTS, body).status_code == 202
    assert ReturnEvent.objects.get().data["refund"]["amount"] == stored


def test_an_event_without_matching_rules_is_accepted_with_no_messages(api):
    response = post_json(api, EVENTS, event_body("return.cancelled"))

    assert response.status_code == 202
    assert response.json()["messages"] == []
    assert row_counts() == (1, 0)


# --- idempotency ------------------------------------------------------------------------------
def test_same_key_and_body_replays_the_first_answer_and_creates_nothing(api, refund_rule):
    first = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="order-58213-refund")
    # The same JSON with its keys in another order is the same body.
    again = post_json(
        api,
        EVENTS,
        dict(reversed(list(event_body().items()))),
        HTTP_IDEMPOTENCY_KEY="order-58213-refund",
    )

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replay"] == "true"
    assert row_counts() == (1, 1)


def test_a_replay_answers_the_messages_current_status_after_sends_and_resends(
    api, refund_rule, esp_sandbox, django_capture_on_commit_callbacks
):
    suppression_add(email="warehouse@example.com", reason="manual")
    refund_rule.internal_recipients = ["warehouse@example.com"]
    refund_rule.save()
    with django_capture_on_commit_callbacks(execute=True):
        first = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="k-sent")
    with django_capture_on_commit_callbacks(execute=True):
        sent = Message.objects.get(recipient="ada.customer@example.com", status="sent")
        message_resend(message_id=sent.pk)

    again = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="k-sent")

    assert [m["status"] for m in first.json()["messages"]] == ["queued", "queued"]
    assert again["Idempotent-Replay"] == "true"
    # The rows as they are now: sent, and suppressed (the list is checked at send time).
    statuses = {m["recipient"]: m["status"] for m in again.json()["messages"]}
    assert statuses == {"ada.customer@example.com": "sent", "warehouse@example.com": "suppressed"}
    # The same messages as first answered: the resend is not one of the event's answer.
    assert [m["id"] for m in again.json()["messages"]] == [
        m["id"] for m in first.json()["messages"]
    ]
    assert Message.objects.filter(status="sent").count() == 2  # the original and its resend


def test_a_replay_reads_a_status_changed_since_on_the_row(api, refund_rule):
    first = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="k-delivered")
    Message.objects.update(status="delivered")

    again = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="k-delivered")

    assert [m["status"] for m in first.json()["messages"]] == ["queued"]
    assert [m["status"] for m in again.json()["messages"]] == ["delivered"]
    assert row_counts() == (1, 1)


def test_same_key_with_another_body_is_409_naming_the_event(api):
    first = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="k-1")
    other = event_body(return_id="RMA-2002")

    response = post_json(api, EVENTS, other, HTTP_IDEMPOTENCY_KEY="k-1")

    event_id = first.json()["id"]
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "idempotency_conflict",
            "message": "This idempotency key was already used for a different request "
            f"(event {event_id}).",
            "fields": {},
            "event_id": event_id,
        }
    }
    assert row_counts() == (1, 0)


def test_the_event_id_is_the_key_without_a_header(api):
    body = event_body(event_id="evt-0001")

    first = post_json(api, EVENTS, body)
    again = post_json(api, EVENTS, body)
    conflict = post_json(api, EVENTS, {**body, "order_id": "ORD-1"})

    assert (first.status_code, again.status_code, conflict.status_code) == (202, 202, 409)
    assert again["Idempotent-Replay"] == "true"
    assert ReturnEvent.objects.get().idempotency_key == "evt-0001"


def test_the_header_wins_over_the_event_id(api):
    post_json(api, EVENTS, event_body(event_id="evt-0001"), HTTP_IDEMPOTENCY_KEY="hdr-1")

    assert ReturnEvent.objects.get().idempotency_key == "hdr-1"


def test_without_any_key_every_post_is_a_new_event(api):
    post_json(api, EVENTS, event_body())
    post_json(api, EVENTS, event_body())

    keys = set(ReturnEvent.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 2


def test_keys_are_per_client(api, make_client):
    _, other_token = make_client()
    post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY="shared")

    response = post_json(
        api_for(other_token), EVENTS, event_body(return_id="RMA-9"), HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert response.status_code == 202
    assert ReturnEvent.objects.count() == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_a_bad_idempotency_key_is_400_and_stores_nothing(api, key):
    response = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "Idempotency-Key": ["Expected 1 to 255 visible ASCII characters (no spaces)."]
    }
    assert row_counts() == (0, 0)


# --- reads ------------------------------------------------------------------------------------
def test_get_event_shows_it_with_its_messages_and_their_status(
    api, refund_rule, esp_sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event_id = post_json(api, EVENTS, event_body(event_id="evt-7")).json()["id"]

    response = api.get(f"/api/v1/events/{event_id}")

    assert response.status_code == 200
    body = response.json()
    message = Message.objects.get()
    assert {k: v for k, v in body.items() if k != "messages"} == {
        "id": event_id,
        "type": "refund.processed",
        "return_id": "RMA-1001",
        "order_id": "ORD-58213",
        "occurred_at": "2026-11-26T10:15:00Z",
        "received_at": _drf_time(ReturnEvent.objects.get().received_at),
        "customer": {
            "email": "ada.customer@example.com",
            "name": "Ada Lovelace",
            "locale": "en",
            "marketing_consent": False,
        },
        "data": event_body()["data"],
    }
    [shown] = body["messages"]
    assert (shown["id"], shown["status"], shown["status_changed_at"]) == (
        message.pk,
        "sent",
        _drf_time(message.status_changed_at),
    )


def test_return_messages_are_newest_first_across_events(api, refund_rule, esp_sandbox):
    first = post_json(api, EVENTS, event_body()).json()["messages"][0]["id"]
    second = post_json(api, EVENTS, event_body()).json()["messages"][0]["id"]
    post_json(api, EVENTS, event_body(return_id="RMA-OTHER"))

    response = api.get("/api/v1/returns/RMA-1001/messages")

    assert response.status_code == 200
    assert response.json()["return_id"] == "RMA-1001"
    assert [m["id"] for m in response.json()["messages"]] == [second, first]


def test_a_return_with_events_but_no_messages_lists_none(api):
    post_json(api, EVENTS, event_body("return.cancelled"))

    response = api.get("/api/v1/returns/RMA-1001/messages")

    assert response.status_code == 200
    assert response.json() == {"return_id": "RMA-1001", "messages": []}


def test_a_client_sees_only_its_own_events(api, make_client, refund_rule, esp_sandbox):
    _, other_token = make_client()
    event_id = post_json(api, EVENTS, event_body()).json()["id"]
    other = api_for(other_token)

    not_found = {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
    event = other.get(f"/api/v1/events/{event_id}")
    messages = other.get("/api/v1/returns/RMA-1001/messages")
    missing = api.get("/api/v1/events/999999")
    huge = api.get(f"/api/v1/events/{2**64}")

    assert (event.status_code, event.json()) == (404, not_found)
    assert (messages.status_code, messages.json()) == (404, not_found)
    assert missing.status_code == huge.status_code == 404


def test_unknown_api_paths_answer_json_404(api):
    response = api.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_last_used_at_is_recorded_at_most_once_a_minute(api, api_client):
    client, _ = api_client
    assert client.last_used_at is None

    api.get("/api/v1/returns/RMA-1/messages")
    first = ApiClient.objects.get(pk=client.pk).last_used_at
    api.get("/api/v1/returns/RMA-1/messages")
    second = ApiClient.objects.get(pk=client.pk).last_used_at

    assert first is not None
    assert second == first


def _database_gone_on(table: str):
    """A connection execute wrapper: statements touching `table` fail as a restarting
    PostgreSQL fails them (the connection is refused or lost)."""

    def wrapper(execute, sql, params, many, context):
        if table in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.parametrize("path", [EVENTS, f"{EVENTS}/batch"])
def test_a_database_outage_is_a_503_to_retry_and_the_retry_is_stored_once(
    path, api, refund_rule, django_capture_on_commit_callbacks
):
    body = event_body() if path == EVENTS else [event_body()]
    key = {"HTTP_IDEMPOTENCY_KEY": "outage-1"}

    with connection.execute_wrapper(_database_gone_on("returns_mail_message")):
        refused = post_json(api, path, body, **key)

    assert refused.status_code == 503
    assert refused["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "unavailable"
    assert refused.json()["error"]["retry_after"] == 5
    assert row_counts() == (0, 0)  # the event's insert was rolled back with the rest

    with django_capture_on_commit_callbacks(execute=True):
        retried = post_json(api, path, body, **key)
        again = post_json(api, path, body, **key)
    accepted = 202 if path == EVENTS else 200
    assert (retried.status_code, again.status_code) == (accepted, accepted)
    assert row_counts() == (1, 1)
