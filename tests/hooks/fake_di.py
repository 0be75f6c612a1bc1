"""An independent fake of the Directory Insights ``/events`` API for the hook tests (requests_mock based).

Written from the API documentation, not from the hook or the project's emulator:
- sort ASC by (timestamp in epoch ms, id), like an Elasticsearch ``search_after`` over (date, tie-breaker);
- ``start_time`` inclusive and ``end_time`` INCLUSIVE (the worst case the client must cope with);
- ``limit`` default 1000, maximum 10,000; headers X-Result-Count, X-Limit, X-Sort, X-Request-Id and
  X-Search_after = ``[epoch_ms, "<id>"]`` of the last row (on every response);
- errors as ``{"message": ...}``; faults injected by request number (1-based, over all endpoints).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BASE = "https://api.jumpcloud.com"
EVENTS_URL = f"{BASE}/insights/directory/v1/events"
COUNT_URL = f"{BASE}/insights/directory/v1/events/count"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_of(dt: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (independent of the package's timestamps module)."""
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def rfc3339(ns: int, digits: int = 9) -> str:
    """Format epoch ns as UTC RFC 3339 with ``digits`` fractional digits (truncating)."""
    seconds, frac = divmod(ns, 10**9)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{frac:09d}"[:digits]
    return text + "Z"


def parse_request_time(text: str) -> int:
    """Parse the client's start_time / end_time (0 or up to 6 fractional digits, Z or offset)."""
    return ns_of(datetime.fromisoformat(text.replace("Z", "+00:00")))


def make_event(ns: int, ident: str, **extra: Any) -> dict[str, Any]:
    """A small directory event at ``ns`` (timestamp with 9 fractional digits)."""
    event = {"id": ident, "service": "directory", "event_type": "user_update", "timestamp": rfc3339(ns)}
    return {**event, **extra}


def spread(n: int, start_ns: int, end_ns: int, prefix: str = "e") -> list[dict[str, Any]]:
    """``n`` events spread evenly over ``[start_ns, end_ns)`` with unique ids."""
    step = max((end_ns - start_ns) // max(n, 1), 1)
    return [make_event(start_ns + i * step, f"{prefix}{i:07d}") for i in range(n)]


@dataclass
class Fault:
    """A canned response (status, headers, body) or an exception to raise for one request."""

    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"message": "Service Unavailable"}'
    exc: BaseException | None = None


class FakeDirectoryInsights:
    """Serve a fixed set of events with the documented paging contract."""

    def __init__(self, events: list[dict[str, Any]], *, api_key: str | None = None) -> None:
        rows = []
        for event in events:
            ns = _event_ns(event)
            rows.append(((ns // 1_000_000, event["id"]), ns, event))
        rows.sort(key=lambda r: r[0])
        self.keys = [r[0] for r in rows]
        self.rows = rows
        self.api_key = api_key
        self.faults: dict[int, Fault | Callable[[], Fault]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.event_requests = 0

    def install(self, requests_mock: Any, base: str = BASE) -> FakeDirectoryInsights:
        """Register the two endpoints on a requests_mock Mocker."""
        requests_mock.post(f"{base}/insights/directory/v1/events", text=self._events)
        requests_mock.post(f"{base}/insights/directory/v1/events/count", text=self._count)
        return self

    def expected(self, start_ns: int, end_ns: int) -> list[str]:
        """Ids the server order gives for the half-open ``[start_ns, end_ns)``."""
        return [r[2]["id"] for r in self.rows if start_ns <= r[1] < end_ns]

    # -- internals
    def _common(self, request: Any, context: Any, path: str) -> tuple[dict[str, Any] | None, str | None]:
        body = json.loads(request.body)
        self.requests.append((path, dict(body)))
        fault = self.faults.get(len(self.requests))
        if callable(fault):
            fault = fault()
        if fault is not None:
            if fault.exc is not None:
                raise fault.exc
            context.status_code = fault.status
            context.headers.update(fault.headers)
            return None, fault.body
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            context.status_code = 401
            return None, '{"message": "Unauthorized"}'
        start, end = parse_request_time(body["start_time"]), parse_request_time(body["end_time"])
        if start >= end:
            context.status_code = 400
            return None, json.dumps({"message": f"Start Time not after End Time {body['start_time']}"})
        body["_start"], body["_end"] = start, end
        return body, None

    def _count(self, request: Any, context: Any) -> str:
        body, error = self._common(request, context, "count")
        if body is None:
            return error or ""
        n = sum(1 for _, ns, _ in self.rows if body["_start"] <= ns <= body["_end"])
        return json.dumps({"count": n})

    def _events(self, request: Any, context: Any) -> str:
        self.event_requests += 1
        body, error = self._common(request, context, "events")
        if body is None:
            return error or ""
        limit = body.get("limit", 1000)
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            limit = 1000
        assert str(body.get("sort", "ASC")).upper() == "ASC"
        after = body.get("search_after")
        pos = 0 if after is None else bisect.bisect_right(self.keys, (after[0], after[1]))
        start, end = body["_start"], body["_end"]
        page: list[dict[str, Any]] = []
        last_key = None
        while pos < len(self.rows) and len(page) < limit:
            key, ns, event = self.rows[pos]
            pos += 1
            if key[0] > end // 1_000_000:
                break
            if start <= ns <= end:
                page.append(event)
                last_key = key
        token = list(last_key) if last_key is not None else (after or [])
        context.headers.update(
            {
                "X-Result-Count": str(len(page)),
                "X-Limit": str(limit),
                "X-Sort": "ASC",
                "X-Search_after": json.dumps(token),
                "X-Request-Id": f"req-{len(self.requests)}",
            }
        )
        return json.dumps(page)


def _event_ns(event: dict[str, Any]) -> int:
    """Parse an event timestamp with up to 9 fractional digits (Z only), independently of the package."""
    text = event["timestamp"]
    assert text.endswith("Z")
    main, _, frac = text[:-1].partition(".")
    seconds = ns_of(datetime.fromisoformat(main + "+00:00"))
    return seconds + int(frac.ljust(9, "0") if frac else 0)
