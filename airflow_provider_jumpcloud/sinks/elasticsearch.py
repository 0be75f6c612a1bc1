"""Elasticsearch sink: the one module that builds a client and speaks Elasticsearch's APIs.

* :func:`client_options` / :func:`build_client` / :func:`configure_client`: auth, TLS, request-level
  retries. The 8.x/9.x ``compatible-with`` headers are the Elasticsearch provider's business
  (``[elasticsearch] es_compat_with``), applied by its hooks; nothing here rewrites headers.
* :func:`install_templates` / :func:`ensure_data_stream`: idempotent, never clobbering a newer template.
* :func:`load_window` / :func:`bulk_load`: chunks (by count and bytes) of ``create`` actions (the mapper's
  ``_id``), each sent with ``streaming_bulk``; 409 counts as already present, 429 items are retried, every
  other rejection is a dead letter; an HTTP 413 halves the chunk, down to one document. Memory stays at
  about one chunk of documents.
* :func:`index_document`: create one document (the window's quality summary).

No Airflow import: the operator passes in a client built by the Elasticsearch provider's hook.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError
from elasticsearch.exceptions import BadRequestError
from elasticsearch.helpers import streaming_bulk

from airflow_provider_jumpcloud.exceptions import BulkLoadError
from airflow_provider_jumpcloud.sinks.deadletter import DeadLetterWriter
from airflow_provider_jumpcloud.sinks.result import LoadResult
from airflow_provider_jumpcloud.sinks.source import iter_mapped
from airflow_provider_jumpcloud.spec.datastream import data_stream_name, stamp_document
from airflow_provider_jumpcloud.spec.templates import MANAGED_BY, TemplateSet, build_templates, parse_version
from airflow_provider_jumpcloud.staging import path_str

log = logging.getLogger(__name__)

#: Whole-request statuses the transport retries (with back-off): overload and gateway errors.
RETRY_ON_STATUS = (429, 502, 503, 504)
DEFAULT_CHUNK_SIZE = 500
DEFAULT_MAX_CHUNK_BYTES = 10 * 1024 * 1024
#: Documents larger than this are dead-lettered without being sent (http.max_content_length is 100mb).
DEFAULT_MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
#: Seconds between two progress lines of one load.
PROGRESS_EVERY = 15.0

#: ``(index, _id, document, size of its JSON text in bytes)``
Item = tuple[str, str, dict[str, Any], int]


def client_options(
    hosts: str | Sequence[str],
    *,
    api_key: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
    request_timeout: float = 60.0,
    **client_kwargs: Any,
) -> tuple[list[str], dict[str, Any]]:
    """Return ``(hosts, client keyword arguments)``; credentials in a URL move to ``basic_auth``."""
    urls = [hosts] if isinstance(hosts, str) else list(hosts)
    clean = []
    for url in urls:
        parts = urlsplit(url)
        if parts.username is not None:
            if basic_auth is None and parts.password is not None:
                basic_auth = (unquote(parts.username), unquote(parts.password))
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        clean.append(url)
    kwargs: dict[str, Any] = {"request_timeout": request_timeout, "verify_certs": verify_certs, **client_kwargs}
    if api_key:
        kwargs["api_key"] = api_key
    elif basic_auth:
        kwargs["basic_auth"] = basic_auth
    if ca_certs:
        kwargs["ca_certs"] = ca_certs
    if not verify_certs:
        kwargs.setdefault("ssl_show_warn", False)
    return clean, kwargs


def build_client(hosts: str | Sequence[str], **options: Any) -> Elasticsearch:
    """Build a plain client (tests, benchmarks) from :func:`client_options`; credentials never logged."""
    clean, kwargs = client_options(hosts, **options)
    return Elasticsearch(clean, **kwargs)


def warn_if_insecure(client: Elasticsearch) -> bool:
    """Log a warning for every HTTPS node whose certificate is not verified; return True if any."""
    insecure = False
    for node in client.transport.node_pool.all():
        config = node.config
        if config.scheme == "https" and config.verify_certs is False:
            insecure = True
            log.warning(
                "TLS certificate verification is OFF for Elasticsearch at %s:%s; anyone on the path can "
                "read or alter the data. Set ca_certs instead of verify_certs=False.",
                config.host,
                config.port,
            )
    return insecure


def configure_client(
    client: Elasticsearch,
    *,
    max_retries: int = 3,
    retry_on_status: Sequence[int] = RETRY_ON_STATUS,
    backoff_base: float = 1.0,
    backoff_cap: float = 30.0,
    request_timeout: float | None = None,
) -> Elasticsearch:
    """Return the client with request-level retries (429/502/503/504, jittered back-off)."""
    warn_if_insecure(client)
    options: dict[str, Any] = {
        "max_retries": max_retries,
        "retry_on_status": tuple(retry_on_status),
        "retry_backoff_base": backoff_base,
        "retry_backoff_cap": backoff_cap,
    }
    if request_timeout is not None:
        options["request_timeout"] = request_timeout
    return client.options(**options)


# ----------------------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class InstallResult:
    """What :func:`install_templates` did: installed, unchanged, kept_newer or kept_foreign."""

    action: str
    installed_version: str | None
    our_version: str
    spec_hash: str


def _existing_index_template(client: Elasticsearch, name: str) -> dict[str, Any] | None:
    try:
        resp = client.indices.get_index_template(name=name)
    except NotFoundError:
        return None
    for entry in resp.body.get("index_templates", []):
        if entry.get("name") == name:
            return entry.get("index_template") or {}
    return None


def install_templates(
    client: Elasticsearch, templates: TemplateSet | None = None, *, force: bool = False
) -> InstallResult:
    """Install the component and index templates unless the installed ones are the same, newer or foreign.

    Same ``_meta.spec_hash`` -> skip. ``_meta.version`` newer than ours, or a template managed by someone
    else (Fleet's ``jumpcloud`` integration, a hand-made one) -> keep it and log a warning. Else PUT.
    """
    templates = templates or build_templates()
    name = templates.index_template_name
    existing = _existing_index_template(client, name)
    installed_version = None
    if existing is not None and not force:
        meta = existing.get("_meta") or {}
        installed_version = meta.get("version")
        if meta.get("managed_by") != MANAGED_BY:
            log.warning(
                "Index template %s exists and is managed by %s, not by this package: keeping it "
                "(force=True replaces it).",
                name,
                meta.get("managed_by") or "someone else",
            )
            return InstallResult("kept_foreign", installed_version, templates.version, templates.spec_hash)
        if parse_version(str(installed_version or "")) > parse_version(templates.version):
            log.warning(
                "Index template %s was installed by version %s, newer than ours (%s): keeping it.",
                name,
                installed_version,
                templates.version,
            )
            return InstallResult("kept_newer", installed_version, templates.version, templates.spec_hash)
        if meta.get("spec_hash") == templates.spec_hash:
            log.info("Index template %s is up to date (spec hash %s)", name, templates.spec_hash[:12])
            return InstallResult("unchanged", installed_version, templates.version, templates.spec_hash)
    for component, body in templates.component_templates.items():
        client.cluster.put_component_template(name=component, body=body)
    client.indices.put_index_template(name=name, body=templates.index_template)
    log.info(
        "Installed index template %s version %s (spec hash %s)",
        name,
        templates.version,
        templates.spec_hash[:12],
    )
    return InstallResult("installed", installed_version, templates.version, templates.spec_hash)


def ensure_data_stream(client: Elasticsearch, name: str) -> bool:
    """Create the data stream ``name``; return False when it already existed."""
    try:
        client.indices.create_data_stream(name=name)
    except BadRequestError as err:
        if _error_type(err.body) == "resource_already_exists_exception":
            return False
        raise
    log.info("Created data stream %s", name)
    return True


def _error_type(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("type", ""))
        if isinstance(error, str):
            return error
    return ""


# ------------------------------------------------------------------------------------------- loading
def iter_window_items(
    ecs_path: Any, namespace: str, *, fallback_timestamp: str | None = None
) -> Iterator[Item]:
    """Yield ``(data stream, _id, stamped document, line size)`` for every line of a mapped window.

    A corrupt file or line raises StagingFileError naming the file and line.
    """
    index = data_stream_name(namespace)
    for _number, doc_id, doc, size in iter_mapped(ecs_path):
        yield index, doc_id, stamp_document(doc, namespace=namespace, fallback_timestamp=fallback_timestamp), size


def load_window(
    client: Elasticsearch,
    ecs_path: Any,
    *,
    namespace: str,
    dead_letter_path: Any,
    fallback_timestamp: str | None = None,
    **bulk_options: Any,
) -> LoadResult:
    """Load one mapped window (gzip NDJSON of ``{"_id", "_source"}``) into ``logs-jumpcloud.events-<ns>``."""
    items = iter_window_items(ecs_path, namespace, fallback_timestamp=fallback_timestamp)
    return bulk_load(
        client,
        items,
        data_stream=data_stream_name(namespace),
        dead_letter_path=dead_letter_path,
        **bulk_options,
    )


def bulk_load(
    client: Elasticsearch,
    items: Iterable[Item],
    *,
    data_stream: str,
    dead_letter_path: Any,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    max_retries: int = 3,
    initial_backoff: float = 2.0,
    max_backoff: float = 60.0,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> LoadResult:
    """Create every ``(index, _id, document)`` with ``_bulk`` requests; count and dead-letter per item.

    Per item: 2xx -> indexed; 409 ``version_conflict_engine_exception`` -> already present; 429 ->
    retried ``max_retries`` times with doubling back-off from ``initial_backoff``; anything else (and 429
    after the retries) -> one dead-letter line. Whole-request 429/502/503/504 are retried by the client
    transport (see :func:`configure_client`). HTTP 413 (request too large) splits the chunk in halves and
    lowers the chunk limits for the rest of the load; a single document refused with 413, or an item
    answered without a status, raises :class:`BulkLoadError` with the counts so far. Other request errors
    propagate (the task retries, and ``create`` makes the re-run idempotent).
    """
    result = LoadResult(sink="elasticsearch", data_stream=data_stream)
    started = time.monotonic()
    with DeadLetterWriter(dead_letter_path) as dead:
        sender = _BulkSender(client, result, dead, chunk_size, max_chunk_bytes,
                             max_retries, initial_backoff, max_backoff)
        chunk: list[_Action] = []
        chunk_bytes = 0
        for index, doc_id, doc, size in items:
            result.read += 1
            if max_document_bytes and size > max_document_bytes:
                dead.write(doc_id, index, 413, "document_too_large",
                           f"document is larger than {max_document_bytes} bytes; not sent", doc)
                continue
            action = (index, doc_id, doc, size + len(index) + len(doc_id) + ACTION_OVERHEAD)
            if chunk and chunk_bytes + action[3] > sender.max_bytes:
                sender.send(chunk)
                chunk, chunk_bytes = [], 0
            chunk.append(action)
            chunk_bytes += action[3]
            if len(chunk) >= sender.max_docs:
                sender.send(chunk)
                chunk, chunk_bytes = [], 0
        if chunk:
            sender.send(chunk)
    result.dead_lettered = dead.count
    result.dead_letter_reasons = dict(dead.reasons)
    result.dead_letter_path = path_str(dead_letter_path) if dead.count else None
    result.seconds = round(time.monotonic() - started, 3)
    log.info("Loaded into %s: %s in %.1fs (%d bulk requests)", data_stream, result.counts(),
             result.seconds, sender.requests)
    if not result.balanced:  # pragma: no cover - a bug, not a condition
        raise AssertionError(f"load counts do not add up: {result.counts()}")
    return result


#: One action in flight: ``(index, _id, document, its approximate size in the request body)``.
_Action = tuple[str, str, dict[str, Any], int]
#: Bytes of a ``create`` action line besides the index and ``_id`` (keys, quotes, newlines).
ACTION_OVERHEAD = 40


class _BulkSender:
    """Send chunks of create actions with ``streaming_bulk``, settle every item, split chunks on 413."""

    def __init__(
        self,
        client: Elasticsearch,
        result: LoadResult,
        dead: DeadLetterWriter,
        chunk_size: int,
        max_chunk_bytes: int,
        max_retries: int,
        initial_backoff: float,
        max_backoff: float,
    ) -> None:
        self.client = client
        self.result = result
        self.dead = dead
        self.max_docs = max(1, int(chunk_size))
        self.max_bytes = max(1, int(max_chunk_bytes))
        self.options = {"max_retries": max_retries, "initial_backoff": initial_backoff,
                        "max_backoff": max_backoff}
        self.requests = 0
        self.last_progress = time.monotonic()

    def counts(self) -> str:
        """The counts so far, for error messages."""
        counts = {**self.result.counts(), "dead_lettered": self.dead.count}
        return ", ".join(f"{key}={value}" for key, value in counts.items())

    def send(self, chunk: list[_Action]) -> None:
        """Send one chunk (at most ``max_docs`` actions) until every item is settled."""
        parts = deque([chunk])
        while parts:
            part = parts.popleft()
            unsettled = self._send_part(part)
            if unsettled is not None:
                parts.extendleft(reversed(self._split(unsettled)))
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_EVERY:
            self.last_progress = now
            log.info("Bulk progress %s: %s", self.result.data_stream, self.result.counts())

    def _send_part(self, part: list[_Action]) -> list[_Action] | None:
        """Send ``part`` as one request (429 items are retried); return its unsettled actions on a 413."""
        pending: dict[str, deque[_Action]] = {}
        for action in part:
            pending.setdefault(action[1], deque()).append(action)
        body_bytes = sum(action[3] for action in part) + 1024 * 1024  # never split again by streaming_bulk
        settled = 0
        self.requests += 1
        try:
            for ok, item in streaming_bulk(
                self.client,
                ({"_op_type": "create", "_index": a[0], "_id": a[1], "_source": a[2]} for a in part),
                chunk_size=len(part),
                max_chunk_bytes=body_bytes,
                raise_on_error=False,
                raise_on_exception=True,
                **self.options,
            ):
                settled += 1
                self._settle(ok, item, pending, settled, len(part))
        except ApiError as err:
            if err.status_code != 413:
                raise
            return _unsettled(part, pending)
        except KeyError as err:  # streaming_bulk reads the status of a failed item to decide on a retry
            if err.args != ("status",):
                raise
            left = _unsettled(part, pending)
            self._no_status(settled + 1, len(part), left[0][1] if left else None, "no status")
        return None

    def _split(self, part: list[_Action]) -> list[list[_Action]]:
        size = sum(action[3] for action in part)
        if len(part) <= 1:
            doc_id = part[0][1] if part else None
            raise BulkLoadError(
                f"Elasticsearch refused a _bulk request of one document (_id {doc_id!r}, about {size} bytes) "
                "with HTTP 413 Request Entity Too Large: raise the cluster's http.max_content_length or lower "
                f"max_document_bytes (such documents are then dead-lettered); counts so far: {self.counts()}"
            )
        half = len(part) // 2
        self.max_docs = min(self.max_docs, half)
        self.max_bytes = min(self.max_bytes, max(1, size // 2))
        log.warning(
            "Elasticsearch refused a _bulk request of %d documents (about %d bytes) with HTTP 413: sending "
            "it in halves; chunks are now at most %d documents and %d bytes",
            len(part), size, self.max_docs, self.max_bytes,
        )
        return [part[:half], part[half:]]

    def _no_status(self, position: int, total: int, doc_id: str | None, keys: Any) -> None:
        raise BulkLoadError(
            f"Elasticsearch answered item {position} of {total} of a _bulk request (_id {doc_id!r}) without a "
            f"numeric status (keys: {keys}); cannot tell whether it was stored. Counts so far: {self.counts()}"
        )

    def _settle(
        self, ok: bool, item: Any, pending: dict[str, deque[_Action]], position: int, total: int
    ) -> None:
        info = next(iter(item.values()), None) if isinstance(item, dict) and len(item) == 1 else None
        status = info.get("status") if isinstance(info, dict) else None
        doc_id = info.get("_id") if isinstance(info, dict) else None
        queue = pending.get(doc_id) if isinstance(doc_id, str) else None
        if not isinstance(info, dict) or not isinstance(status, int) or isinstance(status, bool) or not queue:
            keys = sorted(info)[:10] if isinstance(info, dict) else type(item).__name__
            self._no_status(position, total, doc_id, keys)
            return
        index, _doc_id, doc, _size = queue.popleft()
        if ok and 200 <= status < 300:
            self.result.indexed += 1
            return
        etype, reason = _describe(info.get("error"))
        if status == 409 and etype == "version_conflict_engine_exception":
            self.result.already_present += 1
        else:
            self.dead.write(doc_id, index, status, etype, reason, doc)


def _unsettled(part: list[_Action], pending: dict[str, deque[_Action]]) -> list[_Action]:
    """The actions of ``part`` not answered yet, in order (answers come in order, so the last copies)."""
    left = {doc_id: len(queue) for doc_id, queue in pending.items() if queue}
    out = []
    for action in reversed(part):
        if left.get(action[1], 0) > 0:
            left[action[1]] -= 1
            out.append(action)
    return out[::-1]


def index_document(client: Elasticsearch, index: str, doc_id: str, doc: dict[str, Any]) -> bool:
    """Create one document with ``op_type=create``; return False when that ``_id`` is already there."""
    try:
        client.create(index=index, id=doc_id, document=doc)
    except ConflictError:
        return False
    return True


def _describe(error: Any) -> tuple[str, str]:
    """Return ``(type, reason)`` of a bulk item error (a dict from the server or a string)."""
    if isinstance(error, dict):
        reason = str(error.get("reason", ""))
        caused = error.get("caused_by")
        if isinstance(caused, dict) and caused.get("reason"):
            reason = f"{reason}: {caused.get('type', '')}: {caused['reason']}"
        return str(error.get("type", "unknown")), reason[:2000]
    return "unknown", str(error)[:2000]
