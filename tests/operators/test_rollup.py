"""JumpCloudQualityRollupOperator: thin wrapper over build_rollup (the final task of a range backfill)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.operators.rollup import JumpCloudQualityRollupOperator
from airflow_provider_jumpcloud.quality.rollup import range_dir
from airflow_provider_jumpcloud.staging import StagingLayout, read_json
from airflow_provider_jumpcloud.windows import Window
from tests.quality.factory import WINDOW
from tests.quality.rollup_factory import one_report


def test_template_fields() -> None:
    assert JumpCloudQualityRollupOperator.template_fields == ("staging_root", "start", "end", "day_of", "out_dir")


def test_range_rollup_goes_under_quality_ranges(tmp_path: Path) -> None:
    layout = StagingLayout.at(tmp_path / "staging")
    summary = one_report(tmp_path / "src")
    shutil.copytree(summary.parent, layout.quality_dir(WINDOW))
    op = JumpCloudQualityRollupOperator(task_id="quality_report", staging_root=str(layout.root),
                                        start="2023-01-14T00:00:00Z", end="2023-01-15T00:00:00Z")
    messages: list[str] = []
    op.log.info = lambda msg, *args: messages.append(msg % args)  # type: ignore[method-assign]
    result = op.execute({})
    out = range_dir(layout, Window.parse("2023-01-14T00:00:00Z", "2023-01-15T00:00:00Z"))
    assert result["reports"]["page"] == str(out / "index.html")
    assert result["totals"] == {k: read_json(out / "rollup.json")["totals"][k] for k in result["totals"]}
    assert result["totals"]["windows"] == 1 and result["totals"]["gaps"] == 2  # before and after the hour
    assert messages[0].startswith("Quality roll-up of [2023-01-14T00:00:00Z, 2023-01-15T00:00:00Z):\n")
    assert len(messages[0].splitlines()) == 7 and messages[-1] == f"Quality roll-up page: {out / 'index.html'}"
    assert len(repr(result)) < 1500


def test_a_bad_range_fails_without_retry(tmp_path: Path) -> None:
    op = JumpCloudQualityRollupOperator(task_id="quality_report", staging_root=str(tmp_path),
                                        start="2023-01-15T00:00:00Z", end="2023-01-14T00:00:00Z")
    with pytest.raises(AirflowFailException, match=r"quality roll-up: window start .* must be before end"):
        op.execute({})
    with pytest.raises(AirflowFailException, match="give the range as start and end"):
        JumpCloudQualityRollupOperator(task_id="q", staging_root=str(tmp_path)).execute({})
