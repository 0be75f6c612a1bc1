"""Errors retrying cannot fix (a rejected key) end the plan task in its first try, with a message saying what to fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer
from tests.dags.helpers import KEY, ROOT, state
from tests.dags.helpers import load_dag as load_dag_file

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
BAD_KEY = "not-the-key-0f1e2d3c4b5a"


@pytest.fixture(scope="module")
def emulator():
    config = EmulatorConfig(seed=9, events_per_day=20_000, days=1, now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as emu:
        yield emu


def _task_instance(run: Any, task_id: str) -> Any:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id).one()
        session.expunge(ti)
        return ti


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("dag_file", "task_id", "conf"),
    [
        ("jumpcloud_events.py", "plan_windows", None),
        ("jumpcloud_events_backfill.py", "plan_range",
         {"start": (NOW - timedelta(hours=6)).isoformat(), "end": (NOW - timedelta(hours=1)).isoformat()}),
    ],
)
def test_a_rejected_key_fails_the_plan_task_in_one_try(airflow_db, emulator, monkeypatch, tmp_path, capsys,
                                                        dag_file: str, task_id: str, conf: dict | None) -> None:
    dag = load_dag_file(monkeypatch, ROOT / "dags" / dag_file, tmp_path, emulator.base_url)
    monkeypatch.setenv("AIRFLOW_CONN_JUMPCLOUD_DEFAULT",
                       json.dumps({"conn_type": "jumpcloud", "host": emulator.base_url, "password": BAD_KEY}))
    before = emulator.request_count
    kwargs: dict[str, Any] = {"run_conf": conf} if conf else {"logical_date": NOW - timedelta(hours=2)}
    run = dag.test(**kwargs)
    assert state(run) == "failed"
    ti = _task_instance(run, task_id)
    assert getattr(ti.state, "value", ti.state) == "failed"  # not up_for_retry
    assert ti.try_number == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "401" in text or "rejected" in text.lower()
    assert BAD_KEY not in text
    assert emulator.request_count - before == 1  # one count request, no retry
