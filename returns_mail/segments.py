"""Segment conditions compiled to one SQL WHERE clause (`segment_filter`). The language and its
validation are in returns_mail.segment_rules; the selectors on top (`segment_members`,
`segment_audience`) are in returns_mail.selectors.segments.

Everything runs in SQL. The reason and amount filters read inside JSON arrays, which Django
has no portable lookup for, so they are small expressions with one SQL form per backend
(SQLite's json_each / json_extract, PostgreSQL's jsonb operators), tested on both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F, Q
from django.db.models.functions import Lower

from returns_mail.models import ReturnEvent
from returns_mail.models.rules import MatchMode
from returns_mail.segment_rules import (
    CUSTOMER_FIELDS,
    DATETIME,
    DECIMAL,
    INTEGER,
    TAGS,
    as_decimal,
    as_moment,
    whole_days,
)


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
    return [as_decimal(v) for v in values]


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
            moment = now - timedelta(days=whole_days(condition["days_ago"]))
        else:
            moment = as_moment(value)
        return Q(**{f"{name}__{op}": moment})
    if op == "set":
        return ~Q(**{name: ""})
    if op == "contains":
        return Q(**{f"{name}__icontains": value})
    if kind in (INTEGER, DECIMAL):
        value = _as_decimal_list(value) if op == "in" else as_decimal(value)
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
        since = now - timedelta(days=whole_days(condition["within_days"]))
        events = events.filter(occurred_at__gte=since)
    if "reason" in condition:
        reason = condition["reason"].strip()
        events = events.filter(Q(data__reason__iexact=reason) | Q(EventReasonIs("data", reason)))
    low, high = (as_decimal(condition.get(k)) for k in ("min_amount", "max_amount"))
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
