"""Request bodies of the emulated API: validation with the real API's 400s, search_term, fields, distinct."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from airflow_provider_jumpcloud.emulator.config import DEFAULT_LIMIT, MAX_LIMIT
from airflow_provider_jumpcloud.spec import load_field_spec
from airflow_provider_jumpcloud.timestamps import NS_PER_S, format_ns, parse_ns
from airflow_provider_jumpcloud.windows import KNOWN_SERVICES

Predicate = Callable[[dict[str, Any]], bool]
_LOGIC = ("and", "or", "not")
_PREFIX = "jumpcloud.event."
#: Fields events carry that the exported-fields table does not list (it starts at the ECS mapping).
_EXTRA_FIELDS = ("@version", "outer.eap_type", "outer.username", "outer.error_message", "eap_type",
                 "auth_type",
                 "nas_mfa_state", "auth_meta.auth_idp", "auth_meta.userid_type", "initiated_by.source",
                 "user_agent.name", "user_agent.os", "windows_meta.elevated", "windows_meta.logon_type",
                 "error_chain", "jc_initiated_by_email", "association.attributes", "correlation",
                 "message_chain")


class ApiError(Exception):
    """An error answer: HTTP status and the ``message`` of the JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    """Return a 400 error."""
    return ApiError(400, message)


@cache
def known_fields() -> frozenset[str]:
    """Return every dotted event field (and each parent) the API accepts in ``fields`` and ``search_term``."""
    names = {f.name[len(_PREFIX):] for f in load_field_spec() if f.name.startswith(_PREFIX)}
    names.update(_EXTRA_FIELDS)
    names.update({"id", "timestamp", "service", "event_type"})
    parents = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
    return frozenset(names | parents)


@dataclass(frozen=True)
class Query:
    """A validated request body."""

    services: frozenset[str] | None
    lo_ns: int
    hi_ns: int
    limit: int
    descending: bool
    after: tuple[int, str] | None
    search: Predicate | None
    fields: tuple[str, ...] | None
    distinct_field: str | None
    skip: int


def parse_body(raw: bytes) -> dict[str, Any]:
    """Return the JSON object of a request body, or raise a 400."""
    try:
        body = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as e:
        raise bad_request(f"invalid JSON body: {e.args[0][:120]}") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def _time(body: dict[str, Any], name: str) -> int:
    value = body[name]
    ns = parse_ns(value) if isinstance(value, str) else None
    if ns is None and isinstance(value, str):
        ns = parse_ns(value + "Z")  # the time zone is optional; UTC when missing
    if ns is None:
        raise bad_request(f"{name} must be an RFC3339 timestamp, got {str(value)[:64]!r}")
    return ns


