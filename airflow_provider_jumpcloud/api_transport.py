"""HTTP exchanges cut off by a whole-request deadline, and one tenacity retry budget per logical request.

No Airflow import. A logical request (one page, one count, one token) gets at most ``max_retries + 1``
attempts and ``retry_deadline`` seconds in all, back-off sleeps included; each attempt gets at most
``request_deadline`` seconds from sending to the last body byte, checked before every read on a monotonic
clock, so a server that trickles its body cannot hold a task for longer than the deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError

T = TypeVar("T")
#: Bytes asked for per read of a body (a read returns as soon as some bytes are there).
CHUNK = 1 << 16
#: Most bytes of an error body read (only its first 500 characters are ever shown).
ERROR_BODY_LIMIT = 1 << 16
_CONNECT_ERRORS = (requests.ConnectionError, requests.Timeout)
_READ_ERRORS = (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError)


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts, deadlines and back-off of the API client (connection extras of the same names).

    :param max_retries: retries of one request after its first attempt
    :param backoff_base: first back-off ceiling in seconds (doubled per retry, full jitter)
    :param backoff_cap: largest back-off in seconds (a server's ``Retry-After`` wins)
    :param timeout: seconds to connect, and to wait for any byte of the answer
    :param request_deadline: seconds one attempt may take in all, from sending to the last body byte
    :param retry_deadline: seconds one request may take over all its attempts and back-off sleeps
    """

    max_retries: int = 8
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    timeout: float = 60.0
    request_deadline: float = 300.0
    retry_deadline: float = 1200.0

    def __post_init__(self) -> None:
        if type(self.max_retries) is not int or self.max_retries < 0:
            raise JumpCloudConfigError(f"max_retries must be a whole number >= 0, got {self.max_retries!r}")
        for name in ("backoff_base", "backoff_cap", "timeout", "request_deadline", "retry_deadline"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise JumpCloudConfigError(f"{name} must be a positive number of seconds, got {value!r}")

    @property
    def max_attempts(self) -> int:
        """Attempts of one request: the first plus ``max_retries``."""
        return self.max_retries + 1


class RetryableFailure(Exception):
    """One attempt failed in a way another attempt may fix.

    :param reason: what happened, for logs and the final error (already free of secrets)
    :param status: the HTTP status, when there was an answer
    :param retry_after: the delay the server asked for, which replaces the back-off
    :param integrity: the answer came but its body is not usable: ``"json"`` (cut or not JSON) or
        ``"encoding"`` (its Content-Encoding cannot be decoded); None for other failures
    """

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None,
        integrity: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.integrity = integrity
        #: X-Request-Id of the answer the failure came with, if any (server-supplied: scrub before showing)
        self.request_id: str | None = None


class RetriesExhausted(Exception):
    """The retry budget of a request ran out; ``last`` is the final attempt's failure."""

    def __init__(self, last: RetryableFailure, *, attempts: int, elapsed: float, deadline: float | None) -> None:
        super().__init__(last.reason)
        self.last = last
        self.attempts = attempts
        self.elapsed = elapsed
        self.deadline = deadline

    def summary(self) -> str:
        """Return ``after N attempts in S s``, naming the retry deadline when it (not the attempt cap) ended it."""
        text = f"after {self.attempts} attempts in {self.elapsed:.1f}s"
        if self.deadline is not None:
            text += f" (retry deadline {self.deadline:g}s reached)"
        return text


@dataclass(frozen=True)
class Reply:
    """A whole HTTP answer: status, headers (case-insensitive) and body bytes (decoded content)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Bound the next socket read by ``seconds`` (the live urllib3 connection's socket, when there is one)."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def read_body(
    response: requests.Response, *, deadline: float, timeout: float, limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """Read a streamed body until EOF, ``limit`` bytes or ``deadline`` (monotonic), decoding Content-Encoding.

    Raises RetryableFailure: for the deadline, a read timeout, a cut connection and (``integrity``) a body its
    Content-Encoding cannot decode.
    """
    body = bytearray()
    raw = response.raw
    while limit is None or len(body) < limit:
        remaining = deadline - clock()
        if remaining <= 0:
            raise RetryableFailure(f"the whole-request deadline passed after {len(body)} body bytes")
        _set_read_timeout(response, min(timeout, remaining))
        try:
            chunk = raw.read1(CHUNK, decode_content=True)
        except urllib3.exceptions.DecodeError as exc:
            encoding = response.headers.get("Content-Encoding", "?")
            raise RetryableFailure(
                f"the body cannot be decoded as Content-Encoding {encoding!r} after {len(body)} bytes "
                f"({type(exc).__name__})", status=response.status_code, integrity="encoding",
            ) from None
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            if clock() >= deadline:
                raise RetryableFailure(f"the whole-request deadline passed after {len(body)} body bytes") from None
            raise RetryableFailure(f"ReadTimeout: no body byte within {timeout:g}s") from None
        except _READ_ERRORS as exc:
            raise RetryableFailure(f"{type(exc).__name__} while reading the body after {len(body)} bytes") from None
        if not chunk:
            break
        body += chunk
    return bytes(body)


def exchange(
    session: requests.Session, prepared: requests.PreparedRequest, *, timeout: float, deadline: float,
    verify: bool | str, clock: Callable[[], float] = time.monotonic,
) -> Reply:
    """Send ``prepared`` once and read its whole answer before ``deadline``; RetryableFailure on transient trouble.

    Error answers (not 2xx) are read up to :data:`ERROR_BODY_LIMIT` bytes.
    """
    remaining = deadline - clock()
    if remaining <= 0:
        raise RetryableFailure("no time left before the deadline to send the request")
    wait = min(timeout, remaining)
    try:
        response = session.send(prepared, timeout=wait, verify=verify, allow_redirects=False, stream=True)
    except _CONNECT_ERRORS as exc:
        raise RetryableFailure(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    try:
        ok = 200 <= response.status_code < 300
        body = read_body(response, deadline=deadline, timeout=timeout, limit=None if ok else ERROR_BODY_LIMIT,
                         clock=clock)
    except RetryableFailure as failure:
        failure.request_id = response.headers.get("X-Request-Id")
        raise
    finally:
        response.close()
    return Reply(response.status_code, response.headers, body)


class _BackoffOrRetryAfter:
    """Tenacity wait: the server's ``Retry-After`` when it gave one, else full-jitter exponential back-off."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self._fallback = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_cap)
        self._rng = rng

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryableFailure) and exc.retry_after is not None:
            return exc.retry_after
        high = min(self._fallback.max, self._fallback.multiplier * 2 ** (state.attempt_number - 1))
        return self._rng.uniform(0.0, high)


