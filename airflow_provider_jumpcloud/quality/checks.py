"""Per-value type predicates for the Elasticsearch types of the exported-fields spec (pure Python).

A spec type names what Elasticsearch will index; a value matches when it is the JSON shape the type
expects. Arrays are accepted for every type (Elasticsearch indexes each element): a list matches when
every non-null element (nested lists flattened) matches, and an empty list matches.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson

from airflow_provider_jumpcloud.timestamps import parse_ns

Predicate = Callable[[Any], bool]

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_IP_CACHE_LIMIT = 65_536
_ip_cache: dict[str, bool] = {}
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}\Z")


class JsonObject(str):
    """A JSON object value carried through a GX column as its JSON text (``.value`` is the dict).

    GX 1.24.1 assumes all unexpected values are dicts when the first one is (and crashes otherwise), so
    object values enter the frame wrapped; the type checks unwrap them, reports show the JSON text.
    """

    __slots__ = ("value",)

    def __new__(cls, value: dict[str, Any]) -> JsonObject:  # noqa: D102
        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            text = repr(value)
        obj = super().__new__(cls, text)
        obj.value = value
        return obj


def is_string(value: Any) -> bool:
    """``keyword`` / ``text`` / ``match_only_text``: a JSON string."""
    return type(value) is str


def is_long(value: Any) -> bool:
    """``long``: a JSON integer (not a boolean) within the signed 64-bit range."""
    return type(value) is int and LONG_MIN <= value <= LONG_MAX


def is_float(value: Any) -> bool:
    """``float``: a finite JSON number, integer or not, but not a boolean."""
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))


def is_boolean(value: Any) -> bool:
    """``boolean``: JSON ``true`` or ``false`` (not the strings, not 0/1)."""
    return type(value) is bool


def is_date(value: Any) -> bool:
    """``date``: an RFC 3339 timestamp string with a time zone."""
    return type(value) is str and parse_ns(value) is not None


def is_ip(value: Any) -> bool:
    """``ip``: an IPv4 or IPv6 address string."""
    if type(value) is not str:
        return False
    if _IPV4.match(value):
        return True
    known = _ip_cache.get(value)
    if known is not None:
        return known
    try:
        ipaddress.ip_address(value)
        ok = True
    except ValueError:
        ok = False
    if len(_ip_cache) >= _IP_CACHE_LIMIT:
        _ip_cache.clear()
    _ip_cache[value] = ok
    return ok


def is_object(value: Any) -> bool:
    """``flattened`` / ``object``: a JSON object."""
    return type(value) is dict


def is_geo_point(value: Any) -> bool:
    """``geo_point``: an object with exactly ``lat`` in [-90, 90] and ``lon`` in [-180, 180]."""
    if type(value) is not dict or value.keys() != {"lat", "lon"}:
        return False
    lat, lon = value["lat"], value["lon"]
    return is_float(lat) and is_float(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


_PREDICATES: dict[str, Predicate] = {
    "keyword": is_string,
    "wildcard": is_string,
    "text": is_string,
    "match_only_text": is_string,
    "long": is_long,
    "integer": is_long,
    "float": is_float,
    "double": is_float,
    "scaled_float": is_float,
    "boolean": is_boolean,
    "date": is_date,
    "ip": is_ip,
    "flattened": is_object,
    "object": is_object,
    "geo_point": is_geo_point,
}

#: The JSON shape each spec type expects, as shown in reports.
EXPECTED_SHAPE: dict[str, str] = {
    "keyword": "string",
    "wildcard": "string",
    "text": "string",
    "match_only_text": "string",
    "long": "integer (not boolean), 64-bit",
    "integer": "integer (not boolean)",
    "float": "number (not boolean)",
    "double": "number (not boolean)",
    "scaled_float": "number (not boolean)",
    "boolean": "true or false",
    "date": "RFC 3339 timestamp string",
    "ip": "IPv4 or IPv6 address string",
    "flattened": "object",
    "object": "object",
    "geo_point": "{lat, lon} object",
    "constant_keyword": "the constant value",
}


def supported_types() -> frozenset[str]:
    """Return every spec type a predicate exists for."""
    return frozenset(_PREDICATES) | {"constant_keyword"}


def predicate(spec_type: str, expected_value: str | None = None) -> Predicate:
    """Return the scalar predicate of a spec type (``constant_keyword`` compares to ``expected_value``)."""
    if spec_type == "constant_keyword":
        if expected_value is None:
            return is_string
        return lambda value: type(value) is str and value == expected_value
    try:
        return _PREDICATES[spec_type]
    except KeyError:
        raise ValueError(f"no type check for spec type {spec_type!r}") from None


def _all_elements(values: list[Any], check: Predicate) -> bool:
    for item in values:
        if item is None:
            continue
        if type(item) is list:
            if not _all_elements(item, check):
                return False
        elif not check(item):
            return False
    return True


def matches(value: Any, spec_type: str, expected_value: str | None = None) -> bool:
    """Whether one field value (scalar or array) matches its spec type; ``None`` always matches."""
    if value is None:
        return True
    check = predicate(spec_type, expected_value)
    if type(value) is list:
        return _all_elements(value, check)
    return check(value)


NONE_TYPE = type(None)
#: Spec types whose check is "a string": the verdict of a value depends on its type alone.
STRING_TYPES = frozenset({"keyword", "wildcard", "text", "match_only_text"})


def match_array(values: Sequence[Any], spec_type: str, expected_value: str | None = None) -> np.ndarray:
    """Return a boolean array: for each value of a column, whether it matches the spec type."""
    check = predicate(spec_type, expected_value)
    n = len(values)
    kinds = np.fromiter(map(type, values), dtype=object, count=n)
    nested = (kinds == list) | (kinds == JsonObject)  # noqa: E721 (element-wise on an array of types)
    missing = kinds == NONE_TYPE
    if spec_type in STRING_TYPES:
        ok = kinds == str  # noqa: E721 (decided by the type alone)
    elif not nested.any() and not missing.any():
        return np.fromiter(map(check, values), dtype=bool, count=n)
    else:
        ok = np.zeros(n, dtype=bool)
        scalar = np.flatnonzero(~nested & ~missing)
        ok[scalar] = np.fromiter(map(check, (values[i] for i in scalar)), dtype=bool, count=len(scalar))
    ok[missing] = True
    for i in np.flatnonzero(nested):
        value = values[i]
        if type(value) is JsonObject:
            value = value.value
        ok[i] = _all_elements(value, check) if type(value) is list else check(value)
    return ok
