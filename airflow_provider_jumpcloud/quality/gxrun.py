"""GX Core runs for one window: one fixed suite of four expectations over a long table of gathered values.

GX validates a *table of distinct values*, not one cell per document: each row is one distinct value of one
spec field with the number of documents that hold it (``check="type"``: field, spec type, expected constant,
value, documents), one presence pattern of the required fields (``check="required"``), or one distinct
``_id`` (``check="id"``, its copies in the window). Four expectations cover every field of the spec:

1. :class:`ExpectRowValuesToMatchSpecType` on the type rows;
2. ``ExpectColumnValuesToNotBeNull`` on the value of the required rows (error documents are not counted);
3. ``ExpectColumnValuesToBeBetween`` on ``copies`` (at most 1: every ``_id`` once in the window);
4. ``ExpectColumnValuesToBeBetween`` on ``ns``, the ``@timestamp`` of a type row in epoch nanoseconds, inside
   ``[window start, window end)``, given as suite parameters, so the suite does not depend on the window.

The suite depends only on the spec (it is named after :func:`spec_version`), so a window costs one
validation however many fields it holds. The counts turn GX's unexpected rows back into documents. In a
string-typed column (keyword, text, ...) the verdict depends on the type alone, so all its strings are one
value (shown by the first one) and all its lists of strings another; anything else stays distinct.

Most fields hold few distinct values over a whole window (actions, outcomes, organisations, booleans): they
are gathered across chunks and validated with the required patterns and the ``_id`` copies in one run at
:meth:`GXSession.finish`. A field past ``LOW_CARDINALITY`` distinct values (timestamps, addresses) is
validated chunk by chunk from then on, in a run per chunk of the same suite. Results are kept for Data Docs
only when the caller says so. GX's own log lines (import-time INFO chatter, progress bars) are silenced.
"""

from __future__ import annotations

import logging
import warnings
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

from airflow_provider_jumpcloud.quality import docresults, quiet_logs
from airflow_provider_jumpcloud.quality.expectation import TYPE_COLUMNS, ExpectRowValuesToMatchSpecType
from airflow_provider_jumpcloud.quality.flatten import Chunk
from airflow_provider_jumpcloud.quality.suite import SuitePlan
from airflow_provider_jumpcloud.spec import spec_version
from airflow_provider_jumpcloud.timestamps import parse_ns

quiet_logs()  # again: one GX module sets its own logger to INFO while it is imported

log = logging.getLogger(__name__)

SITE_NAME = "ecs_quality"
LOW_CARDINALITY = 4096
EXAMPLES = 20
TIMESTAMP = "@timestamp"
RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": EXAMPLES,
                 "include_unexpected_rows": False, "return_unexpected_index_query": False}
#: The long table's columns; ``check`` says which expectation a row is for.
TABLE_COLUMNS = ("check", *TYPE_COLUMNS, "documents", "copies", "ns")
CHECK_TYPE, CHECK_REQUIRED, CHECK_ID = "type", "required", "id"
#: Columns holding one label per part of the table (stored as categoricals).
LABEL_COLUMNS = frozenset({"check", "field", "spec_type", "expected"})


@dataclass
class Outcome:
    """What one check found for one field in one run, in documents."""

    kind: str  # "type" or "required"
    column: str
    checked: int
    failed: int
    examples: list[Any] = field(default_factory=list)


@dataclass
class RunOutcome:
    """Results of one validation run (a chunk's or the window's), in documents."""

    success: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    evaluated: int = 0
    #: ``@timestamp`` values before / at or after the window, with their documents, in table order
    late: list[tuple[Any, int]] = field(default_factory=list)
    future: list[tuple[Any, int]] = field(default_factory=list)
    #: documents whose ``@timestamp`` parsed (inside the window or not)
    timed: int = 0
    #: the ``_id`` hashes seen more than once and their copies
    duplicate_hashes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    duplicate_copies: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


