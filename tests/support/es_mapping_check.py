"""Field-type checks of the Elasticsearch test double: which values a real mapping would refuse.

A small subset of Elasticsearch's document parsing, enough to produce realistic per-item 400s:
``long``/``float`` (no booleans, numeric strings coerced), ``boolean`` (``true``/``false`` and their
strings), ``ip``, ``date`` (RFC 3339 / ``yyyy-MM-dd`` / epoch millis), ``geo_point``, objects versus
concrete values, ``constant_keyword`` (one value per index), ``dynamic: strict`` and the data stream
``@timestamp`` rule.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from airflow_provider_jumpcloud.timestamps import parse_ns

_NUMERIC = {
    "long",
    "integer",
    "short",
    "byte",
    "float",
    "double",
    "half_float",
    "scaled_float",
    "unsigned_long",
}
_TEXTUAL = {"keyword", "wildcard", "text", "match_only_text", "constant_keyword", "version"}
_MALFORMED_OK = _NUMERIC | {"ip", "date", "date_nanos", "geo_point"}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def flatten_mapping_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Return ``{dotted name: type}`` of leaf fields in a ``properties`` tree (``object`` for parents)."""
    out: dict[str, str] = {}
    for name, body in properties.items():
        dotted = f"{prefix}{name}"
        out[dotted] = body.get("type", "object")
        if "properties" in body:
            out.update(flatten_mapping_types(body["properties"], dotted + "."))
    return out


class MappingState:
    """Leaf types of one index (``{dotted: type}``), its ignore_malformed flag and constant values."""

    def __init__(
        self,
        properties: dict[str, Any] | None = None,
        *,
        ignore_malformed: bool = False,
        dynamic: bool | str = True,
    ) -> None:
        self.types = flatten_mapping_types(properties or {})
        self.ignore_malformed = ignore_malformed
        self.strict = str(dynamic).lower() == "strict"
        self.constants: dict[str, Any] = {}

    def check(self, doc: Any, *, data_stream: bool, parse_error_type: str) -> tuple[str, str] | None:
        """Return ``(error type, reason)`` when a real cluster would refuse ``doc``, else None."""
        if not isinstance(doc, dict):
            return parse_error_type, "failed to parse: the document is not a JSON object"
        if data_stream and "@timestamp" not in doc:
            return parse_error_type, "failed to parse: data stream timestamp field [@timestamp] is missing"
        pending: dict[str, Any] = {}
        problem = self._walk(doc, "", pending, parse_error_type)
        if problem is None:
            self.constants.update(pending)
        return problem

    def _walk(
        self, obj: dict[str, Any], prefix: str, pending: dict[str, Any], etype: str
    ) -> tuple[str, str] | None:
        for key, value in obj.items():
            name = prefix + key
            kind = self.types.get(name)
            if kind is None and self.strict:
                parent = prefix[:-1] or "_doc"
                return "strict_dynamic_mapping_exception", (
                    f"[1:1] mapping set to strict, dynamic introduction of [{key}] within [{parent}] "
                    "is not allowed"
                )
            if kind is None or kind == "flattened" or value is None:
                if kind is None and isinstance(value, dict):
                    problem = self._walk(value, name + ".", pending, etype)
                    if problem:
                        return problem
                continue
            if kind in ("object", "nested"):
                for part in value if isinstance(value, list) else [value]:
                    if part is None:
                        continue
                    if not isinstance(part, dict):
                        return etype, (
                            f"object mapping for [{name}] tried to parse field [{name}] as object, "
                            "but found a concrete value"
                        )
                    problem = self._walk(part, name + ".", pending, etype)
                    if problem:
                        return problem
                continue
            problem = self._leaf(name, kind, value, pending, etype)
            if problem:
                return problem
        return None

    def _leaf(
        self, name: str, kind: str, value: Any, pending: dict[str, Any], etype: str
    ) -> tuple[str, str] | None:
        if kind == "geo_point" and _is_geo_point(value):
            return None
        for part in value if isinstance(value, list) else [value]:
            if part is None:
                continue
            if kind == "constant_keyword" and isinstance(part, str):
                expected = self.constants.get(name, pending.get(name))
                if expected is not None and expected != part:
                    return etype, (
                        f"[constant_keyword] field [{name}] only accepts values that are equal to "
                        f"the value defined in the mappings [{expected}], but got [{part}]"
                    )
                pending[name] = part
                continue
            if _valid(kind, part):
                continue
            if self.ignore_malformed and kind in _MALFORMED_OK:
                continue
            preview = str(part)[:40]
            return etype, (
                f"[1:1] failed to parse field [{name}] of type [{kind}]. "
                f"Preview of field's value: '{preview}'"
            )
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_geo_point(value: Any) -> bool:
    if isinstance(value, dict):
        return _is_number(value.get("lat")) and _is_number(value.get("lon"))
    if isinstance(value, list):
        return len(value) == 2 and all(_is_number(v) for v in value)
    if isinstance(value, str):
        parts = value.split(",")
        try:
            return len(parts) == 2 and all(math.isfinite(float(p)) for p in parts)
        except ValueError:
            return False
    return False


def _valid(kind: str, value: Any) -> bool:
    if isinstance(value, dict):
        return False
    if kind in _TEXTUAL or kind not in _NUMERIC | {"boolean", "ip", "date", "date_nanos", "geo_point"}:
        return True
    if kind in _NUMERIC:
        if _is_number(value):
            return True
        if isinstance(value, str):
            try:
                return math.isfinite(float(value))
            except ValueError:
                return False
        return False
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false", "")
    if kind == "ip":
        if not isinstance(value, str):
            return False
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        return True
    if kind in ("date", "date_nanos"):
        if _is_number(value):
            return True
        if isinstance(value, str):
            return value.isdigit() or bool(_DATE_ONLY.match(value)) or parse_ns(value) is not None
        return False
    return False  # geo_point not in a recognised shape
