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
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, Param, task_group

from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator
from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator
from airflow_provider_jumpcloud.operators.quality import JumpCloudEcsQualityCheckOperator
from airflow_provider_jumpcloud.windows import DEFAULT_RETENTION_DAYS, RETENTION_DAYS_CHOICES


@dataclass(frozen=True)
class BundleSettings:
    """Deployment settings of the bundled DAGs, read from the environment when a DAG file is parsed."""

    staging_root: str
    jumpcloud_conn_id: str = "jumpcloud_default"
    elasticsearch_conn_id: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    max_events_per_window: int = 500_000

    @classmethod
    def from_env(cls) -> BundleSettings:
        """Read ``JUMPCLOUD_STAGING_ROOT``, ``JUMPCLOUD_CONN_ID``, ``JUMPCLOUD_ELASTICSEARCH_CONN_ID``,
        ``JUMPCLOUD_RETENTION_DAYS`` and ``JUMPCLOUD_MAX_EVENTS_PER_WINDOW``."""
        home = Path(os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow")))
        return cls(
            staging_root=os.environ.get("JUMPCLOUD_STAGING_ROOT", str(home / "jumpcloud-staging")),
            jumpcloud_conn_id=os.environ.get("JUMPCLOUD_CONN_ID", "jumpcloud_default"),
            elasticsearch_conn_id=os.environ.get("JUMPCLOUD_ELASTICSEARCH_CONN_ID") or None,
            retention_days=int(os.environ.get("JUMPCLOUD_RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS))),
            max_events_per_window=int(os.environ.get("JUMPCLOUD_MAX_EVENTS_PER_WINDOW", "500000")),
        )


#: Namespace pattern of the data stream (``logs-jumpcloud.events-<namespace>``).
NAMESPACE_PATTERN = "^[a-z0-9_.]{1,60}$"

EVENTS_ASSET = Asset(name="logs-jumpcloud.events", uri="elasticsearch://jumpcloud/logs-jumpcloud.events")


def window_params(settings: BundleSettings) -> dict[str, Param]:
    """Return the params every bundled DAG takes for the windows it processes."""
    return {
        "services": Param(["all"], type="array", description="Directory Insights services to fetch."),
        "namespace": Param("default", type="string", pattern=NAMESPACE_PATTERN,
                           description="Data stream namespace: logs-jumpcloud.events-<namespace>."),
        "sink": Param("auto", enum=["auto", "elasticsearch", "file"],
                      description="auto: Elasticsearch when a connection is configured, else bulk files."),
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
        outlets=[EVENTS_ASSET],
    )
    checked >> loaded
