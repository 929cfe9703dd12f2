"""The segment condition language and its validation, apart from the models so that
Segment.clean can use it (the SQL compilation, which reads the models, is returns_mail.segments).

A segment's `conditions` is a list, combined as its `match` says (all / any; none: every
customer). Two kinds of condition, in the JSON style of the trigger rules:

Customer field::

    {"field": "locale", "op": "in", "value": ["de-DE", "de-AT"]}
    {"field": "last_event_at", "op": "gt", "days_ago": 30}   # in the last 30 days

Event history (the customer had such an event; matched by email, case-insensitively)::

    {"event": "refund.processed", "within_days": 30, "reason": "Too small",
     "min_amount": "10", "max_amount": "100"}

`within_days` (optional, whole days >= 1): occurred at or after now - N days; absent: ever.
`reason` (optional): equals an `items[].reason` or `data.reason` of the event, ignoring case
(ASCII letters only on SQLite). `min_amount` / `max_amount` (optional, inclusive): bounds on
`data.refund.amount`; an event without a readable amount does not match them.

Operators per customer field (the names of the trigger rules' operators):

- text (`locale`, `last_event_type`): eq, ne, in (exact), contains (substring, any case), set
- `tags` (a list): contains (has the tag), ne (has not the tag), in (has any of them), set
- numbers (`returns_count`, `total_refunded`): eq, ne, in, gt, lt
- `marketing_consent`: eq, ne with true / false
- `last_event_at`: gt (later than), lt (earlier than), set; with `value` (ISO date or
  date-time) or `days_ago` (N days before now)
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from returns_mail.operators import CONDITION_OPERATORS
from templates_lib.catalogue import CATALOGUE

TEXT, TAGS, INTEGER, DECIMAL, BOOLEAN, DATETIME = "text", "tags", "int", "decimal", "bool", "date"

CUSTOMER_FIELDS: dict[str, str] = {
    "locale": TEXT,
    "tags": TAGS,
    "returns_count": INTEGER,
    "total_refunded": DECIMAL,
    "marketing_consent": BOOLEAN,
    "last_event_type": TEXT,
    "last_event_at": DATETIME,
}
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    TEXT: ("eq", "ne", "in", "contains", "set"),
    TAGS: ("contains", "ne", "in", "set"),
    INTEGER: ("eq", "ne", "in", "gt", "lt"),
    DECIMAL: ("eq", "ne", "in", "gt", "lt"),
    BOOLEAN: ("eq", "ne"),
    DATETIME: ("gt", "lt", "set"),
}
FIELD_KEYS = {"field", "op", "value", "days_ago"}
EVENT_KEYS = {"event", "within_days", "reason", "min_amount", "max_amount"}


# --- validation ---------------------------------------------------------------------------------
def _label(index: int, condition: Any) -> str:
    if isinstance(condition, dict) and isinstance(condition.get("event"), str):
        return f"Condition {index} (event {condition['event']})"
    if isinstance(condition, dict) and isinstance(condition.get("field"), str):
        return f"Condition {index} ({condition['field']})"
    return f"Condition {index}"


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def whole_days(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        days = int(value)
        return days if days >= 1 else None
    return None


def as_moment(value: Any) -> datetime | None:
    """An ISO date (midnight, in the current time zone) or date-time; None if neither."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value.strip())
        day = None if moment else parse_date(value.strip())
    except ValueError:
        return None
    if moment is None and day is not None:
        moment = datetime.combine(day, time.min)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _value_error(kind: str, op: str, value: Any) -> str | None:
    """What is wrong with one value for a field of `kind` (None: fine)."""
    if kind == BOOLEAN:
        return None if isinstance(value, bool) else "the value must be true or false"
    if kind in (TEXT, TAGS):
        ok = isinstance(value, str) and value.strip() != ""
        return None if ok else "the value must be a non-empty text"
    if kind == INTEGER:
        number = as_decimal(value)
        ok = number is not None and number == number.to_integral_value()
        return None if ok else f"the value must be a whole number, not {value!r}"
    if kind == DECIMAL:
        ok = as_decimal(value) is not None
        return None if ok else f"the value must be a number, not {value!r}"
    return None


