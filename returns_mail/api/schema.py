"""What the OpenAPI schema says about the API beyond the serializers: the error and batch
shapes, per-type request examples from the catalogue, headers, and the error responses."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_serializer,
)
from rest_framework import serializers

from returns_mail.api.serializers import EventAcceptedSerializer, EventSerializer
from templates_lib.catalogue import CATALOGUE, COMMON_FIELDS, SAMPLE_COMMON, Field

MAX_BATCH = 100


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="invalid, malformed_json, too_many_items, not_authenticated, "
        "authentication_failed, insufficient_scope, not_found, idempotency_conflict, "
        "payload_too_large, unsupported_media_type, method_not_allowed, throttled, ..."
    )
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Dotted paths to messages, list indexes as numbers: "data.items.0.sku".',
    )
    known_types = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="With an unknown event type."
    )
    event_id = serializers.IntegerField(
        required=False, help_text="idempotency_conflict: the event the key belongs to."
    )
    required_scope = serializers.CharField(required=False, help_text="insufficient_scope.")
    retry_after = serializers.IntegerField(required=False, help_text="throttled: seconds.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request.")
    status = serializers.ChoiceField(choices=[202, 400, 409])
    event = EventAcceptedSerializer(required=False, help_text="With 202.")
    error = ErrorDetailSerializer(
        required=False,
        help_text="With 400 and 409: the same object as a single event's `error`.",
    )


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)


@extend_schema_serializer(many=False)  # its examples are whole batches, not one item
class EventBatchSerializer(serializers.ListSerializer):
    """The batch request, for the schema (the view answers item by item)."""

    child = EventSerializer()


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


COMMON_ERRORS = {
    401: error_response("No token, or an invalid one (with `WWW-Authenticate: Bearer`)."),
    403: error_response("The token lacks the scope this operation needs."),
    429: error_response("Over the client's rate limit; `Retry-After` says when to try again."),
    503: error_response(
        "The database is unavailable for a moment (a restart, a failover); `Retry-After` says "
        "when to try again. Retry with the same `Idempotency-Key`."
    ),
}
WRITE_ERRORS = {
    413: error_response("The body is over 1 MiB."),
    415: error_response("The body is not sent as `application/json`."),
    **COMMON_ERRORS,
}

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # checked by the views
BATCH_KEY_MAX_LENGTH = 255 - len(f":{MAX_BATCH - 1}")  # item keys are "<key>:<index>"
BATCH_IDEMPOTENCY_KEY_PATTERN = rf"^[\x21-\x7e]{{1,{BATCH_KEY_MAX_LENGTH}}}$"
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=IDEMPOTENCY_KEY_PATTERN,
    description="At most 255 visible ASCII characters. A repeat with the same key and body "
    "creates nothing and is answered with the same event and messages, each with its current "
    "status (and `Idempotent-Replay: true`); with another body, 409. Without it the event's "
    "`event_id` is the key; with neither, a retry is a new event and sends its emails again.",
)
BATCH_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=BATCH_IDEMPOTENCY_KEY_PATTERN,
    description=f"At most {BATCH_KEY_MAX_LENGTH} visible ASCII characters. Item i without an "
    "`event_id` uses the key `<Idempotency-Key>:<i>`, so a "
    "retried batch creates nothing twice; a replayed item answers its messages' current "
    "status. Items with an `event_id` use it.",
)
REPLAY_HEADER = OpenApiParameter(
    "Idempotent-Replay",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[202],
    enum=["true"],
    description="Sent when this is the stored answer to an earlier request with the same key.",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait: until the client's rate-limit window resets (429), or "
    "before trying again while the database is unavailable (503).",
)


def _example_event(key: str) -> dict:
    customer = {k: v for k, v in SAMPLE_COMMON["customer"].items() if k != "first_name"}
    return {
        "type": key,
        "occurred_at": SAMPLE_COMMON["occurred_at"],
        "return_id": SAMPLE_COMMON["return_id"],
        "order_id": SAMPLE_COMMON["order_id"],
        "customer": {**customer, "marketing_consent": False},
        "event_id": f"evt-{key.replace('.', '-')}-0001",
        "data": CATALOGUE[key].sample,
    }


EVENT_EXAMPLES = [
    OpenApiExample(key, value=_example_event(key), request_only=True, summary=event.label)
    for key, event in CATALOGUE.items()
]
BATCH_EXAMPLES = [
    OpenApiExample(
        "two events",
        value=[_example_event("return.approved"), _example_event("refund.processed")],
        request_only=True,
    )
]
ACCEPTED_EXAMPLE = OpenApiExample(
    "accepted",
    response_only=True,
    status_codes=["202"],
    value={
        "id": 1017,
        "type": "refund.processed",
        "return_id": "RMA-1001",
        "received_at": "2026-11-26T10:15:02.311000+00:00",
        "messages": [
            {
                "id": 5120,
                "rule": "Refund confirmation",
                "recipient": "ada.customer@example.com",
                "status": "queued",
                "reason": None,
                "reason_text": None,
            },
            {
                "id": 5121,
                "rule": "Spring offer",
                "recipient": "ada.customer@example.com",
                "status": "suppressed",
                "reason": "no_marketing_consent",
                "reason_text": "promotional mail refused: the customer has not given marketing "
                "consent (the event's marketing_consent is false)",
            },
        ],
    },
)
INVALID_EXAMPLE = OpenApiExample(
    "invalid",
    response_only=True,
    status_codes=["400"],
    value={
        "error": {
            "code": "invalid",
            "message": "Invalid input: customer.email, data.refund.amount.",
            "fields": {
                "customer.email": ["Enter a valid email address."],
                "data.refund.amount": ['Expected a decimal number, e.g. "49.90" or 49.9.'],
            },
        }
    },
)
CONFLICT_EXAMPLE = OpenApiExample(
    "idempotency conflict",
    response_only=True,
    status_codes=["409"],
    value={
        "error": {
            "code": "idempotency_conflict",
            "message": "This idempotency key was already used for a different request "
            "(event 1017).",
            "fields": {},
            "event_id": 1017,
        }
    },
)


def _field_lines(fields: tuple[Field, ...], prefix: str = "") -> list[str]:
    lines = []
    for f in fields:
        path = f"{prefix}{f.name}"
        kind = "list of objects" if f.type == "list" else f.type
        need = "required" if f.required else "optional"
        lines.append(f"  - `{path}` ({kind}, {need}): {f.description}")
        lines.extend(_field_lines(f.fields, f"{path}[]." if f.type == "list" else f"{path}."))
    return lines


def catalogue_description() -> str:
    """The event types and the `data` fields each takes, as Markdown."""
    lines = [
        "One return event. The common fields are "
        + ", ".join(f"`{f.name}`" for f in COMMON_FIELDS if f.name != "brand")
        + "; `data` holds the fields of the event's type:",
        "",
    ]
    for key, event in CATALOGUE.items():
        lines.append(f"- **`{key}`**: {event.description}")
        lines.extend(_field_lines(event.fields) or ["  - (no data fields)"])
    return "\n".join(lines)
