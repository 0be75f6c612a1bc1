"""The range-backfill DAG with ``dag.test()``: exactly once over days, re-runs, retention, the raw archive."""

from __future__ import annotations

import itertools
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_count
from airflow_provider_jumpcloud.windows import Window
from tests.dags.helpers import KEY, ROOT, bulk_ids, load_dag, state
from tests.support.elasticsearch_double import ElasticsearchDouble

DAG_FILE = ROOT / "dags" / "jumpcloud_events_backfill.py"
SCHEDULED_DAG_FILE = ROOT / "dags" / "jumpcloud_events.py"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
RANGE = Window(NOW - timedelta(days=5), NOW - timedelta(days=2))  # 3 days at 5,000/day: about 15,000 events
MAX_EVENTS = 4000


def conf(window: Window = RANGE, **extra: object) -> dict:
    return {"start": window.as_dict()["start"], "end": window.as_dict()["end"], "max_events_per_window": MAX_EVENTS,
            **extra}


def raw_windows(staging: Path) -> list[Window]:
    return sorted(Window.from_key(p.name.removesuffix(".manifest.json"))
                  for p in (staging / "raw").glob("*.manifest.json"))


@pytest.fixture(scope="module")
def emulator():
    config = EmulatorConfig(seed=9, events_per_day=5_000, days=8, now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as emu:
        yield emu


@pytest.fixture(scope="module")
def staged(airflow_db, emulator, tmp_path_factory):
    """One range backfill into the file sink, shared by the checks below."""
    staging = tmp_path_factory.mktemp("range")
    with pytest.MonkeyPatch.context() as patch:
        dag = load_dag(patch, DAG_FILE, staging, emulator.base_url)
        run = dag.test(run_conf=conf())
    return staging, run


def test_dag_parses_with_its_params() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["jumpcloud_events_backfill"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # triggered, never scheduled
    assert {"start", "end", "services", "namespace", "sink", "max_events_per_window", "quality_policy", "tags",
            "source", "clip_to_retention", "retention_days"} <= set(dag.params)
    assert {t.task_id for t in dag.tasks} == {"plan_range", "process_window.fetch", "process_window.map",
                                              "process_window.quality", "process_window.load", "quality_report"}
    assert dag.get_task("quality_report").is_teardown  # its success does not hide a failed sub-window


def test_range_is_loaded_exactly_once(staged, emulator) -> None:
    staging, run = staged
    assert state(run) == "success"
    ids = bulk_ids(staging)
    assert len(ids) == len(set(ids)) == expected_count(emulator.config, RANGE.start, RANGE.end) > 10_000
    windows = raw_windows(staging)
    assert windows[0].start == RANGE.start and windows[-1].end == RANGE.end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))  # no gap, no overlap
    assert 4 <= len(windows) <= 8  # by count, not 288 fifteen-minute runs
    for summary in (staging / "quality").glob("*/summary.json"):
        data = json.loads(summary.read_text())
        completeness = data["completeness"]
        assert completeness["documents"] == completeness["events_fetched"] == completeness["api_count"]
    # The run ends with one quality roll-up of its whole range.
    rollups = list((staging / "quality" / "ranges").glob("*/rollup.json"))
    assert len(rollups) == 1 and (rollups[0].parent / "index.html").exists()
    totals = json.loads(rollups[0].read_text())["totals"]
    assert totals["windows"] == len(windows) and totals["documents"] == len(ids)


def test_archive_remaps_without_any_api_call(staged, airflow_db, emulator, monkeypatch) -> None:
    staging, _run = staged
    before_ids = sorted(bulk_ids(staging))
    for folder in ("ecs", "bulk", "quality", "load"):
        shutil.rmtree(staging / folder)
    requests_before = emulator.request_count
    dag = load_dag(monkeypatch, DAG_FILE, staging, emulator.base_url)
    inner = Window(RANGE.start + timedelta(hours=1), RANGE.end - timedelta(hours=1))  # overlaps every raw window
    assert state(dag.test(run_conf=conf(inner, source="archive"))) == "success"
    assert emulator.request_count == requests_before
    assert sorted(bulk_ids(staging)) == before_ids
    for summary in (staging / "quality").glob("*/summary.json"):
        completeness = json.loads(summary.read_text())["completeness"]
        assert completeness["documents"] == completeness["events_fetched"] == completeness["api_count"]


