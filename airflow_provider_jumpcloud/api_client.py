"""The Directory Insights HTTP client behind JumpCloudHook: auth headers, one retry budget per request, paging.

No Airflow import: the hook reads the connection into :class:`ClientSettings` and hands over its session,
logger and secrets masker. Every error leaving this module is scrubbed of the key, secret and tokens.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import requests
from urllib3 import HTTPHeaderDict

from airflow_provider_jumpcloud import __version__
from airflow_provider_jumpcloud.api_auth import (
    TOKEN_FORM,
    SecretScrubber,
    TokenCache,
    basic_authorization,
    token_error_advice,
)
from airflow_provider_jumpcloud.api_pages import (
    Page,
    UndecodablePageError,
    api_error,
    check_cursor_advances,
    encode_query,
    parse_page,
    parse_retry_after,
    select_window,
    server_message,
)
from airflow_provider_jumpcloud.api_transport import (
    Reply,
    RetriesExhausted,
    RetryableFailure,
    RetryPolicy,
    call_with_retries,
    exchange,
)
from airflow_provider_jumpcloud.exceptions import (
    ContentEncodingError,
    JumpCloudAuthError,
    JumpCloudError,
    JumpCloudTransientError,
    MalformedPageError,
)
from airflow_provider_jumpcloud.windows import Window

API_PATH = "/insights/directory/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"airflow-provider-jumpcloud/{__version__}"
T = TypeVar("T")


@dataclass(frozen=True)
class ClientSettings:
    """What the client needs from a ``jumpcloud`` connection (read and checked by the hook).

    :param secret: the API key, or the client secret when ``client_id`` is set (service-account mode)
    :param token_url: the service account's token endpoint (service-account mode only)
    """

    conn_id: str
    base_url: str
    secret: str = field(repr=False)
    client_id: str | None = None
    token_url: str | None = None
    org_ids: tuple[str, ...] = ()
    provider_id: str | None = None
    verify: bool | str = True
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def service_account(self) -> bool:
        """Whether requests carry a service-account Bearer token instead of an API key."""
        return self.client_id is not None


class DirectoryInsightsClient:
    """POST to the Directory Insights API: auth, retries within one budget per request, scrubbed typed errors.

    :param session: returns the HTTP session to use (the hook's, reopened after ``close()``)
    :param mask: registers a runtime secret (a token) with the task log's masker
    :param clock: monotonic clock of the token cache
    """

    #: Of a request's attempts, how many may end in a cut, non-JSON or undecodable body before it fails.
    page_retries = 3

    def __init__(
        self, settings: ClientSettings, *, session: Callable[[], requests.Session], log: logging.Logger,
        sleep: Callable[[float], Any] = time.sleep, mask: Callable[[str], Any] = lambda _s: None,
        clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._session = session
        self.log = log
        self._sleep = sleep
        self._mask = mask
        self._random = rng or random.Random()
        self.tokens = TokenCache(clock=clock)
        self.scrubber = SecretScrubber()
        self.scrubber.add(settings.secret, basic_user=settings.client_id)

    # ----------------------------------------------------------------- secrets
    def scrub(self, text: str) -> str:
        """Return ``text`` with the key, secret and tokens (also URL-encoded / base64) replaced by ``***``."""
        return self.scrubber.scrub(text)

    def scrubbed(self, exc: JumpCloudError) -> JumpCloudError:
        """Scrub an error's message and server-supplied attributes in place; return it."""
        exc.args = self.scrubber.scrub_all(exc.args)
        for name in ("server_message", "request_id", "endpoint"):
            value = getattr(exc, name, None)
            if isinstance(value, str):
                setattr(exc, name, self.scrub(value))
        return exc

    # ----------------------------------------------------------------- HTTP
    def _send(self, url: str, body: bytes, headers: HTTPHeaderDict, deadline: float) -> Reply:
        session = self._session()
        prepared = session.prepare_request(requests.Request("POST", url, data=body))
        merged = HTTPHeaderDict()
        for name, value in prepared.headers.items():
            if name.lower() not in headers:
                merged.add(name, value)
        merged.extend(headers)
        prepared.headers = merged  # type: ignore[assignment]  # keeps repeated x-org-id headers
        return exchange(session, prepared, timeout=self.settings.policy.timeout, deadline=deadline,
                        verify=self.settings.verify)

    def _access_token(self, deadline: float) -> str:
        """Return a valid service-account token, fetching one (inside the caller's attempt) when needed."""
        token = self.tokens.valid()
        if token is not None:
            return token
        s = self.settings
        url = s.token_url or ""
        headers = HTTPHeaderDict()
        headers.add("Authorization", basic_authorization(s.client_id or "", s.secret))
        headers.add("Content-Type", "application/x-www-form-urlencoded")
        headers.add("Accept", "application/json")
        headers.add("User-Agent", USER_AGENT)
        reply = self._send(url, TOKEN_FORM.encode(), headers, deadline)
        if reply.status == 200:
            token = self.tokens.store(reply.body, token_url=url)
            self._mask(token)
            self.scrubber.add(token)
            self.log.info("Fetched service-account token %d of this task from %s", self.tokens.fetched, url)
            return token
        message = self.scrub(server_message(reply.body))
        if reply.status in RETRY_STATUSES:
            raise RetryableFailure(f"token endpoint HTTP {reply.status} {message!r}", status=reply.status,
                                   retry_after=parse_retry_after(reply.headers.get("Retry-After")))
        raise JumpCloudAuthError(
            f"JumpCloud token endpoint POST {url} returned HTTP {reply.status}: "
            f"{token_error_advice(reply.status, s.conn_id)}. Server message: {message!r}",
            status=reply.status, endpoint=f"POST {url}", server_message=message,
        )

    def _headers(self, deadline: float) -> HTTPHeaderDict:
        s = self.settings
        headers = HTTPHeaderDict()
        if s.service_account:
            headers.add("Authorization", f"Bearer {self._access_token(deadline)}")
        else:
            headers.add("x-api-key", s.secret)
        for org_id in s.org_ids:
            headers.add("x-org-id", org_id)
        if s.provider_id:
            headers.add("x-provider-id", s.provider_id)
        headers.add("Content-Type", "application/json")
        headers.add("Accept", "application/json")
        headers.add("User-Agent", USER_AGENT)
        return headers

    def call(self, path: str, body: bytes, where: str, parse: Callable[[Reply], T]) -> T:
        """POST ``body`` to ``path`` and ``parse`` the answer within one retry budget; raise scrubbed typed errors.

        ``where`` (e.g. ``page 3 of window ...``) is added to error messages so a failure names its window.
        Retried: 429 / 5xx (``Retry-After`` honoured), resets, timeouts, the whole-request deadline, and up to
        ``page_retries`` cut, non-JSON or undecodable bodies; a service-account token refused with 401 is
        fetched again once. Not retried: other statuses and bodies that are JSON but inconsistent.
        """
        try:
            return self._call(path, body, where, parse)
        except JumpCloudError as exc:
            raise self.scrubbed(exc) from None

    def _call(self, path: str, body: bytes, where: str, parse: Callable[[Reply], T]) -> T:
        s = self.settings
        url = f"{s.base_url}{API_PATH}{path}"
        endpoint = f"POST {url}"
        context = f" ({where})" if where else ""
        state: dict[str, Any] = {"integrity": 0, "token_refreshed": False, "request_id": None, "attempt": 0}

        def integrity_failure(reason: str, encoding: bool) -> RetryableFailure:
            state["integrity"] += 1
            failure = RetryableFailure(reason, integrity="encoding" if encoding else "json")
            if state["integrity"] > self.page_retries:
                raise self._malformed(endpoint, where, failure, f"after {state['attempt']} attempts",
                                      state["request_id"])
            return failure

        def attempt(deadline: float) -> T:
            state["attempt"] += 1
            try:
                reply = self._send(url, body, self._headers(deadline), deadline)
            except RetryableFailure as failure:
                state["request_id"] = failure.request_id
                if failure.integrity:
                    raise integrity_failure(failure.reason, encoding=True) from None
                raise
            status = reply.status
            state["request_id"] = reply.headers.get("X-Request-Id")
            if 200 <= status < 300:
                try:
                    return parse(reply)
                except UndecodablePageError as exc:
                    raise integrity_failure(str(exc), encoding=False) from None
            message = self.scrub(server_message(reply.body))
            if status == 401 and s.service_account and not state["token_refreshed"]:
                state["token_refreshed"] = True
                self.tokens.invalidate()
                raise RetryableFailure("HTTP 401: the service-account token was refused; fetching a new one",
                                       status=401, retry_after=0.0)
            if status in RETRY_STATUSES:
                raise RetryableFailure(f"HTTP {status} {message!r}", status=status,
                                       retry_after=parse_retry_after(reply.headers.get("Retry-After")))
            error = api_error(
                status, message, endpoint=endpoint, conn_id=s.conn_id, request_id=state["request_id"],
                service_account=s.service_account, org_id_missing=s.service_account and not s.org_ids,
            )
            if context:
                error.args = (f"{error.args[0]}{context}", *error.args[1:])
            raise error

        def on_retry(number: int, failure: RetryableFailure, delay: float) -> None:
            self.log.warning("JumpCloud %s failed (%s)%s; retry %d/%d in %.2fs", endpoint,
                             self.scrub(failure.reason), context, number, s.policy.max_retries, delay)

        try:
            return call_with_retries(attempt, s.policy, sleep=self._sleep, on_retry=on_retry, rng=self._random)
        except RetriesExhausted as exc:
            last = exc.last
            if last.integrity:
                raise self._malformed(endpoint, where, last, exc.summary(), state["request_id"]) from None
            raise JumpCloudTransientError(
                f"JumpCloud API {endpoint} still failing {exc.summary()}: {last.reason}{context}",
                status=last.status, endpoint=endpoint, attempts=exc.attempts,
            ) from None

    @staticmethod
    def _malformed(
        endpoint: str, where: str, failure: RetryableFailure, summary: str, request_id: str | None
    ) -> MalformedPageError:
        cls = ContentEncodingError if failure.integrity == "encoding" else MalformedPageError
        return cls(f"JumpCloud {endpoint}, {where}: {failure.reason} ({summary}; X-Request-Id {request_id})")

    # ----------------------------------------------------------------- paging
    def iter_pages(self, window: Window, query: dict[str, Any], page_size: int, max_pages: int) -> Iterator[bytes]:
        """Yield the events of ``window`` page by page, following ``X-Search_after`` until a short page.

        Each page is parsed and checked whole before any of it is yielded; a cursor that does not move
        forward and more than ``max_pages`` pages raise MalformedPageError at once.
        """
        start_ns, end_ns = window.start_ns, window.end_ns
        token: str | None = None
        page_no = fetched = 0
        while True:
            page_no += 1
            where = f"page {page_no} of window {window}, {fetched} events fetched before it"
            page = self.call("/events", encode_query(query, token), where,
                             partial(self._parse_page, page_size=page_size, where=where))
            if page.full:
                try:
                    if token is not None:
                        check_cursor_advances(token, page.token_text or "")
                    if page_no >= max_pages:
                        raise MalformedPageError(f"more than {max_pages} pages; split the window")
                except MalformedPageError as exc:
                    raise self.scrubbed(type(exc)(
                        f"JumpCloud POST {API_PATH}/events, {where}: {exc} (X-Request-Id {page.request_id})"
                    )) from None
            kept, before, after = select_window(page.events, start_ns, end_ns)
            self.log.info(
                "JumpCloud page %d of %s: %d events, %d in window, %d before, %d at/after end",
                page_no, window, page.result_count, len(kept), before, after,
            )
            fetched += len(kept)
            yield from kept
            if not page.full:
                return
            token = page.token_text

    @staticmethod
    def _parse_page(reply: Reply, *, page_size: int, where: str) -> Page:
        try:
            return parse_page(reply.body, reply.headers, requested_limit=page_size)
        except UndecodablePageError:
            raise
        except MalformedPageError as exc:
            raise MalformedPageError(
                f"JumpCloud POST {API_PATH}/events, {where}: {exc} (X-Request-Id {reply.headers.get('X-Request-Id')})"
            ) from None
