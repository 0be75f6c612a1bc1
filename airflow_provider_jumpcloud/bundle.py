"""Pieces the bundled DAGs share: settings from the environment, params, and the per-window task group.

``jumpcloud_events`` (one window per scheduled run) and ``jumpcloud_events_backfill`` (one run per range)
both run :func:`process_window` for every (sub-)window their plan task returns. Settings are read from the
environment when a DAG file is parsed (cheap); everything per run comes from the run's params. Importing
this module imports the operators' modules only: no Great Expectations, pandas, mapper or Elasticsearch
client, which the tasks import when they run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, task_group

from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator
from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator
from airflow_provider_jumpcloud.operators.quality import JumpCloudEcsQualityCheckOperator
from airflow_provider_jumpcloud.spec.datastream import NAMESPACE_PATTERN
from airflow_provider_jumpcloud.windows import DEFAULT_RETENTION_DAYS, RETENTION_DAYS_CHOICES

#: Airflow pool of every task that calls the JumpCloud API (plan and fetch). Create it once with
#: ``airflow pools set jumpcloud_api 4 "JumpCloud Directory Insights API"``; its size caps concurrent API tasks
#: across all runs, including ``airflow backfill create`` runs, which ignore the DAG's ``max_active_runs``.
API_POOL = "jumpcloud_api"

#: First logical date of the bundled DAGs: a constant, so the serialized DAG never changes with the clock.
#: With ``catchup=False`` the scheduler starts at the latest interval; older windows are for backfills, and
#: the plan task refuses those past the API's retention.
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BundleSettings:
    """Deployment settings of the bundled DAGs, read from the environment when a DAG file is parsed."""

    staging_root: str
    jumpcloud_conn_id: str = "jumpcloud_default"
    elasticsearch_conn_id: str = "elasticsearch_default"
    retention_days: int = DEFAULT_RETENTION_DAYS
    max_events_per_window: int = 500_000
    api_pool: str = API_POOL
    task_timeout: timedelta = timedelta(minutes=120)

    @classmethod
    def from_env(cls) -> BundleSettings:
        """Read ``JUMPCLOUD_STAGING_ROOT``, ``JUMPCLOUD_CONN_ID``, ``JUMPCLOUD_ELASTICSEARCH_CONN_ID``,
        ``JUMPCLOUD_RETENTION_DAYS``, ``JUMPCLOUD_MAX_EVENTS_PER_WINDOW``, ``JUMPCLOUD_API_POOL`` and
        ``JUMPCLOUD_TASK_TIMEOUT_MINUTES``."""
        home = Path(os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow")))
        return cls(
            staging_root=os.environ.get("JUMPCLOUD_STAGING_ROOT", str(home / "jumpcloud-staging")),
            jumpcloud_conn_id=os.environ.get("JUMPCLOUD_CONN_ID", "jumpcloud_default"),
            elasticsearch_conn_id=os.environ.get("JUMPCLOUD_ELASTICSEARCH_CONN_ID") or "elasticsearch_default",
            retention_days=int(os.environ.get("JUMPCLOUD_RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS))),
            max_events_per_window=int(os.environ.get("JUMPCLOUD_MAX_EVENTS_PER_WINDOW", "500000")),
            api_pool=os.environ.get("JUMPCLOUD_API_POOL", API_POOL) or "default_pool",
            task_timeout=timedelta(minutes=int(os.environ.get("JUMPCLOUD_TASK_TIMEOUT_MINUTES", "120"))),
        )

    def default_args(self) -> dict[str, Any]:
        """Task defaults of the bundled DAGs: bounded retries with backoff and a hard execution timeout."""
        return {
            "retries": 3,
            "retry_delay": timedelta(minutes=1),
            "retry_exponential_backoff": True,
            "execution_timeout": self.task_timeout,
        }



def window_params(settings: BundleSettings) -> dict[str, Param]:
    """Return the params every bundled DAG takes for the windows it processes."""
    return {
        "services": Param(["all"], type="array", description="Directory Insights services to fetch."),
        "namespace": Param("default", type="string", pattern=NAMESPACE_PATTERN,
                           description="Data stream namespace: logs-jumpcloud.events-<namespace>."),
        "sink": Param("auto", enum=["auto", "elasticsearch", "file"],
                      description="auto: Elasticsearch when the connection elasticsearch_default "
                                  "(JUMPCLOUD_ELASTICSEARCH_CONN_ID) exists, else bulk files."),
        "data_retention": Param("90d", type=["null", "string"], pattern=r"^[0-9]+[dhms]$",
                                description="Data stream lifecycle of new data streams (e.g. 90d); null: keep."),
        "retention_days": Param(settings.retention_days, enum=list(RETENTION_DAYS_CHOICES),
                                description="JumpCloud retention of your plan (15 on the lowest plan)."),
        "max_events_per_window": Param(settings.max_events_per_window, type="integer", minimum=1000,
                                       description="Split windows so each sub-window holds about this many."),
        "quality_policy": Param({}, type="object",
                                description="Quality thresholds, e.g. {\"max_error_document_rate\": 0.01}."),
        "tags": Param(["preserve_original_event"], type="array",
                      description="Document tags, as Elastic's agent options would add them."),
    }


def window_task_group(settings: BundleSettings) -> Any:
    """Return the task group fetch (or read from the raw archive) -> map -> quality -> load of one window.

    Expand it over a plan task's windows: ``window_task_group(settings).expand(window=plan())``.
    """

    @task_group
    def process_window(window: dict[str, Any]) -> None:
        """Fetch (or read from the raw archive) -> map -> quality -> load for one (sub-)window."""
        _window_tasks(settings, window)

    return process_window


def _window_tasks(settings: BundleSettings, window: dict[str, Any]) -> None:
    fetched = JumpCloudToStorageOperator(
        task_id="fetch",
        window=window,
        staging_root=settings.staging_root,
        services="{{ params.services }}",
        retention_days="{{ params.retention_days }}",
        jumpcloud_conn_id=settings.jumpcloud_conn_id,
        pool=settings.api_pool,
    )
    mapped = JumpCloudEventsToEcsOperator(
        task_id="map", manifest=fetched.output, staging_root=settings.staging_root, tags="{{ params.tags }}"
    )
    checked = JumpCloudEcsQualityCheckOperator(
        task_id="quality",
        manifest=mapped.output,
        staging_root=settings.staging_root,
        namespace="{{ params.namespace }}",
        policy="{{ params.quality_policy }}",
    )
    loaded = JumpCloudEcsToElasticsearchOperator(
        task_id="load",
        manifest=mapped.output,
        staging_root=settings.staging_root,
        elasticsearch_conn_id=settings.elasticsearch_conn_id,
        sink="{{ params.sink }}",
        namespace="{{ params.namespace }}",
        data_retention="{{ params.data_retention }}",
    )
    checked >> loaded
