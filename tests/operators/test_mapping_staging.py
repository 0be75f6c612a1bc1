"""The map operator verifies the raw file against its fetch manifest and names corrupt files and lines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import StagingFileError
from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator
from airflow_provider_jumpcloud.staging import CheckedFile, StagingLayout, as_path, iter_lines, write_ndjson
from airflow_provider_jumpcloud.windows import Window

W = Window.parse("2025-12-31T11:00:00Z", "2025-12-31T11:05:00Z")
EVENTS = [orjson.dumps({"id": f"{i:024x}", "timestamp": "2025-12-31T11:00:01Z", "service": "directory",
                        "event_type": "user_login_attempt", "n": i}) for i in range(3000)]


def _fetched(tmp_path: Path) -> dict:
    layout = StagingLayout.at(tmp_path)
    count, written = write_ndjson(layout.raw(W), EVENTS)
    return {"window": W.as_dict(), "raw_path": written.path, "sha256": written.sha256, "bytes": written.size,
            "counts": {"fetched": count}}


def _map(tmp_path: Path, manifest: dict) -> dict:
    return JumpCloudEventsToEcsOperator(task_id="map", manifest=manifest, staging_root=str(tmp_path)).execute({})


def test_map_manifest_carries_the_ecs_files_size_and_sha256(tmp_path: Path) -> None:
    mapped = _map(tmp_path, _fetched(tmp_path))
    ecs = CheckedFile(as_path(mapped["ecs_path"]), mapped["bytes"], mapped["sha256"])
    assert sum(1 for _ in iter_lines(ecs)) == mapped["counts"]["read"] == len(EVENTS)


def test_a_raw_file_changed_after_fetch_fails_naming_file_and_window(tmp_path: Path) -> None:
    fetched = _fetched(tmp_path)
    raw = Path(fetched["raw_path"])
    data = bytearray(raw.read_bytes())
    data[4] ^= 0x01  # the gzip header's MTIME: still decodes, other bytes of the same size
    raw.write_bytes(bytes(data))
    with pytest.raises(AirflowFailException) as raised:
        _map(tmp_path, fetched)
    message = str(raised.value)
    assert "differs from its manifest" in message and str(raw) in message and str(W) in message
    assert isinstance(raised.value.__cause__, StagingFileError)
    assert not StagingLayout.at(tmp_path).ecs(W).exists()


def test_a_truncated_raw_file_fails_naming_file_line_and_window(tmp_path: Path) -> None:
    fetched = _fetched(tmp_path)
    raw = Path(fetched["raw_path"])
    raw.write_bytes(raw.read_bytes()[: fetched["bytes"] // 2])
    del fetched["sha256"]  # an older manifest without a checksum: the gzip stream itself is checked
    with pytest.raises(AirflowFailException) as raised:
        _map(tmp_path, fetched)
    cause = raised.value.__cause__
    assert isinstance(cause, StagingFileError) and cause.path == str(raw) and cause.line and cause.line > 1
    assert f"{raw}, line {cause.line}" in str(raised.value) and str(W) in str(raised.value)
    assert not StagingLayout.at(tmp_path).ecs(W).exists()


def test_a_size_that_disagrees_with_the_manifest_fails_before_reading(tmp_path: Path) -> None:
    fetched = _fetched(tmp_path)
    fetched["bytes"] += 1
    with pytest.raises(AirflowFailException, match="but its manifest recorded"):
        _map(tmp_path, fetched)
