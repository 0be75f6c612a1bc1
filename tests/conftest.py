"""Test-wide setup: private AIRFLOW_HOME, no example DAGs, the repo's dags/ folder, a JumpCloud connection."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# Set before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="jc-airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)

import pytest  # noqa: E402

TEST_API_KEY = "jc-test-key-5f2b9c1e0d7a4b3c"


def load_sample_events() -> list[dict]:
    """Return every sample event shipped in tests/fixtures/samples, in file order."""
    events: list[dict] = []
    for path in sorted((FIXTURES / "samples").glob("*.json")):
        events.extend(json.loads(path.read_text())["events"])
    return events


@pytest.fixture
def sample_events() -> list[dict]:
    return load_sample_events()


@pytest.fixture
def jumpcloud_conn(monkeypatch: pytest.MonkeyPatch):
    """Register ``jumpcloud_default`` (JSON form) pointing at the real US host; tests mock HTTP."""
    conn = {"conn_type": "jumpcloud", "password": TEST_API_KEY, "extra": {"region": "us"}}
    monkeypatch.setenv("AIRFLOW_CONN_JUMPCLOUD_DEFAULT", json.dumps(conn))
    return conn
