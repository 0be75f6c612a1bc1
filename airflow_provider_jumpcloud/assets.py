"""The assets the load task produces, and when it produces them: an asset event means data arrived.

A task's declared ``Asset`` outlets get an event on every success, whatever the task did. So the load task
declares the alias :data:`LOAD_ALIAS` instead and attaches an event to it only when something arrived
(Airflow's supported way to emit asset events at run time): :data:`EVENTS_ASSET` when documents were
created in Elasticsearch, :data:`BULK_FILES_ASSET` when the file sink wrote documents. A re-run that adds
nothing (every document already present) emits nothing. Consumers schedule on the assets themselves,
e.g. ``@dag(schedule=[EVENTS_ASSET])``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_jumpcloud.sinks.result import LoadResult
from airflow_provider_jumpcloud.spec.datastream import DATASET, index_template_name
from airflow_provider_jumpcloud.windows import Window

#: Documents created in the ``logs-jumpcloud.events-<namespace>`` data streams.
EVENTS_ASSET = Asset(
    name=index_template_name(DATASET), uri=f"elasticsearch://jumpcloud/{index_template_name(DATASET)}"
)
#: ``_bulk`` files written by the file sink under ``staging/bulk/``, waiting to be replayed.
BULK_FILES_ASSET = Asset(name="jumpcloud-bulk-files", uri="jumpcloud://staging/bulk")
#: The load task's declared outlet; events for the assets above are attached to it at run time.
LOAD_ALIAS = AssetAlias(name="jumpcloud-load")
#: Every asset the load task may emit an event for (through :data:`LOAD_ALIAS`).
PRODUCED_ASSETS = (EVENTS_ASSET, BULK_FILES_ASSET)


def load_asset_event(result: LoadResult, window: Window, namespace: str) -> tuple[Asset, dict[str, Any]] | None:
    """Return ``(asset, extra)`` for a load that delivered documents, or None when nothing arrived."""
    if result.indexed <= 0:
        return None
    asset = EVENTS_ASSET if result.sink == "elasticsearch" else BULK_FILES_ASSET
    extra: dict[str, Any] = {
        "window": window.as_dict(),
        "namespace": namespace,
        "data_stream": result.data_stream,
        "counts": result.counts(),
    }
    if result.output_path:
        extra["path"] = result.output_path
    return asset, extra
