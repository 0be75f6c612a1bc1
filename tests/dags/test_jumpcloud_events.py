"""The jumpcloud_events DAG end to end with ``dag.test()``: emulator -> staging -> ECS -> quality -> sink."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_count, expected_events
from tests.dags.helpers import KEY, ROOT, bulk_ids, state
from tests.dags.helpers import load_dag as load_dag_file
from tests.support.elasticsearch_double import ElasticsearchDouble

DAG_FILE = ROOT / "dags" / "jumpcloud_events.py"
# The emulator's history ends at the top of the current hour; windows are taken inside it.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
INTERVAL = timedelta(minutes=15)
LAG = timedelta(minutes=5)


@pytest.fixture(scope="module")
def emulator():
    config = EmulatorConfig(seed=5, events_per_day=100_000, days=1, now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as emu:
        yield emu


def load_dag(monkeypatch: pytest.MonkeyPatch, staging, base_url: str, es_conn: str | None = None):
    """The scheduled DAG against the emulator and a staging folder."""
    return load_dag_file(monkeypatch, DAG_FILE, staging, base_url, es_conn)


def test_dag_file_imports_without_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["jumpcloud_events"]
    assert type(dag.timetable).__name__ == "DeltaDataIntervalTimetable"
    assert dag.max_active_runs >= 1 and not dag.catchup
    assert {"services", "namespace", "sink", "lag_minutes", "retention_days", "quality_policy"} <= set(dag.params)
    assert {t.task_id for t in dag.tasks} >= {"plan_windows", "process_window.fetch", "process_window.load"}


def test_end_to_end_into_the_file_sink(airflow_db, emulator, monkeypatch, tmp_path) -> None:
    dag = load_dag(monkeypatch, tmp_path, emulator.base_url)
    logical = NOW - timedelta(hours=3)
    run = dag.test(logical_date=logical)
    assert state(run) == "success"
    start, end = logical - INTERVAL - LAG, logical - LAG
    expected = [e["id"] for e in expected_events(emulator.config, start, end)]
    assert expected, "the window should hold events"
    ids = bulk_ids(tmp_path)
    assert len(ids) == len(expected) == len(set(ids))
    summaries = list((tmp_path / "quality").glob("*/summary.json"))
    assert summaries and all(json.loads(p.read_text())["verdict"] in ("pass", "warn") for p in summaries)
    assert list((tmp_path / "quality").glob("*/docs/index.html"))
    loads = [json.loads(p.read_text()) for p in (tmp_path / "load").glob("*.json")]
    assert sum(s["counts"]["read"] for s in loads) == len(expected)


def test_end_to_end_into_the_elasticsearch_double(airflow_db, emulator, monkeypatch, tmp_path) -> None:
    with ElasticsearchDouble() as es:
        host, port = es.url.removeprefix("http://").split(":")
        monkeypatch.setenv("AIRFLOW_CONN_ES_DOUBLE", json.dumps(
            {"conn_type": "elasticsearch", "host": host, "port": int(port), "schema": "http"}))
        dag = load_dag(monkeypatch, tmp_path, emulator.base_url, es_conn="es_double")
        logical = NOW - timedelta(hours=4)
        assert state(dag.test(logical_date=logical)) == "success"
        expected = expected_count(emulator.config, logical - INTERVAL - LAG, logical - LAG)
        assert es.count("logs-jumpcloud.events-default") == expected > 0
        assert es.is_data_stream("logs-jumpcloud.events-default")
        # Re-running the same window leaves the count unchanged (op_type=create, 409 = already there).
        assert state(dag.test(logical_date=logical)) == "success"
        assert es.count("logs-jumpcloud.events-default") == expected


def test_backfill_three_windows_then_rerun_middle(airflow_db, emulator, monkeypatch, tmp_path) -> None:
    dag = load_dag(monkeypatch, tmp_path, emulator.base_url)
    first = NOW - timedelta(hours=6)
    logicals = [first + i * INTERVAL for i in range(3)]
    for logical in [*logicals, logicals[1]]:
        assert state(dag.test(logical_date=logical)) == "success"
    ids = bulk_ids(tmp_path)
    start, end = logicals[0] - INTERVAL - LAG, logicals[-1] - LAG
    assert len(ids) == expected_count(emulator.config, start, end)
    assert len(set(ids)) == len(ids), "a re-run must not duplicate events in the sink"


def test_window_past_retention_is_refused_before_any_api_call(
    airflow_db, emulator, monkeypatch, tmp_path, capfd
) -> None:
    monkeypatch.setenv("JUMPCLOUD_RETENTION_DAYS", "15")
    dag = load_dag(monkeypatch, tmp_path, emulator.base_url)
    before = emulator.request_count
    run = dag.test(logical_date=NOW - timedelta(days=20))
    assert state(run) == "failed"
    assert emulator.request_count == before
    out = capfd.readouterr()
    assert "starts before the oldest fetchable time" in out.out + out.err


def test_window_with_zero_events_succeeds_with_an_empty_valid_report(airflow_db, monkeypatch, tmp_path) -> None:
    config = EmulatorConfig(events=[], now=NOW, api_key=KEY)
    with EmulatorServer(config) as emu:
        dag = load_dag(monkeypatch, tmp_path, emu.base_url)
        assert state(dag.test(logical_date=NOW - timedelta(hours=1))) == "success"
    (summary,) = list((tmp_path / "quality").glob("*/summary.json"))
    data = json.loads(summary.read_text())
    assert data["verdict"] == "pass"
    assert bulk_ids(tmp_path) == []
