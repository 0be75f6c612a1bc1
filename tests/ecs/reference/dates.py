"""Reference timestamps: the mapper's general ISO 8601 parser, without its fast path."""

from __future__ import annotations

from airflow_provider_jumpcloud.ecs.dates import DateParseError
from airflow_provider_jumpcloud.ecs.dates import parse_general as es_timestamp

__all__ = ["DateParseError", "es_timestamp"]
