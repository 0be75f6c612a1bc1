"""Sinks for mapped windows: Elasticsearch (bulk, idempotent, dead letters) and ``_bulk`` NDJSON files."""

from __future__ import annotations

from airflow_provider_jumpcloud.sinks.datastream import data_stream_name, validate_namespace
from airflow_provider_jumpcloud.sinks.result import LoadResult

__all__ = ["LoadResult", "data_stream_name", "validate_namespace"]
