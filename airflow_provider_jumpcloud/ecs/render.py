"""How Elasticsearch turns a parsed JSON value into text: ``toString()`` and Mustache ``{{{field}}}``.

Used where the pipeline renders a value as a string: ``related.*`` appends (triple-brace Mustache) and the
date processor (``value.toString()`` before parsing). Strings pass through unchanged, which is the only case
real JumpCloud data hits; numbers, booleans, lists and maps follow Java's ``toString`` conventions
(``1.0E10``, ``true``, ``[a, b]``, ``{k=v}``), an approximation for inputs of unexpected types.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def java_double(value: float) -> str:
    """Render a float like ``Double.toString`` (shortest digits; scientific below 1e-3 and from 1e7)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(magnitude)
        return sign + (text if "." in text else text + ".0")
    digits_tuple, exponent = Decimal(repr(magnitude)).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    exp10 = exponent + len(digits) - 1
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return f"{sign}{mantissa}E{exp10}"


def java_string(value: Any) -> str:
    """Render a JSON value as Java's ``toString()`` of the object Elasticsearch parsed it into."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return java_double(value)
    if type(value) is list:
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    if type(value) is dict:
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    return str(value)


def java_type(value: Any) -> str:
    """Name the Java class Elasticsearch's JSON parser would produce for ``value`` (for error messages)."""
    if type(value) is str:
        return "java.lang.String"
    if type(value) is bool:
        return "java.lang.Boolean"
    if type(value) is int:
        if _INT32_MIN <= value <= _INT32_MAX:
            return "java.lang.Integer"
        return "java.lang.Long" if _INT64_MIN <= value <= _INT64_MAX else "java.math.BigInteger"
    if type(value) is float:
        return "java.lang.Double"
    if type(value) is list:
        return "java.util.ArrayList"
    if type(value) is dict:
        return "java.util.HashMap"
    return "null" if value is None else type(value).__name__
