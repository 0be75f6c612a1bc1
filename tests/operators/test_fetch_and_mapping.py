"""Fetch and mapping operators against the emulator on loopback, called through ``execute``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_events
from airflow_provider_jumpcloud.exceptions import RetentionError
from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator, resolve_window
from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator
from airflow_provider_jumpcloud.staging import decode_mapped, iter_lines
from airflow_provider_jumpcloud.windows import Window

NOW = "2026-01-01T00:00:00Z"
KEY = "emulator-key-0c1d2e3f"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch):
    config = EmulatorConfig(seed=11, events_per_day=200_000, days=2, now=NOW, api_key=KEY)
    with EmulatorServer(config) as emu:
        monkeypatch.setenv(
            "AIRFLOW_CONN_JC_EMU", json.dumps({"conn_type": "jumpcloud", "host": emu.base_url, "password": KEY})
        )
        yield emu


def _fetch(tmp_path: Path, start: str, end: str, **kwargs) -> dict:
    op = JumpCloudToStorageOperator(
        task_id="fetch", staging_root=str(tmp_path), start=start, end=end, jumpcloud_conn_id="jc_emu",
        retention_days=9999, **kwargs,
    )
    return op.execute({})


def test_fetch_writes_every_event_of_the_lagged_window(emulator: EmulatorServer, tmp_path: Path) -> None:
    manifest = _fetch(tmp_path, "2025-12-31T10:05:00Z", "2025-12-31T10:20:00Z", lag=timedelta(minutes=5))
    assert manifest["window"] == {"start": "2025-12-31T10:00:00Z", "end": "2025-12-31T10:15:00Z"}
    expected = [e["id"] for e in expected_events(emulator.config, "2025-12-31T10:00:00Z", "2025-12-31T10:15:00Z")]
    got = [orjson.loads(line)["id"] for line in iter_lines(Path(manifest["raw_path"]))]
    assert got == expected and len(got) > 1000
    assert manifest["counts"]["fetched"] == manifest["api_count"] == len(expected)
    assert len(orjson.dumps(manifest)) < 1000  # XCom carries a manifest, never events
    assert KEY not in orjson.dumps(manifest).decode()


def test_adjacent_windows_tile_time(emulator: EmulatorServer, tmp_path: Path) -> None:
    first = _fetch(tmp_path, "2025-12-31T10:00:00Z", "2025-12-31T10:07:00Z")
    second = _fetch(tmp_path, "2025-12-31T10:07:00Z", "2025-12-31T10:15:00Z")
    ids = [orjson.loads(x)["id"] for m in (first, second) for x in iter_lines(Path(m["raw_path"]))]
    whole = [e["id"] for e in expected_events(emulator.config, "2025-12-31T10:00:00Z", "2025-12-31T10:15:00Z")]
    assert ids == whole and len(set(ids)) == len(ids)


def test_fetch_refuses_window_past_retention_before_calling_api(emulator: EmulatorServer, tmp_path: Path) -> None:
    op = JumpCloudToStorageOperator(task_id="fetch", staging_root=str(tmp_path), start="2020-01-01T00:00:00Z",
                                    end="2020-01-01T00:15:00Z", jumpcloud_conn_id="jc_emu", retention_days=15)
    before = emulator.request_count
    with pytest.raises(AirflowFailException, match="oldest fetchable time") as raised:  # no retry can help
        op.execute({})
    assert isinstance(raised.value.__cause__, RetentionError)
    assert emulator.request_count == before


def test_mapping_counts_add_up(emulator: EmulatorServer, tmp_path: Path) -> None:
    fetched = _fetch(tmp_path, "2025-12-31T11:00:00Z", "2025-12-31T11:05:00Z")
    op = JumpCloudEventsToEcsOperator(task_id="map", manifest=fetched, staging_root=str(tmp_path))
    mapped = op.execute({})
    counts = mapped["counts"]
    assert counts["read"] == fetched["counts"]["fetched"] == counts["mapped"] + counts["error_documents"]
    docs = [decode_mapped(line) for line in iter_lines(Path(mapped["ecs_path"]))]
    assert len(docs) == counts["read"]
    assert len({doc_id for doc_id, _ in docs}) == len(docs)
    assert all("event.original" not in d and d["event"]["original"] for _, d in docs)


def test_mapping_rejects_a_raw_file_that_disagrees_with_its_manifest(tmp_path: Path) -> None:
    raw = tmp_path / "raw.ndjson"
    raw.write_bytes(b'{"id":"a","timestamp":"2025-12-31T11:00:00Z"}\nnot json\n')
    manifest = {"window": Window.parse("2025-12-31T11:00:00Z", "2025-12-31T11:05:00Z").as_dict(),
                "raw_path": str(raw), "counts": {"fetched": 3}}
    with pytest.raises(RuntimeError, match="holds 2 events but fetch wrote 3"):
        JumpCloudEventsToEcsOperator(task_id="map", manifest=manifest, staging_root=str(tmp_path)).execute({})


def test_resolve_window_prefers_explicit_window() -> None:
    w = resolve_window({"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T00:15:00Z"}, None, None,
                       timedelta(minutes=5))
    assert w.key == "20250101T000000Z-20250101T001500Z"
