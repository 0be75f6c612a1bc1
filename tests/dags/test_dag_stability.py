"""The bundled DAGs serialize to the same bytes whatever the clock says, so parsing never creates a new DAG version."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from tests.dags.helpers import ROOT

DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
CLOCKS = [datetime(2026, 3, 1, 9, 17, tzinfo=UTC), datetime(2026, 12, 24, 23, 59, tzinfo=UTC)]


def _serialized_hashes(path: Path) -> dict[str, str]:
    from airflow.serialization.serialized_objects import DagSerialization

    spec = importlib.util.spec_from_file_location(f"{path.stem}_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = {name: obj for name, obj in vars(module).items() if type(obj).__name__ == "DAG"}
    assert dags, f"{path.name} defines no DAG"
    out = {}
    for dag in dags.values():
        data: Any = DagSerialization.to_dict(dag)
        out[dag.dag_id] = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return out


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_serialized_dag_is_identical_under_two_clocks(path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("JUMPCLOUD_STAGING_ROOT", str(tmp_path))
    hashes = []
    for clock in CLOCKS:
        with time_machine.travel(clock, tick=False):
            assert datetime.now(UTC) == clock  # the clock really moved
            hashes.append(_serialized_hashes(path))
    assert hashes[0] == hashes[1]


def test_the_check_sees_a_clock_dependent_dag(tmp_path: Path) -> None:
    """The comparison above would catch a start date computed from now (the fault it guards against)."""
    dag_file = tmp_path / "clocky.py"
    dag_file.write_text(
        "from datetime import UTC, datetime, timedelta\n"
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        "with DAG('clocky', schedule='@daily', start_date=datetime.now(UTC) - timedelta(days=90)) as dag:\n"
        "    EmptyOperator(task_id='noop')\n"
    )
    hashes = []
    for clock in CLOCKS:
        with time_machine.travel(clock, tick=False):
            hashes.append(_serialized_hashes(dag_file))
    assert hashes[0] != hashes[1]


def test_start_date_is_a_constant() -> None:
    from airflow_provider_jumpcloud.bundle import START_DATE

    assert START_DATE.tzinfo is not None and START_DATE.year >= 2020
