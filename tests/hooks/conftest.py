"""Fixtures of the hook tests: a hook that never sleeps and logs to a stdlib logger caplog can read."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_jumpcloud.hooks import jumpcloud as hook_module
from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook

LOGGER = "tests.hooks.jumpcloud"


class Sleeps(list):
    """Record requested sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_hook(jumpcloud_conn, sleeps, caplog):
    """Build hooks on ``jumpcloud_default`` with recorded sleeps and a caplog-visible logger."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    def make(conn_id: str = "jumpcloud_default", **kwargs) -> JumpCloudHook:
        kwargs.setdefault("sleep", sleeps)
        hook = JumpCloudHook(conn_id, **kwargs)
        hook._log = logging.getLogger(LOGGER)  # Airflow's structlog logger bypasses caplog
        return hook

    return make


@pytest.fixture
def set_conn(monkeypatch):
    """Register connection ``conn_id`` from a dict (JSON form of AIRFLOW_CONN_*)."""

    def setter(conn_id: str, **conn) -> None:
        conn.setdefault("conn_type", "jumpcloud")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    return setter


@pytest.fixture
def masked(monkeypatch) -> list:
    """Replace mask_secret with a recorder, so log checks do not rely on Airflow's masker."""
    calls: list = []
    monkeypatch.setattr(hook_module, "mask_secret", lambda secret, name=None: calls.append(secret))
    return calls
