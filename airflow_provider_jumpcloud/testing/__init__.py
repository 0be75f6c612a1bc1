"""Test doubles shipped with the package, for tests, benchmarks and demos (loopback only)."""

from __future__ import annotations

from airflow_provider_jumpcloud.testing.elasticsearch_double import ElasticsearchDouble

__all__ = ["ElasticsearchDouble"]
