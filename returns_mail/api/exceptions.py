"""One error format for the whole API:

    {"error": {"code": "invalid", "message": "...", "fields": {"customer.email": ["..."]}}}

`fields` maps dotted paths (list indexes as numbers: `data.items.0.sku`) to messages; it is
empty when the error is about the request as a whole. Some errors add keys of their own
(`known_types`, `event_id`, `required_scope`, `retry_after`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from returns_mail.exceptions import IdempotencyConflict

logger = logging.getLogger(__name__)

# DRF's own codes, renamed where ours say more; others pass through (not_found, throttled...).
_CODES = {"parse_error": "malformed_json"}


class ApiError(exceptions.APIException):
    """An error the API answers with, in the house format."""

    def __init__(
        self,
        *,
        status_code: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
        **extra: Any,
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra

    def body(self) -> dict:
        return error_body(self.code, self.message, self.fields, **self.extra)


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            code="payload_too_large",
            message=f"The request body is larger than {limit} bytes.",
            limit_bytes=limit,
        )


def idempotency_conflict(exc: IdempotencyConflict) -> ApiError:
    return ApiError(
        status_code=status.HTTP_409_CONFLICT,
        code="idempotency_conflict",
        message=(
            f"This idempotency key was already used for a different request (event {exc.event_id})."
        ),
        event_id=exc.event_id,
    )


# A database restart or failover takes seconds; asking sooner only adds load.
DATABASE_RETRY_AFTER = 5


def database_unavailable() -> ApiError:
    """The database refused or lost the connection (a restart, a failover, SQLite's lock):
    the request's transaction rolled back, so the client retries with the same key."""
    error = ApiError(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        code="unavailable",
        message="The database is unavailable for a moment: nothing new was stored. Retry with "
        "the same Idempotency-Key (a request that did get stored is answered as before).",
        retry_after=DATABASE_RETRY_AFTER,
    )
    error.wait = DATABASE_RETRY_AFTER  # DRF's handler turns `wait` into Retry-After
    return error


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"dotted.path": [messages]}; list indexes become numbers."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                path = prefix or api_settings.NON_FIELD_ERRORS_KEY
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, path).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(isinstance(item, str) for item in detail):
            if detail:
                flat[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(m) for m in detail]
        else:  # the errors of a list's elements, one per element ({} or [] when it is fine)
            for index, item in enumerate(detail):
                if item:
                    flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    elif detail:
        flat[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(detail)]
    return flat


def invalid_input(
    fields: dict[str, list[str]], message: str | None = None, **extra: Any
) -> ApiError:
    """A 400 "invalid": the message names the bad fields unless given."""
    names = ", ".join(fields)
    return ApiError(
        status_code=status.HTTP_400_BAD_REQUEST,
        code="invalid",
        message=message or (f"Invalid input: {names}." if names else "Invalid input."),
        fields=fields,
        **extra,
    )


def error_body(code: str, message: str, fields=None, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def api_exception_handler(exc: Exception, context: dict):
    """DRF's handler (status, WWW-Authenticate, Retry-After), with the body in our format.
    Anything else (a bug) is left to Django: a logged 500."""
    if isinstance(exc, IdempotencyConflict):
        exc = idempotency_conflict(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("API request failed on the database: %s", exc)
        exc = database_unavailable()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = exc.body()
    elif isinstance(exc, exceptions.ValidationError):
        response.data = invalid_input(flatten_errors(exc.detail)).body()
    else:
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        extra: dict[str, Any] = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            extra["retry_after"] = exc.wait
        if isinstance(detail, dict | list):  # not raised by this API; kept readable
            response.data = error_body(code, "Invalid request.", flatten_errors(detail))
        else:
            response.data = error_body(_CODES.get(code, code), str(detail), **extra)
    return response
