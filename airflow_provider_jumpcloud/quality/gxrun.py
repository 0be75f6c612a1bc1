"""GX Core runs for one window: one ephemeral context, suites reused by every chunk.

A type check depends only on the value, so GX sees *distinct values* of each column, with document
counts kept beside them: it evaluates every distinct value with ``ExpectColumnValuesToMatchSpecType`` and
the counts turn its unexpected rows back into documents. In a string-typed column (keyword, text, ...)
the verdict depends on the type alone, so all its strings are one value (shown by the first one) and all
its lists of strings another; anything else stays distinct.

Most columns hold few distinct values over a whole window (actions, outcomes, organisations, booleans):
their values are gathered across chunks and validated once, at :meth:`GXSession.finish`, together with the
required-field check (``ExpectColumnValuesToNotBeNull`` with the row condition ``event.kind !=
pipeline_error`` on the distinct presence patterns of the required columns). A column that passes
``LOW_CARDINALITY`` distinct values (ids of events, timestamps, addresses) is validated chunk by chunk from
then on, each in its own narrow frame, as GX filters the whole frame for every metric. Results are kept
for Data Docs only when the caller says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import great_expectations as gx
import great_expectations.execution_engine.pandas_execution_engine as gx_pandas_engine
import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.row_conditions import Column

from airflow_provider_jumpcloud.quality.expectation import ExpectColumnValuesToMatchSpecType
from airflow_provider_jumpcloud.quality.flatten import ERROR_KIND, Chunk
from airflow_provider_jumpcloud.quality.suite import ERROR_KIND_COLUMN, SuitePlan

log = logging.getLogger(__name__)

SITE_NAME = "ecs_quality"
TYPE_EXPECTATION = "expect_column_values_to_match_spec_type"
REQUIRED_EXPECTATION = "expect_column_values_to_not_be_null"
LOW_CARDINALITY = 4096
EXAMPLES = 20
RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": EXAMPLES,
                 "include_unexpected_rows": False, "return_unexpected_index_query": False}
SUITES = {
    "low": ("jumpcloud_ecs_types", "rows are the distinct values of each column in the window"),
    "required": ("jumpcloud_ecs_required", "rows are the window's distinct presence patterns of required fields"),
}


@dataclass
class Outcome:
    """What one expectation found in one chunk, in documents."""

    kind: str  # "type" or "required"
    column: str
    checked: int
    failed: int
    examples: list[Any] = field(default_factory=list)


@dataclass
class ChunkOutcome:
    """Results of one chunk: per-expectation outcomes and GX's overall verdict."""

    success: bool
    outcomes: list[Outcome]
    evaluated: int


class _Suite:
    """One suite and validation definition whose expectations follow the frame's columns."""

    def __init__(self, ctx: Any, batch: Any, name: str, note: str) -> None:
        self.note = note
        self.suite = ctx.suites.add(gx.ExpectationSuite(name=name, notes=note))
        self.definition = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_chunk", data=batch, suite=self.suite)
        )
        self.columns: tuple[str, ...] | None = None

    def use(self, columns: tuple[str, ...], build: Any) -> None:
        if columns == self.columns:
            return
        self.suite.expectations = []
        for column in columns:
            expectation = build(column)
            expectation.id = None  # GX refuses to add an expectation that belongs to a suite
            self.suite.add_expectation(expectation)
        self.suite.save()
        self.columns = columns


