"""Reading a JSON body: at most 1 MiB (by Content-Length and by what is actually read), UTF-8,
strict JSON (no NaN or Infinity). Wrong content type: 415; empty or malformed: 400."""

from __future__ import annotations

import json

from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from returns_mail.api.exceptions import ApiError, PayloadTooLarge

MAX_BODY_BYTES = 1024 * 1024


def _content_length(meta) -> int:
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JsonBodyParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        if request is not None and _content_length(request.META) > MAX_BODY_BYTES:
            raise PayloadTooLarge(MAX_BODY_BYTES)  # refused before reading a byte
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(MAX_BODY_BYTES)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError(
                "The body is not valid UTF-8.", code="malformed_json"
            ) from None
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise exceptions.ParseError(f"Malformed JSON: {exc}.", code="malformed_json") from None


def read_json(request):
    """The parsed body of `request`. DRF parses nothing (and answers {}) for a body without a
    Content-Type or without bytes: both are errors here."""
    length = _content_length(request.META)
    if not request.content_type and length:
        raise exceptions.UnsupportedMediaType(
            "", detail='Send the body as JSON with "Content-Type: application/json".'
        )
    if not length:
        raise ApiError(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="malformed_json",
            message="The request body is empty.",
        )
    return request.data
