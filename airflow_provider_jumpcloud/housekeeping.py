"""Staging retention: delete old staging files stage by stage, never those of a window not yet loaded.

A window's files are deleted once the window ended more than its stage's retention ago, and only when its
load succeeded: ``load/<window>.json`` exists, its counts add up and nothing was dead-lettered. So a window
whose load failed, or left dead letters, keeps everything it needs to be loaded again.

* ``ecs/``, ``bulk/``, ``plans/`` and the quality Data Docs (``quality/<window>/docs/``): ``staging_days``.
* ``quality/<window>/`` (``summary.json``, ``summary.txt``): ``quality_days``, for reports.
* ``raw/`` (the archive): ``raw_days``; a raw window goes when the loaded windows cover it (a range re-map
  loads several raw windows under one sub-window), its manifest first so the archive never lists a raw file
  that is gone.
* ``load/`` summaries: the longest of the three, since they are what allows every other deletion.
* ``dead-letter/`` files and the replay's ``*.dead-letter.ndjson``: never (documents not in Elasticsearch).
* Orphaned ``.*.tmp-*`` files older than ``tmp_max_age`` (a killed task's leftovers), in any stage.

A file modified less than ``tmp_max_age`` ago is never deleted (a run is working on that window). Names the
staging layout does not produce are left alone and counted. Directories are read one at a time with
``iterdir``/``stat``/``unlink`` only, so ``pathlib.Path``, ``ObjectStoragePath`` and ``UPath`` roots work.
No Airflow import.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_jumpcloud.atomic_files import TMP_INFIX, local_path, remove_orphans
from airflow_provider_jumpcloud.exceptions import (
    InvalidWindowError,
    JumpCloudConfigError,
    JumpCloudError,
    StagingFileError,
)
from airflow_provider_jumpcloud.staging import (
    QUALITY_DOCS,
    QUALITY_DOCS_INDEX,
    QUALITY_SUMMARY,
    StagingLayout,
    as_path,
    path_str,
    read_json,
)
from airflow_provider_jumpcloud.windows import RETENTION_DAYS_CHOICES, Window, to_utc

log = logging.getLogger(__name__)

STAGING_RETENTION_ENV = "JUMPCLOUD_STAGING_RETENTION_DAYS"
QUALITY_RETENTION_ENV = "JUMPCLOUD_QUALITY_RETENTION_DAYS"
RAW_RETENTION_ENV = "JUMPCLOUD_RAW_RETENTION_DAYS"
DEFAULT_STAGING_RETENTION_DAYS = 7
DEFAULT_QUALITY_RETENTION_DAYS = 400
#: Raw windows are the only copy of events older than the API's retention: keep them at least that long.
DEFAULT_RAW_RETENTION_DAYS = max(RETENTION_DAYS_CHOICES)
#: Age after which a ``.*.tmp-*`` file is a killed writer's leftover, and below which no file is touched.
TMP_MAX_AGE = timedelta(hours=1)
#: Stages of the report, in the order they are swept.
STAGES = ("ecs", "bulk", "plans", "quality-docs", "quality", "raw", "load", "tmp")
#: Window keys listed in the summary (the rest are counted).
EXAMPLES = 10
#: Any window stands in to derive stage folders and file names from StagingLayout, their one definition.
_PROBE = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC))


class HousekeepingError(JumpCloudError):
    """A staging file could not be deleted."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days each kind of staging file is kept after its window ended."""

    staging_days: int = DEFAULT_STAGING_RETENTION_DAYS
    quality_days: int = DEFAULT_QUALITY_RETENTION_DAYS
    raw_days: int = DEFAULT_RAW_RETENTION_DAYS
    tmp_max_age: timedelta = TMP_MAX_AGE

    def __post_init__(self) -> None:
        for name in ("staging_days", "quality_days", "raw_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise JumpCloudConfigError(f"{name} must be a whole number of days, at least 1; got {value!r}")
        if self.tmp_max_age <= timedelta(0):
            raise JumpCloudConfigError(f"tmp_max_age must be positive, got {self.tmp_max_age}")

    @property
    def load_days(self) -> int:
        """Load summaries outlive every file whose deletion they allow."""
        return max(self.staging_days, self.quality_days, self.raw_days)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetentionPolicy:
        """Read the ``JUMPCLOUD_{STAGING,QUALITY,RAW}_RETENTION_DAYS`` variables (unset or empty: defaults)."""
        env = os.environ if environ is None else environ

        def days(name: str, default: int) -> int:
            text = (env.get(name) or "").strip()
            if not text:
                return default
            try:
                value = int(text)
            except ValueError:
                raise JumpCloudConfigError(f"{name}={text!r} is not a whole number of days") from None
            if value < 1:
                raise JumpCloudConfigError(f"{name}={text!r} must be at least 1 day")
            return value

        return cls(
            staging_days=days(STAGING_RETENTION_ENV, DEFAULT_STAGING_RETENTION_DAYS),
            quality_days=days(QUALITY_RETENTION_ENV, DEFAULT_QUALITY_RETENTION_DAYS),
            raw_days=days(RAW_RETENTION_ENV, DEFAULT_RAW_RETENTION_DAYS),
        )


@dataclass
class Tally:
    """Files and bytes of one stage."""

    files: int = 0
    bytes: int = 0


@dataclass
class HousekeepingReport:
    """What a sweep deleted (or would delete, in a dry run) and what it kept on purpose."""

    root: str
    dry_run: bool
    deleted: dict[str, Tally] = field(default_factory=lambda: {stage: Tally() for stage in STAGES})
    #: old enough to go, kept because not loaded: window key -> reason
    not_loaded: dict[str, str] = field(default_factory=dict)
    dead_letter_files: int = 0
    recent_files: int = 0
    unrecognised: int = 0
    problems: int = 0
    #: the first few unrecognised entries and problems, as text
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Keep one example line (the first :data:`EXAMPLES` are kept)."""
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)

    @property
    def files(self) -> int:
        """Files deleted in every stage."""
        return sum(t.files for t in self.deleted.values())

    @property
    def bytes(self) -> int:
        """Bytes deleted in every stage."""
        return sum(t.bytes for t in self.deleted.values())

    def as_dict(self) -> dict[str, Any]:
        """Return a small JSON-ready form (for XCom): counts and a few examples."""
        return {
            "root": self.root,
            "dry_run": self.dry_run,
            "deleted": {s: {"files": t.files, "bytes": t.bytes} for s, t in self.deleted.items()},
            "files": self.files,
            "bytes": self.bytes,
            "not_loaded": {"windows": len(self.not_loaded),
                           "examples": dict(sorted(self.not_loaded.items())[:EXAMPLES])},
            "dead_letter_files": self.dead_letter_files,
            "recent_files": self.recent_files,
            "unrecognised": self.unrecognised,
            "problems": self.problems,
            "examples": self.examples,
        }

    def summary(self) -> str:
        """Return the multi-line summary for the task log."""
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"Staging housekeeping of {self.root}{' (dry run)' if self.dry_run else ''}: {verb} "
                 f"{self.files} files, {_size(self.bytes)}"]
        lines += [f"  {stage:<13} {t.files:>8} files {_size(t.bytes):>10}" for stage, t in self.deleted.items()]
        if self.not_loaded:
            examples = ", ".join(f"{k} ({v})" for k, v in sorted(self.not_loaded.items())[:EXAMPLES])
            lines.append(f"  kept {len(self.not_loaded)} window(s) past retention whose load has not succeeded: "
                         f"{examples}{' ...' if len(self.not_loaded) > EXAMPLES else ''}")
        lines.append(f"  kept {self.dead_letter_files} dead-letter file(s), {self.recent_files} file(s) "
                     f"modified in the last hour, {self.unrecognised} unrecognised entr(y/ies); "
                     f"{self.problems} problem(s)")
        lines += [f"  {text}" for text in self.examples]
        return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} B"


def _suffix(expected: Any) -> str:
    """What the staging layout puts after the window key in a stage's names (``expected(window).name``)."""
    return expected(_PROBE).name[len(_PROBE.key):]


def _window_of(name: str, suffix: str) -> Window | None:
    """Return the window a staging name ``<window key><suffix>`` is for, or None for any other name."""
    if not name.endswith(suffix):
        return None
    key = name[: len(name) - len(suffix)]
    try:
        window = Window.from_key(key)
    except InvalidWindowError:
        return None
    return window if window.key == key else None


def _is_tmp(name: str) -> bool:
    return name.startswith(".") and TMP_INFIX in name


def _entries(folder: Any) -> Iterator[Any]:
    """Yield the entries of one folder (nothing when it does not exist)."""
    try:
        if not folder.exists():
            return
        yield from folder.iterdir()
    except FileNotFoundError:
        return


def _mtime(stat: Any) -> float:
    """Modification time in epoch seconds; object stores without one may give a creation time, else 0."""
    value = float(getattr(stat, "st_mtime", 0) or 0)
    if value <= 0:
        with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
            value = float(stat.st_birthtime or 0)
    return value


class _Sweep:
    """One pass over a staging root."""

    def __init__(self, layout: StagingLayout, policy: RetentionPolicy, now: datetime, dry_run: bool) -> None:
        self.layout = layout
        self.policy = policy
        self.now = now
        self.dry_run = dry_run
        self.report = HousekeepingReport(root=path_str(layout.root), dry_run=dry_run)
        self.cutoff_staging = now - timedelta(days=policy.staging_days)
        self.cutoff_quality = now - timedelta(days=policy.quality_days)
        self.cutoff_raw = now - timedelta(days=policy.raw_days)
        self.cutoff_load = now - timedelta(days=policy.load_days)
        self._loaded: dict[str, bool] = {}
        self._load_index: list[tuple[datetime, Window]] | None = None
        self._longest_load = timedelta(0)

    # -- deleting ---------------------------------------------------------------------------------------------

    def is_recent(self, stat: Any) -> bool:
        """Whether a file changed less than ``tmp_max_age`` ago (a run may be working on its window)."""
        mtime = _mtime(stat)
        return mtime > 0 and self.now.timestamp() - mtime < self.policy.tmp_max_age.total_seconds()

    def delete(self, stage: str, path: Any) -> bool:
        """Delete one file (unless a dry run) and count it; a file changed within the last hour is kept."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False  # gone already (another sweep, or deleted with its manifest)
        if self.is_recent(stat):
            self.report.recent_files += 1
            return False
        if not self.dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            except OSError as err:
                raise HousekeepingError(f"could not delete staging file {path_str(path)}: {err}") from err
        tally = self.report.deleted[stage]
        tally.files += 1
        tally.bytes += int(stat.st_size or 0)
        return True

    def delete_tree(self, stage: str, folder: Any, first: str) -> None:
        """Delete every file under ``folder``, ``first`` (its completeness marker) before the others."""
        self.delete(stage, folder / first)
        for entry in _entries(folder):
            if entry.is_dir():
                self.delete_tree(stage, entry, QUALITY_DOCS_INDEX)
            elif entry.name != first:
                self.delete("tmp" if _is_tmp(entry.name) else stage, entry)
        self.remove_empty(folder)

    def remove_empty(self, folder: Any) -> None:
        """Remove an empty local folder (object stores have no folders to remove)."""
        if local_path(folder) is not None and not self.dry_run:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def tmp(self, path: Any) -> None:
        """Delete a temporary file older than ``tmp_max_age`` that no live writer holds (locally: its lock)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return
        local = local_path(path)
        if _mtime(stat) <= 0:
            return  # without a time it could be a write in progress
        if local is None or self.dry_run:
            self.delete("tmp", path)
        elif self.is_recent(stat):
            self.report.recent_files += 1
        elif remove_orphans(local.parent, local.name, min_age=self.policy.tmp_max_age.total_seconds()):
            tally = self.report.deleted["tmp"]
            tally.files += 1
            tally.bytes += int(stat.st_size or 0)

    def unrecognised(self, path: Any) -> None:
        """Leave a name the staging layout does not produce, and count it."""
        self.report.unrecognised += 1
        self.report.note(f"left unrecognised entry {path_str(path)}")

    # -- what has been loaded ---------------------------------------------------------------------------------

    def loaded(self, window: Window) -> bool:
        """Whether the window's load succeeded: a summary whose counts add up, with no dead letter."""
        key = window.key
        if key not in self._loaded:
            self._loaded[key] = self._read_load(window)
        return self._loaded[key]

    def _read_load(self, window: Window) -> bool:
        path = self.layout.load_summary(window)
        try:
            data = read_json(path)
            counts = data["counts"]
            read, indexed, present, dead = (int(counts[k]) for k in
                                            ("read", "indexed", "already_present", "dead_lettered"))
            if Window.from_dict(data["window"]) != window:
                raise ValueError(f"it is for window {data['window']}")
        except FileNotFoundError:
            return False
        except (StagingFileError, OSError, ValueError, KeyError, TypeError) as err:
            self.problem(f"load summary {path_str(path)} is unreadable ({err}); its window is kept")
            return False
        if read != indexed + present + dead:
            self.problem(f"load summary {path_str(path)}: read {read} != indexed {indexed} + already_present "
                         f"{present} + dead_lettered {dead}; its window is kept")
            return False
        return dead == 0

    def problem(self, text: str) -> None:
        """Count a problem, log it and keep it as an example."""
        self.report.problems += 1
        self.report.note(text)
        log.warning("Housekeeping: %s", text)

    def covered(self, window: Window) -> bool:
        """Whether loaded windows cover ``window`` (its own, or a range re-map's longer sub-windows)."""
        if self.loaded(window):
            return True
        index = self.load_index()
        lo = bisect.bisect_left(index, (window.start - self._longest_load,))
        hi = bisect.bisect_left(index, (window.end,))
        cursor = window.start
        for start, other in index[lo:hi]:
            if other.end <= cursor or not self.loaded(other):
                continue
            if start > cursor:
                return False
            cursor = other.end
            if cursor >= window.end:
                return True
        return False

    def load_index(self) -> list[tuple[datetime, Window]]:
        """The windows with a load summary, by start (names only, read once, when first needed)."""
        if self._load_index is None:
            found = []
            suffix = _suffix(self.layout.load_summary)
            for entry in _entries(self.layout.load_summary(_PROBE).parent):
                window = _window_of(entry.name, suffix)
                if window is not None:
                    found.append((window.start, window))
                    self._longest_load = max(self._longest_load, window.duration)
            self._load_index = sorted(found)
        return self._load_index

    def keep(self, window: Window) -> None:
        """Record an old window kept because its load has not succeeded."""
        summary = self.layout.load_summary(window)
        reason = "load failed or left dead letters" if summary.exists() else "no load summary"
        self.report.not_loaded.setdefault(window.key, reason)

    # -- stages -----------------------------------------------------------------------------------------------

    def window_entries(self, folder: Any, *suffixes: str) -> Iterator[tuple[Any, Window, str]]:
        """Yield ``(entry, window, suffix)`` for the files of ``folder`` named ``<window key><suffix>``.

        Temporary files are swept and other names counted as unrecognised on the way.
        """
        for entry in _entries(folder):
            if _is_tmp(entry.name):
                self.tmp(entry)
                continue
            for suffix in suffixes:
                if (window := _window_of(entry.name, suffix)) is not None:
                    yield entry, window, suffix
                    break
            else:
                self.unrecognised(entry)

    def flat_stage(self, stage: str, expected: Any, cutoff: datetime) -> None:
        """Sweep a folder of one file per window (``ecs/``, ``bulk/``)."""
        suffix = _suffix(expected)
        for entry in _entries(expected(_PROBE).parent):
            self.window_file(stage, entry, suffix, cutoff)

    def window_file(self, stage: str, entry: Any, suffix: str, cutoff: datetime) -> None:
        """Delete one per-window file (``<window key><suffix>``) once its window is past ``cutoff`` and loaded."""
        name = entry.name
        if _is_tmp(name):
            self.tmp(entry)
        elif (window := _window_of(name, suffix)) is not None:
            if window.end <= cutoff:
                if self.loaded(window):
                    self.delete(stage, entry)
                else:
                    self.keep(window)
        elif name.endswith(".dead-letter.ndjson"):
            self.report.dead_letter_files += 1  # a replay's rejected documents: never deleted
        else:
            self.unrecognised(entry)

    def dead_letters(self) -> None:
        """Count the dead-letter files (kept) and sweep the temporary ones."""
        for entry in _entries(self.layout.dead_letter(_PROBE).parent):
            if _is_tmp(entry.name):
                self.tmp(entry)
            else:
                self.report.dead_letter_files += 1

    def plans(self) -> None:
        """Sweep ``plans/<plan>/<window>.json``, the archive re-maps' per-sub-window plans."""
        for folder in _entries(self.layout.archive_plan("probe", _PROBE).parent.parent):
            plan_key = folder.name

            def expected(window: Window, plan_key: str = plan_key) -> Any:
                return self.layout.archive_plan(plan_key, window)

            suffix = _suffix(expected)
            for entry in _entries(folder):
                self.window_file("plans", entry, suffix, self.cutoff_staging)
            self.remove_empty(folder)

    def quality(self) -> None:
        """Sweep ``quality/<window>/``: Data Docs after ``staging_days``, the summaries after ``quality_days``."""
        docs_cutoff = max(self.cutoff_staging, self.cutoff_quality)
        suffix = _suffix(self.layout.quality_dir)
        for folder in _entries(self.layout.quality_dir(_PROBE).parent):
            window = _window_of(folder.name, suffix)
            if window is None:
                if _is_tmp(folder.name):
                    self.tmp(folder)
                else:
                    self.unrecognised(folder)
                continue
            if window.end > docs_cutoff:
                continue
            whole = window.end <= self.cutoff_quality
            if not whole and not (folder / QUALITY_DOCS).exists():
                continue  # Data Docs already gone: no need to read the load summary again
            if not self.loaded(window):
                self.keep(window)
            elif whole:
                self.delete_tree("quality", folder, QUALITY_SUMMARY)
            else:
                self.delete_tree("quality-docs", folder / QUALITY_DOCS, QUALITY_DOCS_INDEX)

    def raw(self) -> None:
        """Sweep the raw archive: manifest first, then its raw file, once loaded windows cover the window."""
        layout = self.layout
        manifest_suffix = _suffix(layout.raw_manifest)
        for entry, window, suffix in self.window_entries(layout.raw(_PROBE).parent, manifest_suffix,
                                                         _suffix(layout.raw)):
            if window.end > self.cutoff_raw:
                continue
            elif not self.covered(window):
                self.keep(window)
            elif suffix == manifest_suffix:
                raw = layout.raw(window)
                with contextlib.suppress(FileNotFoundError):
                    if self.is_recent(raw.stat()):  # being fetched again: its manifest comes next
                        self.report.recent_files += 1
                        continue
                if self.delete("raw", entry):
                    self.delete("raw", raw)
            elif not layout.raw_manifest(window).exists():  # else it goes with its manifest
                self.delete("raw", entry)

    def loads(self) -> None:
        """Sweep ``load/`` last: a summary goes when its window is past every retention and nothing else is left."""
        layout = self.layout
        for entry, window, _ in self.window_entries(layout.load_summary(_PROBE).parent,
                                                    _suffix(layout.load_summary)):
            # in a dry run the other files are still there, though the same sweep would have deleted them
            if window.end <= self.cutoff_load and self.loaded(window) and (
                self.dry_run or not self.leftovers(window)
            ):
                self.delete("load", entry)

    def leftovers(self, window: Window) -> bool:
        """Whether any other file of the window is still there (then its load summary stays)."""
        layout = self.layout
        paths = (layout.ecs(window), layout.bulk(window), layout.quality_dir(window), layout.raw_manifest(window),
                 layout.raw(window))
        return any(path.exists() for path in paths)

    def run(self) -> HousekeepingReport:
        """Sweep every stage in order; the load summaries, which allow the other deletions, last."""
        steps = (
            ("ecs", lambda: self.flat_stage("ecs", self.layout.ecs, self.cutoff_staging)),
            ("bulk", lambda: self.flat_stage("bulk", self.layout.bulk, self.cutoff_staging)),
            ("dead-letter", self.dead_letters),
            ("plans", self.plans),
            ("quality", self.quality),
            ("raw", self.raw),
            ("load", self.loads),
        )
        for name, step in steps:
            before = (self.report.files, self.report.bytes)
            step()
            log.info("Housekeeping %s: %s %d files, %s", name, "would delete" if self.dry_run else "deleted",
                     self.report.files - before[0], _size(self.report.bytes - before[1]))
        return self.report


def clean_staging(
    root: Any, policy: RetentionPolicy | None = None, *, now: datetime | None = None, dry_run: bool = False
) -> HousekeepingReport:
    """Apply the retention policy to a staging root (a path, URL or ObjectStoragePath); return the report."""
    layout = StagingLayout(as_path(root)) if not isinstance(root, StagingLayout) else root
    moment = datetime.now(UTC) if now is None else to_utc(now, name="now")
    return _Sweep(layout, policy or RetentionPolicy(), moment, dry_run).run()
