"""Range backfills: JumpCloud Directory Insights events of any ``[start, end)`` in as few runs as the data needs.

Triggered by hand (conf or the trigger form), never scheduled. One run plans the whole range: it clips the
range to the API's retention (or refuses it, ``clip_to_retention=false``), then splits it by
``/events/count`` into sub-windows of at most ``max_events_per_window`` events, bisecting only where events
are dense, so quiet stretches stay whole (18,000 events over 3 days are one sub-window, not 288 runs). Each
sub-window runs the same fetch -> map -> quality -> load task group as ``jumpcloud_events``; documents keep
their deterministic ``_id`` and are created with ``op_type=create``, so a range the scheduled DAG already
loaded is never duplicated.

``source="archive"`` re-maps the staged raw windows that overlap the range instead (after a mapping upgrade,
for a new cluster or a lost index, also older than the API's retention), without any API call; completeness
then compares with the counts in the raw windows' manifests.

    airflow dags trigger jumpcloud_events_backfill \\
        --conf '{"start": "2026-09-01T00:00:00Z", "end": "2026-11-30T00:00:00Z"}'
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jumpcloud.bundle import BundleSettings, window_params, window_task_group
from airflow_provider_jumpcloud.operators.rollup import JumpCloudQualityRollupOperator

SETTINGS = BundleSettings.from_env()

log = logging.getLogger(__name__)
#: Sub-windows listed one by one in the plan task's log (the rest are counted).
LOGGED_WINDOWS = 20

with DAG(
    dag_id="jumpcloud_events_backfill",
    description="Backfill JumpCloud Directory Insights events of a time range (or re-map them from the archive)",
    schedule=None,
    catchup=False,
    max_active_runs=int(os.environ.get("JUMPCLOUD_BACKFILL_MAX_ACTIVE_RUNS", "2")),
    default_args=SETTINGS.default_args(),
    tags=["jumpcloud", "elasticsearch", "ecs", "backfill"],
    render_template_as_native_obj=True,
    params={
        "start": Param(None, type=["null", "string"], format="date-time",
                       description="Range start, ISO 8601 UTC (inclusive), e.g. 2026-09-01T00:00:00Z."),
        "end": Param(None, type=["null", "string"], format="date-time",
                     description="Range end, ISO 8601 UTC (exclusive): the range is [start, end)."),
        **window_params(SETTINGS),
        "source": Param("api", enum=["api", "archive"],
                        description="api: fetch from JumpCloud. archive: re-map staged raw windows, no API call."),
        "clip_to_retention": Param(True, type="boolean",
                                   description="Clip a start older than the retention (false: refuse the run)."),
    },
) as dag:

    @task(pool=SETTINGS.api_pool)
    def plan_range(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Check the range, clip it to the retention, split it by count (or batch the archive's raw windows)."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
        from airflow_provider_jumpcloud.windows import Window

        params = params or {}
        services = tuple(params.get("services") or ("all",))
        max_events = int(params.get("max_events_per_window", SETTINGS.max_events_per_window))
        try:
            if not params.get("start") or not params.get("end"):
                raise JumpCloudConfigError("give the range as params start and end (ISO 8601 UTC), e.g. "
                                           '{"start": "2026-09-01T00:00:00Z", "end": "2026-09-08T00:00:00Z"}')
            window = Window.parse(params["start"], params["end"])
            if params.get("source") == "archive":
                return _plan_archive(window, max_events)
            return _plan_api(window, params, services, max_events)
        except JumpCloudConfigError as err:
            raise AirflowFailException(str(err)) from err

    def _plan_api(window: Any, params: dict[str, Any], services: tuple[str, ...], max_events: int
                  ) -> list[dict[str, Any]]:
        from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
        from airflow_provider_jumpcloud.windows import plan_range

        with JumpCloudHook(jumpcloud_conn_id=SETTINGS.jumpcloud_conn_id) as hook:
            parts, notes = plan_range(
                window,
                retention_days=int(params.get("retention_days", SETTINGS.retention_days)),
                clip=bool(params.get("clip_to_retention", True)),
                services=services,
                max_events=max_events,
                count=lambda w: hook.count_events(w.start, w.count_end, services=services),
            )
        for note in notes:
            log.warning("%s", note)
        total = sum(n for _w, n in parts)
        log.info("Planned %d sub-window(s) for %d events in %s (at most about %d events each)",
                 len(parts), total, window, max_events)
        for sub, n in parts[:LOGGED_WINDOWS]:
            log.info("  %s: %d events", sub, n)
        if len(parts) > LOGGED_WINDOWS:
            log.info("  ... and %d more sub-windows", len(parts) - LOGGED_WINDOWS)
        return [sub.as_dict() for sub, _n in parts]

    def _plan_archive(window: Any, max_events: int) -> list[dict[str, Any]]:
        from airflow_provider_jumpcloud.archive import plan_archive, write_batch
        from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
        from airflow_provider_jumpcloud.staging import StagingLayout, as_path

        layout = StagingLayout.at(as_path(SETTINGS.staging_root))
        plan = plan_archive(layout, window, max_events=max_events)
        if not plan.batches:
            raise JumpCloudConfigError(f"no staged raw window under {SETTINGS.staging_root} overlaps {window}: "
                                       "nothing to re-map (the archive holds the raw windows fetch tasks wrote)")
        log.info("Re-mapping %d events of %s from the archive: %d sub-window(s) of staged raw windows, no API call",
                 plan.events, window, len(plan.batches))
        if plan.skipped:
            log.info("Left out %d raw window(s) that overlap a chosen one (the same events again)",
                     len(plan.skipped))
        for gap in plan.gaps[:LOGGED_WINDOWS]:
            log.warning("No staged raw window covers %s: its events are not re-mapped", gap)
        return [{**batch.window.as_dict(), "raw_plan": write_batch(layout, window.key, batch)}
                for batch in plan.batches]

    # One quality roll-up over the whole range once every sub-window is done, also when some failed (the report
    # is how you find out which and why). As a teardown task it does not decide the run's state: a run with a
    # failed sub-window is failed even though its report was written.
    quality_report = JumpCloudQualityRollupOperator(
        task_id="quality_report",
        staging_root=SETTINGS.staging_root,
        start="{{ params.start }}",
        end="{{ params.end }}",
    ).as_teardown()
    window_task_group(SETTINGS).expand(window=plan_range()) >> quality_report
