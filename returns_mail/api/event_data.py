"""An event's `data`, validated against the catalogue (templates_lib.catalogue): each field's type,
the required ones present, no unknown keys. Values are stored normalised: decimals as strings
with at least two places ("49.90"), dates and date-times as ISO 8601 strings.

Errors are {"dotted.path": [messages]}, the path relative to `data`, list indexes as numbers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.dateparse import parse_datetime

from templates_lib.catalogue import EventType, Field

INVALID = object()  # a value that failed validation (its error is recorded)

MAX_DECIMAL_INTEGER_DIGITS = 15
# Date-times accepted, compared in UTC (the end excluded). Far outside it, converting a value
# to UTC (to store it, to compare it) overflows Python's years 1-9999; and no return event
# happened before the Unix epoch or a century from now.
EARLIEST_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)
END_DATETIME = datetime(2100, 1, 1, tzinfo=UTC)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_validate_email = EmailValidator()
_validate_url = URLValidator(schemes=["http", "https"])

MESSAGES = {
    "string": "Expected a string.",
    "email": "Enter a valid email address.",
    "url": "Enter a valid URL (http or https).",
    "date": "Expected a date as YYYY-MM-DD.",
    "datetime": "Expected a date and time in ISO 8601 with a time zone, "
    "e.g. 2026-11-26T10:15:00+00:00.",
    "datetime_range": f"Expected a date and time in the years {EARLIEST_DATETIME.year} to "
    f"{END_DATETIME.year - 1} (in UTC).",
    "naive": "Include a time zone offset (e.g. +00:00 or Z): a date and time without one "
    "is ambiguous.",
    "decimal": 'Expected a decimal number, e.g. "49.90" or 49.9.',
    "decimal_digits": f"At most {MAX_DECIMAL_INTEGER_DIGITS} digits before the decimal point.",
    "integer": "Expected an integer.",
    "boolean": "Expected true or false.",
    "list": "Expected a list.",
    "object": "Expected an object.",
    "required": "This field is required.",
    "null": "This field may not be null.",
    "blank": "This field may not be blank.",
    "empty": "This list may not be empty.",
    "nul": "Null characters are not allowed.",
    "surrogate": "Surrogate characters are not allowed: U+{:X}.",
}


class ValueInvalid(ValueError):
    """A scalar value does not fit its type; the message is for the client."""


def parse_aware_datetime(value: Any) -> datetime:
    """Every date-time the API reads (`occurred_at`, those in `data`): ISO 8601 with an
    offset, within the accepted range."""
    if not isinstance(value, str):
        raise ValueInvalid(MESSAGES["datetime"])
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueInvalid(MESSAGES["datetime"])
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueInvalid(MESSAGES["naive"])
    # Aware comparisons subtract the offsets without building a UTC datetime: no overflow.
    if not EARLIEST_DATETIME <= parsed < END_DATETIME:
        raise ValueInvalid(MESSAGES["datetime_range"])
    return parsed


def parse_decimal(value: Any) -> str:
    """ "49.9", 49.9 and "49.90" all give "49.90"; more places are kept (never rounded)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueInvalid(MESSAGES["decimal"])
    text = value.strip() if isinstance(value, str) else repr(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueInvalid(MESSAGES["decimal"]) from None
    if not number.is_finite() or (isinstance(value, str) and not _DECIMAL.match(text)):
        raise ValueInvalid(MESSAGES["decimal"])
    if number.adjusted() >= MAX_DECIMAL_INTEGER_DIGITS:
        raise ValueInvalid(MESSAGES["decimal_digits"])
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return format(number, "f")


def _scalar(kind: str, value: Any) -> Any:
    if kind in ("string", "email", "url"):
        if not isinstance(value, str):
            raise ValueInvalid(MESSAGES["string"])
        # Refused as DRF's CharField refuses them in the other fields (same messages):
        # PostgreSQL stores no NUL, and an unpaired surrogate has no UTF-8 encoding.
        if "\x00" in value:
            raise ValueInvalid(MESSAGES["nul"])
        if surrogate := _SURROGATE.search(value):
            raise ValueInvalid(MESSAGES["surrogate"].format(ord(surrogate.group())))
        if kind != "string":
            try:
                (_validate_email if kind == "email" else _validate_url)(value)
            except DjangoValidationError:
                raise ValueInvalid(MESSAGES[kind]) from None
        return value
    if kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            raise ValueInvalid(MESSAGES["date"])
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueInvalid(MESSAGES["date"]) from None
    if kind == "datetime":
        return parse_aware_datetime(value).isoformat()
    if kind == "decimal":
        return parse_decimal(value)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueInvalid(MESSAGES["integer"])
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueInvalid(MESSAGES["boolean"])
        return value
    raise ValueError(f"the catalogue uses an unknown field type {kind!r}")  # our bug: a 500


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _value(field: Field, value: Any, path: str, errors: dict[str, list[str]]) -> Any:
    if field.type == "object":
        return _object(field.fields, value, path, errors)
    if field.type == "list":
        if not isinstance(value, list):
            errors[path] = [MESSAGES["list"]]
            return INVALID
        if field.required and not value:
            errors[path] = [MESSAGES["empty"]]
            return INVALID
        # The catalogue's lists are lists of objects.
        items = [
            _object(field.fields, item, _join(path, index), errors)
            for index, item in enumerate(value)
        ]
        return INVALID if INVALID in items else items
    try:
        clean = _scalar(field.type, value)
    except ValueInvalid as exc:
        errors[path] = [str(exc)]
        return INVALID
    if field.required and isinstance(clean, str) and not clean.strip():
        errors[path] = [MESSAGES["blank"]]
        return INVALID
    return clean


def _object(
    fields: tuple[Field, ...], value: Any, path: str, errors: dict[str, list[str]]
) -> dict | object:
    if not isinstance(value, dict):
        errors[path] = [MESSAGES["object"]]
        return INVALID
    known = {f.name: f for f in fields}
    for key in value:
        if key not in known:
            names = ", ".join(known) or "none"
            errors[_join(path, key)] = [f"Unknown field (known here: {names})."]
    clean: dict[str, Any] = {}
    invalid = False
    for field in fields:
        field_path = _join(path, field.name)
        if value.get(field.name) is None:
            if field.required:
                errors[field_path] = [MESSAGES["null" if field.name in value else "required"]]
                invalid = True
            continue  # an optional field sent as null is the same as one left out
        result = _value(field, value[field.name], field_path, errors)
        invalid = invalid or result is INVALID
        clean[field.name] = result
    return INVALID if invalid or len(value.keys() - known.keys()) else clean


def validate_data(event_type: EventType, data: dict) -> tuple[dict, dict[str, list[str]]]:
    """(clean data, errors): errors is empty when `data` fits `event_type`."""
    errors: dict[str, list[str]] = {}
    clean = _object(event_type.fields, data, "", errors)
    return ({} if clean is INVALID else clean), errors
