"""JumpCloud Directory Insights hook: connection settings, auth (API key or service account), retries, paging."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook

from airflow_provider_jumpcloud.api_auth import basic_authorization, token_url_for
from airflow_provider_jumpcloud.api_client import API_PATH, ClientSettings, DirectoryInsightsClient
from airflow_provider_jumpcloud.api_pages import cut, encode_query, parse_count
from airflow_provider_jumpcloud.api_transport import Reply, RetryPolicy
from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError, MalformedPageError
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


__all__ = ["API_PATH", "MAX_PAGE_SIZE", "REGION_URLS", "JumpCloudHook"]
REGION_URLS = {
    "us": "https://api.jumpcloud.com",
    "eu": "https://api.eu.jumpcloud.com",
    "in": "https://api.in.jumpcloud.com",
}
MAX_PAGE_SIZE = 10_000
#: Connection extras (and hook arguments) that tune retries: name -> (type, default).
POLICY_EXTRAS: dict[str, tuple[type, float]] = {
    "max_retries": (int, RetryPolicy.max_retries),
    "backoff_base": (float, RetryPolicy.backoff_base),
    "backoff_cap": (float, RetryPolicy.backoff_cap),
    "timeout": (float, RetryPolicy.timeout),
    "request_deadline": (float, RetryPolicy.request_deadline),
    "retry_deadline": (float, RetryPolicy.retry_deadline),
}
_FALSE = {"false", "0", "no", "off"}
_TRUE = {"true", "1", "yes", "on", ""}


class JumpCloudHook(BaseHook):
    """Talk to the JumpCloud Directory Insights API: stream events of a window and count them.

    Auth: with a login, the connection is a service account (login = client id, password = client secret)
    and requests carry an OAuth ``Bearer`` token; without one, the password is an administrator API key.
    Arguments left ``None`` come from the connection extras of the same name, then the defaults.

    :param jumpcloud_conn_id: connection of type ``jumpcloud``
    :param max_retries: retries of one request on 429, 5xx, cut or undecodable bodies, resets and timeouts
    :param backoff_base: first back-off ceiling in seconds (doubled per retry, full jitter)
    :param backoff_cap: largest back-off delay in seconds (a ``Retry-After`` header wins)
    :param sleep: the sleep function, injectable so tests never wait
    :param timeout: seconds to connect and to wait for any byte of an answer
    :param request_deadline: seconds one attempt may take in all (a slowly sent body is cut off)
    :param retry_deadline: seconds one page or count may take over all its attempts and sleeps
    :param clock: monotonic clock of the token cache, injectable so tests can cross a token's expiry
    """

    conn_name_attr = "jumpcloud_conn_id"
    default_conn_name = "jumpcloud_default"
    conn_type = "jumpcloud"
    hook_name = "JumpCloud"
    #: Most pages one window may take; more means a runaway cursor (split the window instead).
    max_pages = 5000
    #: Of a request's attempts, how many may end in a cut, non-JSON or undecodable body before it fails.
    page_retries = DirectoryInsightsClient.page_retries

    def __init__(
        self,
        jumpcloud_conn_id: str = default_conn_name,
        *,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        timeout: float | None = None,
        request_deadline: float | None = None,
        retry_deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.jumpcloud_conn_id = jumpcloud_conn_id
        self._overrides: dict[str, Any] = {
            "max_retries": max_retries, "backoff_base": backoff_base, "backoff_cap": backoff_cap,
            "timeout": timeout, "request_deadline": request_deadline, "retry_deadline": retry_deadline,
        }
        self._sleep = sleep
        self._clock = clock
        self._conn: Connection | None = None
        self._session: requests.Session | None = None
        self._secret: str | None = None
        self._policy: RetryPolicy | None = None
        self._client: DirectoryInsightsClient | None = None
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
    def client_id(self) -> str | None:
        """The service account's client id (connection login), or None in API-key mode."""
        return (self.connection.login or "").strip() or None

    @property
    def uses_service_account(self) -> bool:
        """Whether requests carry a service-account OAuth token (a login is set) instead of an API key."""
        return self.client_id is not None

    @property
    def api_key(self) -> str:
        """The connection password (API key, or client secret with a login), registered with the masker."""
        if self._secret is None:
            secret = (self.connection.password or "").strip()
            client_id = self.client_id
            if not secret:
                raise JumpCloudConfigError(
                    f"connection {self.jumpcloud_conn_id!r} has a client id (login) but no client secret: put "
                    "the service account's secret in the password field" if client_id else
                    f"connection {self.jumpcloud_conn_id!r} has no API key: put it in the password field"
                )
            mask_secret(secret)
            if client_id:
                mask_secret(basic_authorization(client_id, secret).split(" ", 1)[1])
            self._secret = secret
        return self._secret

    @property
    def token_url(self) -> str:
        """The service-account token endpoint: the ``token_url`` extra, else the region's."""
        override = str(self._extra("token_url") or "").strip() or None
        return token_url_for(self._region(), override, self.jumpcloud_conn_id)

    def _region(self) -> str:
        region = str(self._extra("region") or "us").strip().lower()
        if region not in REGION_URLS:
            raise JumpCloudConfigError(
                f"unknown region {region!r} in connection {self.jumpcloud_conn_id!r}; "
                f"valid regions: {', '.join(REGION_URLS)}"
            )
        return region

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
        return REGION_URLS[self._region()]

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
    def retry_policy(self) -> RetryPolicy:
        """Timeouts, deadlines and back-off: hook arguments, else connection extras, else defaults."""
        if self._policy is None:
            values: dict[str, Any] = {}
            for name, (kind, default) in POLICY_EXTRAS.items():
                value = self._overrides[name]
                if value is None:
                    value = self._extra(name)
                if value is None or value == "":
                    value = default
                values[name] = self._number(name, value, kind)
            self._policy = RetryPolicy(**values)
        return self._policy

    @staticmethod
    def _number(name: str, value: Any, kind: type) -> Any:
        try:
            number = kind(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if kind is int and number is not None and number != float(value):
            number = None
        if number is None or (kind is int and number < 0) or (kind is float and not number > 0):
            what = "a whole number >= 0" if kind is int else "a positive number of seconds"
            raise JumpCloudConfigError(f"{name} must be {what}, got {value!r}")
        return number

    @property
    def timeout(self) -> float:
        """Seconds to connect and to wait for any byte (hook argument, else the ``timeout`` extra, else 60)."""
        return self.retry_policy.timeout

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

    @property
    def client(self) -> DirectoryInsightsClient:
        """The HTTP client over this connection (settings read and checked once, so bad ones fail early)."""
        if self._client is None:
            settings = ClientSettings(
                conn_id=self.jumpcloud_conn_id, base_url=self.base_url, secret=self.api_key,
                client_id=self.client_id, token_url=self.token_url if self.uses_service_account else None,
                org_ids=tuple(self.org_ids), provider_id=self.provider_id, verify=self.verify,
                policy=self.retry_policy,
            )
            self._client = DirectoryInsightsClient(
                settings, session=self.get_conn, log=self.log, sleep=self._sleep, mask=mask_secret, clock=self._clock,
            )
            self._client.page_retries = self.page_retries
        return self._client

    def scrub(self, text: str) -> str:
        """Return ``text`` with the connection's secrets and tokens (also encoded forms) replaced by ``***``."""
        if self._client is not None:
            return self._client.scrub(text)
        return text.replace(self._secret, "***") if self._secret else text

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
        client = self.client  # fail on a bad connection now, not on the first next()
        return client.iter_pages(window, query, page_size, self.max_pages)

    def count_events(self, start: Any, end: Any, *, services: Sequence[str] = ("all",)) -> int:
        """Return the API's ``/events/count`` for ``start_time=start, end_time=end`` (server semantics)."""
        window = Window.parse(start, end)
        services = tuple(services)
        validate_services(services)
        client = self.client
        start_time, end_time = window.api_bounds()
        body = encode_query({"service": list(services), "start_time": start_time, "end_time": end_time})

        def parse(reply: Reply) -> int:
            try:
                return parse_count(reply.body)
            except MalformedPageError as exc:
                raise MalformedPageError(f"JumpCloud POST {API_PATH}/events/count for {window}: {exc}") from None

        return client.call("/events/count", body, f"count of window {window}", parse)

    def test_connection(self) -> tuple[bool, str]:
        """Count the events of the last minute; return ``(ok, message)`` without ever showing a secret."""
        try:
            end = datetime.now(UTC).replace(microsecond=0)
            count = self.count_events(end - timedelta(minutes=1), end)
            message = f"Connection successful: {count} events in the last minute at {self.base_url}"
            if self.uses_service_account:
                message += f" (service account {self.client_id}, token from {self.token_url})"
            return True, message
        except Exception as exc:
            return False, self.scrub(f"{type(exc).__name__}: {exc}")

