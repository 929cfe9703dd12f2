"""POST /api/v1/events/batch: up to 100 events, each answered on its own."""

from __future__ import annotations

import json

import pytest

from returns_mail.models import Message, ReturnEvent
from returns_mail.services.events import events_answers
from templates_lib.catalogue import CATALOGUE
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    BATCH,
    EVENTS,
    api_client_fixture,
    api_fixture,
    event_body,
    make_client_fixture,
    own_cache_keys_fixture,
    post_json,
    refund_rule_fixture,
    row_counts,
)

pytestmark = pytest.mark.django_db


def test_mixed_items_are_answered_one_by_one(api, refund_rule):
    taken = post_json(api, EVENTS, event_body(event_id="evt-taken")).json()["id"]
    items = [
        event_body(event_id="evt-1"),
        event_body(customer={"email": "not-an-email"}),
        event_body(type="refund.later"),
        event_body(event_id="evt-taken", return_id="RMA-2"),  # the key, with another body
        "refund.processed",
        event_body("return.cancelled", return_id="RMA-3"),
    ]

    response = post_json(api, BATCH, items)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [
        (0, 202),
        (1, 400),
        (2, 400),
        (3, 409),
        (4, 400),
        (5, 202),
    ]
    first = ReturnEvent.objects.get(idempotency_key="evt-1")
    assert results[0]["event"] == events_answers([first])[first.pk]
    assert results[0]["event"]["messages"][0]["recipient"] == "ada.customer@example.com"
    assert results[1]["error"] == {
        "code": "invalid",
        "message": "Invalid input: customer.email.",
        "fields": {"customer.email": ["Enter a valid email address."]},
    }
    assert results[2]["error"]["fields"] == {
        "type": [f'Unknown event type "refund.later". Known types: {", ".join(CATALOGUE)}.']
    }
    assert results[2]["error"]["known_types"] == list(CATALOGUE)
    assert results[3]["error"] == {
        "code": "idempotency_conflict",
        "message": "This idempotency key was already used for a different request "
        f"(event {taken}).",
        "fields": {},
        "event_id": taken,
    }
    assert results[4]["error"] == {
        "code": "invalid",
        "message": "Each item must be a JSON object: one event.",
        "fields": {},
    }
    assert results[5]["event"]["type"] == "return.cancelled"
    # The one posted before, and the two accepted items; only refunds have a rule.
    assert row_counts() == (3, 2)


@pytest.mark.parametrize(
    "bad",
    [
        event_body(customer={"email": "not-an-email"}),
        event_body(type="refund.later"),
        event_body(data={"refund": {"amount": "lots"}}, order_id=""),
    ],
)
def test_a_batch_item_error_is_the_single_event_error_for_the_same_input(api, refund_rule, bad):
    single = post_json(api, EVENTS, bad)
    [item] = post_json(api, BATCH, [bad]).json()["results"]

    assert single.status_code == item["status"] == 400
    assert item == {"index": 0, "status": 400, "error": single.json()["error"]}
    assert row_counts() == (0, 0)


def test_a_batch_idempotency_conflict_is_the_single_event_error(api, refund_rule):
    post_json(api, EVENTS, event_body(event_id="evt-9"))
    again = event_body(event_id="evt-9", return_id="RMA-2")
    single = post_json(api, EVENTS, again)
    [item] = post_json(api, BATCH, [again]).json()["results"]

    assert single.status_code == item["status"] == 409
    assert item == {"index": 0, "status": 409, "error": single.json()["error"]}


def test_a_replayed_batch_answers_the_messages_current_status(api, refund_rule):
    items = [event_body(return_id="RMA-1"), event_body(event_id="evt-2", return_id="RMA-2")]
    first = post_json(api, BATCH, items, HTTP_IDEMPOTENCY_KEY="batch-s").json()["results"]
    Message.objects.update(status="delivered")

    again = post_json(api, BATCH, items, HTTP_IDEMPOTENCY_KEY="batch-s").json()["results"]

    assert [r["event"]["messages"][0]["status"] for r in first] == ["queued", "queued"]
    assert [r["event"]["messages"][0]["status"] for r in again] == ["delivered", "delivered"]
    assert row_counts() == (2, 2)


def test_a_retried_batch_with_an_idempotency_key_creates_nothing_twice(api, refund_rule):
    items = [event_body(return_id=f"RMA-{i}") for i in range(3)]

    first = post_json(api, BATCH, items, HTTP_IDEMPOTENCY_KEY="batch-7")
    again = post_json(api, BATCH, items, HTTP_IDEMPOTENCY_KEY="batch-7")

    assert first.json() == again.json()
    assert sorted(ReturnEvent.objects.values_list("idempotency_key", flat=True)) == [
        "batch-7:0",
        "batch-7:1",
        "batch-7:2",
    ]
    assert row_counts() == (3, 3)


def test_an_items_event_id_is_its_key_in_a_batch(api):
    post_json(api, BATCH, [event_body(event_id="evt-9")], HTTP_IDEMPOTENCY_KEY="b")

    replay = post_json(api, EVENTS, event_body(event_id="evt-9"))

    assert replay.status_code == 202
    assert replay["Idempotent-Replay"] == "true"
    assert ReturnEvent.objects.get().idempotency_key == "evt-9"


def test_a_batch_of_100_is_accepted(api):
    items = [event_body("return.cancelled", return_id=f"RMA-{i}") for i in range(100)]

    response = post_json(api, BATCH, items)

    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {202}
    assert ReturnEvent.objects.count() == 100


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            [event_body()] * 101,
            {
                "code": "too_many_items",
                "message": "A batch holds 1 to 100 events; this one has 101.",
                "fields": {},
                "max_items": 100,
            },
        ),
        (
            [],
            {
                "code": "empty_batch",
                "message": "A batch holds 1 to 100 events; this one has 0.",
                "fields": {},
                "max_items": 100,
            },
        ),
        (
            event_body(),
            {
                "code": "invalid",
                "message": "The body must be a JSON array of events.",
                "fields": {},
            },
        ),
    ],
    ids=["101 items", "no item", "an object"],
)
def test_a_wrong_batch_body_is_400_and_stores_nothing(api, body, error):
    response = post_json(api, BATCH, body)

    assert (response.status_code, response.json()) == (400, {"error": error})
    assert row_counts() == (0, 0)


def test_malformed_and_oversized_batches_store_nothing(api):
    malformed = api.generic("POST", BATCH, b"[{}", content_type="application/json")
    huge = api.generic(
        "POST",
        BATCH,
        json.dumps([event_body(order_id="x" * 20_000) for _ in range(60)]).encode(),
        content_type="application/json",
    )
    wrong_type = api.generic("POST", BATCH, b"[]", content_type="text/csv")

    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_json"
    assert huge.status_code == 413
    assert wrong_type.status_code == 415
    assert row_counts() == (0, 0)
    assert Message.objects.count() == 0
