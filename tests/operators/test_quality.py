"""JumpCloudEcsQualityCheckOperator: thin wrapper over check_window."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError, QualityCheckFailed, StagingFileError
from airflow_provider_jumpcloud.operators.quality import JumpCloudEcsQualityCheckOperator
from airflow_provider_jumpcloud.staging import StagingLayout, read_json
from tests.conftest import ROOT
from tests.quality.factory import NAMESPACE, WINDOW, clean_doc, write_window


def mapped_manifest(tmp_path, docs, api_count=None):
    layout = StagingLayout.at(tmp_path / "staging")
    path = layout.ecs(WINDOW)
    path.parent.mkdir(parents=True)
    write_window(path, docs)
    return {
        "version": 1,
        "stage": "map",
        "window": WINDOW.as_dict(),
        "ecs_path": str(path),
        "counts": {"fetched": len(docs), "read": len(docs), "mapped": len(docs), "error_documents": 0},
        "api_count": api_count,
    }


def test_template_fields():
    assert JumpCloudEcsQualityCheckOperator.template_fields == (
        "staging_root",
        "manifest",
        "ecs_path",
        "start",
        "end",
        "namespace",
        "policy",
        "api_count",
        "events_fetched",
    )


def test_module_import_does_not_import_gx():
    code = (
        "import sys, airflow_provider_jumpcloud.operators.quality; print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_clean_window_returns_small_summary(tmp_path):
    manifest = mapped_manifest(tmp_path, [clean_doc(i) for i in range(8)], api_count=8)
    op = JumpCloudEcsQualityCheckOperator(
        task_id="quality", staging_root=str(tmp_path / "staging"), manifest=manifest, namespace=NAMESPACE
    )
    result = op.execute({})
    assert result["verdict"] == "pass"
    assert result["counts"] == {
        "documents": 8,
        "error_documents": 0,
        "fields_failed": 0,
        "duplicates": 0,
        "late": 0,
        "future": 0,
        "unknown_fields": 0,
    }
    qdir = tmp_path / "staging" / "quality" / WINDOW.key
    assert result["reports"]["summary"] == str(qdir / "summary.json")
    assert read_json(qdir / "summary.json")["completeness"]["api_count"] == 8
    assert len(repr(result)) < 1000


def test_missing_events_fail_the_task(tmp_path):
    manifest = mapped_manifest(tmp_path, [clean_doc(i) for i in range(5)], api_count=7)
    op = JumpCloudEcsQualityCheckOperator(
        task_id="quality", staging_root=str(tmp_path / "staging"), manifest=manifest, namespace=NAMESPACE
    )
    with pytest.raises(AirflowFailException, match="2 of 7 events missing") as info:
        op.execute({})
    assert isinstance(info.value.__cause__, QualityCheckFailed)
    assert info.value.__cause__.summary["verdict"] == "fail"


def test_explicit_arguments_and_policy(tmp_path):
    manifest = mapped_manifest(tmp_path, [clean_doc(i) for i in range(5)])
    op = JumpCloudEcsQualityCheckOperator(
        task_id="quality",
        staging_root=str(tmp_path / "staging"),
        ecs_path=manifest["ecs_path"],
        start=WINDOW.as_dict()["start"],
        end=WINDOW.as_dict()["end"],
        namespace="other",
        policy={"field_mismatch_rates": {"data_stream.namespace": 1.0}},
        api_count="6",
        events_fetched=5,
    )
    op.policy["min_completeness"] = 0.8
    result = op.execute({})
    assert result["verdict"] == "warn"  # namespace mismatch tolerated, 1 of 6 missing tolerated


def test_needs_a_window(tmp_path):
    op = JumpCloudEcsQualityCheckOperator(task_id="quality", staging_root=str(tmp_path), ecs_path="x")
    with pytest.raises(JumpCloudConfigError, match="manifest or both start and end"):
        op.execute({})


TASK_LOG_SCRIPT = r"""
import json, logging, sys, warnings
records = []

class Collect(logging.Handler):
    def emit(self, record):
        records.append([record.name, record.levelname, record.getMessage()])

