"""The raw archive: staged raw windows with their fetch manifests, chosen and batched to re-map a range.

Every fetch leaves ``raw/<window>.ndjson.gz`` and, after it, ``raw/<window>.manifest.json`` (counts and
SHA-256). Re-mapping a range (after a mapping upgrade, for a new cluster or a lost index, also older than
the API's retention) reads those files and makes no API call. Raw windows may overlap (the scheduled DAG's
15-minute windows and a range backfill's longer sub-windows of the same time), so a set of windows that do
not overlap is chosen first, then consecutive windows are batched into sub-windows of about
``max_events`` events. No Airflow import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.staging import StagingLayout, file_digest, path_str, read_json, write_json
from airflow_provider_jumpcloud.windows import Window


class ArchiveError(JumpCloudConfigError):
    """A raw window of the archive is missing, or differs from what its manifest recorded."""


@dataclass(frozen=True)
class RawPart:
    """One staged raw window as its fetch manifest describes it."""

    window: Window
    raw_path: str
    sha256: str
    bytes: int
    fetched: int
    api_count: int | None

    @classmethod
    def from_manifest(cls, data: dict[str, Any], raw_path: str | None = None) -> RawPart:
        """Read the fields of a fetch manifest; ``raw_path`` overrides the path it recorded."""
        counts = data.get("counts") or {}
        return cls(
            window=Window.from_dict(data["window"]),
            raw_path=raw_path or str(data["raw_path"]),
            sha256=str(data["sha256"]),
            bytes=int(data["bytes"]),
            fetched=int(counts["fetched"]),
            api_count=None if data.get("api_count") is None else int(data["api_count"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the form stored in an archive plan file."""
        return {"window": self.window.as_dict(), "raw_path": self.raw_path, "sha256": self.sha256,
                "bytes": self.bytes, "counts": {"fetched": self.fetched}, "api_count": self.api_count}


@dataclass(frozen=True)
class ArchiveBatch:
    """Consecutive raw windows re-mapped as one sub-window spanning them."""

    parts: tuple[RawPart, ...]

    @property
    def window(self) -> Window:
        """From the first part's start to the last part's end."""
        return Window(self.parts[0].window.start, self.parts[-1].window.end)

    @property
    def events(self) -> int:
        """Events the parts' fetches wrote."""
        return sum(part.fetched for part in self.parts)

    @property
    def api_count(self) -> int | None:
        """The API's counts of the parts added up, or None when a part has none."""
        counts = [part.api_count for part in self.parts]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


@dataclass
class ArchivePlan:
    """The batches to re-map for a range, and what the archive could not give."""

    batches: list[ArchiveBatch] = field(default_factory=list)
    #: raw windows left out because they overlap a chosen one (the same events again)
    skipped: list[Window] = field(default_factory=list)
    #: stretches of the range no chosen raw window covers
    gaps: list[Window] = field(default_factory=list)

    @property
    def events(self) -> int:
        """Events in every batch."""
        return sum(batch.events for batch in self.batches)


def _choose(windows: Iterable[tuple[Window, Any]]) -> tuple[list[tuple[Window, Any]], list[Window]]:
    """Pick windows that do not overlap, earliest first (the longer of two starting together)."""
    chosen: list[tuple[Window, Any]] = []
    skipped: list[Window] = []
    for window, path in sorted(windows, key=lambda item: (item[0].start, -item[0].end.timestamp())):
        if chosen and window.start < chosen[-1][0].end:
            skipped.append(window)
        else:
            chosen.append((window, path))
    return chosen, skipped


def _gaps(span: Window, covered: list[Window]) -> list[Window]:
    gaps = []
    cursor = span.start
    for window in covered:
        if window.start > cursor:
            gaps.append(Window(cursor, min(window.start, span.end)))
        cursor = max(cursor, window.end)
    if cursor < span.end:
        gaps.append(Window(cursor, span.end))
    return gaps


def _batches(parts: list[RawPart], max_events: int) -> Iterator[ArchiveBatch]:
    batch: list[RawPart] = []
    events = 0
    for part in parts:
        if batch and events + part.fetched > max_events:
            yield ArchiveBatch(tuple(batch))
            batch, events = [], 0
        batch.append(part)
        events += part.fetched
    if batch:
        yield ArchiveBatch(tuple(batch))


def plan_archive(layout: StagingLayout, window: Window, *, max_events: int) -> ArchivePlan:
    """Choose the raw windows overlapping ``window`` and batch them into sub-windows of ``max_events``."""
    if max_events <= 0:
        raise JumpCloudConfigError(f"max_events must be positive, got {max_events}")
    chosen, skipped = _choose((w, path) for w, path in layout.raw_manifests() if w.overlaps(window))
    # The raw file is read where the layout puts it, not where the manifest says it was written: a staging
    # root that was copied or moved (another bucket, a restored backup) still re-maps its own files.
    parts = [RawPart.from_manifest(read_json(path), path_str(layout.raw(w))) for w, path in chosen]
    return ArchivePlan(
        batches=list(_batches(parts, max_events)),
        skipped=skipped,
        gaps=_gaps(window, [w for w, _path in chosen]),
    )


def write_batch(layout: StagingLayout, plan_key: str, batch: ArchiveBatch) -> str:
    """Write the plan file of one batch (its parts) and return its path, for the sub-window's tasks."""
    target = layout.archive_plan(plan_key, batch.window)
    write_json(target, {"window": batch.window.as_dict(), "parts": [part.as_dict() for part in batch.parts]})
    return path_str(target)


def read_batch(path: Any) -> ArchiveBatch:
    """Read a batch's plan file back."""
    data = read_json(path)
    parts = tuple(RawPart.from_manifest(part) for part in data["parts"])
    if not parts:
        raise ArchiveError(f"archive plan {path_str(path)} lists no raw windows")
    return ArchiveBatch(parts)


def verify_part(part: RawPart, path: Any) -> None:
    """Raise ArchiveError unless the raw file at ``path`` has the size and SHA-256 its manifest recorded."""
    try:
        size, sha256 = file_digest(path)
    except FileNotFoundError:
        raise ArchiveError(f"raw window {part.window} is missing from the archive: {part.raw_path}") from None
    if size != part.bytes or sha256 != part.sha256:
        raise ArchiveError(
            f"raw window {part.window} in {part.raw_path} differs from its manifest ({size} bytes, SHA-256 "
            f"{sha256[:16]}..., recorded {part.bytes} bytes, {part.sha256[:16]}...): the file was "
            "changed or truncated after its fetch; fetch the window again from the API if it is in retention"
        )
