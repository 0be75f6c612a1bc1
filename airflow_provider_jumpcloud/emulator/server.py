"""HTTP transport of the emulator: a threaded stdlib server, fault injection and a request log."""

from __future__ import annotations

import gzip
import logging
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from airflow_provider_jumpcloud.emulator.api import DirectoryInsightsAPI, Response
from airflow_provider_jumpcloud.emulator.config import EVENTS_PATH, EmulatorConfig
from airflow_provider_jumpcloud.emulator.events import make_source
from airflow_provider_jumpcloud.emulator.faults import Fault, FaultPlan

log = logging.getLogger(__name__)
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
_DRIP_BYTES = 64


@dataclass
class RequestRecord:
    """One request as the emulator saw it; credentials are recorded by kind only, never by value.

    ``auth`` names the credentials sent (``"api-key"``, ``"bearer"``, ``"basic"``, joined with ``+``),
    ``token`` is the serial of the bearer token sent (1 = first issued), ``org_ids`` the ``x-org-id`` values.
    """

    number: int
    method: str
    path: str
    body: Any = None
    status: int | None = None
    fault: str | None = None
    result_count: int | None = None
    auth: str | None = None
    token: int | None = None
    org_ids: tuple[str, ...] = field(default_factory=tuple)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    emulator: EmulatorServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a deadline, a reset) is normal traffic here, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s hung up", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        emulator = self.server.emulator
        path = urlsplit(self.path).path
        record = emulator.new_record(self.command, path, raw)
        self._record_credentials(record)
        fault = emulator.faults.pick(record.number, path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "slow":
                emulator.sleep(fault.delay)
            elif self._serve_fault(fault, record):
                return
        response = emulator.api.handle(self.command, path, self.headers, raw)
        record.status, record.result_count = response.status, response.result_count
        kind = fault.kind if fault is not None else None
        if kind == "echo":
            response.headers["X-Request-Id"] = self._echo()
        if kind == "truncate" and response.status == 200:
            self._send(response, cut=max(1, int(len(response.body) * fault.fraction)))  # type: ignore[union-attr]
            self.close_connection = True
            return
        if kind == "drip" and response.status == 200:
            self._drip(response, fault.delay)  # type: ignore[union-attr]
            return
        if kind == "badgzip" and response.status == 200:
            response.body = gzip.compress(response.body)[:10] + response.body  # a gzip header, then no deflate data
            response.headers["Content-Encoding"] = "gzip"
        self._send(response)

    def _credential(self) -> str:
        """The credential the client sent (API key or bearer token), for the echo faults."""
        auth = self.headers.get("Authorization") or ""
        return self.headers.get("x-api-key") or auth.partition(" ")[2] or "none"

    def _echo(self) -> str:
        """An X-Request-Id that leaks the client's credential, plain and URL-encoded (a hostile server)."""
        credential = self._credential()
        return f"rid-{credential}-{quote(credential, safe='')}"

    def _record_credentials(self, record: RequestRecord) -> None:
        authorization = self.headers.get("Authorization")
        kinds = ["api-key"] if self.headers.get("x-api-key") else []
        if authorization:
            kinds.append(authorization.partition(" ")[0].lower())
            record.token = self.server.emulator.api.tokens.serial_of(authorization)
        record.auth = "+".join(kinds) or None
        record.org_ids = tuple(v.strip() for h in self.headers.get_all("x-org-id") or [] for v in h.split(","))

    def _drip(self, response: Response, delay: float) -> None:
        """Send the headers at once, then the body a few bytes per ``delay`` seconds (a slow body)."""
        self._send_headers(response)
        try:
            for i in range(0, len(response.body), _DRIP_BYTES):
                self.wfile.write(response.body[i:i + _DRIP_BYTES])
                self.wfile.flush()
                self.server.emulator.sleep(delay)
        except OSError:  # the client gave up: that is the point
            pass
        self.close_connection = True

    def _serve_fault(self, fault: Fault, record: RequestRecord) -> bool:
        """Answer with ``fault`` if it replaces the response; return whether it did."""
        if fault.kind == "reset":
            record.status = 0
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        if fault.kind == "nonjson":
            record.status = 200
            self._send(Response(200, _HTML, content_type="text/html"))
            return True
        if fault.kind == "echobody":
            record.status = 200
            body = f"request refused for credential {self._credential()}".encode()
            self._send(Response(200, body, {"X-Request-Id": self._echo()}, content_type="text/plain"))
            return True
        status = fault.status
        if status is None:
            return False  # truncate: answered after the real response is built
        record.status = status
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        message = {429: "Too Many Requests", 401: "Unauthorized"}.get(status, f"injected fault {status}")
        self._send(Response(status, orjson.dumps({"message": message}), headers))
        return True

    def _send_headers(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, response: Response, cut: int | None = None) -> None:
        self._send_headers(response)
        self.wfile.write(response.body if cut is None else response.body[:cut])
        self.wfile.flush()


class EmulatorServer:
    """Run the emulated API on a loopback port; a context manager for tests.

    ``base_url`` is what a JumpCloud connection's host override takes; ``faults`` plans faults,
    ``faults_served`` counts them by kind, ``requests`` logs the last 100,000 requests.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.config = config or EmulatorConfig()
        self.source = make_source(self.config)
        self.api = DirectoryInsightsAPI(self.config, self.source)
        self.faults = FaultPlan(self.config.seed, list(self.config.faults))
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.sleep = sleep
        self._lock = threading.Lock()
        self._count = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def new_record(self, method: str, path: str, raw: bytes) -> RequestRecord:
        """Number and log an incoming request."""
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw[:200]
        with self._lock:
            self._count += 1
            record = RequestRecord(self._count, method, path, body)
            self.requests.append(record)
        return record

    @property
    def request_count(self) -> int:
        """Return how many requests arrived since start (also beyond the log's length)."""
        return self._count

    @property
    def faults_served(self) -> Counter[str]:
        """Return the faults served so far, by kind (``sum(...values())`` for the total)."""
        return self.faults.served

    @property
    def port(self) -> int:
        """Return the bound port (after start)."""
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Return ``http://host:port`` (loopback shown for a wildcard host)."""
        host = self.config.host if self.config.host not in ("0.0.0.0", "", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def events_url(self) -> str:
        """Return the full URL of ``POST /events``."""
        return self.base_url + EVENTS_PATH

    def start(self) -> EmulatorServer:
        """Bind and serve in a background thread."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.config.host, self.config.port), _Handler)
        httpd.emulator = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="jumpcloud-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
