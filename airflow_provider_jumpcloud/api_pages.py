"""Pure parsing of Directory Insights responses: event pages, pagination headers, counts and errors.

No Airflow and no HTTP client here: functions take a response body (bytes) and its headers (any
mapping) and either return plain values or raise the package's exceptions. Event pages are split
into each element's exact bytes, so nothing is re-serialized between the API and the staging area.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_jumpcloud.exceptions import (
    CursorNotAdvancingError,
    JumpCloudAPIError,
    JumpCloudAuthError,
    JumpCloudBadRequestError,
    JumpCloudPlanError,
    MalformedPageError,
)
from airflow_provider_jumpcloud.timestamps import parse_ns

#: Longest piece of a response body quoted in a message.
MAX_QUOTED = 500
#: Upper bound on a server-requested ``Retry-After`` delay, in seconds.
MAX_RETRY_AFTER = 900.0

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_RETENTION_WORDS = ("retention", "too old", "older than", "expired", "in the past")

#: One event of a page: its exact JSON bytes and its ``timestamp`` in epoch ns (None when absent/invalid).
RawEvent = tuple[bytes, int | None]


class UndecodablePageError(MalformedPageError):
    """A page body is not complete JSON (truncated, not UTF-8, not JSON): worth asking again."""


@dataclass(frozen=True)
class Page:
    """One parsed ``/events`` response: its events and pagination headers."""

    events: list[RawEvent]
    result_count: int
    limit: int
    token_text: str | None
    request_id: str | None

    @property
    def full(self) -> bool:
        """Whether the page is full, so another page may follow (``X-Result-Count == X-Limit``)."""
        return self.result_count == self.limit


def cut(text: str, limit: int = MAX_QUOTED) -> str:
    """Return ``text`` cut to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[:limit] + "...[cut]"


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _timestamp_ns(value: Any) -> int | None:
    if isinstance(value, dict):
        return parse_ns(value.get("timestamp"))  # type: ignore[arg-type]
    return None


def split_array(body: bytes) -> list[RawEvent]:
    """Split a JSON array body into each element's exact bytes and parsed ``timestamp``.

    Elements may be any JSON value (non-objects are kept). Raises UndecodablePageError when the body
    is not complete JSON and MalformedPageError when it is JSON but not an array.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UndecodablePageError(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    ascii_only = len(text) == len(body)
    n = len(text)
    i = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if i >= n:
        raise UndecodablePageError("body is empty")
    if text[i] != "[":
        try:
            value, _ = _DECODER.raw_decode(text, i)
        except ValueError:
            raise UndecodablePageError(f"body is not JSON: {cut(text, 200)!r}") from None
        except RecursionError:
            raise MalformedPageError("body is JSON nested too deeply to parse") from None
        raise MalformedPageError(f"body is a JSON {type(value).__name__}, not an array: {cut(text, 200)!r}")
    events: list[RawEvent] = []
    i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
    if i < n and text[i] == "]":
        i += 1
    else:
        while True:
            try:
                value, end = _DECODER.raw_decode(text, i)
            except ValueError as exc:
                raise UndecodablePageError(
                    f"invalid or truncated JSON after {len(events)} elements: {exc}"
                ) from None
            except RecursionError:
                raise MalformedPageError(
                    f"element {len(events) + 1} is JSON nested too deeply to parse"
                ) from None
            raw = body[i:end] if ascii_only else text[i:end].encode("utf-8")
            events.append((raw, _timestamp_ns(value)))
            i = _WS.match(text, end).end()  # type: ignore[union-attr]
            if i >= n:
                raise UndecodablePageError(f"body ends inside the array after {len(events)} elements")
            if text[i] == "]":
                i += 1
                break
            if text[i] != ",":
                raise UndecodablePageError(f"unexpected {text[i]!r} after element {len(events)}")
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
    if _WS.match(text, i).end() != n:  # type: ignore[union-attr]
        raise UndecodablePageError(f"unexpected data after the array: {cut(text[i:], 100)!r}")
    return events


def _header_int(headers: dict[str, str], name: str, default: int) -> int:
    value = headers.get(name.lower())
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise MalformedPageError(f"header {name} is not an integer: {cut(value, 100)!r}") from None


def parse_token(text: str) -> Any:
    """Parse an ``X-Search_after`` header: a non-empty JSON array, else MalformedPageError."""
    try:
        token = json.loads(text)
    except ValueError:
        raise MalformedPageError(f"X-Search_after is not JSON: {cut(text, 100)!r}") from None
    if not isinstance(token, list) or not token:
        raise MalformedPageError(f"X-Search_after is not a non-empty JSON array: {cut(text, 100)!r}")
    return token


def _as_number(value: Any) -> Decimal | None:
    """A cursor element as a number: JSON numbers and numeric strings (the same value spelled either way)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _order(previous: Any, current: Any) -> int | None:
    """Compare two cursor elements (-1, 0, 1), or None when they cannot be ordered."""
    if isinstance(previous, str) and isinstance(current, str):
        return (previous > current) - (previous < current)  # keyword tie-breakers sort as text
    a, b = _as_number(previous), _as_number(current)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    return 0 if previous == current else None


