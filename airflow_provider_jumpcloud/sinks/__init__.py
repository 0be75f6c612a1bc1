"""Sinks for mapped windows: Elasticsearch (bulk, idempotent, dead letters) and ``_bulk`` NDJSON files."""

from __future__ import annotations

from airflow_provider_jumpcloud.sinks.result import LoadResult

__all__ = ["LoadResult"]
