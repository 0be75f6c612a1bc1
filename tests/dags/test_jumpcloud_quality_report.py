"""The daily jumpcloud_quality_report DAG with ``dag.test()`` over a staging root of real quality reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.quality import check_window
from airflow_provider_jumpcloud.quality.rollup import daily_dir, day_before
from airflow_provider_jumpcloud.staging import StagingLayout, read_json
from airflow_provider_jumpcloud.timestamps import format_ns
from airflow_provider_jumpcloud.windows import Window
from tests.dags.helpers import ROOT, load_dag, state
from tests.quality.factory import NAMESPACE, clean_doc, write_window

DAG_FILE = ROOT / "dags" / "jumpcloud_quality_report.py"
LOGICAL = datetime(2026, 3, 2, tzinfo=UTC)


def _stage(layout: StagingLayout, window: Window, n: int) -> None:
    docs = []
    for i in range(n):
        doc_id, doc = clean_doc(i)
        doc["@timestamp"] = doc["jumpcloud"]["event"]["timestamp"] = format_ns(window.start_ns + i * 10**9, 3)
        docs.append((doc_id, doc))
    path = layout.ecs(window)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_window(path, docs)
    check_window(path, window, quality_dir=layout.quality_dir(window), namespace=NAMESPACE,
                 events_fetched=n, api_count=n + 1)  # one event missing: each window fails


def test_dag_shape(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dag = load_dag(monkeypatch, DAG_FILE, tmp_path / "staging", "http://127.0.0.1:9")
    assert dag.dag_id == "jumpcloud_quality_report"
    assert dag.schedule == "@daily" and dag.timetable.expression == "0 0 * * *"
    assert dag.catchup is False
    assert dag.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert [t.task_id for t in dag.tasks] == ["quality_report"]


def test_daily_run_reports_the_day_before(airflow_db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    layout = StagingLayout.at(tmp_path / "staging")
    days = [LOGICAL.date() - timedelta(days=1), LOGICAL.date()]
    for k, day in enumerate(days):  # one 12-hour window on each side of the run's midnight, 5 and 7 documents
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        _stage(layout, Window(start, start + timedelta(hours=12)), 5 + 2 * k)
    dag = load_dag(monkeypatch, DAG_FILE, layout.root, "http://127.0.0.1:9")
    run = dag.test(logical_date=LOGICAL)
    assert state(run) == "success"
    span = day_before(run.data_interval_end)
    out = daily_dir(layout, span.start.date())
    totals = read_json(out / "rollup.json")["totals"]
    assert span.start.date() == days[0]  # @daily triggers at midnight: the day that just ended
    assert (totals["windows"], totals["documents"], totals["missing"], totals["fail"]) == (1, 5, 1, 1)
    assert totals["gaps"] == 1  # the second half of the day has no report
    assert (out / "index.html").is_file() and (out / "windows.ndjson").is_file()
