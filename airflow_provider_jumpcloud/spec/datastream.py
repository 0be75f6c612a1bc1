"""The data stream naming scheme of this package: the one definition of type, datasets and namespace rule.

Elastic's scheme is ``<type>-<dataset>-<namespace>``. Events go to ``logs-jumpcloud.events-<namespace>``,
the per-window quality summaries to ``logs-jumpcloud.quality-<namespace>``. :func:`stamp_document` sets the
fields a document needs to live in such a stream. Pure: no Airflow import.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError

DATA_STREAM_TYPE = "logs"
#: Dataset of the ECS event documents.
DATASET = "jumpcloud.events"
#: Dataset of the one-per-window quality summary documents.
QUALITY_DATASET = "jumpcloud.quality"
DEFAULT_NAMESPACE = "default"
MAX_NAMESPACE_BYTES = 100
#: Elastic's namespace rule as a regular expression (also the DAG param's ``pattern``): no uppercase ASCII,
#: none of ``\ / * ? " < > | , # :``, ``-`` or whitespace, not starting with ``_`` ``+`` ``.``, 1-100
#: characters. :func:`validate_namespace` adds the two checks a pattern cannot express well: lowercase in
#: every script, and at most 100 bytes of UTF-8.
NAMESPACE_PATTERN = r'^(?![_+.])[^A-Z\\/*?"<>|,#:\s-]{1,100}$'
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is a valid data stream namespace, else raise JumpCloudConfigError."""
    if not isinstance(namespace, str) or not namespace:
        raise JumpCloudConfigError("data stream namespace must be a non-empty string")
    problems = []
    if namespace != namespace.lower():
        problems.append("must be lowercase")
    if len(namespace.encode()) > MAX_NAMESPACE_BYTES:
        problems.append(f"must be at most {MAX_NAMESPACE_BYTES} bytes")
    bad = sorted({c for c in namespace if c in '\\/*?"<>|,#:-' or c.isspace()})
    if bad:
        problems.append(f"must not contain {''.join(bad)!r}")
    if namespace[0] in "_+.":
        problems.append("must not start with '_', '+' or '.'")
    if not problems and not _NAMESPACE_RE.match(namespace):
        problems.append(f"must match {NAMESPACE_PATTERN}")
    if problems:
        raise JumpCloudConfigError(f"invalid data stream namespace {namespace!r}: " + "; ".join(problems))
    return namespace


def index_template_name(dataset: str = DATASET) -> str:
    """Return the index template name of a dataset, e.g. ``logs-jumpcloud.events``."""
    return f"{DATA_STREAM_TYPE}-{dataset}"


def index_pattern(dataset: str = DATASET) -> str:
    """Return the index pattern of every namespace of a dataset, e.g. ``logs-jumpcloud.events-*``."""
    return f"{index_template_name(dataset)}-*"


def data_stream_name(namespace: str, dataset: str = DATASET) -> str:
    """Return ``logs-<dataset>-<namespace>`` after validating the namespace."""
    return f"{index_template_name(dataset)}-{validate_namespace(namespace)}"


def data_stream_fields(namespace: str, dataset: str = DATASET) -> dict[str, str]:
    """Return the ``data_stream`` object of a document in ``logs-<dataset>-<namespace>``."""
    return {"type": DATA_STREAM_TYPE, "dataset": dataset, "namespace": namespace}


def stamp_document(
    doc: dict[str, Any],
    *,
    dataset: str | None = DATASET,
    namespace: str | None = None,
    fallback_timestamp: str | None = None,
) -> dict[str, Any]:
    """Set ``event.dataset``, ``data_stream.*`` (with a namespace) and a missing ``@timestamp``; return doc.

    The mapping stage stamps ``event.dataset`` and the timestamp only (it does not know the namespace);
    the sinks stamp all three. Data streams reject documents without ``@timestamp``, so
    ``fallback_timestamp`` (the window start) is given to those (error documents). In place.
    """
    if namespace is not None:
        doc["data_stream"] = data_stream_fields(namespace, dataset or DATASET)
    if dataset is not None:
        event = doc.get("event")
        if isinstance(event, dict):
            event["dataset"] = dataset
        else:
            doc["event"] = {"dataset": dataset}
    if fallback_timestamp is not None and "@timestamp" not in doc:
        doc["@timestamp"] = fallback_timestamp
    return doc
