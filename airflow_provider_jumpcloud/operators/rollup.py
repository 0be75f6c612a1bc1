"""Roll up the quality reports of a range of windows into one page, rollup.json and windows.ndjson."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.staging import StagingLayout, as_path
from airflow_provider_jumpcloud.windows import Window

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Totals returned in XCom (the full roll-up is in rollup.json).
XCOM_TOTALS = ("windows", "pass", "warn", "fail", "documents", "missing", "incomplete_windows",
               "failing_fields", "drift_fields", "unreadable_reports", "gaps")


class JumpCloudQualityRollupOperator(BaseOperator):
    """Roll up the quality reports of every window starting in ``[start, end)`` (no re-validation).

    Give ``start`` and ``end``, or ``day_of`` for the whole UTC day before the day of that instant (a daily
    run passes ``{{ data_interval_end }}``). The output goes to ``out_dir``, or by default under the
    staging root: ``quality/daily/<date>/`` with ``day_of``, ``quality/ranges/<start>--<end>/`` otherwise.

    :param staging_root: staging root holding ``quality/<window>/summary.json`` (templated)
    :param start: range start, ISO 8601 UTC (templated)
    :param end: range end, exclusive (templated)
    :param day_of: report the UTC day before this instant's day instead of ``start``/``end`` (templated)
    :param out_dir: output folder, overrides the default (templated)
    """

    template_fields: Sequence[str] = ("staging_root", "start", "end", "day_of", "out_dir")
    ui_color = "#e7f0fd"

    def __init__(
        self,
        *,
        staging_root: str,
        start: Any = None,
        end: Any = None,
        day_of: Any = None,
        out_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.staging_root = staging_root
        self.start = start
        self.end = end
        self.day_of = day_of
        self.out_dir = out_dir

    def execute(self, context: Context) -> dict[str, Any]:
        """Write the roll-up, log its headline table and return its paths and totals."""
        from airflow_provider_jumpcloud.quality.rollup import build_rollup, daily_dir, day_before, range_dir

        layout = StagingLayout.at(as_path(self.staging_root))
        try:
            if self.day_of:
                span = day_before(self.day_of)
                default_out = daily_dir(layout, span.start.date())
            elif self.start and self.end:
                span = Window.parse(self.start, self.end)
                default_out = range_dir(layout, span)
            else:
                raise JumpCloudConfigError("give the range as start and end (ISO 8601 UTC), or day_of")
        except JumpCloudConfigError as err:
            raise AirflowFailException(f"quality roll-up: {err}") from err
        out = as_path(self.out_dir) if self.out_dir else default_out
        result = build_rollup(layout.root, span, out)
        self.log.info("Quality roll-up of %s:\n%s", span, result["headline"])
        self.log.info("Quality roll-up page: %s", result["reports"]["page"])
        return {"range": span.as_dict(), "totals": {k: result["totals"][k] for k in XCOM_TOTALS},
                "reports": result["reports"]}
