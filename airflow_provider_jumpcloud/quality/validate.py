"""Check one mapped window: stream it in chunks through GX, aggregate the findings, judge, write reports.

Memory stays flat in the window size: one chunk of documents is held at a time, plus 8 bytes per
document for the duplicate check (a 64-bit hash of every ``_id``, sorted once at the end; a second read
of the file collects example ids only when duplicates exist). GX is imported inside :func:`check_window`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from airflow_provider_jumpcloud.quality.flatten import Chunk, DriftTracker, FieldIndex, render_example
from airflow_provider_jumpcloud.quality.policy import QualityPolicy
from airflow_provider_jumpcloud.quality.report import MAX_UNKNOWN_LISTED, render_table, write_reports
from airflow_provider_jumpcloud.quality.suite import REQUIRED_FIELDS, SuitePlan, build_plan
from airflow_provider_jumpcloud.spec import spec_version
from airflow_provider_jumpcloud.spec.datastream import DEFAULT_NAMESPACE
from airflow_provider_jumpcloud.staging import as_path, decode_mapped_line, iter_numbered_lines
from airflow_provider_jumpcloud.windows import Window

if TYPE_CHECKING:
    from airflow_provider_jumpcloud.quality.gxrun import RunOutcome

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 100_000
#: A chunk also ends when it holds this many distinct values (memory bound for unusually varied data).
MAX_DISTINCT_VALUES = 1_000_000
DISTINCT_CHECK_EVERY = 1024
MAX_DOCS_CHUNKS = 5
FIELD_EXAMPLES = 5
TIME_EXAMPLES = 3
DUPLICATE_EXAMPLES = 5
HASH_METHOD = "64-bit hash of every _id kept in memory (8 bytes per document), sorted once at the end"


@dataclass
class _Totals:
    """Running totals of a window across chunks."""

    documents: int = 0
    error_documents: int = 0
    chunks: int = 0
    validations: int = 0
    expectations: int = 0
    failing_validations: int = 0
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: dict[str, dict[str, int]] = field(default_factory=dict)
    timestamps: dict[str, Any] = field(default_factory=lambda: {
        "in_window": 0, "late": 0, "future": 0, "late_examples": [], "future_examples": []})
    hashes: list[np.ndarray] = field(default_factory=list)
    duplicates: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)))
    timed: int = 0

    def add_type(self, column: str, spec_type: str, checked: int, failed: int, examples: list[Any]) -> None:
        stat = self.fields.setdefault(column, {"type": spec_type, "checked": 0, "failed": 0, "examples": []})
        stat["checked"] += checked
        stat["failed"] += failed
        for value in examples:
            if len(stat["examples"]) >= FIELD_EXAMPLES:
                break
            text = render_example(value)
            if text not in stat["examples"]:
                stat["examples"].append(text)

    def add_required(self, column: str, checked: int, missing: int) -> None:
        stat = self.required.setdefault(column, {"checked": 0, "missing": 0})
        stat["checked"] += checked
        stat["missing"] += missing


def _hash_ids(ids: list[Any]) -> np.ndarray:
    values = np.asarray([i if isinstance(i, str) else str(i) for i in ids], dtype=object)
    return pd.util.hash_array(values, categorize=False)


def _iter_chunks(
    path: Any, index: FieldIndex, drift: DriftTracker, size: int, required: tuple[str, ...],
    max_distinct: int = MAX_DISTINCT_VALUES,
) -> Iterator[Chunk]:
    """Yield chunks of ``size`` documents, or fewer when they already hold ``max_distinct`` values."""
    chunk = Chunk(index, drift, 0, required)
    for part, number, line in iter_numbered_lines(path):  # a bad line raises StagingFileError (file, line)
        doc_id, source = decode_mapped_line(part, number, line)
        chunk.add(doc_id, source)
        if chunk.size >= size or (chunk.size % DISTINCT_CHECK_EVERY == 0 and chunk.distinct_values >= max_distinct):
            yield chunk
            chunk = Chunk(index, drift, chunk.first_row + chunk.size, required)
    if chunk.size:
        yield chunk


def _duplicates(path: Any, dup_values: np.ndarray, copies: np.ndarray) -> dict[str, Any]:
    """The duplicate report from GX's duplicated ``_id`` hashes; a second read finds example ids."""
    documents = int((copies - 1).sum()) if copies.size else 0
    examples: list[str] = []
    if documents:
        block: list[str] = []

        def scan(ids: list[str]) -> None:
            hit = np.isin(_hash_ids(ids), dup_values)
            for doc_id, found in zip(ids, hit, strict=True):
                if found and doc_id not in examples and len(examples) < DUPLICATE_EXAMPLES:
                    examples.append(render_example(doc_id)[1:-1])

        for part, number, line in iter_numbered_lines(path):
            block.append(decode_mapped_line(part, number, line)[0])
            if len(block) >= 50_000:
                scan(block)
                block = []
                if len(examples) >= DUPLICATE_EXAMPLES:
                    break
        if block and len(examples) < DUPLICATE_EXAMPLES:
            scan(block)
    return {"documents": documents, "ids": int(dup_values.size), "examples": examples, "method": HASH_METHOD}


