"""JumpCloud Directory Insights -> ECS -> quality -> Elasticsearch, one fixed window per DAG run.

Each run covers its data interval moved back by a lag, ``[start - lag, end - lag)``; windows are
half-open, so consecutive runs and backfills cover time exactly once. A plan task refuses windows
older than the API's retention (before any API call) and splits a large window into sub-windows by
``/events/count``; each sub-window runs fetch -> map -> quality -> load as a mapped task group.

Settings come from the environment (read at parse time, cheap) and from DAG params (per run).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, DeltaDataIntervalTimetable, Param, task, task_group

from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator
from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator
from airflow_provider_jumpcloud.operators.quality import JumpCloudEcsQualityCheckOperator

INTERVAL = timedelta(minutes=int(os.environ.get("JUMPCLOUD_INTERVAL_MINUTES", "15")))
RETENTION_DAYS = int(os.environ.get("JUMPCLOUD_RETENTION_DAYS", "90"))
STAGING_ROOT = os.environ.get(
    "JUMPCLOUD_STAGING_ROOT",
    str(Path(os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))) / "jumpcloud-staging"),
)
JUMPCLOUD_CONN_ID = os.environ.get("JUMPCLOUD_CONN_ID", "jumpcloud_default")
ES_CONN_ID = os.environ.get("JUMPCLOUD_ELASTICSEARCH_CONN_ID") or None
MAX_EVENTS_PER_WINDOW = int(os.environ.get("JUMPCLOUD_MAX_EVENTS_PER_WINDOW", "500000"))


def _default_start() -> datetime:
    """Today's midnight UTC minus the retention: the oldest day the API can still serve."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=RETENTION_DAYS - 1)


EVENTS_ASSET = Asset(name="logs-jumpcloud.events", uri="elasticsearch://jumpcloud/logs-jumpcloud.events")

with DAG(
    dag_id="jumpcloud_events",
    description="JumpCloud Directory Insights events to ECS documents in Elasticsearch, one window per run",
    schedule=DeltaDataIntervalTimetable(INTERVAL),
    start_date=_default_start(),
    catchup=False,
    max_active_runs=int(os.environ.get("JUMPCLOUD_MAX_ACTIVE_RUNS", "4")),
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True},
    tags=["jumpcloud", "elasticsearch", "ecs"],
    render_template_as_native_obj=True,
    params={
        "services": Param(["all"], type="array", description="Directory Insights services to fetch."),
        "namespace": Param("default", type="string", pattern="^[a-z0-9_.]{1,60}$",
                           description="Data stream namespace: logs-jumpcloud.events-<namespace>."),
        "sink": Param("auto", enum=["auto", "elasticsearch", "file"],
                      description="auto: Elasticsearch when a connection is configured, else bulk files."),
        "lag_minutes": Param(5, type="integer", minimum=0, maximum=1440,
                             description="Read each interval this late, so late events have arrived."),
        "retention_days": Param(RETENTION_DAYS, enum=[15, 90],
                                description="JumpCloud retention of your plan (15 on the lowest plan)."),
        "max_events_per_window": Param(MAX_EVENTS_PER_WINDOW, type="integer", minimum=1000,
                                       description="Split windows so each sub-window holds about this many."),
        "quality_policy": Param({}, type="object",
                                description="Quality thresholds, e.g. {\"max_error_document_rate\": 0.01}."),
        "tags": Param(["preserve_original_event"], type="array",
                      description="Document tags, as Elastic's agent options would add them."),
    },
) as dag:

    @task
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
            with JumpCloudHook(jumpcloud_conn_id=JUMPCLOUD_CONN_ID) as hook:
                windows = plan_subwindows(
                    data_interval_start,
                    data_interval_end,
                    lag=timedelta(minutes=int(params.get("lag_minutes", 5))),
                    retention_days=int(params.get("retention_days", RETENTION_DAYS)),
                    services=tuple(params.get("services") or ("all",)),
                    max_events=int(params.get("max_events_per_window", MAX_EVENTS_PER_WINDOW)),
                    count=hook.count_events,
                )
        except JumpCloudConfigError as err:
            raise AirflowFailException(str(err)) from err
        return [w.as_dict() for w in windows]

    @task_group
    def process_window(window: dict[str, str]) -> None:
        """Fetch -> map -> quality -> load for one (sub-)window."""
        fetched = JumpCloudToStorageOperator(
            task_id="fetch",
            window=window,
            staging_root=STAGING_ROOT,
            services="{{ params.services }}",
            retention_days=RETENTION_DAYS,
            jumpcloud_conn_id=JUMPCLOUD_CONN_ID,
        )
        mapped = JumpCloudEventsToEcsOperator(
            task_id="map", manifest=fetched.output, staging_root=STAGING_ROOT, tags="{{ params.tags }}"
        )
        checked = JumpCloudEcsQualityCheckOperator(
            task_id="quality",
            manifest=mapped.output,
            staging_root=STAGING_ROOT,
            policy="{{ params.quality_policy }}",
        )
        loaded = JumpCloudEcsToElasticsearchOperator(
            task_id="load",
            manifest=mapped.output,
            staging_root=STAGING_ROOT,
            elasticsearch_conn_id=ES_CONN_ID,
            sink="{{ params.sink }}",
            namespace="{{ params.namespace }}",
            outlets=[EVENTS_ASSET],
        )
        checked >> loaded

    process_window.expand(window=plan_windows())

# Airflow creates no task instances for runs older than a task's start date, so a backfill reaching past
# the retention (the DAG's start date) would "succeed" without doing anything. Tasks start earlier, so
# plan_windows runs for such windows and refuses them with a message naming the oldest fetchable time.
for _task in dag.tasks:
    _task.start_date = datetime(2000, 1, 1, tzinfo=UTC)
