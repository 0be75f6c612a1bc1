"""Elasticsearch sink: the one module that builds a client and speaks Elasticsearch's APIs.

* :func:`build_client` / :func:`configure_client`: auth, TLS, request-level retries, 8.x/9.x headers.
* :func:`install_templates` / :func:`ensure_data_stream`: idempotent, never clobbering a newer template.
* :func:`load_window` / :func:`bulk_load`: stream documents with ``streaming_bulk`` (``op_type=create``,
  the mapper's ``_id``); 409 counts as already present, 429 items are retried, every other rejection is
  a dead letter. Memory stays at about one chunk of documents.

No Airflow import: the operator passes in a client built by the Elasticsearch provider's hook.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.exceptions import BadRequestError
from elasticsearch.helpers import streaming_bulk

from airflow_provider_jumpcloud.sinks.datastream import data_stream_name, stamp_document
from airflow_provider_jumpcloud.sinks.deadletter import DeadLetterWriter
from airflow_provider_jumpcloud.sinks.result import LoadResult
from airflow_provider_jumpcloud.spec.templates import MANAGED_BY, TemplateSet, build_templates, parse_version
from airflow_provider_jumpcloud.staging import decode_mapped, iter_lines, path_str

log = logging.getLogger(__name__)

#: Whole-request statuses the transport retries (with back-off): overload and gateway errors.
RETRY_ON_STATUS = (429, 502, 503, 504)
DEFAULT_CHUNK_SIZE = 500
DEFAULT_MAX_CHUNK_BYTES = 10 * 1024 * 1024
#: Documents larger than this are dead-lettered without being sent (http.max_content_length is 100mb).
DEFAULT_MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_COMPAT_RE = re.compile(
    r"application/(?:vnd\.elasticsearch\+)?(json|x-ndjson|vnd\.mapbox-vector-tile)(?:\s*;\s*compatible-with=\d+)?"
)

#: ``(index, _id, document, size of its JSON text in bytes)``
Item = tuple[str, str, dict[str, Any], int]


def build_client(
    hosts: str | Sequence[str],
    *,
    api_key: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
    es_major: int | None = None,
    request_timeout: float = 60.0,
    **client_kwargs: Any,
) -> Elasticsearch:
    """Build a client (CLI, benchmarks, tests); credentials in a URL are moved out of it, never logged."""
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
    kwargs: dict[str, Any] = {
        "request_timeout": request_timeout,
        "verify_certs": verify_certs,
        **client_kwargs,
    }
    if api_key:
        kwargs["api_key"] = api_key
    elif basic_auth:
        kwargs["basic_auth"] = basic_auth
    if ca_certs:
        kwargs["ca_certs"] = ca_certs
    if not verify_certs:
        kwargs.setdefault("ssl_show_warn", False)
    client = Elasticsearch(clean, **kwargs)
    if es_major is not None:
        pin_compat(client, es_major)
    return client


def pin_compat(client: Elasticsearch, major: int) -> Elasticsearch:
    """Make every request ask for ``compatible-with=<major>`` (an 8.x server rejects the 9.x default).

    Same rewrite as the Elasticsearch provider's ``[elasticsearch] es_compat_with``, for clients this
    package builds itself. Idempotent per transport; the last pin wins.
    """
    if int(major) < 7:
        raise ValueError(f"es_major must be 7 or more, got {major!r}")
    transport = client.transport
    original = transport.__dict__.get("_jumpcloud_unpinned") or transport.perform_request
    sub = rf"application/vnd.elasticsearch+\g<1>; compatible-with={int(major)}"

    @functools.wraps(original)
    def perform_request(*args: Any, **kwargs: Any) -> Any:
        headers = kwargs.get("headers")
        if headers:
            merged = dict(headers)
            for key in list(merged):
                if key.lower() in ("accept", "content-type") and merged[key]:
                    merged[key] = _COMPAT_RE.sub(sub, merged[key])
            kwargs["headers"] = merged
        return original(*args, **kwargs)

    transport.__dict__["_jumpcloud_unpinned"] = original
    transport.perform_request = perform_request  # type: ignore[method-assign]
    return client


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
    es_major: int | None = None,
    max_retries: int = 3,
    retry_on_status: Sequence[int] = RETRY_ON_STATUS,
    backoff_base: float = 1.0,
    backoff_cap: float = 30.0,
    request_timeout: float | None = None,
) -> Elasticsearch:
    """Return the client with request-level retries (429/502/503/504, jittered back-off) and compat pin."""
    if es_major is not None:
        pin_compat(client, es_major)
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
    """Yield ``(data stream, _id, stamped document, line size)`` for every line of a mapped window."""
    index = data_stream_name(namespace)
    for line in iter_lines(ecs_path):
        doc_id, doc = decode_mapped(line)
        yield index, doc_id, stamp_document(doc, namespace, fallback_timestamp), len(line)


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
    """Create every ``(index, _id, document)`` with ``streaming_bulk``; count and dead-letter per item.

    Per item: 201 -> indexed; 409 ``version_conflict_engine_exception`` -> already present; 429 ->
    retried ``max_retries`` times with doubling back-off from ``initial_backoff``; anything else (and 429
    after the retries) -> one dead-letter line. Whole-request 429/502/503/504 are retried by the client
    transport (see :func:`configure_client`); other request errors propagate (the task retries, and
    ``create`` makes the re-run idempotent).
    """
    result = LoadResult(sink="elasticsearch", data_stream=data_stream)
    pending: dict[str, Any] = {}
    started = time.monotonic()

    with DeadLetterWriter(dead_letter_path) as dead:

        def actions() -> Iterator[dict[str, Any]]:
            for index, doc_id, doc, size in items:
                result.read += 1
                if max_document_bytes and size > max_document_bytes:
                    dead.write(
                        doc_id,
                        index,
                        413,
                        "document_too_large",
                        f"document is larger than {max_document_bytes} bytes; not sent",
                        doc,
                    )
                    continue
                entry = (index, doc)
                held = pending.get(doc_id)
                if held is None:
                    pending[doc_id] = entry
                elif isinstance(held, _Dupes):
                    held.append(entry)
                else:
                    pending[doc_id] = _Dupes((held, entry))
                yield {"_op_type": "create", "_index": index, "_id": doc_id, "_source": doc}

        for done, (ok, item) in enumerate(
            streaming_bulk(
                client,
                actions(),
                chunk_size=chunk_size,
                max_chunk_bytes=max_chunk_bytes,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=max_retries,
                initial_backoff=initial_backoff,
                max_backoff=max_backoff,
            ),
            start=1,
        ):
            info = next(iter(item.values()))
            doc_id = info.get("_id")
            index, doc = _take(pending, doc_id) or (data_stream, None)
            if ok:
                result.indexed += 1
            else:
                status = int(info.get("status") or 0)
                error = info.get("error")
                etype, reason = _describe(error)
                if status == 409 and etype == "version_conflict_engine_exception":
                    result.already_present += 1
                else:
                    dead.write(doc_id, index, status, etype, reason, doc)
            if done % chunk_size == 0:
                log.info("Bulk progress %s: %s", data_stream, result.counts())
    result.dead_lettered = dead.count
    result.dead_letter_reasons = dict(dead.reasons)
    result.dead_letter_path = path_str(dead_letter_path) if dead.count else None
    result.seconds = round(time.monotonic() - started, 3)
    log.info("Loaded into %s: %s in %.1fs", data_stream, result.counts(), result.seconds)
    if not result.balanced:  # pragma: no cover - a bug, not a condition
        raise AssertionError(f"load counts do not add up: {result.counts()}")
    return result


class _Dupes(list):
    """Documents sharing one ``_id`` inside the chunk in flight (first sent, first answered)."""


def _take(pending: dict[str, Any], doc_id: str | None) -> tuple[str, dict[str, Any]] | None:
    held = pending.get(doc_id) if doc_id is not None else None
    if isinstance(held, _Dupes):
        doc = held.pop(0)
        if not held:
            del pending[doc_id]
        return doc
    if held is not None:
        del pending[doc_id]
    return held


def _describe(error: Any) -> tuple[str, str]:
    """Return ``(type, reason)`` of a bulk item error (a dict from the server or a string)."""
    if isinstance(error, dict):
        reason = str(error.get("reason", ""))
        caused = error.get("caused_by")
        if isinstance(caused, dict) and caused.get("reason"):
            reason = f"{reason}: {caused.get('type', '')}: {caused['reason']}"
        return str(error.get("type", "unknown")), reason[:2000]
    return "unknown", str(error)[:2000]
