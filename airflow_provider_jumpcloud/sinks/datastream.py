"""Data stream naming and the per-document fields and ``_bulk`` action line both sinks share."""

from __future__ import annotations

from typing import Any

import orjson

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.spec.templates import DATA_STREAM_TYPE, DATASET

#: Characters Elasticsearch forbids in index names, plus ``-`` (the data stream naming scheme's separator).
_FORBIDDEN = set('\\/*?"<>| ,#:-')
MAX_NAMESPACE_BYTES = 100


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is a valid data stream namespace, else raise JumpCloudConfigError.

    Elastic's data stream naming scheme: lowercase, no ``-``, none of ``\\ / * ? " < > | , # :`` or
    spaces, not starting with ``_`` ``+`` ``.``, at most 100 bytes.
    """
    if not isinstance(namespace, str) or not namespace:
        raise JumpCloudConfigError("data stream namespace must be a non-empty string")
    problems = []
    if namespace != namespace.lower():
        problems.append("must be lowercase")
    bad = sorted({c for c in namespace if c in _FORBIDDEN or c.isspace()})
    if bad:
        problems.append(f"must not contain {''.join(bad)!r}")
    if namespace[0] in "_+.":
        problems.append("must not start with '_', '+' or '.'")
    if len(namespace.encode()) > MAX_NAMESPACE_BYTES:
        problems.append(f"must be at most {MAX_NAMESPACE_BYTES} bytes")
    if problems:
        raise JumpCloudConfigError(f"invalid data stream namespace {namespace!r}: " + "; ".join(problems))
    return namespace


def data_stream_name(namespace: str) -> str:
    """Return ``logs-jumpcloud.events-<namespace>`` after validating the namespace."""
    return f"{DATA_STREAM_TYPE}-{DATASET}-{validate_namespace(namespace)}"


def stamp_document(
    doc: dict[str, Any], namespace: str, fallback_timestamp: str | None = None
) -> dict[str, Any]:
    """Set ``data_stream.{type,dataset,namespace}`` and ``event.dataset`` in place; return the document.

    Data streams reject documents without ``@timestamp``; ``fallback_timestamp`` (for example the
    window start) is set on such documents (error documents with an unparseable time) when given.
    """
    doc["data_stream"] = {"type": DATA_STREAM_TYPE, "dataset": DATASET, "namespace": namespace}
    event = doc.get("event")
    if isinstance(event, dict):
        event["dataset"] = DATASET
    else:
        doc["event"] = {"dataset": DATASET}
    if fallback_timestamp is not None and "@timestamp" not in doc:
        doc["@timestamp"] = fallback_timestamp
    return doc


def bulk_action_line(index: str, doc_id: str) -> bytes:
    """Return the ``_bulk`` action line (with newline) that creates ``doc_id`` in ``index``."""
    return orjson.dumps({"create": {"_index": index, "_id": doc_id}}) + b"\n"