def test_archive_refuses_a_changed_raw_file(staged, airflow_db, emulator, monkeypatch, tmp_path) -> None:
    staging, _run = staged
    copy = tmp_path / "staging"
    shutil.copytree(staging / "raw", copy / "raw")
    first = sorted((copy / "raw").glob("*.ndjson.gz"))[0]
    first.write_bytes(first.read_bytes()[:-10])
    dag = load_dag(monkeypatch, DAG_FILE, copy, emulator.base_url)
    assert state(dag.test(run_conf=conf(source="archive"))) == "failed"
    assert not list((copy / "bulk").glob(f"{first.name.split('.')[0]}*"))


def test_range_over_scheduled_windows_never_duplicates(airflow_db, emulator, monkeypatch, tmp_path) -> None:
    with ElasticsearchDouble() as es:
        host, port = es.url.removeprefix("http://").split(":")
        monkeypatch.setenv("AIRFLOW_CONN_ES_DOUBLE", json.dumps(
            {"conn_type": "elasticsearch", "host": host, "port": int(port), "schema": "http"}))
        stream = "logs-jumpcloud.events-default"
        small = Window(NOW - timedelta(days=3), NOW - timedelta(days=2))
        scheduled = load_dag(monkeypatch, SCHEDULED_DAG_FILE, tmp_path / "scheduled", emulator.base_url, "es_double")
        for hour in (10, 11):  # two scheduled windows inside the range
            logical = small.start + timedelta(hours=hour, minutes=5)
            assert state(scheduled.test(logical_date=logical)) == "success"
        assert 0 < es.count(stream) < expected_count(emulator.config, small.start, small.end)
        dag = load_dag(monkeypatch, DAG_FILE, tmp_path / "range", emulator.base_url, "es_double")
        assert state(dag.test(run_conf=conf(small))) == "success"
        assert es.count(stream) == expected_count(emulator.config, small.start, small.end)
        assert state(dag.test(run_conf=conf(small))) == "success"  # a re-run adds nothing
        assert es.count(stream) == expected_count(emulator.config, small.start, small.end)


@pytest.fixture(scope="module")
def old_emulator():
    """A tenant with 17 days of history, for ranges reaching past a 15-day retention."""
    config = EmulatorConfig(seed=3, events_per_day=500, days=17, now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as emu:
        yield emu


def test_range_past_retention_is_clipped_with_both_times_logged(airflow_db, old_emulator, monkeypatch,
                                                                 tmp_path, capfd, caplog) -> None:
    dag = load_dag(monkeypatch, DAG_FILE, tmp_path, old_emulator.base_url)
    wanted = Window(NOW - timedelta(days=16), NOW - timedelta(days=14))
    planned_after = datetime.now(UTC)
    assert state(dag.test(run_conf=conf(wanted, retention_days=15))) == "success"
    out = capfd.readouterr()
    text = out.out + out.err + caplog.text  # the plan task logs through the standard library's logging
    assert "before the oldest fetchable time" in text and "clipped to" in text
    start = raw_windows(tmp_path)[0].start
    oldest = planned_after - timedelta(days=15)
    assert start.minute == start.second == 0 and oldest + timedelta(hours=1) <= start <= oldest + timedelta(hours=2)
    assert wanted.as_dict()["start"] in text and start.strftime("%Y-%m-%dT%H:%M:%SZ") in text
    ids = bulk_ids(tmp_path)
    assert len(ids) == len(set(ids)) == expected_count(old_emulator.config, start, wanted.end) > 0


def test_range_past_retention_is_refused_before_any_api_call(airflow_db, old_emulator, monkeypatch, tmp_path,
                                                              capfd) -> None:
    dag = load_dag(monkeypatch, DAG_FILE, tmp_path, old_emulator.base_url)
    before = old_emulator.request_count
    wanted = Window(NOW - timedelta(days=16), NOW - timedelta(days=14))
    assert state(dag.test(run_conf=conf(wanted, retention_days=15, clip_to_retention=False))) == "failed"
    assert old_emulator.request_count == before
    out = capfd.readouterr()
    assert "starts before the oldest fetchable time" in out.out + out.err
    assert not (tmp_path / "raw").exists()


def test_missing_range_fails_with_a_clear_message(airflow_db, emulator, monkeypatch, tmp_path, capfd) -> None:
    dag = load_dag(monkeypatch, DAG_FILE, tmp_path, emulator.base_url)
    assert state(dag.test(run_conf={})) == "failed"
    out = capfd.readouterr()
    assert "give the range as params start and end" in out.out + out.err
