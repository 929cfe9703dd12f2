"""The REST API's views: validate the input, call one service or selector, shape the answer."""

from __future__ import annotations

import re
import threading
import uuid

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from returns_mail.api import schema
from returns_mail.api.authentication import BearerTokenAuthentication
from returns_mail.api.exceptions import (
    ApiError,
    flatten_errors,
    idempotency_conflict,
    invalid_input,
)
from returns_mail.api.parsers import JsonBodyParser, read_json
from returns_mail.api.permissions import HasScope, declared_methods
from returns_mail.api.serializers import (
    EventAcceptedSerializer,
    EventDetailSerializer,
    EventSerializer,
    EventValidator,
    ReturnMessagesSerializer,
)
from returns_mail.api.throttling import ClientRateThrottle
from returns_mail.exceptions import IdempotencyConflict
from returns_mail.models import ApiClient
from returns_mail.selectors.messages import event_get, return_messages
from returns_mail.services.events import (
    Accepted,
    EventInput,
    IngestItem,
    event_ingest,
    events_ingest_batch,
    request_digest,
)
from templates_lib.catalogue import CATALOGUE

MAX_BATCH = schema.MAX_BATCH
_KEY = re.compile(schema.IDEMPOTENCY_KEY_PATTERN)
_BATCH_KEY = re.compile(schema.BATCH_IDEMPOTENCY_KEY_PATTERN)


class ApiView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ClientRateThrottle]
    parser_classes = [JsonBodyParser]
    renderer_classes = [JSONRenderer]
    # Method -> scope. HasScope refuses (405) every method not named here.
    required_scopes: dict[str, str] = {}

    @property
    def allowed_methods(self) -> list[str]:
        """The `Allow` header of every answer: the declared methods only."""
        return declared_methods(self)


def _idempotency_header(request, pattern: re.Pattern = _KEY, max_length: int = 255) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not pattern.match(key):
        raise invalid_input(
            {
                "Idempotency-Key": [
                    f"Expected 1 to {max_length} visible ASCII characters (no spaces)."
                ]
            }
        )
    return key


def _validated(validator: EventValidator, body) -> tuple[EventInput, str | None]:
    """The event and its own event_id, or the 400 naming every bad field."""
    try:
        return validator(body)
    except ValidationError as exc:
        unknown_type = any(
            getattr(detail, "code", None) == "unknown_type" for detail in exc.detail.get("type", [])
        )
        extra = {"known_types": list(CATALOGUE)} if unknown_type else {}
        raise invalid_input(flatten_errors(exc.detail), **extra) from None


def _ingest(client: ApiClient, body, key: str | None) -> Accepted:
    item = _ingest_item(_thread_validator(), body, key)
    return event_ingest(
        client=client, event=item.event, idempotency_key=item.idempotency_key, digest=item.digest
    )


_local = threading.local()


def _thread_validator() -> EventValidator:
    """One per thread, kept between requests: building one costs a third of a validation."""
    validator = getattr(_local, "validator", None)
    if validator is None:
        validator = _local.validator = EventValidator()
    return validator


class EventCreateView(ApiView):
    required_scopes = {"POST": "events:write"}

    @extend_schema(
        operation_id="events_create",
        summary="Post one return event",
        description=schema.catalogue_description(),
        request=EventSerializer,
        parameters=[schema.IDEMPOTENCY_KEY, schema.REPLAY_HEADER, schema.RETRY_AFTER],
        responses={
            202: OpenApiResponse(
                EventAcceptedSerializer,
                description="Accepted: the event id and the messages it queued. A repeat "
                "with the same key and body gets the same event and messages, each with its "
                "current status.",
            ),
            400: schema.error_response("Malformed JSON, or invalid fields (each one named)."),
            409: schema.error_response("The idempotency key was used for another body."),
            **schema.WRITE_ERRORS,
        },
        examples=[
            *schema.EVENT_EXAMPLES,
            schema.ACCEPTED_EXAMPLE,
            schema.INVALID_EXAMPLE,
            schema.CONFLICT_EXAMPLE,
        ],
        tags=["events"],
    )
    def post(self, request):
        body = read_json(request)
        if not isinstance(body, dict):
            raise invalid_input({}, message="The body must be a JSON object: one event.")
        accepted = _ingest(request.user, body, _idempotency_header(request))
        headers = {"Location": reverse("api:event-detail", args=[accepted.event.pk])}
        if not accepted.created:
            headers["Idempotent-Replay"] = "true"
        return Response(accepted.answer, status=status.HTTP_202_ACCEPTED, headers=headers)


