"""The roll-up's aggregate: a streaming fold of window summaries into bounded state (no I/O, no Airflow).

:class:`Rollup` keeps fixed time buckets (at most ``MAX_BUCKETS``), per-field and drift trends capped at
``MAX_FIELDS`` / ``MAX_DRIFT_FIELDS`` with bounded examples (more drift is counted, with example paths), and
heaps of the worst and the most incomplete windows; :meth:`Rollup.result` turns it into plain JSON values.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from airflow_provider_jumpcloud.exceptions import JumpCloudError
from airflow_provider_jumpcloud.staging import path_str
from airflow_provider_jumpcloud.windows import Window

ROLLUP_VERSION = 1
MAX_BUCKETS = 200
BUCKET_SIZES = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3), timedelta(hours=6),
                timedelta(hours=12), timedelta(days=1), timedelta(days=7))
WORST_WINDOWS = 25
INCOMPLETE_LISTED = 50
MAX_FIELDS = 2000
MAX_DRIFT_FIELDS = 500
FIELD_EXAMPLES = 5
DRIFT_EXAMPLES = 3
OVERFLOW_PATHS = 10
MAX_PROBLEMS = 100
MAX_GAPS = 50
VERDICT_RANK = {"pass": 0, "warn": 1, "fail": 2}


class RollupInputError(JumpCloudError):
    """A window's summary.json is not a quality summary this roll-up understands."""


def bucket_size(span: Window) -> timedelta:
    """The smallest chart bucket that splits ``span`` into at most ``MAX_BUCKETS`` buckets."""
    for size in BUCKET_SIZES:
        if span.duration / size <= MAX_BUCKETS:
            return size
    return span.duration / MAX_BUCKETS


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RollupInputError(f"{what} is {value!r}, not a count")
    return value


def window_row(window: Window, summary: dict[str, Any]) -> dict[str, Any]:
    """The per-window facts of a summary (raises RollupInputError when it is not a quality summary)."""
    try:
        comp = summary["completeness"]
        documents = _int(summary["documents"], "documents")
        fetched, api_count = comp.get("events_fetched"), comp.get("api_count")
        bases = [_int(n, "completeness count") for n in (fetched, api_count) if n is not None]
        expected = api_count if api_count is not None else fetched
        verdict = summary["verdict"]
        if verdict not in VERDICT_RANK:
            raise RollupInputError(f"verdict is {verdict!r}")
        errors = _int(summary["error_documents"], "error_documents")
        row = {
            "window": window.key, **window.as_dict(), "verdict": verdict, "documents": documents,
            "fetched": fetched, "api_count": api_count,
            "completeness": None if expected is None else (documents / expected if expected else 1.0),
            "missing": max(0, max(bases) - documents) if bases else 0,
            "error_documents": errors, "error_rate": errors / documents if documents else 0.0,
            "late": _int(summary["timestamps"]["late"], "timestamps.late"),
            "future": _int(summary["timestamps"]["future"], "timestamps.future"),
            "duplicates": _int(summary["duplicates"]["documents"], "duplicates.documents"),
            "fields_failed": len(summary["fields_failed"]),
            "mismatches": sum(_int(s["failed"], f"fields.{n}.failed") for n, s in summary["fields"].items()),
            "missing_required": sum(_int(s["missing"], f"required.{n}.missing")
                                    for n, s in summary["required"].items()),
            "unknown_fields": _int(summary["unknown_fields_total"], "unknown_fields_total"),
            "docs": None,
        }
    except (KeyError, TypeError, AttributeError) as err:
        raise RollupInputError(f"not a quality summary ({type(err).__name__}: {err})") from None
    return row


def _badness(row: dict[str, Any]) -> tuple[int, ...]:
    return (VERDICT_RANK[row["verdict"]], row["missing"], row["mismatches"] + row["missing_required"],
            row["duplicates"], row["error_documents"], row["late"] + row["future"], row["unknown_fields"])


