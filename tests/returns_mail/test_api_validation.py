"""Bad input: a 4xx with the exact error body, and nothing stored."""

from __future__ import annotations

import io
import json

import pytest

from returns_mail.api.event_data import validate_data
from returns_mail.api.exceptions import PayloadTooLarge
from returns_mail.api.parsers import MAX_BODY_BYTES, JsonBodyParser
from templates_lib.catalogue import CATALOGUE, EventType, Field
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    EVENTS,
    api_client_fixture,
    api_fixture,
    event_body,
    make_client_fixture,
    own_cache_keys_fixture,
    post_json,
    row_counts,
)

pytestmark = pytest.mark.django_db

KNOWN = ", ".join(CATALOGUE)


def error(code: str, message: str, fields=None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def invalid(fields: dict) -> dict:
    return error("invalid", f"Invalid input: {', '.join(fields)}.", fields)


def post_raw(api, body: bytes, content_type="application/json", path=EVENTS, **extra):
    return api.generic("POST", path, body, content_type=content_type, **extra)


def assert_refused(response, status: int, body: dict) -> None:
    assert (response.status_code, response.json()) == (status, body)
    assert row_counts() == (0, 0)


# --- the body as a whole ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"type": ', "Malformed JSON: Expecting value: line 1 column 10 (char 9)."),
        (
            b"{'type': 1}",
            "Malformed JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1).",
        ),
        (b'{"amount": NaN}', "Malformed JSON: NaN is not valid JSON."),
        (b'{"name": "\xff"}', "The body is not valid UTF-8."),
    ],
)
def test_malformed_json_is_400(api, raw, message):
    assert_refused(post_raw(api, raw), 400, error("malformed_json", message))


def test_an_empty_body_is_400(api):
    assert_refused(post_raw(api, b""), 400, error("malformed_json", "The request body is empty."))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(api, content_type):
    body = json.dumps(event_body()).encode()
    assert_refused(
        post_raw(api, body, content_type=content_type),
        415,
        error("unsupported_media_type", f'Unsupported media type "{content_type}" in request.'),
    )


def test_a_body_without_content_type_is_415(api):
    response = post_raw(api, json.dumps(event_body()).encode(), content_type="")

    assert_refused(
        response,
        415,
        error(
            "unsupported_media_type",
            'Send the body as JSON with "Content-Type: application/json".',
        ),
    )


def test_a_body_over_1_mib_is_413(api):
    body = event_body()
    body["data"]["items"][0]["name"] = "x" * MAX_BODY_BYTES
    too_big = {"limit_bytes": MAX_BODY_BYTES}

    assert_refused(
        post_json(api, EVENTS, body),
        413,
        error("payload_too_large", "The request body is larger than 1048576 bytes.", **too_big),
    )


def test_a_body_of_exactly_1_mib_is_read():
    raw = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'
    assert len(JsonBodyParser().parse(io.BytesIO(raw), parser_context={})) == MAX_BODY_BYTES - 2


def test_the_parser_counts_what_it_reads_not_only_content_length():
    class Request:
        META = {"CONTENT_LENGTH": "10"}  # a lie, or no length at all

    raw = b'"' + b"x" * MAX_BODY_BYTES + b'"'
    with pytest.raises(PayloadTooLarge):
        JsonBodyParser().parse(io.BytesIO(raw), parser_context={"request": Request()})


@pytest.mark.parametrize("body", [[], "event", 3, None])
def test_the_single_endpoint_wants_one_object(api, body):
    assert_refused(
        post_raw(api, json.dumps(body).encode()),
        400,
        error("invalid", "The body must be a JSON object: one event."),
    )


# --- the event's fields -----------------------------------------------------------------------
def test_unknown_event_type_lists_the_known_ones(api):
    expected = invalid({"type": [f'Unknown event type "refund.done". Known types: {KNOWN}.']})
    expected["error"]["known_types"] = list(CATALOGUE)

    assert_refused(post_json(api, EVENTS, event_body(type="refund.done")), 400, expected)


def test_every_missing_field_is_named(api):
    required = ["This field is required."]
    assert_refused(
        post_json(api, EVENTS, {}),
        400,
        invalid(
            {
                "type": required,
                "occurred_at": required,
                "return_id": required,
                "order_id": required,
                "customer": required,
            }
        ),
    )


def test_a_naive_timestamp_is_refused(api):
    assert_refused(
        post_json(api, EVENTS, event_body(occurred_at="2026-11-26T10:15:00")),
        400,
        invalid(
            {
                "occurred_at": [
                    "Include a time zone offset (e.g. +00:00 or Z): a date and time without "
                    "one is ambiguous."
                ]
            }
        ),
    )


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T10:00:00Z", 1764151200])
def test_a_timestamp_that_is_not_iso_8601_is_refused(api, value):
    response = post_json(api, EVENTS, event_body(occurred_at=value))

    assert response.json()["error"]["fields"] == {
        "occurred_at": [
            "Expected a date and time in ISO 8601 with a time zone, e.g. 2026-11-26T10:15:00+00:00."
        ]
    }
    assert row_counts() == (0, 0)


def test_invalid_email_and_decimal_are_named_together(api):
    body = event_body(customer={"email": "ada@", "name": "Ada"})
    body["data"]["refund"]["amount"] = "49,90"

    assert_refused(
        post_json(api, EVENTS, body),
        400,
        invalid(
            {
                "customer.email": ["Enter a valid email address."],
                "data.refund.amount": ['Expected a decimal number, e.g. "49.90" or 49.9.'],
            }
        ),
    )