def _field_errors(label: str, condition: dict) -> list[str]:
    name = condition["field"]
    kind = CUSTOMER_FIELDS.get(name)
    if kind is None:
        return [
            f"{label}: there is no customer field “{name}”; fields: {', '.join(CUSTOMER_FIELDS)}."
        ]
    unknown = sorted(set(condition) - FIELD_KEYS)
    if unknown:
        keys = ", ".join(unknown)
        return [
            f"{label}: unknown key(s) {keys}; a field condition takes field, op, value "
            "(and days_ago for last_event_at)."
        ]
    op = condition.get("op")
    allowed = OPERATORS_BY_KIND[kind]
    if op not in allowed:
        names = ", ".join(f"{o} ({CONDITION_OPERATORS[o]})" for o in allowed)
        return [f"{label}: the operator must be one of {names}, not {op!r}."]
    has_value, has_days = "value" in condition, "days_ago" in condition
    if has_days and kind != DATETIME:
        return [f"{label}: days_ago only applies to last_event_at."]
    if op == "set":
        if has_value or has_days:
            return [f"{label}: “is set” takes no value."]
        return []
    if kind == DATETIME:
        if has_value == has_days:
            return [f"{label}: give either a value (an ISO date or date-time) or days_ago."]
        if has_days and whole_days(condition["days_ago"]) is None:
            return [f"{label}: days_ago must be a whole number of days, 1 or more."]
        if has_value and as_moment(condition["value"]) is None:
            return [f"{label}: the value must be an ISO date or date-time, e.g. 2026-11-01."]
        return []
    if not has_value:
        return [f"{label} needs a value."]
    value = condition["value"]
    if op == "in":
        if not isinstance(value, list) or not value:
            return [f"{label}: “is one of” needs a non-empty list of values."]
        problems = [p for p in (_value_error(kind, "eq", v) for v in value) if p]
        return [f"{label}: {problems[0]} (in the list)."] if problems else []
    problem = _value_error(kind, op, value)
    return [f"{label}: {problem}."] if problem else []


def _event_errors(label: str, condition: dict) -> list[str]:
    errors = []
    unknown = sorted(set(condition) - EVENT_KEYS)
    if unknown:
        errors.append(
            f"{label}: unknown key(s) {', '.join(unknown)}; an event condition takes event, "
            "within_days, reason, min_amount, max_amount."
        )
    if condition["event"] not in CATALOGUE:
        errors.append(f"{label}: “{condition['event']}” is not an event type of the catalogue.")
    if "within_days" in condition and whole_days(condition["within_days"]) is None:
        errors.append(f"{label}: within_days must be a whole number of days, 1 or more.")
    reason = condition.get("reason")
    if "reason" in condition and (not isinstance(reason, str) or not reason.strip()):
        errors.append(f"{label}: the reason must be a non-empty text.")
    bounds = {}
    for key in ("min_amount", "max_amount"):
        if key in condition:
            bounds[key] = as_decimal(condition[key])
            if bounds[key] is None:
                errors.append(f"{label}: {key} must be a number, not {condition[key]!r}.")
    low, high = bounds.get("min_amount"), bounds.get("max_amount")
    if low is not None and high is not None and low > high:
        errors.append(f"{label}: min_amount {low} is above max_amount {high}.")
    return errors


def segment_conditions_errors(conditions: Any) -> list[str]:
    """What is wrong with a segment's conditions, each message naming its condition."""
    if not isinstance(conditions, list):
        return ["Conditions must be a list."]
    errors = []
    for index, condition in enumerate(conditions, start=1):
        label = _label(index, condition)
        if not isinstance(condition, dict):
            errors.append(f"{label} must be an object with a field or an event.")
        elif "field" in condition and "event" in condition:
            errors.append(f"{label}: give a field or an event, not both.")
        elif isinstance(condition.get("field"), str):
            errors.extend(_field_errors(label, condition))
        elif isinstance(condition.get("event"), str):
            errors.extend(_event_errors(label, condition))
        else:
            errors.append(f"{label} needs a customer field or an event type.")
    return errors