def call_with_retries(
    attempt: Callable[[float], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Any] = time.sleep,
    on_retry: Callable[[int, RetryableFailure, float], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    """Call ``attempt(deadline)`` until it returns, within ``policy``'s attempts and ``retry_deadline``.

    ``deadline`` is the monotonic time the attempt must finish by (``request_deadline`` from its start, never
    past the retry deadline). RetryableFailure is retried; any other exception propagates at once. Raises
    RetriesExhausted when the budget ends.
    """
    start = time.monotonic()
    end = start + policy.retry_deadline

    def once() -> T:
        return attempt(min(time.monotonic() + policy.request_deadline, end))

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and isinstance(exc, RetryableFailure) and state.next_action is not None:
            on_retry(state.attempt_number, exc, state.next_action.sleep)

    retrying = Retrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.retry_deadline),
        wait=_BackoffOrRetryAfter(policy, rng or random.Random()),
        retry=retry_if_exception_type(RetryableFailure),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(once)
    except RetryableFailure as exc:
        attempts = int(retrying.statistics.get("attempt_number", 1))
        by_deadline = policy.retry_deadline if attempts < policy.max_attempts else None
        raise RetriesExhausted(exc, attempts=attempts, elapsed=time.monotonic() - start, deadline=by_deadline) from None
