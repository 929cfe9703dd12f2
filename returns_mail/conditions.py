"""Trigger-rule conditions on event fields: {"field", "op", "value"}, combined with all/any.

Fields are paths into the template context ("refund.amount", "customer.locale",
"items[].reason" — a condition on a list field holds when it holds for any element)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from returns_mail.models.rules import MatchMode
from returns_mail.operators import CONDITION_OPERATORS

MISSING = object()


def resolve(context: Any, path: str) -> Any:
    """The value at `path`; a list for paths through `[]`; MISSING when absent."""
    head, sep, rest = path.partition(".")
    if head.endswith("[]"):
        items = context.get(head[:-2], MISSING) if isinstance(context, dict) else MISSING
        if not isinstance(items, list):
            return MISSING
        values = [resolve(item, rest) if rest else item for item in items]
        return [v for v in values if v is not MISSING]
    value = context.get(head, MISSING) if isinstance(context, dict) else MISSING
    if not sep or value is MISSING:
        return value
    return resolve(value, rest)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "set":
        return actual not in (MISSING, None, "", [], {})
    if actual is MISSING or actual is None:
        return op == "ne"
    if op in ("eq", "ne"):
        a, e = _number(actual), _number(expected)
        equal = a == e if a is not None and e is not None else str(actual) == str(expected)
        return equal if op == "eq" else not equal
    if op == "in":
        options = expected if isinstance(expected, list) else [expected]
        return any(_compare(actual, "eq", option) for option in options)
    if op == "contains":
        if isinstance(actual, list):
            return any(_compare(item, "eq", expected) for item in actual)
        return str(expected).lower() in str(actual).lower()
    if op in ("gt", "lt"):
        a, e = _number(actual), _number(expected)
        if a is None or e is None:  # dates and times compare as ISO strings
            a, e = str(actual), str(expected)
        return a > e if op == "gt" else a < e
    raise ValueError(f"unknown operator {op!r}")


def condition_holds(context: dict, condition: dict) -> bool:
    actual = resolve(context, condition["field"])
    op, expected = condition["op"], condition.get("value")
    if isinstance(actual, list) and condition["field"].count("[]") and op != "set":
        return any(_compare(item, op, expected) for item in actual)
    return _compare(actual, op, expected)


def conditions_match(context: dict, conditions: list[dict], match: str) -> bool:
    if not conditions:
        return True
    results = (condition_holds(context, c) for c in conditions)
    return all(results) if match == MatchMode.ALL else any(results)


def conditions_errors(conditions: Any) -> list[str]:
    """What is wrong with a rule's conditions (empty: fine)."""
    if not isinstance(conditions, list):
        return ["Conditions must be a list."]
    errors = []
    for index, condition in enumerate(conditions, start=1):
        if not isinstance(condition, dict) or not isinstance(condition.get("field"), str):
            errors.append(f"Condition {index} needs a field.")
            continue
        if condition.get("op") not in CONDITION_OPERATORS:
            errors.append(
                f"Condition {index}: the operator must be one of {', '.join(CONDITION_OPERATORS)}."
            )
        elif condition["op"] != "set" and "value" not in condition:
            errors.append(f"Condition {index} needs a value.")
    return errors
