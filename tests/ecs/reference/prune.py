"""Reference pruning: the mapper's pure-Python walk (the C accelerator is checked against it)."""

from __future__ import annotations

from airflow_provider_jumpcloud.ecs.prune import may_need_pruning
from airflow_provider_jumpcloud.ecs.prune import py_prune_dict as prune_dict

__all__ = ["may_need_pruning", "prune_dict"]
