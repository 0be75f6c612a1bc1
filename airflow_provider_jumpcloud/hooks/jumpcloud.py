"""JumpCloud Directory Insights hook: connection settings, HTTP session, retries, pagination, counts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook
from urllib3 import HTTPHeaderDict

from airflow_provider_jumpcloud import __version__
from airflow_provider_jumpcloud.api_pages import (
    Page,
    UndecodablePageError,
    api_error,
    cut,
    encode_query,
    parse_count,
    parse_page,
    parse_retry_after,
    select_window,
    server_message,
)
from airflow_provider_jumpcloud.exceptions import (
    JumpCloudConfigError,
    JumpCloudTransientError,
    MalformedPageError,
)
from airflow_provider_jumpcloud.windows import Window, validate_services

if TYPE_CHECKING:
    from airflow.sdk import Connection

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # pragma: no cover - older task SDKs
    try:
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]
    except ImportError:

        def mask_secret(secret: Any, name: str | None = None) -> None:  # type: ignore[misc]
            """Do nothing: no secrets masker is available."""


API_PATH = "/insights/directory/v1"
REGION_URLS = {
    "us": "https://api.jumpcloud.com",
    "eu": "https://api.eu.jumpcloud.com",
    "in": "https://api.in.jumpcloud.com",
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGE_SIZE = 10_000
DEFAULT_TIMEOUT = 60.0
USER_AGENT = f"airflow-provider-jumpcloud/{__version__}"
_TRANSIENT_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_FALSE = {"false", "0", "no", "off"}
_TRUE = {"true", "1", "yes", "on", ""}


class JumpCloudHook(BaseHook):
    """Talk to the JumpCloud Directory Insights API: stream events of a window and count them.

    :param jumpcloud_conn_id: connection of type ``jumpcloud`` (password = API key)
    :param max_retries: retries of one request on 429, 5xx, connection errors and timeouts
    :param backoff_base: first back-off delay in seconds (doubled per retry, full jitter)
    :param backoff_cap: largest back-off delay in seconds (a ``Retry-After`` header wins)
    :param sleep: the sleep function, injectable so tests never wait
    :param timeout: seconds to wait for one response; overrides the connection's ``timeout`` extra
    """

    conn_name_attr = "jumpcloud_conn_id"
    default_conn_name = "jumpcloud_default"
    conn_type = "jumpcloud"
    hook_name = "JumpCloud"
    #: Most pages one window may take; more means a runaway cursor (split the window instead).
    max_pages = 5000
    #: Times a page that is not complete JSON is asked for again before MalformedPageError.
    page_retries = 3

    def __init__(
        self,
        jumpcloud_conn_id: str = default_conn_name,
        *,
        max_retries: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], Any] = time.sleep,
        timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.jumpcloud_conn_id = jumpcloud_conn_id
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._timeout_override = timeout
        self._random = random.Random()
        self._conn: Connection | None = None
        self._session: requests.Session | None = None
        self._key: str | None = None
        self._warned_verify = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(jumpcloud_conn_id={self.jumpcloud_conn_id!r})"

    def __enter__(self) -> JumpCloudHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session (a new one is opened on the next request)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # ----------------------------------------------------------------- connection settings
    @property
    def connection(self) -> Connection:
        """The Airflow connection, read once on first use."""
        if self._conn is None:
            self._conn = self.get_connection(self.jumpcloud_conn_id)
        return self._conn

    def _extra(self, name: str) -> Any:
        extras = self.connection.extra_dejson or {}
        value = extras.get(name)
        return extras.get(f"extra__jumpcloud__{name}") if value is None or value == "" else value

    @property
    def api_key(self) -> str:
        """The administrator API key (connection password), registered with the secrets masker."""
        if self._key is None:
            key = (self.connection.password or "").strip()
            if not key:
                raise JumpCloudConfigError(
                    f"connection {self.jumpcloud_conn_id!r} has no API key: put it in the password field"
                )
            mask_secret(key)
            self._key = key
        return self._key

    @property
    def base_url(self) -> str:
        """API base URL: the connection host when set, else the region's host."""
        host = (self.connection.host or "").strip()
        if host:
            parts = urlsplit(host)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise JumpCloudConfigError(
                    f"host {cut(host, 100)!r} of connection {self.jumpcloud_conn_id!r} must be an http(s) "
                    "URL such as https://api.jumpcloud.com (or leave it empty and set the region extra)"
                )
            return host.rstrip("/")
        region = str(self._extra("region") or "us").strip().lower()
        if region not in REGION_URLS:
            raise JumpCloudConfigError(
                f"unknown region {region!r} in connection {self.jumpcloud_conn_id!r}; "
                f"valid regions: {', '.join(REGION_URLS)}"
            )
        return REGION_URLS[region]

    @property
    def org_ids(self) -> list[str]:
        """Organisation ids sent as (repeated) ``x-org-id`` headers; a comma-separated extra or a list."""
        value = self._extra("org_id")
        items = value if isinstance(value, list | tuple) else str(value or "").split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    @property
    def provider_id(self) -> str | None:
        """The ``x-provider-id`` header value, for Multi-Tenant Portal events only."""
        value = self._extra("provider_id")
        if value is None:
            return None
        return str(value).strip() or None

    @property
    def timeout(self) -> float:
        """Seconds to wait for one response (hook argument, else the ``timeout`` extra, else 60)."""
        value = self._timeout_override if self._timeout_override is not None else self._extra("timeout")
        if value is None or value == "":
            return DEFAULT_TIMEOUT
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not seconds > 0:
            raise JumpCloudConfigError(f"timeout must be a positive number of seconds, got {value!r}")
        return seconds

    @property
    def verify(self) -> bool | str:
        """TLS verification: True, False (logs a warning) or a CA bundle path."""
        value = self._extra("verify")
        if value is None or isinstance(value, bool):
            result: bool | str = True if value is None else value
        elif str(value).strip().lower() in _FALSE:
            result = False
        elif str(value).strip().lower() in _TRUE:
            result = True
        else:
            result = str(value).strip()
        if result is False and not self._warned_verify:
            self._warned_verify = True
            self.log.warning("TLS certificate verification is OFF for connection %s", self.jumpcloud_conn_id)
        return result

    def get_conn(self) -> requests.Session:
        """Return the hook's HTTP session (one per hook, closed by ``close()`` / ``__exit__``)."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _headers(self) -> HTTPHeaderDict:
        headers = HTTPHeaderDict()
        headers.add("x-api-key", self.api_key)
        for org_id in self.org_ids:
            headers.add("x-org-id", org_id)
        if self.provider_id:
            headers.add("x-provider-id", self.provider_id)
        headers.add("Content-Type", "application/json")
        headers.add("Accept", "application/json")
        headers.add("User-Agent", USER_AGENT)
        return headers

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    # ----------------------------------------------------------------- HTTP with retries
    def _backoff(self, retry: int) -> float:
        return self._random.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1)))

    def _request(self, path: str, body: bytes, where: str = "") -> requests.Response:
        """POST ``body`` to ``path``; retry 429/5xx/connection errors; raise typed errors otherwise.

        ``where`` (e.g. ``page 3 of window ...``) is added to error messages so a failure names its window.
        """
        url = f"{self.base_url}{API_PATH}{path}"
        endpoint = f"POST {url}"
        context = f" ({where})" if where else ""
        headers, timeout, verify = self._headers(), self.timeout, self.verify
        session = self.get_conn()
        prepared = session.prepare_request(requests.Request("POST", url, data=body))
        merged = HTTPHeaderDict()
        for name, value in prepared.headers.items():
            if name.lower() not in headers:
                merged.add(name, value)
        merged.extend(headers)
        prepared.headers = merged  # type: ignore[assignment]  # keeps repeated x-org-id headers
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            delay: float | None = None
            try:
                response = session.send(prepared, timeout=timeout, verify=verify, allow_redirects=False)
            except _TRANSIENT_EXCEPTIONS as exc:
                reason = f"{type(exc).__name__}: {cut(self._scrub(str(exc)), 200)}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                message = self._scrub(server_message(response.content))
                if status not in RETRY_STATUSES:
                    error = api_error(
                        status, message, endpoint=endpoint, conn_id=self.jumpcloud_conn_id,
                        request_id=response.headers.get("X-Request-Id"),
                    )
                    if context:
                        error.args = (f"{error.args[0]}{context}", *error.args[1:])
                    raise error
                reason = f"HTTP {status} {message!r}"
                delay = parse_retry_after(response.headers.get("Retry-After"))
            if attempt > self.max_retries:
                raise JumpCloudTransientError(
                    f"JumpCloud API {endpoint} still failing after {attempt} attempts: {reason}{context}",
                    status=status, endpoint=endpoint, attempts=attempt,
                )
            delay = self._backoff(attempt) if delay is None else delay
            self.log.warning(
                "JumpCloud %s failed (%s); retry %d/%d in %.2fs", endpoint, reason, attempt,
                self.max_retries, delay,
            )
            self._sleep(delay)

    # ----------------------------------------------------------------- API
    def iter_events(
        self,
        start: Any,
        end: Any,
        *,
        services: Sequence[str] = ("all",),
        search_term: dict[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[bytes]:
        """Stream the exact JSON bytes of every event in the half-open window ``[start, end)``, ascending.

        Arguments are checked before any request. Events the API returns at or after ``end`` (its
        ``end_time`` may be inclusive) or before ``start`` are dropped; events without a parseable
        ``timestamp`` are kept. Each page is fully parsed and checked before any of it is yielded.
        """
        window = Window.parse(start, end)
        services = tuple(services)
        validate_services(services)
        if type(page_size) is not int or not 0 < page_size <= MAX_PAGE_SIZE:
            raise JumpCloudConfigError(
                f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
            )
        start_time, end_time = window.api_bounds()
        query: dict[str, Any] = {
            "service": list(services), "start_time": start_time, "end_time": end_time,
            "limit": page_size, "sort": "ASC",
        }
        if search_term is not None:
            query["search_term"] = search_term
        if fields is not None:
            fields = list(fields)
            query["fields"] = fields if "timestamp" in fields else [*fields, "timestamp"]
        self.api_key  # noqa: B018  # fail on a bad connection now, not on the first next()
        self.base_url  # noqa: B018
        return self._iter_pages(window, query, page_size)

    def _iter_pages(self, window: Window, query: dict[str, Any], page_size: int) -> Iterator[bytes]:
        start_ns, end_ns = window.start_ns, window.end_ns
        seen: set[str] = set()
        token: str | None = None
        page_no = 0
        while True:
            page_no += 1
            where = f"page {page_no} of window {window}"
            page = self._fetch_page(encode_query(query, token), page_size, where)
            if page.full:
                problem = None
                if page.token_text in seen:
                    problem = f"the X-Search_after token {cut(page.token_text or '', 100)} came back twice"
                elif page_no >= self.max_pages:
                    problem = f"more than {self.max_pages} pages; split the window"
                if problem:
                    raise MalformedPageError(
                        f"JumpCloud POST {API_PATH}/events, {where}: {problem} "
                        f"(X-Request-Id {page.request_id})"
                    )
                seen.add(page.token_text or "")
            kept, before, after = select_window(page.events, start_ns, end_ns)
            self.log.info(
                "JumpCloud page %d of %s: %d events, %d in window, %d before, %d at/after end",
                page_no, window, page.result_count, len(kept), before, after,
            )
            yield from kept
            if not page.full:
                return
            token = page.token_text

    def _fetch_page(self, body: bytes, page_size: int, where: str) -> Page:
        """Request one page; ask again (with back-off) when the body is not complete JSON."""
        retry = 0
        while True:
            response = self._request("/events", body, where)
            request_id = response.headers.get("X-Request-Id")
            try:
                return parse_page(response.content, response.headers, requested_limit=page_size)
            except UndecodablePageError as exc:
                retry += 1
                if retry > min(self.page_retries, self.max_retries):
                    raise MalformedPageError(
                        f"JumpCloud POST {API_PATH}/events, {where}: {self._scrub(str(exc))} "
                        f"(after {retry} attempts; X-Request-Id {request_id})"
                    ) from None
                delay = self._backoff(retry)
                self.log.warning("JumpCloud %s: %s; asking again in %.2fs", where, exc, delay)
                self._sleep(delay)
            except MalformedPageError as exc:
                raise MalformedPageError(
                    f"JumpCloud POST {API_PATH}/events, {where}: {self._scrub(str(exc))} "
                    f"(X-Request-Id {request_id})"
                ) from None

    def count_events(self, start: Any, end: Any, *, services: Sequence[str] = ("all",)) -> int:
        """Return the API's ``/events/count`` for ``start_time=start, end_time=end`` (server semantics)."""
        window = Window.parse(start, end)
        services = tuple(services)
        validate_services(services)
        start_time, end_time = window.api_bounds()
        body = encode_query({"service": list(services), "start_time": start_time, "end_time": end_time})
        response = self._request("/events/count", body, f"count of window {window}")
        try:
            return parse_count(response.content)
        except MalformedPageError as exc:
            raise MalformedPageError(f"JumpCloud POST {API_PATH}/events/count for {window}: {exc}") from None

    def test_connection(self) -> tuple[bool, str]:
        """Count the events of the last minute; return ``(ok, message)`` without ever showing the key."""
        try:
            end = datetime.now(UTC).replace(microsecond=0)
            count = self.count_events(end - timedelta(minutes=1), end)
            return True, f"Connection successful: {count} events in the last minute at {self.base_url}"
        except Exception as exc:
            return False, self._scrub(f"{type(exc).__name__}: {exc}")
