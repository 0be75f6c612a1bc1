"""The assets the load task emits are registered when the DAG is parsed, not created by the first event.

An asset first seen in an alias event is created at run time, and two load tasks finishing at once race on
its unique key (one fails: seen under a real scheduler with 10 concurrent backfill runs).
"""

from __future__ import annotations

import pytest

from airflow_provider_jumpcloud.assets import PRODUCED_ASSETS
from tests.dags.helpers import ROOT


@pytest.mark.parametrize("dag_id", ["jumpcloud_events", "jumpcloud_events_backfill"])
def test_the_dag_processor_registers_every_asset_the_load_task_may_emit(dag_id: str) -> None:
    from airflow.dag_processing.collection import AssetModelOperation
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization, LazyDeserializedDAG

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    lazy = LazyDeserializedDAG(data=DagSerialization.to_dict(bag.dags[dag_id]))
    registered = set(AssetModelOperation.collect({dag_id: lazy}).assets)
    assert {(a.name, a.uri) for a in PRODUCED_ASSETS} <= registered
    load = bag.dags[dag_id].get_task("process_window.load")
    assert not [o for o in load.outlets if type(o).__name__ == "Asset"]  # events only through the alias
