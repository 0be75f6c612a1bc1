"""The raw archive: choosing raw windows that do not overlap, batching them, plan files, verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from airflow_provider_jumpcloud.archive import ArchiveError, plan_archive, read_batch, verify_part, write_batch
from airflow_provider_jumpcloud.staging import StagingLayout, iter_lines, manifest, path_str, write_json, write_ndjson
from airflow_provider_jumpcloud.windows import Window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Q = timedelta(minutes=15)


def stage(layout: StagingLayout, window: Window, events: int, api_count: int | None = None) -> None:
    """Write a raw window and its manifest the way the fetch task does."""
    lines = (orjson.dumps({"id": f"{window.key}-{i}"}) for i in range(events))
    fetched, written = write_ndjson(layout.raw(window), lines)
    write_json(layout.raw_manifest(window), manifest(
        "fetch", window, raw_path=path_str(layout.raw(window)), sha256=written.sha256, bytes=written.size,
        counts={"fetched": fetched}, api_count=events if api_count is None else api_count, services=["all"]))


def quarter(i: int) -> Window:
    return Window(T0 + i * Q, T0 + (i + 1) * Q)


@pytest.fixture
def layout(tmp_path: Path) -> StagingLayout:
    return StagingLayout.at(tmp_path)


def test_batches_consecutive_windows_up_to_max_events(layout: StagingLayout) -> None:
    for i in range(8):
        stage(layout, quarter(i), 100)
    plan = plan_archive(layout, Window(T0, T0 + 8 * Q), max_events=250)
    assert [len(b.parts) for b in plan.batches] == [2, 2, 2, 2]
    assert [b.window for b in plan.batches] == [Window(T0 + 2 * i * Q, T0 + (2 * i + 2) * Q) for i in range(4)]
    assert plan.events == 800 and plan.gaps == [] and plan.skipped == []


def test_only_windows_overlapping_the_range(layout: StagingLayout) -> None:
    for i in range(8):
        stage(layout, quarter(i), 10)
    plan = plan_archive(layout, Window(T0 + 2 * Q + timedelta(minutes=5), T0 + 4 * Q), max_events=1000)
    (batch,) = plan.batches
    assert [p.window for p in batch.parts] == [quarter(2), quarter(3)]


def test_overlapping_windows_are_read_once(layout: StagingLayout) -> None:
    for i in range(4):
        stage(layout, quarter(i), 10)  # the scheduled DAG's windows
    stage(layout, Window(T0, T0 + 2 * Q), 20)  # a range backfill's sub-window over the same time
    plan = plan_archive(layout, Window(T0, T0 + 4 * Q), max_events=1000)
    (batch,) = plan.batches
    assert [p.window for p in batch.parts] == [Window(T0, T0 + 2 * Q), quarter(2), quarter(3)]
    assert sorted(plan.skipped) == [quarter(0), quarter(1)]
    assert batch.events == 40


def test_gaps_are_reported(layout: StagingLayout) -> None:
    stage(layout, quarter(1), 5)
    stage(layout, quarter(3), 5)
    plan = plan_archive(layout, Window(T0, T0 + 5 * Q), max_events=1000)
    assert plan.gaps == [quarter(0), quarter(2), quarter(4)]


def test_api_counts_add_up_or_stay_unknown(layout: StagingLayout) -> None:
    stage(layout, quarter(0), 5, api_count=7)
    stage(layout, quarter(1), 5, api_count=6)
    (batch,) = plan_archive(layout, Window(T0, T0 + 2 * Q), max_events=1000).batches
    assert (batch.events, batch.api_count) == (10, 13)


def test_plan_file_round_trips_and_lines_chain_in_order(layout: StagingLayout) -> None:
    for i in range(3):
        stage(layout, quarter(i), 3)
    (batch,) = plan_archive(layout, Window(T0, T0 + 3 * Q), max_events=1000).batches
    path = write_batch(layout, "range-key", batch)
    again = read_batch(Path(path))
    assert again == batch
    ids = [orjson.loads(line)["id"] for line in iter_lines([Path(p.raw_path) for p in again.parts])]
    assert ids == [f"{quarter(i).key}-{n}" for i in range(3) for n in range(3)]


def test_verify_catches_changed_and_missing_files(layout: StagingLayout) -> None:
    stage(layout, quarter(0), 3)
    (batch,) = plan_archive(layout, quarter(0), max_events=1000).batches
    (part,) = batch.parts
    verify_part(part, Path(part.raw_path))
    Path(part.raw_path).write_bytes(Path(part.raw_path).read_bytes()[:-4])
    with pytest.raises(ArchiveError, match="differs from its manifest"):
        verify_part(part, Path(part.raw_path))
    Path(part.raw_path).unlink()
    with pytest.raises(ArchiveError, match="missing from the archive"):
        verify_part(part, Path(part.raw_path))


def test_empty_archive_plans_nothing(layout: StagingLayout) -> None:
    plan = plan_archive(layout, Window(T0, T0 + Q), max_events=10)
    assert plan.batches == [] and plan.gaps == [Window(T0, T0 + Q)]
