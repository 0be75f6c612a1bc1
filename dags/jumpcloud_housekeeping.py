"""Staging retention: once a day, delete staging files past their retention, never those of a window not loaded.

``ecs/``, ``bulk/``, archive plans and the quality Data Docs go ``JUMPCLOUD_STAGING_RETENTION_DAYS`` (7) after
their window ended, the quality summaries after ``JUMPCLOUD_QUALITY_RETENTION_DAYS`` (400), the raw archive
after ``JUMPCLOUD_RAW_RETENTION_DAYS`` (90, the longest JumpCloud retention: raw is the only copy older than
that), and only once the window's load succeeded; dead letters are never deleted. Orphaned temporary files
of killed tasks older than an hour go too. Trigger with ``{"dry_run": true}`` to see what would go.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_jumpcloud.bundle import START_DATE, BundleSettings
from airflow_provider_jumpcloud.housekeeping import RetentionPolicy

SETTINGS = BundleSettings.from_env()
POLICY = RetentionPolicy.from_env()
DRY_RUN_ENV = "JUMPCLOUD_HOUSEKEEPING_DRY_RUN"

log = logging.getLogger(__name__)

with DAG(
    dag_id="jumpcloud_housekeeping",
    description="Delete JumpCloud staging files past their retention (never a window whose load has not succeeded)",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=SETTINGS.default_args(),
    tags=["jumpcloud", "maintenance"],
    params={
        "dry_run": Param(os.environ.get(DRY_RUN_ENV, "").strip().lower() in ("1", "true", "yes"), type="boolean",
                         description="Only report what would be deleted."),
    },
) as dag:

    @task
    def clean_staging(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply the staging retention and log one summary: files and bytes per stage, windows kept."""
        from airflow_provider_jumpcloud.housekeeping import clean_staging as sweep
        from airflow_provider_jumpcloud.staging import as_path

        dry_run = bool((params or {}).get("dry_run", False))
        log.info("Staging retention: %d days (quality summaries %d, raw archive %d, load summaries %d)%s",
                 POLICY.staging_days, POLICY.quality_days, POLICY.raw_days, POLICY.load_days,
                 ", dry run" if dry_run else "")
        report = sweep(as_path(SETTINGS.staging_root), POLICY, dry_run=dry_run)
        log.info("%s", report.summary())
        return report.as_dict()

    clean_staging()
