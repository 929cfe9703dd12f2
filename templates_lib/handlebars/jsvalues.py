"""Python values seen as JavaScript sees the JSON they stand for.

None is null, bool is boolean, int and float are Number, str is String, list and tuple are
Array, any Mapping is a plain Object. Other types are outside JSON: they are truthy and print
with str(); callers should hand over JSON-like data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from templates_lib.handlebars.lexer import JS_SPACE

#: handlebars.js's `container.nullContext`: what a helper gets as `this` when the context is
#: null. It is an (empty) object, so `{{this}}` inside such a block prints "[object Object]".
NULL_CONTEXT: Mapping[str, Any] = {}

_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX = re.compile(r"0(?:[xX](?P<hex>[0-9a-fA-F]+)|[oO](?P<oct>[0-7]+)|[bB](?P<bin>[01]+))")


def to_number(value: Any) -> float:
    """ToNumber for the primitives JSON has."""
    if value is None:
        return 0.0
    if isinstance(value, str):
        return _string_to_number(value)
    try:
        return float(value)
    except OverflowError:  # an int beyond double range: JS rounds it to ±Infinity
        return math.inf if value > 0 else -math.inf


def _string_to_number(text: str) -> float:
    text = text.strip(JS_SPACE)
    if not text:
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    match = _RADIX.fullmatch(text)
    if match:
        digits, base = next((d, b) for d, b in zip(match.groups(), (16, 8, 2), strict=True) if d)
        return float(int(digits, base))
    return math.nan


def number_to_string(value: float) -> str:
    """Number.prototype.toString(): shortest round-trip digits, JavaScript's layout."""
    if value != value:
        return "NaN"
    if value == 0:
        return "0"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # the value is 0.DIGITS * 10**point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exp = point - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{head}e{'+' if exp >= 0 else '-'}{abs(exp)}"


def to_string(value: Any) -> str:
    """String(value), except that null prints "" (as handlebars.js and Array.join do)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return number_to_string(to_number(value))
    if isinstance(value, (list, tuple)):
        return ",".join(to_string(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def escape_expression(value: Any) -> str:
    """handlebars.js's Utils.escapeExpression."""
    if not isinstance(value, str):
        value = to_string(value)
    return value.translate(_ESCAPES)


def is_truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, (int, float)):
        return value == value and value != 0
    return True  # objects and arrays, even empty ones


def is_empty(value: Any) -> bool:
    """handlebars.js's Utils.isEmpty: falsy but not 0, or an empty array."""
    if isinstance(value, (list, tuple)):
        return not value
    if is_truthy(value):
        return False
    return not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def loose_equals(a: Any, b: Any) -> bool:
    """JavaScript's `a == b` (handlebars.js compares contexts with it)."""
    kind_a, kind_b = _kind(a), _kind(b)
    if kind_a == kind_b:
        if kind_a == "object":
            return a is b
        if kind_a == "number":
            return to_number(a) == to_number(b)
        return a == b
    if "null" in (kind_a, kind_b):
        return False
    if kind_a == "boolean":
        return loose_equals(int(a), b)
    if kind_b == "boolean":
        return loose_equals(a, int(b))
    if kind_a == "object":
        return loose_equals(to_string(a), b)
    if kind_b == "object":
        return loose_equals(a, to_string(b))
    return to_number(a) == to_number(b)  # a number and a string


def lookup(parent: Any, name: str) -> Any:
    """`container.lookupProperty(parent, name)`: own properties only."""
    if isinstance(parent, Mapping):
        return parent.get(name)
    if name == "length":
        if isinstance(parent, (list, tuple)):
            return len(parent)
        if isinstance(parent, str):  # JS counts UTF-16 code units
            return len(parent.encode("utf-16-le")) // 2
    return None


def object_keys(mapping: Mapping) -> list[tuple[str, Any]]:
    """Object.keys order as (JS key, Python key): array-index keys ascending, then the rest in
    insertion order."""
    keys = [(key if isinstance(key, str) else to_string(key), key) for key in mapping]
    indexes = [
        pair for pair in keys if _ARRAY_INDEX.fullmatch(pair[0]) and int(pair[0]) < 2**32 - 1
    ]
    if not indexes:
        return keys
    indexes.sort(key=lambda pair: int(pair[0]))
    seen = {id(pair) for pair in indexes}
    return indexes + [pair for pair in keys if id(pair) not in seen]
