"""The jumpcloud_housekeeping DAG with ``dag.test()``: one task applies the staging retention to a real tree."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_jumpcloud.staging import StagingLayout
from tests.dags.helpers import ROOT, state
from tests.test_housekeeping import age_everything, stage_processed, stage_raw, tree, window

DAG_FILE = ROOT / "dags" / "jumpcloud_housekeeping.py"


def load_dag(monkeypatch: pytest.MonkeyPatch, staging: Path, **env: str) -> Any:
    monkeypatch.setenv("JUMPCLOUD_STAGING_ROOT", str(staging))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(f"jumpcloud_housekeeping_{uuid.uuid4().hex}", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_dag_shape() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags["jumpcloud_housekeeping"]
    assert not dag.catchup and dag.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert [t.task_id for t in dag.tasks] == ["clean_staging"] and set(dag.params) == {"dry_run"}


def test_a_bad_retention_setting_fails_the_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError

    with pytest.raises(JumpCloudConfigError, match="JUMPCLOUD_STAGING_RETENTION_DAYS='a week'"):
        load_dag(monkeypatch, tmp_path, JUMPCLOUD_STAGING_RETENTION_DAYS="a week")


@pytest.mark.timeout(120)
def test_dry_run_then_run(airflow_db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog) -> None:
    now = datetime.now(UTC)
    layout = StagingLayout.at(tmp_path)
    loaded, not_loaded, recent = window(5, now=now), window(6, now=now), window(1, now=now)
    for w in (loaded, not_loaded, recent):
        stage_raw(layout, w)
    stage_processed(layout, loaded)
    stage_processed(layout, not_loaded, load=None)
    stage_processed(layout, recent)
    age_everything(tmp_path, now=now)
    before = tree(tmp_path)
    dag = load_dag(monkeypatch, tmp_path, JUMPCLOUD_STAGING_RETENTION_DAYS="3", JUMPCLOUD_QUALITY_RETENTION_DAYS="30")

    assert state(dag.test(run_conf={"dry_run": True})) == "success"
    assert tree(tmp_path) == before
    assert "(dry run): would delete 5 files" in caplog.text
    caplog.clear()

    assert state(dag.test(run_conf={"dry_run": False})) == "success"  # dag.test() keeps the last conf
    deleted = set(before) - set(tree(tmp_path))
    assert deleted == {f"ecs/{loaded.key}.ndjson.gz", f"bulk/{loaded.key}.ndjson",
                       *(name for name in before if f"quality/{loaded.key}/docs/" in name)}
    out = caplog.text
    assert "deleted 5 files" in out and "kept 1 window(s) past retention" in out and not_loaded.key in out