logging.basicConfig(level=logging.INFO, handlers=[Collect()])  # INFO, as Airflow's task logs
logging.captureWarnings(True)
warnings.simplefilter("default")  # warnings would reach the task log
from tests.operators.test_quality import mapped_manifest  # noqa: E402
from tests.quality.factory import NAMESPACE, clean_doc  # noqa: E402
from pathlib import Path  # noqa: E402
from airflow_provider_jumpcloud.operators.quality import JumpCloudEcsQualityCheckOperator  # noqa: E402

tmp = Path(sys.argv[1])
manifest = mapped_manifest(tmp, [clean_doc(i) for i in range(300)], api_count=300)
records.clear()  # from here on: what the quality task itself logs, GX's import included
print("TASK-START", flush=True)
op = JumpCloudEcsQualityCheckOperator(task_id="quality", staging_root=str(tmp / "staging"), manifest=manifest,
                                      namespace=NAMESPACE)
op.execute({})
print("RECORDS" + json.dumps(records))
"""


def test_task_log_of_a_small_window_holds_only_the_projects_lines(tmp_path):
    """A fresh process (GX not imported yet), logging at INFO with warnings shown, as in a task.

    The operator logs through Airflow's structured logger (to stdout); anything else, GX included, logs
    through the standard library. Everything either writes is what the task log would hold."""
    out = subprocess.run([sys.executable, "-c", TASK_LOG_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                         check=True, cwd=str(ROOT), timeout=300)
    assert out.stderr.strip() == ""
    *printed, last = out.stdout.strip().split("TASK-START\n", 1)[1].splitlines()  # what the task itself wrote
    stdlib = json.loads(last.removeprefix("RECORDS"))
    assert [r for r in stdlib if not r[0].startswith("airflow_provider_jumpcloud.")] == []
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\dT)", "\n".join(printed))  # one entry per log call
    ours = "[airflow.task.operators.airflow_provider_jumpcloud.operators.quality."
    assert [e for e in entries if ours not in e] == []
    assert any("Quality report for" in e and "Quality of [2023-01-14T08:00:00Z" in e for e in entries)
    assert len(entries) + len(stdlib) <= 5  # progress and one summary, not hundreds of lines


def _quality_op(tmp_path, manifest):
    return JumpCloudEcsQualityCheckOperator(task_id="quality", staging_root=str(tmp_path / "staging"),
                                            manifest=manifest, namespace=NAMESPACE)


def test_truncated_gzip_fails_naming_window_file_and_line(tmp_path):
    manifest = mapped_manifest(tmp_path, [clean_doc(i) for i in range(2000)], api_count=2000)
    path = manifest["ecs_path"]
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(AirflowFailException) as info:
        _quality_op(tmp_path, manifest).execute({})
    message = str(info.value)
    assert f"window {WINDOW}" in message and f"file {path}, line " in message
    assert "gzip" in message
    line = int(re.search(r"line (\d+)\)", message).group(1))
    assert 1 < line < 2000  # the line being read when the data ended
    assert not (tmp_path / "staging" / "quality" / WINDOW.key / "summary.json").exists()


def test_broken_line_fails_naming_window_file_and_line(tmp_path):
    manifest = mapped_manifest(tmp_path, [clean_doc(i) for i in range(5)], api_count=6)
    path = manifest["ecs_path"]
    lines = gzip.decompress(Path(path).read_bytes()).splitlines(keepends=True)
    lines.insert(3, b'{"_id": "x", "_source": {"event": \n')  # line 4 is cut short
    with open(path, "wb") as f:
        f.write(gzip.compress(b"".join(lines)))
    with pytest.raises(AirflowFailException) as info:
        _quality_op(tmp_path, manifest).execute({})
    message = str(info.value)
    assert f"window {WINDOW}" in message and f"file {path}, line 4)" in message and "not JSON" in message
    assert isinstance(info.value.__cause__, StagingFileError) and info.value.__cause__.line == 4


def test_task_log_ends_with_the_reports_path(tmp_path):
    manifest = mapped_manifest(tmp_path, [clean_doc(i) for i in range(4)], api_count=4)
    op = _quality_op(tmp_path, manifest)
    messages = []
    op.log.info = lambda msg, *args: messages.append(msg % args)  # type: ignore[method-assign]
    result = op.execute({})
    assert messages[-1].endswith(f"{result['reports']['data_docs']} (summary: {result['reports']['summary']})")
