"""The Directory Insights endpoints as a pure function of (method, path, headers, body) -> response."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

import orjson

from airflow_provider_jumpcloud.emulator.config import EVENTS_PATH, EmulatorConfig
from airflow_provider_jumpcloud.emulator.events import Entry, EventSource
from airflow_provider_jumpcloud.emulator.oauth import TOKEN_PATH, TokenIssuer
from airflow_provider_jumpcloud.emulator.query import (
    ApiError,
    Query,
    build_query,
    distinct_buckets,
    parse_body,
    project,
)

ENDPOINTS = {EVENTS_PATH: "events", f"{EVENTS_PATH}/count": "count", f"{EVENTS_PATH}/distinct": "distinct"}
_TOKEN_MAX = "~"  # sorts after every tiebreak character


class Headers(Protocol):
    """The part of ``http.client.HTTPMessage`` the API reads (case-insensitive lookup)."""

    def get(self, name: str, default: Any = None) -> Any:  # noqa: D102
        ...

    def get_all(self, name: str, failobj: Any = None) -> Any:  # noqa: D102
        ...


@dataclass
class Response:
    """An answer to send: status, body bytes and headers; ``result_count`` for the request log."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    result_count: int | None = None


def error(status: int, message: str, request_id: str) -> Response:
    """Return the API's error answer ``{"message": ...}``."""
    return Response(status, orjson.dumps({"message": message}), {"X-Request-Id": request_id})


class DirectoryInsightsAPI:
    """Answer Directory Insights requests from an :class:`EventSource`."""

    def __init__(self, config: EmulatorConfig, source: EventSource) -> None:
        self.config = config
        self.source = source
        self.tokens = TokenIssuer(config)

    def handle(self, method: str, path: str, headers: Headers, raw: bytes) -> Response:
        """Return the response to one request (never raises for client errors)."""
        request_id = uuid.uuid4().hex
        if path.rstrip("/") == TOKEN_PATH and method == "POST":
            status, body = self.tokens.issue(headers.get("Authorization"), raw)
            return Response(status, body, {"Cache-Control": "no-store", "X-Request-Id": request_id})
        endpoint = ENDPOINTS.get(path.rstrip("/"))
        if endpoint is None:
            return error(404, f"Not Found: {path[:100]}", request_id)
        if method != "POST":
            return error(405, "Method Not Allowed: use POST", request_id)
        authorization = headers.get("Authorization")
        if authorization is not None and authorization.lower().startswith("bearer"):
            if self.tokens.check(authorization) is None:
                return error(401, "Unauthorized: invalid or expired token", request_id)
        else:
            key = headers.get("x-api-key")
            if not key or not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
                return error(401, "Unauthorized: missing or invalid x-api-key", request_id)
        if self.config.org_id is not None:
            orgs = [v.strip() for h in headers.get_all("x-org-id") or [] for v in h.split(",")]
            if self.config.org_id not in orgs:
                return error(403, "Forbidden: this API key may not read the organization (check x-org-id)",
                             request_id)
        try:
            body = parse_body(raw)
            query = build_query(body, now_ns=self.config.now_ns(), retention_days=self.config.retention_days,
                                distinct=endpoint == "distinct")
        except ApiError as e:
            return error(e.status, e.message, request_id)
        clock = self.config.clock_ns()
        if endpoint == "count":
            count = self._count(query, clock)
            return Response(200, orjson.dumps({"count": count}), {"X-Request-Id": request_id})
        if endpoint == "distinct":
            assert query.distinct_field is not None
            events = (e.event for e in self._matching(query, clock, paged=False))
            return Response(200, orjson.dumps(distinct_buckets(events, query.distinct_field)),
                            {"X-Request-Id": request_id})
        return self._page(query, clock, request_id)

    def _matching(self, query: Query, clock: int, *, paged: bool = True) -> Iterator[Entry]:
        entries = self.source.entries(
            query.lo_ns, query.hi_ns, query.services, descending=query.descending,
            after=query.after if paged else None, clock_ns=clock,
        )
        if query.search is not None:
            search = query.search
            entries = (e for e in entries if search(e.event))
        return entries

    def _count(self, query: Query, clock: int) -> int:
        if query.search is None:
            return self.source.count(query.lo_ns, query.hi_ns, query.services, clock_ns=clock)
        return sum(1 for _ in self._matching(query, clock, paged=False))

    def _page(self, query: Query, clock: int, request_id: str) -> Response:
        entries = self._matching(query, clock)
        page = list(islice(entries, query.skip, query.skip + query.limit))
        if query.fields is not None:
            fields = query.fields
            chunks = [orjson.dumps(project(e.event, fields)) for e in page]
        else:
            chunks = [e.to_json() for e in page]
        if page:
            token: list[Any] = [page[-1].ms, page[-1].tiebreak]
        elif query.after is not None:
            token = list(query.after)
        elif query.descending:
            token = [query.hi_ns // 1_000_000, _TOKEN_MAX]
        else:
            token = [query.lo_ns // 1_000_000, ""]
        headers = {
            "X-Result-Count": str(len(page)),
            "X-Limit": str(query.limit),
            "X-Sort": "DESC" if query.descending else "ASC",
            "X-Search_after": orjson.dumps(token).decode(),
            "X-Request-Id": request_id,
        }
        return Response(200, b"[" + b",".join(chunks) + b"]", headers, result_count=len(page))