def _services(value: Any) -> frozenset[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad_request("service is required: a non-empty list of service names")
    unknown = sorted({v for v in value if v not in KNOWN_SERVICES})
    if unknown:
        raise bad_request(
            f"invalid service {', '.join(unknown)}: valid values are {', '.join(sorted(KNOWN_SERVICES))}"
        )
    return None if "all" in value else frozenset(value)


def _after(value: Any) -> tuple[int, str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise bad_request("search_after must be the array from the X-Search_after header")
    ms, tiebreak = value
    if isinstance(ms, str) and ms.lstrip("-").isdigit():
        ms = int(ms)
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not isinstance(tiebreak, str):
        raise bad_request("search_after must be [epoch_millis, string]")
    return int(ms), tiebreak


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        return DEFAULT_LIMIT  # the API falls back to the default for any nonsensical value
    return value


def _fields(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise bad_request("fields must be a non-empty list of field names")
    known = [f for f in value if isinstance(f, str) and f in known_fields()]
    if not known:
        raise bad_request(f"fields has no known field: {orjson.dumps(value).decode()[:200]}")
    return tuple(known)


def build_query(body: dict[str, Any], *, now_ns: int, retention_days: float, distinct: bool = False) -> Query:
    """Validate a body of ``/events``, ``/events/count`` or ``/events/distinct`` as the real API does."""
    if "service" not in body:
        raise bad_request("service is required: a non-empty list of service names")
    services = _services(body["service"])
    if "start_time" not in body:
        raise bad_request("start_time is required")
    start = _time(body, "start_time")
    end = _time(body, "end_time") if body.get("end_time") is not None else now_ns
    if start > now_ns:
        raise bad_request(f"Start Time is in the future: {body['start_time']} > {format_ns(now_ns, 0)}")
    if start >= end:
        end_text = body.get("end_time") or format_ns(end, 0)
        raise bad_request(f"Start Time not after End Time {body['start_time']} > {end_text}")
    oldest = now_ns - int(retention_days * 86400 * NS_PER_S)
    if start < oldest:
        raise bad_request(
            f"start_time {body['start_time']} is outside the data retention period of "
            f"{retention_days:g} days: the oldest start_time accepted is {format_ns(oldest, 0)}"
        )
    field = None
    if distinct:
        field = body.get("field")
        if not isinstance(field, str) or not field:
            raise bad_request("field is required for /events/distinct")
    sort = body.get("sort")
    skip = body.get("skip")
    return Query(
        services=services, lo_ns=start, hi_ns=end, limit=_limit(body.get("limit")),
        descending=isinstance(sort, str) and sort.upper() == "DESC", after=_after(body.get("search_after")),
        search=compile_search(body["search_term"]) if body.get("search_term") is not None else None,
        fields=_fields(body.get("fields")), distinct_field=field,
        skip=skip if isinstance(skip, int) and not isinstance(skip, bool) and skip > 0 else 0,
    )


# -- search_term ----------------------------------------------------------------------------------
def lookup(event: Any, path: str) -> list[Any]:
    """Return every value at a dotted path (lists are searched element by element)."""
    current = [event]
    for part in path.split("."):
        found: list[Any] = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            found.extend(i[part] for i in items if isinstance(i, dict) and part in i)
        current = found
    return [v for value in current for v in (value if isinstance(value, list) else [value])]


def as_term(value: Any) -> str | None:
    """Return a stored value as the lower-case string the index compares, None when not comparable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, int | float):
        return str(value)
    return None


def _wanted(field: str, value: Any) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    out = set()
    for v in values:
        if isinstance(v, bool):
            raise bad_request(f"search_term value for {field} must be a string: use \"{str(v).lower()}\"")
        if not isinstance(v, str | int | float):
            raise bad_request(f"search_term value for {field} must be a string or a list of strings")
        out.add(str(v).lower())
    if not out:
        raise bad_request(f"search_term value for {field} must not be empty")
    return frozenset(out)


def compile_search(term: Any) -> Predicate:
    """Compile ``{"and"|"or"|"not": [conditions]}`` into a predicate, raising 400 on a malformed term."""
    if not isinstance(term, dict) or len(term) != 1 or next(iter(term)) not in _LOGIC:
        raise bad_request('search_term must hold exactly one of "and", "or", "not"')
    op, conditions = next(iter(term.items()))
    if not isinstance(conditions, list) or not conditions:
        raise bad_request(f'search_term "{op}" must be a non-empty list')
    parts: list[Predicate] = []
    seen: set[str] = set()
    for condition in conditions:
        if not isinstance(condition, dict) or not condition:
            raise bad_request("each search_term condition must be an object")
        if len(condition) == 1 and next(iter(condition)) in _LOGIC:
            parts.append(compile_search(condition))
            continue
        for field, value in condition.items():
            if field in seen:
                raise bad_request(f"search_term repeats the field {field} in one list")
            seen.add(field)
            parts.append(_match(field, _wanted(field, value)))
    if op == "and":
        return lambda e: all(p(e) for p in parts)
    if op == "or":
        return lambda e: any(p(e) for p in parts)
    return lambda e: not any(p(e) for p in parts)


def _match(field: str, wanted: frozenset[str]) -> Predicate:
    return lambda e: any(as_term(v) in wanted for v in lookup(e, field))


# -- fields and distinct --------------------------------------------------------------------------
def project(event: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Return only the requested dotted paths of an event (plus its timestamp), keeping the nesting."""
    out: dict[str, Any] = {}
    for path in (*paths, "timestamp"):
        _copy(event, out, path.split("."))
    return out


def _copy(src: Any, dst: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(src, dict) or head not in src:
        return
    value = src[head]
    if not rest:
        dst[head] = value
    elif isinstance(value, dict):
        sub = dst.get(head) if isinstance(dst.get(head), dict) else {}
        _copy(value, sub, rest)
        if sub:
            dst[head] = sub
    elif isinstance(value, list):
        previous = dst.get(head)
        items = previous if isinstance(previous, list) else [{} for _ in value]
        for item, element in zip(items, value, strict=True):
            _copy(element, item, rest)
        if any(items):
            dst[head] = items


def distinct_buckets(events: Iterable[dict[str, Any]], field: str, size: int = 10) -> dict[str, Any]:
    """Return Elasticsearch terms-aggregation buckets of ``field`` over ``events``."""
    counts: Counter[str] = Counter()
    for event in events:
        for key in {k for k in (as_term(v) for v in lookup(event, field)) if k is not None}:
            counts[key] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "buckets": [{"key": k, "doc_count": n} for k, n in ranked[:size]],
        "doc_count_error_upper_bound": 0,
        "sum_other_doc_count": sum(n for _, n in ranked[size:]),
    }
