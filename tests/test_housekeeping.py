"""Staging retention on real staging trees: exact deleted and kept sets, dry runs, leftovers, object storage."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.housekeeping import (
    DEFAULT_RAW_RETENTION_DAYS,
    RetentionPolicy,
    clean_staging,
)
from airflow_provider_jumpcloud.staging import (
    StagingLayout,
    encode_mapped,
    manifest,
    path_str,
    write_json,
    write_ndjson,
)
from airflow_provider_jumpcloud.windows import RETENTION_DAYS_CHOICES, Window

NOW = datetime(2026, 6, 1, tzinfo=UTC)
Q = timedelta(minutes=15)
POLICY = RetentionPolicy(staging_days=7, quality_days=400, raw_days=90)


def window(days_ago: float, length: timedelta = Q, now: datetime = NOW) -> Window:
    end = now - timedelta(days=days_ago)
    return Window(end - length, end)


def stage_raw(layout: StagingLayout, w: Window, events: int = 3) -> None:
    """Raw window and its manifest, as the fetch task writes them."""
    fetched, written = write_ndjson(layout.raw(w), (orjson.dumps({"id": f"{w.key}-{i}"}) for i in range(events)))
    write_json(layout.raw_manifest(w), manifest(
        "fetch", w, raw_path=path_str(layout.raw(w)), sha256=written.sha256, bytes=written.size,
        counts={"fetched": fetched}, api_count=fetched, services=["all"]))


def stage_processed(layout: StagingLayout, w: Window, *, load: str | None = "ok", docs: bool = True,
                    events: int = 3) -> None:
    """ECS, quality reports, bulk file and load summary of a window; ``load`` None: the load never ran."""
    write_ndjson(layout.ecs(w), (encode_mapped(f"id{i}", {"a": i}).rstrip() for i in range(events)))
    qdir = layout.quality_dir(w)
    if docs:
        write_ndjson(qdir / "docs" / "validations" / "run" / "page.html", [b"<html/>"])
        write_ndjson(qdir / "docs" / "static" / "styles" / "x.css", [b"body{}"])
        write_ndjson(qdir / "docs" / "index.html", [b"<html/>"])
    write_ndjson(qdir / "summary.txt", [b"table"])
    write_json(qdir / "summary.json", {"window": w.as_dict(), "verdict": "pass"})
    write_ndjson(layout.bulk(w), (b'{"create":{}}', b"{}"))
    if load is None:
        return
    dead = 1 if load == "dead" else 0
    counts = {"read": events, "indexed": events - dead, "already_present": 0, "dead_lettered": dead}
    if load == "unbalanced":
        counts["indexed"] += 5
    if dead:
        write_ndjson(layout.dead_letter(w), [b'{"_id": "id0"}'])
    write_json(layout.load_summary(w), {"window": w.as_dict(), "counts": counts})


def age_everything(root: Path, seconds: float = 7200, now: datetime = NOW) -> None:
    """Make every file look written ``seconds`` before ``now`` (the sweep keeps files changed in the last hour)."""
    stamp = now.timestamp() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (stamp, stamp))


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def files_of(w: Window, files: dict[str, int]) -> set[str]:
    return {name for name in files if w.key in name}


@pytest.fixture
def layout(tmp_path: Path) -> StagingLayout:
    return StagingLayout.at(tmp_path)


class TestPolicy:
    def test_defaults(self) -> None:
        policy = RetentionPolicy.from_env({})
        assert (policy.staging_days, policy.quality_days, policy.raw_days) == (7, 400, 90)
        assert max(RETENTION_DAYS_CHOICES) == DEFAULT_RAW_RETENTION_DAYS
        assert policy.load_days == 400

    def test_from_env(self) -> None:
        policy = RetentionPolicy.from_env({"JUMPCLOUD_STAGING_RETENTION_DAYS": "3",
                                           "JUMPCLOUD_QUALITY_RETENTION_DAYS": " 30 ",
                                           "JUMPCLOUD_RAW_RETENTION_DAYS": "800"})
        assert (policy.staging_days, policy.quality_days, policy.raw_days, policy.load_days) == (3, 30, 800, 800)

    @pytest.mark.parametrize("value", ["seven", "0", "-2", "1.5"])
    def test_bad_env_value_names_the_variable(self, value: str) -> None:
        with pytest.raises(JumpCloudConfigError, match=f"JUMPCLOUD_RAW_RETENTION_DAYS='{value}'"):
            RetentionPolicy.from_env({"JUMPCLOUD_RAW_RETENTION_DAYS": value})

    def test_bad_argument(self) -> None:
        with pytest.raises(JumpCloudConfigError, match="staging_days"):
            RetentionPolicy(staging_days=0)


def test_exact_deleted_and_kept_sets(layout: StagingLayout, tmp_path: Path) -> None:
    young, week_ok, week_missing, week_dead, week_unbalanced = (
        window(1), window(10), window(10.5), window(11), window(11.5))
    old_ok, old_missing, ancient_ok = window(100), window(101), window(500)
    for w in (young, week_ok, week_missing, week_dead, week_unbalanced, old_ok, old_missing, ancient_ok):
        stage_raw(layout, w)
    stage_processed(layout, young)
    stage_processed(layout, week_ok)
    stage_processed(layout, week_missing, load=None)
    stage_processed(layout, week_dead, load="dead")
    stage_processed(layout, week_unbalanced, load="unbalanced")
    stage_processed(layout, old_ok)
    stage_processed(layout, old_missing, load=None)
    stage_processed(layout, ancient_ok)
    age_everything(tmp_path)
    before = tree(tmp_path)

    report = clean_staging(tmp_path, POLICY, now=NOW)

    after = tree(tmp_path)
    deleted = set(before) - set(after)
    week_gone = {f"ecs/{week_ok.key}.ndjson.gz", f"bulk/{week_ok.key}.ndjson",
                 *(n for n in files_of(week_ok, before) if "/docs/" in n)}
    old_gone = {f"ecs/{old_ok.key}.ndjson.gz", f"bulk/{old_ok.key}.ndjson", f"raw/{old_ok.key}.ndjson.gz",
                f"raw/{old_ok.key}.manifest.json", *(n for n in files_of(old_ok, before) if "/docs/" in n)}
    assert deleted == week_gone | old_gone | files_of(ancient_ok, before)
    assert {f"quality/{week_ok.key}/summary.json", f"load/{old_ok.key}.json",
            f"quality/{old_ok.key}/summary.txt"} <= set(after)
    assert not (tmp_path / "quality" / ancient_ok.key).exists()  # empty local folders go too
    assert not (tmp_path / "quality" / week_ok.key / "docs").exists()
    for kept in (young, week_missing, week_dead, week_unbalanced, old_missing):
        assert files_of(kept, before) <= set(after), kept
    assert set(report.not_loaded) == {week_missing.key, week_dead.key, week_unbalanced.key, old_missing.key}
    assert report.not_loaded[week_missing.key] == "no load summary"
    assert report.dead_letter_files == 1 and report.problems == 1
    assert "read 3 != indexed 8" in report.examples[0]
    assert report.files == len(deleted)
    assert report.bytes == sum(before[name] for name in deleted)
    by_stage = {stage: t.files for stage, t in report.deleted.items()}
    assert by_stage == {"ecs": 3, "bulk": 3, "plans": 0, "quality-docs": 6, "quality": 5, "raw": 4, "load": 1,
                        "tmp": 0}
    assert "kept 4 window(s) past retention" in report.summary()

    # A second sweep finds nothing more to do.
    again = clean_staging(tmp_path, POLICY, now=NOW)
    assert again.files == 0 and tree(tmp_path) == after


def test_dry_run_deletes_nothing_and_reports_what_a_run_would(layout: StagingLayout, tmp_path: Path) -> None:
    for days in (1, 10, 100, 500):
        stage_raw(layout, window(days))
        stage_processed(layout, window(days))
    stage_processed(layout, window(20), load=None)
    age_everything(tmp_path)
    before = tree(tmp_path)
    dry = clean_staging(tmp_path, POLICY, now=NOW, dry_run=True)
    assert tree(tmp_path) == before
    real = clean_staging(tmp_path, POLICY, now=NOW)
    assert dry.dry_run and not real.dry_run
    assert dry.as_dict()["deleted"] == real.as_dict()["deleted"]
    assert dry.files == real.files > 0 and dry.not_loaded == real.not_loaded
    assert "(dry run): would delete" in dry.summary()


def test_raw_windows_covered_by_a_range_remap_are_deleted(layout: StagingLayout, tmp_path: Path) -> None:
    # Four 15-minute raw windows, re-mapped by an archive run as one 30-minute sub-window plus one of their own;
    # the fourth is only half covered by a loaded window.
    base = window(200).start
    parts = [Window(base + i * Q, base + (i + 1) * Q) for i in range(4)]
    for part in parts:
        stage_raw(layout, part)
    batch = Window(parts[0].start, parts[1].end)
    stage_processed(layout, batch)
    stage_processed(layout, parts[2])
    stage_processed(layout, Window(parts[3].start, parts[3].start + timedelta(minutes=5)))
    age_everything(tmp_path)
    report = clean_staging(tmp_path, POLICY, now=NOW)
    raw_left = {p.name for p in (tmp_path / "raw").iterdir()}
    assert raw_left == {f"{parts[3].key}.ndjson.gz", f"{parts[3].key}.manifest.json"}
    assert set(report.not_loaded) == {parts[3].key}
    assert report.deleted["raw"].files == 6


def test_a_raw_window_whose_batch_load_failed_is_kept(layout: StagingLayout, tmp_path: Path) -> None:
    base = window(200).start
    parts = [Window(base + i * Q, base + (i + 1) * Q) for i in range(2)]
    for part in parts:
        stage_raw(layout, part)
    stage_processed(layout, Window(parts[0].start, parts[1].end), load="dead")
    age_everything(tmp_path)
    before = tree(tmp_path)
    clean_staging(tmp_path, POLICY, now=NOW)
    assert tree(tmp_path) == before


def test_leftovers_of_an_interrupted_sweep_and_of_killed_tasks(layout: StagingLayout, tmp_path: Path) -> None:
    orphan_raw, orphan_manifest, fresh = window(120), window(121), window(122)
    for w in (orphan_raw, orphan_manifest, fresh):
        stage_raw(layout, w)
        stage_processed(layout, w)
    (tmp_path / "raw" / f"{orphan_raw.key}.manifest.json").unlink()  # a sweep stopped between the two unlinks
    (tmp_path / "raw" / f"{orphan_manifest.key}.ndjson.gz").unlink()
    old_tmp = [tmp_path / d / f".x.ndjson.gz.tmp-{uuid.uuid4().hex}" for d in ("raw", "ecs", "load", "dead-letter")]
    for path in old_tmp:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"partial")
    age_everything(tmp_path)
    recent_tmp = tmp_path / "ecs" / f".y.ndjson.gz.tmp-{uuid.uuid4().hex}"
    recent_tmp.write_bytes(b"being written")
    stamp = NOW.timestamp() - 600  # ten minutes ago: a run is rewriting this old window
    os.utime(layout.ecs(fresh), (stamp, stamp))
    os.utime(layout.raw(fresh), (stamp, stamp))

    report = clean_staging(tmp_path, POLICY, now=NOW)

    left = tree(tmp_path)
    assert not any(".tmp-" in name for name in left if "/.y." not in name)
    assert recent_tmp.exists()
    assert report.deleted["tmp"].files == 4
    assert f"raw/{orphan_raw.key}.ndjson.gz" not in left and f"raw/{orphan_manifest.key}.manifest.json" not in left
    assert {f"ecs/{fresh.key}.ndjson.gz", f"raw/{fresh.key}.ndjson.gz"} <= set(left)
    assert f"raw/{fresh.key}.manifest.json" in left  # never a raw file without its manifest
    assert report.recent_files == 3  # the ecs and raw files being rewritten, and the new temporary file


def test_unrecognised_entries_are_left_and_counted(layout: StagingLayout, tmp_path: Path) -> None:
    w = window(500)
    stage_raw(layout, w)
    stage_processed(layout, w)
    strangers = [tmp_path / "ecs" / "notes.txt", tmp_path / "raw" / f"{w.key}.ndjson.gz.bak",
                 tmp_path / "quality" / "not-a-window", tmp_path / "load" / "20260101T000000Z.json"]
    for path in strangers:
        path.write_bytes(b"mine")
    replay_rejects = tmp_path / "bulk" / f"{w.key}.dead-letter.ndjson"
    replay_rejects.write_bytes(b"{}")
    age_everything(tmp_path)
    report = clean_staging(tmp_path, POLICY, now=NOW)
    assert all(path.exists() for path in strangers) and replay_rejects.exists()
    assert report.unrecognised == len(strangers) and report.dead_letter_files == 1
    assert files_of(w, tree(tmp_path)) == {f"bulk/{w.key}.dead-letter.ndjson", f"raw/{w.key}.ndjson.gz.bak"}


def test_a_corrupt_load_summary_keeps_its_window(layout: StagingLayout, tmp_path: Path) -> None:
    w = window(30)
    stage_processed(layout, w)
    layout.load_summary(w).write_bytes(b"{not json")
    age_everything(tmp_path)
    report = clean_staging(tmp_path, POLICY, now=NOW)
    assert layout.ecs(w).exists()
    assert report.problems == 1 and "is unreadable" in report.examples[0] and w.key in report.not_loaded


def test_plans_of_archive_runs(layout: StagingLayout, tmp_path: Path) -> None:
    done, failed = window(30), window(31)
    for w in (done, failed):
        write_json(layout.archive_plan("run-1", w), {"window": w.as_dict(), "parts": []})
    stage_processed(layout, done)
    stage_processed(layout, failed, load=None)
    age_everything(tmp_path)
    report = clean_staging(tmp_path, POLICY, now=NOW)
    assert not layout.archive_plan("run-1", done).exists() and layout.archive_plan("run-1", failed).exists()
    assert report.deleted["plans"].files == 1


def test_object_storage_root(tmp_path: Path) -> None:
    from upath import UPath

    root = UPath(f"memory:///housekeeping-{uuid.uuid4().hex}")
    layout = StagingLayout(root)
    now = datetime.now(UTC) + timedelta(hours=2)  # memory files carry their creation time: two hours "ago"
    loaded, missing = window(100, now=now), window(100.5, now=now)
    for w in (loaded, missing):
        stage_raw(layout, w)
    stage_processed(layout, loaded)
    stage_processed(layout, missing, load=None)
    (root / "ecs" / f".z.ndjson.gz.tmp-{uuid.uuid4().hex}").write_bytes(b"partial")
    report = clean_staging(root, POLICY, now=now)
    names = {path.path.removeprefix(root.path + "/") for path in root.rglob("*") if path.is_file()}
    assert not any(loaded.key in name and ("ecs/" in name or "raw/" in name or "docs/" in name) for name in names)
    assert {f"load/{loaded.key}.json", f"quality/{loaded.key}/summary.json"} <= names
    assert {f"raw/{missing.key}.ndjson.gz", f"ecs/{missing.key}.ndjson.gz"} <= names
    assert report.deleted["tmp"].files == 1 and report.deleted["raw"].files == 2
    root.fs.rm(root.path, recursive=True)


def test_summary_counts_bytes(layout: StagingLayout, tmp_path: Path) -> None:
    w = window(10)
    stage_processed(layout, w)
    age_everything(tmp_path)
    report = clean_staging(tmp_path, POLICY, now=NOW)
    data: dict[str, Any] = report.as_dict()
    assert data["files"] == report.files == 5 and data["bytes"] == report.bytes > 0
    assert report.summary().splitlines()[0].endswith(f"deleted 5 files, {report.bytes} B")


def test_a_temporary_file_a_live_writer_holds_is_kept(layout: StagingLayout, tmp_path: Path) -> None:
    import fcntl

    folder = tmp_path / "ecs"
    folder.mkdir()
    held = folder / f".a.ndjson.gz.tmp-{uuid.uuid4().hex}"
    with open(held, "wb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        age_everything(tmp_path)
        report = clean_staging(tmp_path, POLICY, now=NOW)
        assert held.exists() and report.deleted["tmp"].files == 0
    report = clean_staging(tmp_path, POLICY, now=NOW)  # the writer is gone: now it is an orphan
    assert not held.exists() and report.deleted["tmp"].files == 1
