"""JumpCloud Directory Insights -> ECS -> quality -> Elasticsearch, one fixed window per DAG run.

Each run covers its data interval moved back by a lag, ``[start - lag, end - lag)``; windows are
half-open, so consecutive runs and backfills cover time exactly once. A plan task refuses windows
older than the API's retention (before any API call) and splits a large window into sub-windows by
``/events/count``; each sub-window runs fetch -> map -> quality -> load as a mapped task group.

Settings come from the environment (read at parse time, cheap) and from DAG params (per run).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, DeltaDataIntervalTimetable, Param, task

from airflow_provider_jumpcloud.bundle import START_DATE, BundleSettings, window_params, window_task_group

SETTINGS = BundleSettings.from_env()

INTERVAL = timedelta(minutes=int(os.environ.get("JUMPCLOUD_INTERVAL_MINUTES", "15")))


with DAG(
    dag_id="jumpcloud_events",
    description="JumpCloud Directory Insights events to ECS documents in Elasticsearch, one window per run",
    schedule=DeltaDataIntervalTimetable(INTERVAL),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=int(os.environ.get("JUMPCLOUD_MAX_ACTIVE_RUNS", "4")),
    default_args=SETTINGS.default_args(),
    tags=["jumpcloud", "elasticsearch", "ecs"],
    render_template_as_native_obj=True,
    params={
        **window_params(SETTINGS),
        "lag_minutes": Param(5, type="integer", minimum=0, maximum=1440,
                             description="Read each interval this late, so late events have arrived."),
    },
) as dag:

    @task(pool=SETTINGS.api_pool)
    def plan_windows(
        params: dict[str, Any] | None = None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
    ) -> list[dict[str, str]]:
        """Validate params, refuse windows past retention, split by /events/count into sub-windows."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
        from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
        from airflow_provider_jumpcloud.windows import plan_subwindows

        params = params or {}
        try:
            with JumpCloudHook(jumpcloud_conn_id=SETTINGS.jumpcloud_conn_id) as hook:
                windows = plan_subwindows(
                    data_interval_start,
                    data_interval_end,
                    lag=timedelta(minutes=int(params.get("lag_minutes", 5))),
                    retention_days=int(params.get("retention_days", SETTINGS.retention_days)),
                    services=tuple(params.get("services") or ("all",)),
                    max_events=int(params.get("max_events_per_window", SETTINGS.max_events_per_window)),
                    count=hook.count_events,
                )
        except JumpCloudConfigError as err:
            raise AirflowFailException(str(err)) from err
        return [w.as_dict() for w in windows]

    window_task_group(SETTINGS).expand(window=plan_windows())
