"""Daily data-quality report: one roll-up page of every window checked the day before.

Each run reads the ``quality/<window>/summary.json`` of every window starting in the UTC day that ended at
its data interval's end (nothing is validated again) and writes ``quality/daily/<YYYY-MM-DD>/`` under the
staging root: ``index.html`` (charts, failing fields, drift, worst and incomplete windows, links to each
window's Data Docs), ``rollup.json`` and ``windows.ndjson``. Windows whose quality task had not finished
when the report ran show as time without a report; clear the task to redo a day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_jumpcloud.bundle import BundleSettings
from airflow_provider_jumpcloud.operators.rollup import JumpCloudQualityRollupOperator

SETTINGS = BundleSettings.from_env()

#: A fixed first day; with catchup off only the latest day is reported when the DAG is unpaused.
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

with DAG(
    dag_id="jumpcloud_quality_report",
    description="Daily roll-up of the JumpCloud ECS quality reports of the day before",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["jumpcloud", "quality"],
) as dag:
    JumpCloudQualityRollupOperator(
        task_id="quality_report",
        staging_root=SETTINGS.staging_root,
        day_of="{{ data_interval_end.isoformat() }}",
    )
