"""Hand-built mapped documents in the shape of Elastic's sample ECS document, and window files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from airflow_provider_jumpcloud.staging import encode_mapped, write_ndjson
from airflow_provider_jumpcloud.windows import Window
from tests.conftest import FIXTURES

WINDOW = Window.parse("2023-01-14T08:00:00Z", "2023-01-14T09:00:00Z")
NAMESPACE = "38185"
_DRIFT_IN_SAMPLE = ("agent", "elastic_agent", "input")


def base_doc() -> dict[str, Any]:
    """Elastic's sample document without the agent fields our mapper never writes."""
    doc = json.loads((FIXTURES / "elastic_sample_event.json").read_text())
    for key in _DRIFT_IN_SAMPLE:
        doc.pop(key, None)
    for key in ("created", "ingested", "agent_id_status"):
        doc["event"].pop(key, None)
    return doc


_BASE = base_doc()


def clean_doc(i: int) -> tuple[str, dict[str, Any]]:
    """A valid document with a unique id and an @timestamp inside WINDOW."""
    doc = copy.deepcopy(_BASE)
    doc_id = f"{i:024x}"
    doc["event"]["id"] = doc_id
    doc["jumpcloud"]["event"]["id"] = doc_id
    ts = f"2023-01-14T08:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
    doc["@timestamp"] = ts
    doc["jumpcloud"]["event"]["timestamp"] = ts
    return doc_id, doc


def error_doc(i: int) -> tuple[str, dict[str, Any]]:
    """An error document as the mapper writes it for unparseable input."""
    return f"raw-{i:020x}", {
        "ecs": {"version": "8.11.0"},
        "event": {"original": "{'not': 'json'}", "kind": "pipeline_error"},
        "tags": ["preserve_original_event"],
        "error": {"message": ["[json] field [event.original] is not valid JSON"]},
    }


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a nested value by dotted path, creating objects on the way."""
    *parents, leaf = dotted.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def drop_path(doc: dict[str, Any], dotted: str) -> None:
    """Remove a nested value by dotted path."""
    *parents, leaf = dotted.split(".")
    node = doc
    for part in parents:
        node = node[part]
    del node[leaf]


def write_window(path: Path, docs: list[tuple[str, dict[str, Any]]]) -> Path:
    """Write documents as a gzip NDJSON mapped window (staging line format)."""
    write_ndjson(path, (encode_mapped(i, d).rstrip(b"\n") for i, d in docs))
    return path
