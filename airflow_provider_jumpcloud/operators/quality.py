"""Check the data quality of one mapped window with Great Expectations."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError, QualityCheckFailed, StagingFileError
from airflow_provider_jumpcloud.staging import StagingLayout, as_path
from airflow_provider_jumpcloud.windows import Window

if TYPE_CHECKING:
    from airflow.sdk import Context


def _as_dict(value: Any) -> dict[str, Any]:
    """Accept a manifest as a dict or as its rendered text (JSON or a Python literal)."""
    if value is None or isinstance(value, Mapping):
        return dict(value or {})
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        parsed = ast.literal_eval(value)
    if not isinstance(parsed, dict):
        raise JumpCloudConfigError("the mapped-window manifest must be a dict")
    return parsed


class JumpCloudEcsQualityCheckOperator(BaseOperator):
    """Validate a mapped window against the exported-fields spec; fail the task on a failing verdict.

    Give either ``manifest`` (the mapping task's XCom) or ``ecs_path`` with ``start`` and ``end``.

    :param staging_root: staging root where the reports go (``quality/<window>/``) (templated)
    :param manifest: mapped-window manifest: ``window``, ``ecs_path``, ``counts``, ``api_count`` (templated)
    :param ecs_path: mapped documents file, overrides the manifest's (templated)
    :param start: window start, with ``end`` when no manifest is given (templated)
    :param end: window end (templated)
    :param namespace: data stream namespace expected in ``data_stream.namespace`` (templated)
    :param policy: quality policy thresholds as a dict, e.g. from DAG params (templated)
    :param api_count: the API's event count for the window, overrides the manifest's (templated)
    :param events_fetched: events fetched for the window, overrides the manifest's counts (templated)
    :param chunk_size: documents read per chunk (see ``check_window``)
    """

    template_fields: Sequence[str] = (
        "staging_root", "manifest", "ecs_path", "start", "end", "namespace", "policy", "api_count",
        "events_fetched",
    )
    ui_color = "#fdf2e0"

    def __init__(
        self,
        *,
        staging_root: str,
        manifest: dict[str, Any] | str | None = None,
        ecs_path: str | None = None,
        start: Any = None,
        end: Any = None,
        namespace: str = "default",
        policy: dict[str, Any] | None = None,
        api_count: int | None = None,
        events_fetched: int | None = None,
        chunk_size: int = 100_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.staging_root = staging_root
        self.manifest = manifest
        self.ecs_path = ecs_path
        self.start = start
        self.end = end
        self.namespace = namespace
        self.policy = policy
        self.api_count = api_count
        self.events_fetched = events_fetched
        self.chunk_size = chunk_size

    def _inputs(self) -> tuple[Window, str, int | None, int | None]:
        data = _as_dict(self.manifest)
        if self.start is not None and self.end is not None:
            window = Window.parse(self.start, self.end)
        elif data.get("window"):
            window = Window.from_dict(data["window"])
        else:
            raise JumpCloudConfigError("give a mapped-window manifest or both start and end")
        ecs_path = self.ecs_path or data.get("ecs_path")
        if not ecs_path:
            raise JumpCloudConfigError("give a mapped-window manifest with ecs_path, or ecs_path")
        counts = data.get("counts") or {}
        fetched = self.events_fetched
        if fetched is None:
            fetched = counts.get("fetched", counts.get("read"))
        api_count = self.api_count if self.api_count is not None else data.get("api_count")
        return window, ecs_path, _opt_int(fetched), _opt_int(api_count)

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the check; return a small summary (verdict, counts, report paths) for XCom."""
        from airflow_provider_jumpcloud.quality import QualityPolicy, check_window

        window, ecs_path, fetched, api_count = self._inputs()
        policy = QualityPolicy.from_dict(self.policy)
        src = as_path(ecs_path)
        quality_dir = StagingLayout.at(as_path(self.staging_root)).quality_dir(window)
        try:
            summary = check_window(
                src, window, quality_dir=quality_dir, policy=policy, namespace=self.namespace,
                events_fetched=fetched, api_count=api_count, chunk_size=self.chunk_size,
                log_chunk=self.log.info,
            )
        except StagingFileError as err:  # a corrupt staged file: running again reads the same bytes
            where = f"file {err.path}" + (f", line {err.line}" if err.line is not None else "")
            raise AirflowFailException(f"cannot check the quality of window {window}: {err} ({where}); "
                                       "run the map task of this window again") from err
        self.log.info("Quality report for %s:\n%s", window, summary["table"])
        reports = summary["reports"]
        self.log.info("Quality report of %s: %s (summary: %s)", window,
                      reports.get("data_docs", reports["summary"]), reports["summary"])
        result = {
            "window": window.as_dict(),
            "verdict": summary["verdict"],
            "counts": {
                "documents": summary["documents"],
                "error_documents": summary["error_documents"],
                "fields_failed": len(summary["fields_failed"]),
                "duplicates": summary["duplicates"]["documents"],
                "late": summary["timestamps"]["late"],
                "future": summary["timestamps"]["future"],
                "unknown_fields": summary["unknown_fields_total"],
            },
            "reports": summary["reports"],
        }
        if summary["verdict"] == "fail":
            reasons = "; ".join(r["message"] for r in summary["reasons"] if r["level"] == "fail")
            error = QualityCheckFailed(f"quality check failed for {window}: {reasons[:1000]}", summary=result)
            raise AirflowFailException(str(error)) from error
        return result


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)