def test_wrong_types_are_not_coerced(api):
    body = event_body(
        return_id=1001,
        customer={"email": "ada@example.com", "marketing_consent": "yes", "locale": "english!"},
    )
    body["data"]["items"][0]["quantity"] = "1"

    assert_refused(
        post_json(api, EVENTS, body),
        400,
        invalid(
            {
                "return_id": ["Expected a string."],
                "customer.locale": ["Expected a language tag, e.g. en, fr-CA."],
                "customer.marketing_consent": ["Expected true or false."],
                "data.items.0.quantity": ["Expected an integer."],
            }
        ),
    )


def test_unknown_keys_are_named_at_every_level(api):
    body = event_body(brand={"name": "Shop"}, customer={"email": "a@example.com", "phone": "1"})
    body["data"]["colour"] = "red"
    body["data"]["items"][1]["size"] = "M"

    assert_refused(
        post_json(api, EVENTS, body),
        400,
        invalid(
            {
                # The declared fields' errors first, then the unknown keys of the top level.
                "customer.phone": [
                    "Unknown field (known here: email, name, first_name, locale, "
                    "marketing_consent)."
                ],
                "data.colour": ["Unknown field (known here: items, refund)."],
                "data.items.1.size": [
                    "Unknown field (known here: sku, name, quantity, reason, image_url)."
                ],
                "brand": [
                    "Unknown field (known here: type, occurred_at, return_id, order_id, "
                    "customer, event_id, data)."
                ],
            }
        ),
    )


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (lambda d: d.pop("refund"), {"data.refund": ["This field is required."]}),
        (lambda d: d.update(refund=None), {"data.refund": ["This field may not be null."]}),
        (lambda d: d.update(refund="89.80"), {"data.refund": ["Expected an object."]}),
        (lambda d: d["refund"].pop("currency"), {"data.refund.currency": ["This field is required."]}),
        (lambda d: d["refund"].update(method=""), {"data.refund.method": ["This field may not be blank."]}),
        (lambda d: d["refund"].update(amount=True), {"data.refund.amount": ['Expected a decimal number, e.g. "49.90" or 49.9.']}),
        (lambda d: d["refund"].update(amount="1e3"), {"data.refund.amount": ['Expected a decimal number, e.g. "49.90" or 49.9.']}),
        (lambda d: d["refund"].update(amount="1" * 16), {"data.refund.amount": ["At most 15 digits before the decimal point."]}),
        (lambda d: d.update(items=[]), {"data.items": ["This list may not be empty."]}),
        (lambda d: d.update(items={"sku": "A"}), {"data.items": ["Expected a list."]}),
        (lambda d: d["items"].append("TS-RED-M"), {"data.items.2": ["Expected an object."]}),
        (lambda d: d["items"][1].update(image_url="ftp://img.example/a.png"), {"data.items.1.image_url": ["Enter a valid URL (http or https)."]}),
        (lambda d: d["items"][0].update(sku=7), {"data.items.0.sku": ["Expected a string."]}),
        (lambda d: d["items"][0].update(quantity=1.5), {"data.items.0.quantity": ["Expected an integer."]}),
    ],
)  # fmt: skip
def test_data_is_checked_against_the_catalogue(api, change, fields):
    body = event_body()
    change(body["data"])

    assert_refused(post_json(api, EVENTS, body), 400, invalid(fields))


def test_data_must_be_an_object(api):
    assert_refused(
        post_json(api, EVENTS, event_body(data=["x"])),
        400,
        invalid({"data": ["Expected an object."]}),
    )


def test_data_is_required_when_the_type_has_required_fields(api):
    body = event_body()
    del body["data"]

    assert_refused(
        post_json(api, EVENTS, body),
        400,
        invalid(
            {"data.items": ["This field is required."], "data.refund": ["This field is required."]}
        ),
    )


def test_optional_data_fields_may_be_null_or_left_out(api):
    body = event_body("return.approved")
    body["data"]["return_by"] = None
    body["data"]["items"][0]["reason"] = None

    assert post_json(api, EVENTS, body).status_code == 202


@pytest.mark.parametrize("value", ["10/12/2026", "2026-02-30", "20261210", 20261210])
def test_dates_are_yyyy_mm_dd(api, value):
    body = event_body("return.approved")
    body["data"]["return_by"] = value

    assert_refused(
        post_json(api, EVENTS, body),
        400,
        invalid({"data.return_by": ["Expected a date as YYYY-MM-DD."]}),
    )


def test_every_catalogue_sample_is_valid(api):
    for index, event_type in enumerate(CATALOGUE):
        response = post_json(api, EVENTS, event_body(event_type, return_id=f"RMA-{index}"))
        assert response.status_code == 202, (event_type, response.json())


# --- field types no catalogue type uses yet ---------------------------------------------------
PROBE = EventType(
    "probe",
    "Probe",
    "",
    (
        Field("at", "datetime"),
        Field("ok", "boolean"),
        Field("contact", "email", required=False),
        Field("meta", "object", required=False, fields=(Field("n", "integer"),)),
    ),
    {},
)


def test_validate_data_normalises_and_names_errors():
    clean, errors = validate_data(PROBE, {"at": "2026-11-26T10:15:00Z", "ok": False})
    assert (clean, errors) == ({"at": "2026-11-26T10:15:00+00:00", "ok": False}, {})

    clean, errors = validate_data(
        PROBE,
        {"at": "2026-11-26T10:15:00", "ok": 0, "contact": "nobody", "meta": {"n": True}},
    )
    assert clean == {}
    assert errors == {
        "at": [
            "Include a time zone offset (e.g. +00:00 or Z): a date and time without one is "
            "ambiguous."
        ],
        "ok": ["Expected true or false."],
        "contact": ["Enter a valid email address."],
        "meta.n": ["Expected an integer."],
    }
