"""Run operators as real task instances with ``dag.test()`` and read each task's state and try number.

``task_outcomes(run)`` works on any finished ``dag.test()`` run (also the bundled DAGs of ``tests/dags``):
a task that failed for good on its first try has ``("failed", 1)``; one Airflow retried has a larger
``try_number``. ``run_single_task`` wraps one operator in a throw-away DAG with retries enabled, so a
test can prove an error is NOT retried (``dag.test()`` runs retries in-process after ``retry_delay``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TaskOutcome:
    """The last try of one task instance."""

    state: str
    try_number: int


def _text(state: Any) -> str:
    return str(getattr(state, "value", state))


def task_outcomes(run: Any) -> dict[str, TaskOutcome]:
    """``{task_id: TaskOutcome}`` of every task instance of a finished DAG run (mapped ones as ``id[i]``)."""
    outcomes = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        outcomes[key] = TaskOutcome(_text(ti.state), int(ti.try_number))
    return outcomes


def run_single_task(
    make_operator: Callable[[], Any], folder: Path, *, retries: int = 2,
    retry_delay: timedelta = timedelta(seconds=1),
) -> tuple[str, TaskOutcome]:
    """Run the operator ``make_operator()`` builds (inside a fresh DAG) with ``dag.test()``.

    Returns the run's state and the task's outcome. ``folder`` is an empty directory (the DAG's bag).
    Needs Airflow's metadata DB (``airflow.utils.db.initdb()`` once per session).
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.sdk import DAG

    dag_id = f"single_task_{uuid.uuid4().hex[:12]}"
    with DAG(dag_id, schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC),
             default_args={"retries": retries, "retry_delay": retry_delay}) as dag:
        task = make_operator()
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(folder))
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)  # dag.test() needs the DAG serialized in a known bundle
    run = dag.test(logical_date=datetime(2025, 6, 1, tzinfo=UTC))
    return _text(run.state), task_outcomes(run)[task.task_id]