def _padded(frame_columns: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = max(len(values) for values in frame_columns.values())
    data = {}
    for name, values in frame_columns.items():
        column = np.full(rows, None, dtype=object)
        column[: len(values)] = values
        data[name] = column
    return pd.DataFrame(data, dtype=object, copy=False)


class GXSession:
    """An ephemeral GX context with a Data Docs site in ``docs_dir`` and suites reused across chunks."""

    def __init__(self, plan: SuitePlan, docs_dir: str, *, label: str = "window") -> None:
        # The batch fingerprint pickles a whole object frame (seconds per chunk) and is only metadata.
        gx_pandas_engine.HASH_THRESHOLD = 0
        self.plan = plan
        self.label = label
        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.ctx.add_data_docs_site(
            site_name=SITE_NAME,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
            },
        )
        batch = (
            self.ctx.data_sources.add_pandas(name="jumpcloud_ecs")
            .add_dataframe_asset(name=label)
            .add_batch_definition_whole_dataframe(name="chunk")
        )
        self._batch = batch
        self.suites = {key: _Suite(self.ctx, batch, name, note) for key, (name, note) in SUITES.items()}
        self._cache: dict[tuple[str, str], Any] = {}
        self._high: set[str] = set()
        #: low-cardinality columns: {value key: [value, documents]} gathered over the window's chunks
        self._window_values: dict[str, dict[Any, list[Any]]] = {}
        #: required-field presence patterns over the window: {pattern: [documents, example values]}
        self._window_required: dict[tuple[bool, ...], list[Any]] = {}
        self._required_columns = tuple(check.column for check in plan.required)
        self.kept_runs: list[dict[str, Any]] = []
        self._pending: set[Any] = set()
        self._last: dict[str, Any] = {}

    def _type_expectation(self, column: str) -> Any:
        key = ("type", column)
        if key not in self._cache:
            check = self.plan.type_checks[column]
            self._cache[key] = ExpectColumnValuesToMatchSpecType(
                column=column, spec_type=check.spec_type, expected_value=check.expected_value
            )
        return self._cache[key]

    def _required_expectation(self, column: str) -> Any:
        key = ("required", column)
        if key not in self._cache:
            satisfies = next(c.satisfies for c in self.plan.required if c.column == column)
            self._cache[key] = gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                row_condition=Column(ERROR_KIND_COLUMN) != ERROR_KIND,
                notes=f"required: {', '.join(satisfies)}; error documents excluded",
            )
        return self._cache[key]

    def _suite(self, key: str) -> _Suite:
        suite = self.suites.get(key)
        if suite is None:  # one suite per high-cardinality column, created when first needed
            column = key.split(":", 1)[1]
            suite = self.suites[key] = _Suite(self.ctx, self._batch, f"jumpcloud_ecs_types_{column}",
                                              "rows are the distinct values of the column in the chunk")
        return suite

    def _run(self, key: str, frame: pd.DataFrame, run_name: str, build: Any) -> Any:
        suite = self._suite(key)
        suite.use(tuple(c for c in frame.columns if c != ERROR_KIND_COLUMN or key != "required"), build)
        store = self.ctx.validation_results_store
        before = set(store.list_keys())
        result = suite.definition.run(
            batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT,
            run_id=RunIdentifier(run_name=run_name),
        )
        self._pending |= set(store.list_keys()) - before
        for item in result.results:
            info = item.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(f"GX could not evaluate {item.expectation_config.type} on "
                                   f"{item.expectation_config.kwargs.get('column')}: {info.get('exception_message')}")
        return result

    def _type_runs(self, groups: list[tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]], run_name: str,
                   outcomes: list[Outcome]) -> tuple[bool, int]:
        """Validate groups of columns (distinct values, document counts); append one outcome per column."""
        success, evaluated = True, 0
        for key, columns in groups:
            frame = _padded({c: values for c, (values, _counts) in columns.items()})
            result = self._run(key, frame, run_name, self._type_expectation)
            success &= bool(result.success)
            evaluated += len(result.results)
            for item in result.results:
                column = item.expectation_config.kwargs["column"]
                values, counts = columns[column]
                if not len(values):
                    continue
                bad = np.asarray(item.result.get("unexpected_index_list") or [], dtype=np.int64)
                order = bad[np.argsort(-counts[bad], kind="stable")] if bad.size else bad
                outcomes.append(Outcome("type", column, int(counts.sum()), int(counts[bad].sum()),
                                        [values[i] for i in order[:EXAMPLES]]))
        return success, evaluated

    def run(self, chunk: Chunk, chunk_number: int) -> ChunkOutcome:
        """Validate one chunk's high-cardinality columns and fold the rest into the window's values.

        Call :meth:`settle` next to keep or drop its results for Data Docs, and :meth:`finish` after
        the last chunk.
        """
        run_name = f"{self.label}-chunk-{chunk_number:04d}"
        high: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for column in sorted(chunk.values):
            if column not in self.plan.type_checks:
                continue
            if column in self._high:
                high[column] = chunk.distinct(column)
            elif len(chunk.values[column]) + len(self._window_values.get(column, ())) > LOW_CARDINALITY:
                # Too many distinct values to keep for the whole window: validated chunk by chunk from now on,
                # starting with this chunk's values and those gathered so far.
                self._high.add(column)
                gathered, gathered_counts = self._take_window_values(column)
                values, counts = chunk.distinct(column)
                high[column] = (np.concatenate([gathered, values]), np.concatenate([gathered_counts, counts]))
            else:
                self._fold(chunk, column)
        for pattern, (count, examples) in chunk.required.items():
            entry = self._window_required.get(pattern)
            if entry is None:
                self._window_required[pattern] = [count, examples]
            else:
                entry[0] += count
        outcomes: list[Outcome] = []
        success, evaluated = self._type_runs([(f"high:{c}", {c: high[c]}) for c in sorted(high)], run_name,
                                             outcomes)
        self._finish_run(run_name, success, outcomes)
        return ChunkOutcome(success, outcomes, evaluated)

    def _fold(self, chunk: Chunk, column: str) -> None:
        """Add a chunk's distinct values of a column to the window's."""
        held = self._window_values.setdefault(column, {})
        for key, count in chunk.values[column].items():
            held_key = (chunk.serial, *key) if type(key) is tuple else key  # stand-in keys are per chunk
            entry = held.get(held_key)
            if entry is None:
                held[held_key] = [chunk.value(key, column), count]
            else:
                entry[1] += count

    def _take_window_values(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        held = self._window_values.pop(column, {})
        values = np.fromiter((entry[0] for entry in held.values()), dtype=object, count=len(held))
        counts = np.fromiter((entry[1] for entry in held.values()), dtype=np.int64, count=len(held))
        return values, counts

    def finish(self) -> ChunkOutcome:
        """Validate the window's low-cardinality columns and required fields, gathered over every chunk."""
        run_name = f"{self.label}-window"
        outcomes: list[Outcome] = []
        columns = {column: self._take_window_values(column) for column in sorted(self._window_values)}
        success, evaluated = self._type_runs([("low", columns)] if columns else [], run_name, outcomes)
        if self._window_required:
            patterns = list(self._window_required.items())
            self._window_required = {}
            counts = np.array([entry[0] for _p, entry in patterns], dtype=np.int64)
            non_error = np.array([not p[-1] for p, _e in patterns])
            data = {column: np.array([entry[1][i] if p[i] else None for p, entry in patterns], dtype=object)
                    for i, column in enumerate(self._required_columns)}
            data[ERROR_KIND_COLUMN] = np.array([ERROR_KIND if p[-1] else None for p, _e in patterns],
                                               dtype=object)
            frame = pd.DataFrame(data, dtype=object, copy=False)
            result = self._run("required", frame, run_name, self._required_expectation)
            success &= bool(result.success)
            evaluated += len(result.results)
            for item in result.results:
                bad = np.asarray(item.result.get("unexpected_index_list") or [], dtype=np.int64)
                outcomes.append(Outcome("required", item.expectation_config.kwargs["column"],
                                        int(counts[non_error].sum()), int(counts[bad].sum())))
        self._finish_run(run_name, success, outcomes)
        return ChunkOutcome(success, outcomes, evaluated)

    def _finish_run(self, run_name: str, success: bool, outcomes: list[Outcome]) -> None:
        failing = [f"{o.column} ({o.kind})" for o in outcomes if o.failed]
        self._last = {"run_name": run_name, "success": success, "failing": failing}

    @property
    def kept(self) -> int:
        """Number of chunks whose results are kept for Data Docs."""
        return len(self.kept_runs)

    def settle(self, keep: bool) -> None:
        """Keep the last run's validation results for Data Docs, or remove them from the store."""
        if keep and self._pending:  # a chunk without high-cardinality columns ran nothing
            self.kept_runs.append(self._last)
        else:
            for key in self._pending:
                self.ctx.validation_results_store.remove_key(key)
        self._pending = set()

    def build_docs(self) -> str:
        """Render the Data Docs site of the kept validation results; return the index URL."""
        urls = self.ctx.build_data_docs(site_names=[SITE_NAME])
        return str(urls[SITE_NAME])