def check_cursor_advances(previous_text: str, current_text: str) -> None:
    """Raise CursorNotAdvancingError unless cursor ``current_text`` sorts after ``previous_text`` (ascending).

    Elements are compared in order: numbers by value (``1.5e3``, ``1500`` and ``"1500"`` are equal),
    strings as text; a cursor whose shape changed cannot be ordered and is refused too.
    """
    previous = json.loads(previous_text, parse_float=Decimal)
    current = json.loads(current_text, parse_float=Decimal)
    shown = f"{cut(current_text, 100)} (previous page: {cut(previous_text, 100)})"
    for a, b in zip(previous, current, strict=False):
        order = _order(a, b)
        if order is None:
            raise CursorNotAdvancingError(f"the X-Search_after cursor {shown} cannot be ordered after the previous one")
        if order > 0:
            raise CursorNotAdvancingError(f"the X-Search_after cursor {shown} goes backwards")
        if order < 0:
            return
    if len(previous) != len(current):
        raise CursorNotAdvancingError(f"the X-Search_after cursor {shown} changed length")
    raise CursorNotAdvancingError(f"the X-Search_after cursor {shown} came back twice: it does not move forward")


def parse_page(body: bytes, headers: Mapping[str, str], *, requested_limit: int) -> Page:
    """Parse and check a whole ``/events`` page before any of it is used.

    Checks: the body is a JSON array; ``X-Result-Count`` (default: the element count) equals the
    element count and is at most ``X-Limit`` (default: ``requested_limit``); a full page carries a
    valid ``X-Search_after`` token. Raises MalformedPageError (UndecodablePageError for bad JSON).
    """
    events = split_array(body)
    low = _lower(headers)
    count = _header_int(low, "X-Result-Count", len(events))
    limit = _header_int(low, "X-Limit", requested_limit)
    if count != len(events):
        raise MalformedPageError(f"X-Result-Count is {count} but the body holds {len(events)} events")
    if limit < 1 or count > limit:
        raise MalformedPageError(f"X-Result-Count {count} does not fit X-Limit {limit}")
    token_text = low.get("x-search_after")
    if count == limit:
        if token_text is None or not token_text.strip():
            raise MalformedPageError(f"a full page ({count} events) carries no X-Search_after token")
        token_text = token_text.strip()
        parse_token(token_text)
    return Page(events, count, limit, token_text, low.get("x-request-id"))


def select_window(events: Iterable[RawEvent], start_ns: int, end_ns: int) -> tuple[list[bytes], int, int]:
    """Keep events in ``[start_ns, end_ns)`` or without a parseable timestamp.

    Returns ``(kept, before, after)`` where ``before``/``after`` count events dropped for lying before
    the start or at/after the end (the API's ``end_time`` may be inclusive).
    """
    kept: list[bytes] = []
    before = after = 0
    for raw, ts in events:
        if ts is None or start_ns <= ts < end_ns:
            kept.append(raw)
        elif ts < start_ns:
            before += 1
        else:
            after += 1
    return kept, before, after


