"""Segment conditions: the language, its validation and its compilation to one SQL WHERE
clause (`segment_filter`). The selectors on top (`segment_members`, `segment_audience`) are in
returns_mail.selectors.segments.

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

Everything runs in SQL. The reason and amount filters read inside JSON arrays, which Django
has no portable lookup for, so they are small expressions with one SQL form per backend
(SQLite's json_each / json_extract, PostgreSQL's jsonb operators), tested on both.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import NotSupportedError
from django.db.models import (
    BooleanField,
    Expression,
    F,
    Q,
)
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from returns_mail.models import (
    ReturnEvent,
)
from returns_mail.models.rules import CONDITION_OPERATORS, MatchMode

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


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _whole_days(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        days = int(value)
        return days if days >= 1 else None
    return None


def _moment(value: Any) -> datetime | None:
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
        number = _decimal(value)
        ok = number is not None and number == number.to_integral_value()
        return None if ok else f"the value must be a whole number, not {value!r}"
    if kind == DECIMAL:
        ok = _decimal(value) is not None
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
        if has_days and _whole_days(condition["days_ago"]) is None:
            return [f"{label}: days_ago must be a whole number of days, 1 or more."]
        if has_value and _moment(condition["value"]) is None:
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
    from templates_lib.catalogue import CATALOGUE

    errors = []
    unknown = sorted(set(condition) - EVENT_KEYS)
    if unknown:
        errors.append(
            f"{label}: unknown key(s) {', '.join(unknown)}; an event condition takes event, "
            "within_days, reason, min_amount, max_amount."
        )
    if condition["event"] not in CATALOGUE:
        errors.append(f"{label}: “{condition['event']}” is not an event type of the catalogue.")
    if "within_days" in condition and _whole_days(condition["within_days"]) is None:
        errors.append(f"{label}: within_days must be a whole number of days, 1 or more.")
    reason = condition.get("reason")
    if "reason" in condition and (not isinstance(reason, str) or not reason.strip()):
        errors.append(f"{label}: the reason must be a non-empty text.")
    bounds = {}
    for key in ("min_amount", "max_amount"):
        if key in condition:
            bounds[key] = _decimal(condition[key])
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


# --- SQL expressions on JSON, one form per backend ----------------------------------------------
class _JsonExpression(Expression):
    output_field = BooleanField()

    def __init__(self, column: str, *params: Any):
        super().__init__()
        self.column, self.params = F(column), params

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        raise NotSupportedError(f"{type(self).__name__} supports SQLite and PostgreSQL only.")


class JsonArrayHas(_JsonExpression):
    """The JSON array in `column` has the text element `tag` (exactly); no tag: is non-empty."""

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        (tag,) = self.params
        if tag is None:
            return f"EXISTS (SELECT 1 FROM json_each({column}))", params  # noqa: S608
        sql = f"EXISTS (SELECT 1 FROM json_each({column}) AS t WHERE t.type = 'text' AND t.value = %s)"  # noqa: S608, E501
        return sql, (*params, tag)

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        (tag,) = self.params
        if tag is None:
            return f"(jsonb_typeof({column}) = 'array' AND jsonb_array_length({column}) > 0)", (
                *params,
                *params,
            )
        return f"({column} @> jsonb_build_array(%s::text))", (*params, tag)


class EventReasonIs(_JsonExpression):
    """An element of data.items has `reason` equal to the given text, ignoring case."""

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({column}, '$.items') AS i "  # noqa: S608
            "WHERE i.type = 'object' AND lower(json_extract(i.value, '$.reason')) = lower(%s))"
        )
        return sql, (*params, *self.params)

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        sql = (
            "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof("  # noqa: S608
            f"{column} -> 'items') = 'array' THEN {column} -> 'items' ELSE '[]'::jsonb END) "
            "AS i(v) WHERE lower(i.v ->> 'reason') = lower(%s))"
        )
        return sql, (*params, *params, *self.params)


class RefundAmountIn(_JsonExpression):
    """data.refund.amount (a number, or a decimal string) is within [low, high] (None: open)."""

    def _sql(self, compiler, guard: str, amount: str, cast: str, uses: tuple[int, int]):
        """`guard` AND amount >= low AND amount <= high; the column appears `uses` times in
        the guard and in each amount."""
        column, params = compiler.compile(self.column)
        sql, all_params = guard.format(c=column), list(params) * uses[0]
        for bound, sign in zip(self.params, (">=", "<="), strict=True):
            if bound is not None:
                sql += f" AND {amount.format(c=column)} {sign} {cast}"
                all_params += [*(list(params) * uses[1]), str(bound)]
        return f"({sql})", all_params

    def as_sqlite(self, compiler, connection):
        raw, kind = "json_extract({c}, '$.refund.amount')", "json_type({c}, '$.refund.amount')"
        guard = (
            f"({kind} IN ('integer', 'real') OR ({kind} = 'text' AND {raw} NOT GLOB "
            f"'*[^0-9.-]*' AND {raw} GLOB '*[0-9]*'))"
        )
        amount = f"CAST({raw} AS NUMERIC)"
        return self._sql(compiler, guard, amount, "CAST(%s AS NUMERIC)", (4, 1))

    def as_postgresql(self, compiler, connection):
        # CASE, not AND: PostgreSQL may evaluate the cast before a guard joined by AND.
        raw = "({c} #>> '{{refund,amount}}')"
        amount = f"(CASE WHEN {raw} ~ '^-?[0-9]+([.][0-9]+)?$' THEN {raw}::numeric END)"
        return self._sql(compiler, "TRUE", amount, "%s::numeric", (0, 2))


# --- compilation --------------------------------------------------------------------------------
def _as_decimal_list(values: list) -> list[Decimal]:
    return [_decimal(v) for v in values]


def _field_q(condition: dict, now: datetime) -> Q:
    name, op = condition["field"], condition["op"]
    kind, value = CUSTOMER_FIELDS[name], condition.get("value")
    if kind == TAGS:
        if op == "set":
            return Q(JsonArrayHas("tags", None))
        if op == "in":
            q = Q()
            for tag in value:
                q |= Q(JsonArrayHas("tags", tag))
            return q
        has = Q(JsonArrayHas("tags", value))
        return has if op == "contains" else ~has
    if kind == DATETIME:
        if op == "set":
            return Q(last_event_at__isnull=False)
        if "days_ago" in condition:
            moment = now - timedelta(days=_whole_days(condition["days_ago"]))
        else:
            moment = _moment(value)
        return Q(**{f"{name}__{op}": moment})
    if op == "set":
        return ~Q(**{name: ""})
    if op == "contains":
        return Q(**{f"{name}__icontains": value})
    if kind in (INTEGER, DECIMAL):
        value = _as_decimal_list(value) if op == "in" else _decimal(value)
        if kind == INTEGER:
            value = [int(v) for v in value] if op == "in" else int(value)
    if op == "in":
        return Q(**{f"{name}__in": value})
    if op in ("gt", "lt"):
        return Q(**{f"{name}__{op}": value})
    return Q(**{name: value}) if op == "eq" else ~Q(**{name: value})


def _event_q(condition: dict, now: datetime) -> Q:
    events = ReturnEvent.objects.filter(type=condition["event"])
    if "within_days" in condition:
        since = now - timedelta(days=_whole_days(condition["within_days"]))
        events = events.filter(occurred_at__gte=since)
    if "reason" in condition:
        reason = condition["reason"].strip()
        events = events.filter(Q(data__reason__iexact=reason) | Q(EventReasonIs("data", reason)))
    low, high = (_decimal(condition.get(k)) for k in ("min_amount", "max_amount"))
    if low is not None or high is not None:
        events = events.filter(RefundAmountIn("data", low, high))
    # Uncorrelated: computed once (hashed by PostgreSQL, materialized by SQLite), not per customer.
    emails = events.order_by().annotate(email=Lower("customer_email")).values("email")
    return Q(email__in=emails)


def segment_filter(conditions: list[dict], match: str, *, now: datetime) -> Q:
    """The WHERE clause of a segment (assumes valid conditions: see segment_conditions_errors)."""
    q = Q()
    for condition in conditions:
        part = _event_q(condition, now) if "event" in condition else _field_q(condition, now)
        q = (q & part) if match == MatchMode.ALL else (q | part)
    return q