class EventBatchView(ApiView):
    required_scopes = {"POST": "events:write"}

    @extend_schema(
        operation_id="events_batch_create",
        summary=f"Post up to {MAX_BATCH} return events",
        description="Each item is an event as for `POST /api/v1/events`, answered on its own "
        "(202 accepted or replayed, 400 invalid, 409 idempotency conflict) in `results`, in "
        "the order sent. The whole body is refused (400) when it is not a JSON array or holds "
        f"no item or more than {MAX_BATCH}.",
        request=schema.EventBatchSerializer(),
        parameters=[schema.BATCH_IDEMPOTENCY_KEY, schema.RETRY_AFTER],
        responses={
            200: schema.BatchResponseSerializer,
            400: schema.error_response("Not a JSON array, empty, or more than 100 items."),
            **schema.WRITE_ERRORS,
        },
        examples=schema.BATCH_EXAMPLES,
        tags=["events"],
    )
    def post(self, request):
        body = read_json(request)
        if not isinstance(body, list):
            raise invalid_input({}, message="The body must be a JSON array of events.")
        if not body or len(body) > MAX_BATCH:
            raise ApiError(
                status_code=status.HTTP_400_BAD_REQUEST,
                code="too_many_items" if body else "empty_batch",
                message=f"A batch holds 1 to {MAX_BATCH} events; this one has {len(body)}.",
                max_items=MAX_BATCH,
            )
        # Room for ":<index>": the items' keys fit the 255 characters of the column.
        batch_key = _idempotency_header(request, _BATCH_KEY, schema.BATCH_KEY_MAX_LENGTH)
        results: list[dict | None] = [None] * len(body)
        valid: list[tuple[int, IngestItem]] = []
        validator = _thread_validator()
        for index, item in enumerate(body):
            key = _batch_key(batch_key, index, item)
            try:
                valid.append((index, _ingest_item(validator, item, key)))
            except ApiError as exc:
                results[index] = {
                    "index": index,
                    "status": exc.status_code,
                    "error": exc.body()["error"],
                }
        stored = events_ingest_batch(client=request.user, items=[item for _, item in valid])
        for (index, _), outcome in zip(valid, stored, strict=True):
            if isinstance(outcome, IdempotencyConflict):
                error = idempotency_conflict(outcome).body()["error"]
                results[index] = {"index": index, "status": 409, "error": error}
            else:
                results[index] = {"index": index, "status": 202, "event": outcome.answer}
        return Response({"results": results}, status=status.HTTP_200_OK)


def _batch_key(batch_key: str | None, index: int, item) -> str | None:
    """An item's own event_id is its key; else the batch's Idempotency-Key and its index."""
    if isinstance(item, dict) and isinstance(item.get("event_id"), str):
        return None
    return f"{batch_key}:{index}" if batch_key else None


def _ingest_item(validator: EventValidator, item, key: str | None) -> IngestItem:
    if not isinstance(item, dict):
        raise invalid_input({}, message="Each item must be a JSON object: one event.")
    event, event_id = _validated(validator, item)
    return IngestItem(
        event=event,
        idempotency_key=key or event_id or f"auto:{uuid.uuid4()}",
        digest=request_digest(item),
    )


class EventDetailView(ApiView):
    required_scopes = {"GET": "messages:read"}

    @extend_schema(
        operation_id="events_retrieve",
        summary="An event with its messages and their current status",
        parameters=[OpenApiParameter("event_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            200: EventDetailSerializer,
            404: schema.error_response("No such event among this client's."),
            **schema.COMMON_ERRORS,
        },
        tags=["events"],
    )
    def get(self, request, event_id: int):
        event = event_get(client=request.user, event_id=event_id)
        if event is None:
            raise Http404
        return Response(EventDetailSerializer(event).data)


class ReturnMessagesView(ApiView):
    required_scopes = {"GET": "messages:read"}

    @extend_schema(
        operation_id="returns_messages_list",
        summary="Every message sent for a return, newest first",
        parameters=[OpenApiParameter("return_id", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={
            200: ReturnMessagesSerializer,
            404: schema.error_response("This client posted no event for the return."),
            **schema.COMMON_ERRORS,
        },
        tags=["returns"],
    )
    def get(self, request, return_id: str):
        # No return id holds a NUL (refused on input), and PostgreSQL refuses one in a query.
        if "\x00" in return_id:
            raise Http404
        messages = return_messages(client=request.user, return_id=return_id)
        if messages is None:
            raise Http404
        return Response(
            ReturnMessagesSerializer({"return_id": return_id, "messages": messages}).data
        )