def encode_query(query: Mapping[str, Any], token_text: str | None = None) -> bytes:
    """Encode a query body; ``token_text`` is spliced in verbatim as ``search_after``."""
    text = json.dumps(query, separators=(",", ":"), ensure_ascii=False)
    if token_text is not None:
        text = f'{text[:-1]},"search_after":{token_text}}}' if query else f'{{"search_after":{token_text}}}'
    return text.encode("utf-8")


def parse_count(body: bytes) -> int:
    """Return ``n`` from a ``/events/count`` body ``{"count": n}``; MalformedPageError otherwise."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    count = data.get("count") if isinstance(data, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        text = body.decode("utf-8", "replace")
        raise MalformedPageError(f'count response is not {{"count": <non-negative int>}}: {cut(text)!r}')
    return count


def server_message(body: bytes) -> str:
    """Return the ``message`` of a JSON error body, else the body text, cut to 500 characters."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return cut(text.strip())
    if isinstance(data, dict) and "message" in data:
        message = data["message"]
        return cut(message if isinstance(message, str) else json.dumps(message))
    return cut(text.strip())


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the delay a ``Retry-After`` header asks for (seconds or HTTP-date), capped; None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        delay = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = (when - (now or datetime.now(UTC))).total_seconds()
    if delay != delay:  # NaN
        return None
    return min(max(delay, 0.0), MAX_RETRY_AFTER)


def _advice(status: int, message: str, conn_id: str, service_account: bool) -> str:
    low = message.lower()
    if status == 401 and service_account:
        return (
            "the service-account token was refused (also after fetching a new one); check that the service "
            f"account of connection {conn_id!r} (login = client id) is active and may read Directory Insights"
        )
    if status == 401:
        return f"the API key was rejected; check the password field of connection {conn_id!r}"
    if status == 403 and service_account:
        return (
            "the service account may not read Directory Insights for this organisation: give it an "
            f"administrator role and check org_id in connection {conn_id!r}"
        )
    if status == 403:
        return (
            "the key's administrator may not read Directory Insights: use an administrator role (not "
            f"Command Runner) and, for MSP / multi-tenant admins, set org_id in connection {conn_id!r}"
        )
    if status == 402:
        return "Directory Insights is not enabled for this organisation's plan; enable it in JumpCloud"
    if status == 400 and any(word in low for word in _RETENTION_WORDS):
        return (
            "the start time is older than the plan's retention (15 or 90 days); "
            "start the window within the retention period"
        )
    if status == 400 and ("end time" in low or "end_time" in low):
        return "the window's start must be before its end"
    if status == 400 and ("start time" in low or "start_time" in low):
        return (
            "the start time was refused: it is probably older than the plan's retention (15 or 90 days) "
            "or in the future; start the window within the retention period"
        )
    if status == 400:
        return "the query was rejected; check the services, fields and search_term"
    return "unexpected response status"


#: Said at a 4xx in service-account mode when the connection names no organisation.
NO_ORG_ID_HINT = (
    "No organization ID is configured: service-account tokens need one, so set the org_id extra "
    "(x-org-id) of connection {conn_id!r}."
)


def api_error(
    status: int, message: str, *, endpoint: str, conn_id: str, request_id: str | None = None,
    service_account: bool = False, org_id_missing: bool = False,
) -> JumpCloudAPIError:
    """Build the exception for a non-retryable error status, with a what-to-do message.

    ``service_account`` words the advice for OAuth tokens; ``org_id_missing`` (service-account mode with no
    ``x-org-id``) adds that an organization ID is needed, the likeliest cause of a 4xx in that mode.
    """
    cls: type[JumpCloudAPIError] = {
        400: JumpCloudBadRequestError,
        401: JumpCloudAuthError,
        402: JumpCloudPlanError,
        403: JumpCloudAuthError,
    }.get(status, JumpCloudAPIError)
    text = f"JumpCloud API {endpoint} returned HTTP {status}: {_advice(status, message, conn_id, service_account)}."
    if org_id_missing and 400 <= status < 500:
        text += " " + NO_ORG_ID_HINT.format(conn_id=conn_id)
    text += f" Server message: {message!r}" if message else " The response body was empty."
    if request_id:
        text += f" (X-Request-Id {request_id})"
    return cls(text, status=status, endpoint=endpoint, server_message=message, request_id=request_id)
