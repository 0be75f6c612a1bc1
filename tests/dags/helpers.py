"""Helpers of the DAG tests: load a bundled DAG file against an emulator and a staging folder, read results."""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "dag-test-key-9a8b7c6d"


def load_dag(monkeypatch: pytest.MonkeyPatch, dag_file: Path, staging: Path, base_url: str,
             es_conn: str | None = None) -> Any:
    """Point the DAG's environment at the emulator and a staging folder, then import the DAG file."""
    monkeypatch.setenv("JUMPCLOUD_STAGING_ROOT", str(staging))
    monkeypatch.setenv("AIRFLOW_CONN_JUMPCLOUD_DEFAULT",
                       json.dumps({"conn_type": "jumpcloud", "host": base_url, "password": KEY}))
    if es_conn:
        monkeypatch.setenv("JUMPCLOUD_ELASTICSEARCH_CONN_ID", es_conn)
    else:
        monkeypatch.delenv("JUMPCLOUD_ELASTICSEARCH_CONN_ID", raising=False)
    spec = importlib.util.spec_from_file_location(f"{dag_file.stem}_{uuid.uuid4().hex}", dag_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def bulk_ids(staging: Path) -> list[str]:
    """Every document id in the file sink's bulk files (action lines)."""
    ids = []
    for path in sorted((staging / "bulk").glob("*.ndjson")):
        lines = path.read_bytes().splitlines()
        for action in lines[0::2]:
            ids.append(orjson.loads(action)["create"]["_id"])
    return ids


def state(run: Any) -> str:
    """A DAG run's state as text."""
    return getattr(run.state, "value", run.state)