class Rollup:
    """Streaming aggregate of window summaries over one range; feed :meth:`add`, then call :meth:`result`."""

    def __init__(self, span: Window) -> None:
        self.span = span
        self.bucket = bucket_size(span)
        self.n_buckets = max(1, -(-span.duration // self.bucket))
        self.series = {name: np.zeros(self.n_buckets, dtype=np.int64) for name in (
            "windows", "pass", "warn", "fail", "documents", "expected", "missing", "error_documents",
            "incomplete")}
        self.min_completeness = np.full(self.n_buckets, np.inf)
        self.totals: dict[str, int] = dict.fromkeys((
            "windows", "documents", "error_documents", "events_fetched", "api_count", "expected",
            "expected_documents", "missing", "extra", "incomplete_windows", "windows_without_count", "late",
            "future", "duplicates", "mismatches", "missing_required", "windows_with_drift", "overlapping_windows",
            "pass", "warn", "fail"), 0)
        self.fields: dict[str, dict[str, Any]] = {}
        self.fields_dropped = 0
        self.required: dict[str, dict[str, Any]] = {}
        self.drift: dict[str, dict[str, Any]] = {}
        self.drift_overflow: dict[str, Any] = {"occurrences": 0, "documents": 0, "example_paths": []}
        self.worst: list[tuple[tuple[int, ...], int, dict[str, Any]]] = []
        self.incomplete: list[tuple[tuple[int, float], int, dict[str, Any]]] = []
        self.problems: list[dict[str, str]] = []
        self.problem_count = 0
        self.gaps: list[dict[str, str]] = []
        self.gap_count = 0
        self.gap_seconds = 0.0
        self._covered = span.start
        self._seq = 0

    def _bucket(self, window: Window) -> int:
        return min(self.n_buckets - 1, max(0, (window.start - self.span.start) // self.bucket))

    def add_problem(self, window: Window, path: Any, reason: str) -> None:
        """Record a window whose report cannot be read (kept in the result, never dropped silently)."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append({"window": window.key, "path": path_str(path), "reason": reason[:500]})
        self._cover(window)

    def _cover(self, window: Window) -> None:
        if window.start > self._covered:
            self._gap(self._covered, window.start)
        elif window.start < self._covered:
            self.totals["overlapping_windows"] += 1
        self._covered = max(self._covered, window.end)

    def _gap(self, start: Any, end: Any) -> None:
        self.gap_count += 1
        self.gap_seconds += (end - start).total_seconds()
        if len(self.gaps) < MAX_GAPS:
            self.gaps.append(Window(start, end).as_dict())

    def add(self, window: Window, summary: dict[str, Any], docs_link: str | None = None) -> dict[str, Any]:
        """Fold one window's summary in; return its per-window row (raises RollupInputError on a bad summary)."""
        row = window_row(window, summary)
        row["docs"] = docs_link
        self._cover(window)
        self._seq += 1
        totals, series, b = self.totals, self.series, self._bucket(window)
        totals["windows"] += 1
        totals[row["verdict"]] += 1
        for name in ("documents", "error_documents", "late", "future", "duplicates", "mismatches",
                     "missing_required", "missing"):
            totals[name] += row[name]
        for name, key in (("events_fetched", "fetched"), ("api_count", "api_count")):
            totals[name] += row[key] or 0
        series["windows"][b] += 1
        series[row["verdict"]][b] += 1
        series["documents"][b] += row["documents"]
        series["error_documents"][b] += row["error_documents"]
        if row["completeness"] is None:
            totals["windows_without_count"] += 1
        else:
            expected = row["api_count"] if row["api_count"] is not None else row["fetched"]
            totals["expected"] += expected
            totals["expected_documents"] += row["documents"]
            totals["extra"] += max(0, row["documents"] - expected)
            series["expected"][b] += expected
            series["missing"][b] += row["missing"]
            self.min_completeness[b] = min(self.min_completeness[b], row["completeness"])
            if row["missing"]:
                totals["incomplete_windows"] += 1
                series["incomplete"][b] += 1
                self._keep(self.incomplete, (row["missing"], -row["completeness"]), row, INCOMPLETE_LISTED)
        if row["verdict"] != "pass" or row["missing"]:
            self._keep(self.worst, _badness(row), row, WORST_WINDOWS)
        self._add_fields(window, summary, b, docs_link)
        self._add_drift(window, summary, b, docs_link)
        return row

    def _keep(self, heap: list[Any], score: tuple[Any, ...], row: dict[str, Any], size: int) -> None:
        entry = (score, -self._seq, row)  # among equals the earlier window is kept
        if len(heap) < size:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    def _add_fields(self, window: Window, summary: dict[str, Any], b: int, link: str | None) -> None:
        for name, stat in summary["fields"].items():
            trend = self.fields.get(name)
            if trend is None:
                if len(self.fields) >= MAX_FIELDS:
                    self.fields_dropped += 1
                    continue
                trend = self.fields[name] = {
                    "type": stat.get("type"), "checked": 0, "failed": 0, "windows": 0, "windows_failed": 0,
                    "first_failed": None, "last_failed": None, "first_failed_docs": None,
                    "last_failed_docs": None, "examples": [],
                    "_checked": np.zeros(self.n_buckets, dtype=np.int64),
                    "_failed": np.zeros(self.n_buckets, dtype=np.int64)}
            trend["checked"] += stat["checked"]
            trend["failed"] += stat["failed"]
            trend["windows"] += 1
            trend["_checked"][b] += stat["checked"]
            if stat["failed"]:
                trend["_failed"][b] += stat["failed"]
                trend["windows_failed"] += 1
                if trend["first_failed"] is None:
                    trend["first_failed"], trend["first_failed_docs"] = window.key, link
                trend["last_failed"], trend["last_failed_docs"] = window.key, link
                _extend(trend["examples"], stat.get("examples") or (), FIELD_EXAMPLES)
        for name, stat in summary["required"].items():
            req = self.required.setdefault(name, {"column": stat.get("column"), "checked": 0, "missing": 0,
                                                  "windows_missing": 0, "first_missing": None,
                                                  "last_missing": None})
            req["checked"] += stat["checked"]
            req["missing"] += stat["missing"]
            if stat["missing"]:
                req["windows_missing"] += 1
                req["first_missing"] = req["first_missing"] or window.key
                req["last_missing"] = window.key

    def _add_drift(self, window: Window, summary: dict[str, Any], b: int, link: str | None) -> None:
        unknown = summary.get("unknown_fields") or {}
        if unknown or summary.get("unknown_fields_total"):
            self.totals["windows_with_drift"] += 1
        for path, stat in unknown.items():
            trend = self.drift.get(path)
            if trend is None:
                if len(self.drift) >= MAX_DRIFT_FIELDS:
                    over = self.drift_overflow
                    over["occurrences"] += 1
                    over["documents"] += stat["documents"]
                    if path not in over["example_paths"] and len(over["example_paths"]) < OVERFLOW_PATHS:
                        over["example_paths"].append(path)
                    continue
                trend = self.drift[path] = {"first_seen": window.key, "first_seen_docs": link,
                                            "last_seen": window.key, "windows": 0, "documents": 0, "examples": [],
                                            "object_expected": bool(stat.get("object_expected")),
                                            "_documents": np.zeros(self.n_buckets, dtype=np.int64)}
            trend["last_seen"], trend["last_seen_docs"] = window.key, link
            trend["windows"] += 1
            trend["documents"] += stat["documents"]
            trend["_documents"][b] += stat["documents"]
            _extend(trend["examples"], stat.get("examples") or (), DRIFT_EXAMPLES)

    def result(self) -> dict[str, Any]:
        """The roll-up as plain JSON values (what ``rollup.json`` holds and the page shows)."""
        if self._covered < self.span.end:
            self._gap(self._covered, self.span.end)
            self._covered = self.span.end
        totals = dict(self.totals)
        totals["completeness"] = (totals["expected_documents"] / totals["expected"] if totals["expected"]
                                  else None)
        totals["failing_fields"] = sum(1 for f in self.fields.values() if f["failed"])
        totals["drift_fields"] = len(self.drift) + (1 if self.drift_overflow["occurrences"] else 0)
        totals["unreadable_reports"] = self.problem_count
        totals["gaps"] = self.gap_count
        totals["gap_seconds"] = self.gap_seconds
        starts = [(self.span.start + i * self.bucket) for i in range(self.n_buckets)]
        timeline = {"bucket_seconds": self.bucket.total_seconds(),
                    "starts": [Window(s, s + self.bucket).as_dict()["start"] for s in starts],
                    **{name: values.tolist() for name, values in self.series.items()},
                    "min_completeness": [None if np.isinf(v) else float(v) for v in self.min_completeness]}
        failing = sorted((n for n, f in self.fields.items() if f["failed"]),
                         key=lambda n: (-self.fields[n]["failed"], n))
        fields = {}
        for name in sorted(self.fields):
            trend = self.fields[name]
            out = {k: v for k, v in trend.items() if not k.startswith("_")}
            out["rate"] = trend["failed"] / trend["checked"] if trend["checked"] else 0.0
            if trend["failed"]:
                out["timeline"] = {"checked": trend["_checked"].tolist(), "failed": trend["_failed"].tolist()}
            fields[name] = out
        drift_order = sorted(self.drift, key=lambda p: (self.drift[p]["first_seen"], -self.drift[p]["documents"], p))
        drift = {}
        for path in drift_order:
            trend = self.drift[path]
            drift[path] = {**{k: v for k, v in trend.items() if not k.startswith("_")},
                           "timeline": trend["_documents"].tolist()}
        return {
            "rollup_version": ROLLUP_VERSION,
            "range": self.span.as_dict(),
            "totals": totals,
            "timeline": timeline,
            "fields": fields,
            "failing_fields": failing,
            "fields_not_tracked": self.fields_dropped,
            "required": {n: r for n, r in sorted(self.required.items())},
            "drift": drift,
            "drift_overflow": self.drift_overflow,
            "worst_windows": [row for _s, _q, row in sorted(self.worst, reverse=True)],
            "incomplete_windows": sorted((row for _s, _q, row in self.incomplete), key=lambda r: r["start"]),
            "gaps": self.gaps,
            "problems": self.problems,
        }


def _extend(target: list[str], examples: Sequence[Any], limit: int) -> None:
    for example in examples:
        if len(target) >= limit:
            return
        if example not in target:
            target.append(example)
