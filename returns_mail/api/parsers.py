"""Reading a JSON body: at most 1 MiB (by Content-Length and by what is actually read), UTF-8,
strict JSON (no NaN or Infinity, no duplicate keys, no NUL or unpaired surrogate in a key, not
nested deeper than the parser can go). Wrong content type: 415; empty or malformed: 400.

String values are checked by their fields (NUL and unpaired surrogates are refused there, with
the field named): PostgreSQL stores neither, and a surrogate cannot be encoded as UTF-8."""

from __future__ import annotations

import json
import re

from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from returns_mail.api.exceptions import ApiError, PayloadTooLarge

MAX_BODY_BYTES = 1024 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


def _content_length(meta) -> int:
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _strict_object(pairs: list[tuple[str, object]]) -> dict:
    """An object whose keys are unique (else which one wins depends on the parser) and free of
    NUL and unpaired surrogates (keys are echoed in error messages and stored in `data`)."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {json.dumps(key)}")
        if "\x00" in key or _SURROGATE.search(key):
            raise ValueError(f"a key holds NUL or an unpaired surrogate: {json.dumps(key)}")
        obj[key] = value
    return obj


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
            return json.loads(
                text, parse_constant=_reject_constant, object_pairs_hook=_strict_object
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"Malformed JSON: {exc}.", code="malformed_json") from None
        except RecursionError:
            raise exceptions.ParseError(
                "Malformed JSON: nested too deeply.", code="malformed_json"
            ) from None


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
