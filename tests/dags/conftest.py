"""Fixtures of the DAG tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB (SQLite in the tests' private AIRFLOW_HOME), created once."""
    from airflow.utils.db import initdb

    initdb()
