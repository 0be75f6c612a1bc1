"""An HTTP test double of Elasticsearch on 127.0.0.1, good enough for the official 9.x/8.x Python client.

Real HTTP (``ThreadingHTTPServer``, port 0), real wire format: ``X-Elastic-Product`` header, ``GET /``
info with a configurable version, compatible-with header checks (an 8.x double answers 400
``media_type_header_exception`` to ``compatible-with=9`` like a real 8.x node), ApiKey/Basic auth (401),
index and component templates, data streams, ``_bulk`` with ``create`` semantics per (index, ``_id``),
field-type checks against the installed template (:mod:`.es_mapping_check`), ``_count``, ``_doc``,
``_create``, and the data stream lifecycle or ILM policy a stream gets from its templates.

Fault injection: ``reject_items_429`` (the next N bulk items get 429), ``fail_bulk_requests`` (statuses
for the next whole bulk requests, e.g. ``[429, 503]``), ``reject`` (a predicate ``(index, doc) ->
reason | None`` for extra 400s), ``max_body_bytes`` (HTTP 413 without a body for larger ``_bulk`` /
``_create`` requests, as ``http.max_content_length`` does), ``omit_status_items`` (numbers, counted from 1
over every bulk item the double has seen, of items answered without ``status``).
``store_documents=False`` keeps only ids (benchmarks).

Usage::

    with ElasticsearchDouble(version="8.19.0", api_key="k") as es:
        client = Elasticsearch(es.url, api_key="k")
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import json
import re
import socket
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from tests.support.es_mapping_check import MappingState

_COMPAT = re.compile(r"compatible-with=(\d+)")


@dataclass
class RecordedRequest:
    """One request the double received (method, path with query, lower-cased headers, body size)."""

    method: str
    path: str
    headers: dict[str, str]
    body_bytes: int


@dataclass
class _Index:
    name: str
    data_stream: bool
    mapping: MappingState
    docs: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    lifecycle: dict[str, Any] | None = None
    ilm_policy: str | None = None


class ElasticsearchDouble:
    """A small, thread-safe, in-memory Elasticsearch speaking HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        version: str = "9.1.5",
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        store_documents: bool = True,
        reject_items_429: int = 0,
        fail_bulk_requests: list[int] | tuple[int, ...] = (),
        reject: Callable[[str, dict[str, Any]], str | None] | None = None,
        max_body_bytes: int | None = None,
        omit_status_items: set[int] | frozenset[int] = frozenset(),
        max_recorded: int = 2000,
    ) -> None:
        self.version = version
        self.major = int(version.split(".")[0])
        minor = int(version.split(".")[1])
        self.parse_error_type = (
            "document_parsing_exception" if (self.major, minor) >= (8, 8) else "mapper_parsing_exception"
        )
        self.api_key = api_key
        self.basic_auth = basic_auth
        self.store_documents = store_documents
        self.reject_items_429 = reject_items_429
        self.fail_bulk_requests: deque[int] = deque(fail_bulk_requests)
        self.reject = reject
        self.max_body_bytes = max_body_bytes
        self.omit_status_items = set(omit_status_items)
        self.lock = threading.RLock()
        self.requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self.stats: Counter[str] = Counter()
        self.index_templates: dict[str, dict[str, Any]] = {}
        self.component_templates: dict[str, dict[str, Any]] = {}
        self.indices: dict[str, _Index] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> ElasticsearchDouble:
        """Start serving on 127.0.0.1 with a free port."""
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="es-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ElasticsearchDouble:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        assert self._server is not None, "start() the double first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------------------- reading
    def count(self, index: str) -> int:
        """Number of documents stored in ``index`` (a data stream or plain index; 0 if missing)."""
        with self.lock:
            found = self.indices.get(index)
            return len(found.docs) if found else 0

    def documents(self, index: str) -> dict[str, Any]:
        """Copy of ``{_id: source}`` of ``index`` (sources are None with store_documents=False)."""
        with self.lock:
            found = self.indices.get(index)
            return dict(found.docs) if found else {}

    def is_data_stream(self, name: str) -> bool:
        """True when ``name`` exists as a data stream."""
        with self.lock:
            return name in self.indices and self.indices[name].data_stream

    # ------------------------------------------------------------------------------ handling
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict]:
        """Serve one request; return ``(status, JSON body or None, extra headers)``."""
        self.requests.append(RecordedRequest(method, raw_path, headers, len(body)))
        self.stats["requests"] += 1
        denied = self._check_auth(headers, raw_path)
        if denied:
            return denied
        bad = self._check_compat(headers)
        if bad:
            return bad
        path = unquote(urlsplit(raw_path).path)
        parts = [p for p in path.split("/") if p]
        with self.lock:
            return self._route(method, parts, body)

    def _check_auth(self, headers: dict[str, str], path: str) -> tuple[int, Any, dict] | None:
        if self.api_key is None and self.basic_auth is None:
            return None
        given = headers.get("authorization", "")
        allowed = set()
        if self.api_key is not None:
            allowed.add(f"ApiKey {self.api_key}")
        if self.basic_auth is not None:
            allowed.add("Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode())
        if given in allowed:
            return None
        self.stats["unauthorized"] += 1
        reason = (
            "unable to authenticate with provided credentials"
            if given
            else f"missing authentication credentials for REST request [{path}]"
        )
        return (
            401,
            _error("security_exception", reason, 401),
            {"WWW-Authenticate": 'ApiKey, Basic realm="security", charset="UTF-8"'},
        )

    def _check_compat(self, headers: dict[str, str]) -> tuple[int, Any, dict] | None:
        found = {h: _COMPAT.search(headers.get(h, "")) for h in ("accept", "content-type")}
        versions = {h: int(m.group(1)) for h, m in found.items() if m}
        ok = {self.major, self.major - 1}
        if not versions or (len(set(versions.values())) == 1 and set(versions.values()) <= ok):
            return None
        self.stats["media_type_errors"] += 1
        body = _error(
            "media_type_header_exception", "Invalid media-type value on headers [Accept, Content-Type]", 400
        )
        body["error"]["caused_by"] = {
            "type": "status_exception",
            "reason": (
                f"Accept version must be either version {self.major} or {self.major - 1}, but found "
                f"{max(versions.values())}. Accept={headers.get('accept')}"
            ),
        }
        return 400, body, {}

    def _route(self, method: str, parts: list[str], body: bytes) -> tuple[int, Any, dict]:
        if not parts:
            return 200, None if method == "HEAD" else self._info(), {}
        head, rest = parts[0], parts[1:]
        too_large = self._too_large(parts, body)
        if too_large:
            return too_large
        if head == "_bulk":
            return self._bulk(None, body)
        if len(parts) == 2 and parts[1] == "_bulk":
            return self._bulk(head, body)
        if head == "_index_template" and rest:
            return self._template(
                self.index_templates, "index_templates", "index_template", method, rest[0], body
            )
        if head == "_component_template" and rest:
            return self._template(
                self.component_templates, "component_templates", "component_template", method, rest[0], body
            )
        if head == "_data_stream" and rest:
            return self._data_stream(method, rest[0])
        if head == "_count":
            return 200, {"count": sum(len(i.docs) for i in self.indices.values()), "_shards": _SHARDS}, {}
        if len(parts) == 2 and parts[1] == "_count":
            found = self.indices.get(head)
            if found is None:
                return 404, _error("index_not_found_exception", f"no such index [{head}]", 404), {}
            return 200, {"count": len(found.docs), "_shards": _SHARDS}, {}
        if len(parts) == 2 and parts[1] == "_refresh":
            return 200, {"_shards": _SHARDS}, {}
        if len(parts) == 3 and parts[1] == "_create" and method in ("PUT", "POST"):
            return self._create(head, parts[2], body)
        if len(parts) == 3 and parts[1] == "_doc" and method == "GET":
            found = self.indices.get(head)
            if found is None or parts[2] not in found.docs:
                return 404, {"_index": head, "_id": parts[2], "found": False}, {}
            return 200, {"_index": head, "_id": parts[2], "found": True, "_source": found.docs[parts[2]]}, {}
        return (
            404,
            _error("resource_not_found_exception", f"no handler for [{method} /{'/'.join(parts)}]", 404),
            {},
        )

    def _info(self) -> dict[str, Any]:
        return {
            "name": "es-double",
            "cluster_name": "double",
            "cluster_uuid": "double-0000",
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": f"{self.major - 1}.19.0",
            },
            "tagline": "You Know, for Search",
        }

    def _template(
        self, store: dict, plural: str, singular: str, method: str, name: str, body: bytes
    ) -> tuple:
        if method in ("GET", "HEAD"):
            matches = [n for n in sorted(store) if fnmatch.fnmatchcase(n, name)]
            if not matches:
                err = _error(
                    "resource_not_found_exception",
                    f"{singular.replace('_', ' ')} matching [{name}] not found",
                    404,
                )
                return 404, None if method == "HEAD" else err, {}
            return (
                200,
                None if method == "HEAD" else {plural: [{"name": n, singular: store[n]} for n in matches]},
                {},
            )
        if method in ("PUT", "POST"):
            doc = json.loads(body or b"{}")
            if plural == "index_templates":
                ignored = set(doc.get("ignore_missing_component_templates") or [])
                missing = [
                    c
                    for c in doc.get("composed_of") or []
                    if c not in self.component_templates and c not in ignored
                ]
                if missing:
                    reason = (
                        f"index template [{name}] specifies component templates {missing} that do not exist"
                    )
                    return 400, _error("invalid_index_template_exception", reason, 400), {}
            store[name] = doc
            self.stats[f"put_{singular}"] += 1
            return 200, {"acknowledged": True}, {}
        if method == "DELETE":
            if store.pop(name, None) is None:
                return 404, _error("resource_not_found_exception", f"{singular} [{name}] missing", 404), {}
            return 200, {"acknowledged": True}, {}
        return 405, _error("method_not_allowed", method, 405), {}

    def _data_stream(self, method: str, name: str) -> tuple[int, Any, dict]:
        existing = self.indices.get(name)
        if method == "PUT":
            if existing is not None:
                return (
                    400,
                    _error("resource_already_exists_exception", f"data_stream [{name}] already exists", 400),
                    {},
                )
            if self._create_data_stream(name) is None:
                reason = f"no matching index template found for data stream [{name}]"
                return 400, _error("index_template_missing_exception", reason, 400), {}
            return 200, {"acknowledged": True}, {}
        if method == "GET":
            if existing is None or not existing.data_stream:
                return 404, _error("index_not_found_exception", f"no such index [{name}]", 404), {}
            return (
                200,
                {
                    "data_streams": [
                        {
                            "name": name,
                            "timestamp_field": {"name": "@timestamp"},
                            "template": existing.template,
                            "status": "GREEN",
                            "indices": [{"index_name": _backing(name)}],
                            **({"lifecycle": existing.lifecycle} if existing.lifecycle else {}),
                            **({"ilm_policy": existing.ilm_policy} if existing.ilm_policy else {}),
                        }
                    ]
                },
                {},
            )
        if method == "DELETE" and existing is not None:
            del self.indices[name]
            return 200, {"acknowledged": True}, {}
        return 404, _error("index_not_found_exception", f"no such index [{name}]", 404), {}

    def _matching_template(self, name: str) -> tuple[str, dict] | None:
        best = None
        for tname, body in self.index_templates.items():
            matches = any(fnmatch.fnmatchcase(name, p) for p in body.get("index_patterns", []))
            if matches and (best is None or body.get("priority", 0) > best[1].get("priority", 0)):
                best = (tname, body)
        return best

    def _create_data_stream(self, name: str) -> _Index | None:
        match = self._matching_template(name)
        if match is None or "data_stream" not in match[1]:
            return None
        tname, body = match
        properties: dict[str, Any] = {}
        ignore_malformed = False
        dynamic: bool | str = True
        lifecycle = ilm_policy = None
        for part in [*(self.component_templates.get(c) for c in body.get("composed_of", [])), body]:
            template = (part or {}).get("template", {})
            mappings = template.get("mappings", {})
            _merge(properties, mappings.get("properties", {}))
            dynamic = mappings.get("dynamic", dynamic)
            setting = _setting(template.get("settings", {}), "index.mapping.ignore_malformed")
            if setting is not None:
                ignore_malformed = str(setting).lower() == "true"
            lifecycle = template.get("lifecycle", lifecycle)
            ilm_policy = _setting(template.get("settings", {}), "index.lifecycle.name") or ilm_policy
        mapping = MappingState(properties, ignore_malformed=ignore_malformed, dynamic=dynamic)
        created = _Index(name, True, mapping, template=tname, lifecycle=lifecycle, ilm_policy=ilm_policy)
        self.indices[name] = created
        return created

    # ---------------------------------------------------------------------------------- bulk
    def _bulk(self, default_index: str | None, body: bytes) -> tuple[int, Any, dict]:
        self.stats["bulk_requests"] += 1
        if self.fail_bulk_requests:
            status = self.fail_bulk_requests.popleft()
            self.stats[f"bulk_failed_{status}"] += 1
            etype = "es_rejected_execution_exception" if status == 429 else "unavailable_shards_exception"
            return status, _error(etype, f"injected whole-request {status}", status), {}
        lines = body.split(b"\n")
        items = []
        errors = False
        i = 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            try:
                op, meta = next(iter(orjson.loads(lines[i]).items()))
                source = orjson.loads(lines[i + 1]) if op != "delete" else None
            except (ValueError, StopIteration, IndexError, AttributeError) as err:
                return (
                    400,
                    _error(
                        "illegal_argument_exception", f"Malformed action/metadata line [{i + 1}]: {err}", 400
                    ),
                    {},
                )
            i += 2 if op != "delete" else 1
            item = self._bulk_item(op, meta.get("_index") or default_index, meta.get("_id"), source)
            errors = errors or "error" in item
            if self.stats["bulk_items"] in self.omit_status_items:
                self.stats["items_without_status"] += 1
                item.pop("status", None)
            items.append({op: item})
        return 200, {"took": 1, "errors": errors, "items": items}, {}

    def _too_large(self, parts: list[str], body: bytes) -> tuple[int, Any, dict] | None:
        writes = parts[-1] == "_bulk" or (len(parts) == 3 and parts[1] == "_create")
        if self.max_body_bytes is None or not writes or len(body) <= self.max_body_bytes:
            return None
        self.stats["requests_413"] += 1
        return 413, None, {}

    def _create(self, index: str, doc_id: str, body: bytes) -> tuple[int, Any, dict]:
        try:
            source = orjson.loads(body)
        except ValueError as err:
            return 400, _error("mapper_parsing_exception", f"failed to parse: {err}", 400), {}
        item = self._bulk_item("create", index, doc_id, source)
        status = int(item.get("status", 200))
        if "error" in item:
            return status, {"error": item["error"], "status": status}, {}
        return status, item, {}

    def _bulk_item(self, op: str, index: str | None, doc_id: str | None, source: Any) -> dict[str, Any]:
        self.stats["bulk_items"] += 1
        if index is None:
            return _item_error(index, doc_id, 400, "action_request_validation_exception", "index is missing")
        if self.reject_items_429 > 0:
            self.reject_items_429 -= 1
            self.stats["items_429"] += 1
            return _item_error(
                index,
                doc_id,
                429,
                "es_rejected_execution_exception",
                "rejected execution of coordinating operation (injected)",
            )
        target = self.indices.get(index) or self._create_data_stream(index)
        if target is None:
            target = self.indices[index] = _Index(index, False, MappingState())
        if target.data_stream and op != "create":
            return _item_error(
                index,
                doc_id,
                400,
                "illegal_argument_exception",
                "only write ops with an op_type of create are allowed in data streams",
            )
        problem = target.mapping.check(
            source, data_stream=target.data_stream, parse_error_type=self.parse_error_type
        )
        if problem is None and self.reject is not None:
            reason = self.reject(index, source)
            problem = (self.parse_error_type, reason) if reason else None
        if problem is not None:
            self.stats["items_400"] += 1
            return _item_error(index, doc_id, 400, *problem)
        if doc_id is None:
            doc_id = f"auto-{self.stats['bulk_items']}"
        if op == "create" and doc_id in target.docs:
            self.stats["items_409"] += 1
            return _item_error(
                index,
                doc_id,
                409,
                "version_conflict_engine_exception",
                f"[{doc_id}]: version conflict, document already exists (current version [1])",
            )
        existed = doc_id in target.docs
        target.docs[doc_id] = source if self.store_documents else None
        self.stats["items_created"] += 1
        backing = _backing(index) if target.data_stream else index
        return {
            "_index": backing,
            "_id": doc_id,
            "_version": 1,
            "result": "updated" if existed else "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": 0,
            "_primary_term": 1,
            "status": 200 if existed else 201,
        }


_SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def _backing(name: str) -> str:
    return f".ds-{name}-2026.01.01-000001"


def _error(etype: str, reason: str, status: int) -> dict[str, Any]:
    return {
        "error": {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason},
        "status": status,
    }


def _item_error(
    index: str | None, doc_id: str | None, status: int, etype: str, reason: str
) -> dict[str, Any]:
    return {"_index": index, "_id": doc_id, "status": status, "error": {"type": etype, "reason": reason}}


def _merge(into: dict[str, Any], props: dict[str, Any]) -> None:
    for key, value in props.items():
        if key in into and "properties" in into[key] and "properties" in value:
            _merge(into[key]["properties"], value["properties"])
        else:
            into[key] = json.loads(json.dumps(value))


def _setting(settings: dict[str, Any], dotted: str) -> Any:
    if dotted in settings:
        return settings[dotted]
    head, _, tail = dotted.partition(".")
    nested = settings.get(head)
    if isinstance(nested, dict) and tail:
        return _setting(nested, tail)
    return None


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :meth:`ElasticsearchDouble.handle` calls."""

    double: ElasticsearchDouble
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add 40 ms each.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
            body = gzip.decompress(body)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.double.handle(self.command, self.path, headers, body)
        data = b"" if payload is None else orjson.dumps(payload)
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        compat = _COMPAT.search(headers.get("accept", ""))
        mime = (
            f"application/vnd.elasticsearch+json;compatible-with={compat.group(1)}"
            if compat
            else "application/json"
        )
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve
