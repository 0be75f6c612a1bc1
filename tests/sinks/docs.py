"""Hand-built mapped documents (shaped like Elastic's sample ECS document) and mapped-window files."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airflow_provider_jumpcloud.staging import atomic_writer, encode_mapped

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "elastic_sample_event.json"
_SAMPLE = json.loads(FIXTURE.read_text())
WINDOW = {"start": "2023-01-14T08:00:00Z", "end": "2023-01-14T08:15:00Z"}


def sample_document(i: int = 0, **overrides: Any) -> dict[str, Any]:
    """Elastic's sample document without agent fields, with a distinct event id; ``a.b=value`` overrides."""
    doc = copy.deepcopy(_SAMPLE)
    for key in ("agent", "elastic_agent", "input", "data_stream"):
        doc.pop(key, None)
    doc["event"].pop("agent_id_status", None)
    doc["event"]["id"] = f"evt-{i:06d}"
    for dotted, value in overrides.items():
        set_path(doc, dotted, value)
    return doc


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set (or with value ``...``, delete) a dotted field."""
    *parents, leaf = dotted.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        node.pop(leaf, None)
    else:
        node[leaf] = value


def write_window(path: Path, docs: Iterable[tuple[str, dict[str, Any]]]) -> Path:
    """Write ``(_id, document)`` pairs as a mapped window (gzip NDJSON staging lines)."""
    with atomic_writer(path) as (out, _):
        for doc_id, doc in docs:
            out.write(encode_mapped(doc_id, doc))
    return path


def numbered(n: int, start: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """``n`` valid documents with ids ``doc-000000``..."""
    return [(f"doc-{i:06d}", sample_document(i)) for i in range(start, start + n)]


API_KEY = "es-test-api-key-8c1f0e7d"
#: streaming_bulk back-off of zero: retried items are resent at once (no real sleeps in tests).
FAST = {"initial_backoff": 0, "max_backoff": 0}


def quality_summary(window: dict[str, str] = WINDOW, *, verdict: str = "warn", documents: int = 20) -> dict[str, Any]:
    """A ``summary.json`` in the shape ``quality.validate.check_window`` writes (two fields, one failing)."""
    return {
        "window": dict(window),
        "namespace": "default",
        "spec_version": "24f51af21275",
        "documents": documents,
        "error_documents": 1,
        "completeness": {"documents": documents, "events_fetched": documents, "api_count": documents + 2},
        "fields": {
            "client.ip": {"type": "ip", "checked": documents - 1, "failed": 2, "rate": 0.105263,
                          "examples": ['"999.1.1.1"']},
            "event.action": {"type": "keyword", "checked": documents - 1, "failed": 0, "rate": 0.0, "examples": []},
        },
        "fields_failed": ["client.ip"],
        "required": {
            "@timestamp": {"column": "@timestamp", "checked": documents - 1, "missing": 0},
            "event.id": {"column": "event.id", "checked": documents - 1, "missing": 1},
        },
        "duplicates": {"documents": 3, "ids": 2, "examples": ["a"], "method": "64-bit hash"},
        "timestamps": {"in_window": documents - 3, "late": 2, "future": 1, "late_examples": [],
                       "future_examples": []},
        "unknown_fields": {"jumpcloud.event.brand_new": {"documents": 3, "examples": ['"x"']},
                           "foo.bar": {"documents": 1, "examples": ["1"]}},
        "unknown_fields_total": 2,
        "unknown_jumpcloud_fields": 1,
        "gx": {"chunks": 1, "validations": 1, "expectations_evaluated": 4, "failing_validations": 1},
        "thresholds": {"max_mismatch_rate": 0.2, "drift": "warn", "field_mismatch_rates": {}},
        "verdict": verdict,
        "reasons": [
            {"level": "warn", "check": "type", "message": "client.ip: 2 of 19 documents do not match spec type ip"},
            {"level": "warn", "check": "drift", "message": "2 fields outside the spec"},
        ],
        "seconds": 0.61,
        "reports": {"summary": "/staging/quality/x/summary.json"},
    }
