"""Fixtures of the sink tests: an Elasticsearch double per test and a client without back-off sleeps."""

from __future__ import annotations

import pytest

from airflow_provider_jumpcloud.sinks.elasticsearch import build_client, configure_client
from tests.sinks.docs import API_KEY
from tests.support.elasticsearch_double import ElasticsearchDouble


@pytest.fixture
def double():
    """A 9.x double that requires ``ApiKey API_KEY``."""
    with ElasticsearchDouble(version="9.1.5", api_key=API_KEY) as es:
        yield es


@pytest.fixture
def client(double):
    """A configured client for ``double``: transport retries without sleeping."""
    return configure_client(build_client(double.url, api_key=API_KEY), backoff_base=0, max_retries=3)