def check_window(
    ecs_path: Any,
    window: Window,
    *,
    quality_dir: Any,
    policy: QualityPolicy | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    events_fetched: int | None = None,
    api_count: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_distinct_values: int = MAX_DISTINCT_VALUES,
    max_docs_chunks: int = MAX_DOCS_CHUNKS,
    log_chunk: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Validate a mapped window against the spec, write summary.json and Data Docs, return the summary.

    :param ecs_path: gzip NDJSON of ``{"_id", "_source"}`` lines (local path, URL or ObjectStoragePath)
    :param window: the window the documents belong to
    :param quality_dir: folder for ``summary.json``, ``summary.txt`` and ``docs/``
    :param events_fetched: events the fetch stage wrote for the window (completeness), if known
    :param api_count: the API's ``/events/count`` for the window (completeness), if known
    :param chunk_size: documents per chunk (a GX run per high-cardinality column each; the other columns are
        gathered over the window and validated once at the end)
    :param max_distinct_values: a chunk also ends once it holds this many distinct values
    """
    with warnings.catch_warnings():  # GX's own deprecated imports would warn in the task log
        warnings.simplefilter("ignore", DeprecationWarning)
        from airflow_provider_jumpcloud.quality.gxrun import GXSession  # imports GX (seconds)

    started = time.monotonic()
    policy = policy or QualityPolicy()
    plan: SuitePlan = build_plan(namespace)
    index = FieldIndex.from_types(plan.types)
    drift = DriftTracker(index.object_prefixes)
    totals = _Totals()
    src = as_path(ecs_path)
    docs_tmp = tempfile.mkdtemp(prefix="jc-quality-docs-")
    try:
        session = GXSession(plan, docs_tmp, label=window.key, start_ns=window.start_ns, end_ns=window.end_ns)
        required = tuple(check.column for check in plan.required)
        number = -1  # no enumerate(): it would keep the previous chunk alive while the next one fills
        for chunk in _iter_chunks(src, index, drift, chunk_size, required, max_distinct_values):
            number += 1
            outcome = session.run(chunk, number)
            keep = number == 0 or (not outcome.success and session.kept < max_docs_chunks)
            session.settle(keep)
            _count_chunk(chunk, totals)
            _collect(plan, outcome, totals)
            totals.hashes.append(_hash_ids(chunk.ids))
            message = (f"quality chunk {number}: {chunk.size} documents, {outcome.evaluated} expectations, "
                       f"{'ok' if outcome.success else 'FAILED'}")
            (log_chunk or log.info)(message)
            del chunk
        if totals.chunks:
            outcome = session.finish(np.concatenate(totals.hashes))
            totals.hashes = []
            session.settle(True)
            _collect(plan, outcome, totals)
            totals.duplicates = (outcome.duplicate_hashes, outcome.duplicate_copies)
            (log_chunk or log.info)(f"quality window: {outcome.evaluated} expectations on values gathered over "
                                    f"{totals.chunks} chunk(s), {'ok' if outcome.success else 'FAILED'}")
        docs_written = session.build_docs() if totals.chunks else None
        summary = _summary(window, plan, policy, totals, drift, src, events_fetched, api_count)
        summary["data_docs"] = {"validations_kept": session.kept, "built": docs_written is not None,
                                "validations": session.kept_runs}
        summary["seconds"] = round(time.monotonic() - started, 3)
        summary["reports"] = write_reports(as_path(quality_dir), summary, docs_tmp if docs_written else None)
        summary["table"] = render_table(summary)
        return summary
    finally:
        shutil.rmtree(docs_tmp, ignore_errors=True)


def _count_chunk(chunk: Chunk, totals: _Totals) -> None:
    totals.documents += chunk.size
    totals.error_documents += chunk.error_documents
    totals.chunks += 1


def _collect(plan: SuitePlan, outcome: RunOutcome, totals: _Totals) -> None:
    totals.validations += 1 if outcome.evaluated else 0  # a chunk without high-cardinality columns runs nothing
    totals.expectations += outcome.evaluated
    totals.failing_validations += 0 if outcome.success else 1
    stats = totals.timestamps
    for kind, found in (("late", outcome.late), ("future", outcome.future)):
        for value, count in found:
            stats[kind] += count
            if len(stats[f"{kind}_examples"]) < TIME_EXAMPLES:
                stats[f"{kind}_examples"].append(value)
    totals.timed += outcome.timed
    stats["in_window"] = totals.timed - stats["late"] - stats["future"]
    for item in outcome.outcomes:
        if item.kind == "type":
            if item.checked:
                totals.add_type(item.column, plan.type_checks[item.column].spec_type, item.checked,
                                item.failed, item.examples)
        else:
            totals.add_required(item.column, item.checked, item.failed)


def _summary(
    window: Window,
    plan: SuitePlan,
    policy: QualityPolicy,
    totals: _Totals,
    drift: DriftTracker,
    src: Any,
    events_fetched: int | None,
    api_count: int | None,
) -> dict[str, Any]:
    unknown = sorted(drift.fields.items(), key=lambda kv: (-kv[1].documents, kv[0]))
    required = {}
    for name, column in REQUIRED_FIELDS.items():
        stat = totals.required.get(column, {"checked": 0, "missing": 0})
        required[name] = {"column": column, "checked": stat["checked"], "missing": stat["missing"]}
    fields = {
        name: {**stat, "rate": round(stat["failed"] / stat["checked"], 6)}
        for name, stat in sorted(totals.fields.items())
    }
    facts: dict[str, Any] = {
        "window": window.as_dict(),
        "namespace": plan.namespace,
        "spec_version": spec_version(),
        "documents": totals.documents,
        "error_documents": totals.error_documents,
        "completeness": {"documents": totals.documents, "events_fetched": events_fetched,
                         "api_count": api_count},
        "fields": fields,
        "fields_failed": sorted(name for name, stat in fields.items() if stat["failed"]),
        "required": required,
        "duplicates": _duplicates(src, *totals.duplicates),
        "timestamps": totals.timestamps,
        "unknown_fields": {path: stat.as_dict() for path, stat in unknown[:MAX_UNKNOWN_LISTED]},
        "unknown_fields_total": len(unknown),
        "unknown_jumpcloud_fields": sum(1 for path, _ in unknown if path.startswith("jumpcloud.event.")),
        "gx": {"chunks": totals.chunks, "validations": totals.validations,
               "expectations_evaluated": totals.expectations, "failing_validations": totals.failing_validations},
        "thresholds": policy.as_dict(),
    }
    verdict, reasons = policy.judge(facts)
    facts["verdict"] = verdict
    facts["reasons"] = reasons
    return facts