class _Table:
    """The long table of one run, built part by part (one part per field, pattern set or id set)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []
        self.rows = 0
        #: the ``_id`` hashes of the id rows (kept beside the frame, whose value column holds None there)
        self.id_hashes = np.empty(0, dtype=np.uint64)
        self.id_first = 0
        #: (field, first row, end row) of every type part, for turning unexpected rows into fields
        self.type_spans: list[tuple[str, int, int]] = []

    def add(self, check: str, rows: int, **columns: Any) -> None:
        if not rows:
            return
        if check == CHECK_TYPE:
            self.type_spans.append((columns["field"], self.rows, self.rows + rows))
        self.parts.append({"check": check, "rows": rows, **columns})
        self.rows += rows

    def frame(self) -> pd.DataFrame:
        """The table as a frame; label columns are categorical (a byte or two a row, however many rows)."""
        data: dict[str, Any] = {}
        for name in TABLE_COLUMNS:
            if name in LABEL_COLUMNS:  # one label per part
                labels = [part.get(name) for part in self.parts]
                categories = sorted({label for label in labels if label is not None})
                code = {label: i for i, label in enumerate(categories)}
                codes = [np.full(part["rows"], code.get(label, -1), dtype=np.int32)  # -1: missing
                         for part, label in zip(self.parts, labels, strict=True)]
                data[name] = pd.Categorical.from_codes(np.concatenate(codes), categories=categories)
                continue
            dtype = np.float64 if name == "copies" else np.int64 if name == "documents" else object
            pieces = []
            for part in self.parts:
                value = part.get(name)
                if isinstance(value, np.ndarray):
                    pieces.append(value.astype(dtype, copy=False))
                else:
                    pieces.append(np.full(part["rows"], np.nan if dtype is np.float64 else value, dtype=dtype))
            data[name] = np.concatenate(pieces)
        return pd.DataFrame(data, copy=False)


def _timestamps_ns(values: np.ndarray) -> np.ndarray:
    """Epoch nanoseconds of each ``@timestamp`` value (Python ints, exact), None where it does not parse."""
    return np.fromiter((parse_ns(v) if type(v) is str else None for v in values), dtype=object, count=len(values))


def build_suite(plan: SuitePlan) -> Any:
    """Return the GX suite of the spec: four expectations, the same for every window."""
    version = spec_version()
    return gx.ExpectationSuite(
        name=f"jumpcloud_ecs_spec_{version}",
        notes="Rows are distinct values with document counts: one row per distinct value of a spec field, "
              "per presence pattern of the required fields and per distinct _id.",
        meta={"spec_version": version, "fields": len(plan.type_checks)},
        expectations=[
            ExpectRowValuesToMatchSpecType(column_list=list(TYPE_COLUMNS), row_condition=Column("check") == CHECK_TYPE,
                                           notes=f"{len(plan.type_checks)} spec fields, spec {version}"),
            gxe.ExpectColumnValuesToNotBeNull(
                column="value", row_condition=Column("check") == CHECK_REQUIRED,
                notes="required: " + ", ".join(f"{c.column} ({', '.join(c.satisfies)})" for c in plan.required)
                      + "; error documents excluded"),
            gxe.ExpectColumnValuesToBeBetween(column="copies", max_value=1,
                                              notes="every _id at most once in the window"),
            gxe.ExpectColumnValuesToBeBetween(
                column="ns", min_value={"$PARAMETER": "window_start_ns"},
                max_value={"$PARAMETER": "window_end_ns"}, strict_max=True,
                notes="@timestamp (epoch nanoseconds) inside the half-open window"),
        ],
    )


class GXSession:
    """An ephemeral GX context with a Data Docs site in ``docs_dir`` and the spec's suite, for one window."""

    def __init__(self, plan: SuitePlan, docs_dir: str, *, label: str, start_ns: int, end_ns: int) -> None:
        # The batch fingerprint pickles a whole object frame (seconds per chunk) and is only metadata.
        gx_pandas_engine.HASH_THRESHOLD = 0
        self.plan = plan
        self.label = label
        self.parameters = {"window_start_ns": start_ns, "window_end_ns": end_ns}
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
            .add_batch_definition_whole_dataframe(name="gathered_values")
        )
        suite = self.ctx.suites.add(build_suite(plan))
        self.definition = self.ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}_{label}", data=batch, suite=suite)
        )
        self._high: set[str] = set()
        #: low-cardinality columns: {value key: [value, documents]} gathered over the window's chunks
        self._window_values: dict[str, dict[Any, list[Any]]] = {}
        #: required-field presence patterns over the window: {pattern: [documents, example values]}
        self._window_required: dict[tuple[bool, ...], list[Any]] = {}
        self._required_columns = tuple(check.column for check in plan.required)
        self.kept_runs: list[dict[str, Any]] = []
        self._pending: set[Any] = set()
        self._last: dict[str, Any] = {}
        self._restated: dict[str, dict[str, Any]] = {}

    def _add_type_rows(self, table: _Table, column: str, values: np.ndarray, counts: np.ndarray) -> None:
        check = self.plan.type_checks[column]
        table.add(CHECK_TYPE, len(values), field=column, spec_type=check.spec_type, expected=check.expected_value,
                  value=values, documents=counts, ns=_timestamps_ns(values) if column == TIMESTAMP else None)

    def run(self, chunk: Chunk, chunk_number: int) -> RunOutcome:
        """Validate one chunk's high-cardinality columns and fold the rest into the window's values.

        Call :meth:`settle` next to keep or drop its results for Data Docs, and :meth:`finish` after
        the last chunk.
        """
        table = _Table()
        for column in sorted(chunk.values):
            if column not in self.plan.type_checks:
                continue
            if column in self._high:
                self._add_type_rows(table, column, *chunk.distinct(column))
            elif len(chunk.values[column]) + len(self._window_values.get(column, ())) > LOW_CARDINALITY:
                # Too many distinct values to keep for the whole window: validated chunk by chunk from now on,
                # starting with this chunk's values and those gathered so far.
                self._high.add(column)
                gathered, gathered_counts = self._take_window_values(column)
                values, counts = chunk.distinct(column)
                self._add_type_rows(table, column, np.concatenate([gathered, values]),
                                    np.concatenate([gathered_counts, counts]))
            else:
                self._fold(chunk, column)
        for pattern, (count, examples) in chunk.required.items():
            entry = self._window_required.get(pattern)
            if entry is None:
                self._window_required[pattern] = [count, examples]
            else:
                entry[0] += count
        return self._validate(table, f"{self.label}-chunk-{chunk_number:04d}")

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

    def finish(self, id_hashes: np.ndarray) -> RunOutcome:
        """Validate the gathered low-cardinality columns, the required patterns and the ``_id`` copies."""
        table = _Table()
        for column in sorted(self._window_values):
            self._add_type_rows(table, column, *self._take_window_values(column))
        patterns = [(p, entry) for p, entry in self._window_required.items() if not p[-1]]  # no error documents
        self._window_required = {}
        for i, column in enumerate(self._required_columns):
            table.add(CHECK_REQUIRED, len(patterns), field=column,
                      value=np.array([entry[1][i] if p[i] else None for p, entry in patterns], dtype=object),
                      documents=np.array([entry[0] for _p, entry in patterns], dtype=np.int64))
        table.id_hashes, copies = np.unique(id_hashes, return_counts=True)
        table.id_first = table.rows
        table.add(CHECK_ID, len(copies), field="_id", documents=copies, copies=copies)
        return self._validate(table, f"{self.label}-window")

    def _validate(self, table: _Table, run_name: str) -> RunOutcome:
        """Run the suite over the table (nothing when it is empty) and turn unexpected rows into documents."""
        self._pending = set()
        self._last = {"run_name": run_name, "success": True, "failing": []}
        if not table.rows:
            return RunOutcome()
        frame = table.frame()
        store = self.ctx.validation_results_store
        before = set(store.list_keys())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.definition.run(
                batch_parameters={"dataframe": frame}, expectation_parameters=self.parameters,
                result_format=RESULT_FORMAT, run_id=RunIdentifier(run_name=run_name),
            )
        self._pending = set(store.list_keys()) - before
        outcome = RunOutcome(success=bool(result.success), evaluated=len(result.results))
        documents = frame["documents"].to_numpy()
        restated: dict[str, dict[str, Any]] = {}
        for item in result.results:
            info = item.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(f"GX could not evaluate {item.expectation_config.type} in {run_name}: "
                                   f"{info.get('exception_message')}")
            bad = np.asarray(item.result.get("unexpected_index_list") or [], dtype=np.int64)
            kwargs = item.expectation_config.kwargs
            if item.expectation_config.type == ExpectRowValuesToMatchSpecType.expectation_type:
                self._type_outcomes(table, frame, bad, outcome)
            elif kwargs.get("column") == "value":
                self._required_outcomes(frame, bad, outcome)
            elif kwargs.get("column") == "copies":
                outcome.duplicate_hashes = table.id_hashes[bad - table.id_first]
                outcome.duplicate_copies = documents[bad]
            else:
                self._time_outcomes(frame, bad, outcome)
            restated[docresults.expectation_key(item.expectation_config.type, kwargs)] = self._restate(
                frame, kwargs.get("column"), bad)
        failing = [f"{o.column} ({o.kind})" for o in outcome.outcomes if o.failed]
        failing += ["_id (duplicates)"] if len(outcome.duplicate_hashes) else []
        failing += [f"{TIMESTAMP} (window)"] if outcome.late or outcome.future else []
        documented = [[o.column, o.kind, o.checked, o.failed] for o in outcome.outcomes if o.failed]
        self._last = {"run_name": run_name, "success": outcome.success, "failing": failing,
                      "documents": int(documents[(frame["check"] == CHECK_ID).to_numpy()].sum()) or None,
                      "failed_fields": documented[:EXAMPLES]}
        self._restated = restated
        return outcome

    @staticmethod
    def _restate(frame: pd.DataFrame, column: str | None, bad: np.ndarray) -> dict[str, Any]:
        """The figures of one expectation's result in documents (see :mod:`docresults`)."""
        checks = frame["check"].to_numpy()
        documents = frame["documents"].to_numpy()
        values = frame["value"].to_numpy()
        shown = bad[:docresults.LISTED * 4]  # a few more rows than listed: equal values are grouped
        if column is None:  # the type check
            fields, types = frame["field"].to_numpy(), frame["spec_type"].to_numpy()
            considered = checks == CHECK_TYPE
            labels = [{"field": fields[i], "spec_type": types[i], "value": values[i]} for i in shown]
        elif column == "value":
            considered = checks == CHECK_REQUIRED
            labels = [f"{frame['field'].iat[i]} missing" for i in shown]
        elif column == "copies":
            considered = checks == CHECK_ID
            copies = frame["copies"].to_numpy()
            labels = [f"_id held by {int(copies[i])} documents" for i in shown]
        else:
            considered = np.fromiter((v is not None for v in frame["ns"].to_numpy()), dtype=bool, count=len(frame))
            labels = [values[i] for i in shown]
        return docresults.restate(considered, bad, documents, labels)

    def _type_outcomes(self, table: _Table, frame: pd.DataFrame, bad: np.ndarray, outcome: RunOutcome) -> None:
        values = frame["value"].to_numpy()
        counts = frame["documents"].to_numpy()
        for column, first, end in table.type_spans:
            rows = bad[(bad >= first) & (bad < end)]
            order = rows[np.argsort(-counts[rows], kind="stable")] if rows.size else rows
            outcome.outcomes.append(Outcome(CHECK_TYPE, column, int(counts[first:end].sum()),
                                            int(counts[rows].sum()), [values[i] for i in order[:EXAMPLES]]))

    def _required_outcomes(self, frame: pd.DataFrame, bad: np.ndarray, outcome: RunOutcome) -> None:
        fields = frame["field"].to_numpy()
        counts = frame["documents"].to_numpy()
        mask = (frame["check"] == CHECK_REQUIRED).to_numpy()
        bad_fields = fields[bad]
        for column in self._required_columns:
            rows = mask & (fields == column)
            if rows.any():
                outcome.outcomes.append(Outcome(CHECK_REQUIRED, column, int(counts[rows].sum()),
                                                int(counts[bad[bad_fields == column]].sum())))

    def _time_outcomes(self, frame: pd.DataFrame, bad: np.ndarray, outcome: RunOutcome) -> None:
        ns = frame["ns"].to_numpy()
        counts = frame["documents"].to_numpy()
        values = frame["value"].to_numpy()
        start = self.parameters["window_start_ns"]
        for i in bad:
            (outcome.late if ns[i] < start else outcome.future).append((values[i], int(counts[i])))
        timed = np.fromiter((v is not None for v in ns), dtype=bool, count=len(ns))
        outcome.timed = int(counts[timed].sum())

    @property
    def kept(self) -> int:
        """Number of runs whose results are kept for Data Docs."""
        return len(self.kept_runs)

    def settle(self, keep: bool) -> None:
        """Keep the last run's validation results for Data Docs, or remove them from the store."""
        if keep and self._pending:  # a chunk without high-cardinality columns ran nothing
            self.kept_runs.append(self._last)
            docresults.apply(self.ctx.validation_results_store, self._pending, self._restated)
        else:
            for key in self._pending:
                self.ctx.validation_results_store.remove_key(key)
        self._pending = set()

    def build_docs(self) -> str:
        """Render the Data Docs site of the kept validation results; return the index URL."""
        urls = self.ctx.build_data_docs(site_names=[SITE_NAME])
        return str(urls[SITE_NAME])
