"""The fetch operator as a real task instance (``dag.test()``): what retrying cannot fix fails on try 1.

A control case proves the check can fail: a transient outage IS retried by Airflow (try_number 2).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator
from tests.operators.task_runs import run_single_task

pytestmark = pytest.mark.timeout(120)

NOW = "2026-01-01T00:00:00Z"
KEY = "fail-fast-key-3e8d21c0b9"
WINDOW = {"start": "2025-12-31T10:00:00Z", "end": "2025-12-31T10:05:00Z"}


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture(scope="module")
def emulator():
    config = EmulatorConfig(seed=4, events_per_day=20_000, days=1, now=NOW, api_key=KEY, late_fraction=0.0,
                            org_id="org-ff")
    with EmulatorServer(config) as emu:
        yield emu


def _conn(monkeypatch: pytest.MonkeyPatch, base_url: str, password: str, **extra: object) -> None:
    extra.setdefault("org_id", "org-ff")
    conn = {"conn_type": "jumpcloud", "host": base_url, "password": password, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_JC_FF", json.dumps(conn))


def _fetch(staging: Path) -> JumpCloudToStorageOperator:
    return JumpCloudToStorageOperator(task_id="fetch", staging_root=str(staging), window=WINDOW,
                                      jumpcloud_conn_id="jc_ff", retention_days=9999)


def _run(tmp_path: Path) -> tuple[str, object]:
    bag = tmp_path / "bag"
    bag.mkdir()
    return run_single_task(lambda: _fetch(tmp_path / "staging"), bag, retries=2,
                           retry_delay=timedelta(seconds=1))


@pytest.mark.parametrize(
    ("status", "setup", "advice"),
    [
        (401, {"password": KEY + "-wrong"}, "API key was rejected"),
        (403, {"org_id": "someone-else"}, "set org_id"),
        (402, {"fault": "402"}, "not enabled for this organisation's plan"),
        (400, {"fault": "400"}, "HTTP 400"),
    ],
)
def test_errors_retrying_cannot_fix_fail_on_the_first_try(
    airflow_db, emulator, monkeypatch, tmp_path, capfd, status, setup, advice
) -> None:
    emulator.faults.clear()
    if "fault" in setup:
        emulator.faults.add(setup["fault"], probability=1.0)
    extra = {"org_id": setup["org_id"]} if "org_id" in setup else {}
    _conn(monkeypatch, emulator.base_url, setup.get("password", KEY), **extra)
    before = emulator.request_count
    run_state, outcome = _run(tmp_path)
    emulator.faults.clear()
    assert (run_state, outcome.state, outcome.try_number) == ("failed", "failed", 1)
    assert emulator.request_count - before == 1  # one request, no hook retry, no task retry
    out = capfd.readouterr()
    logged = out.out + out.err
    assert f"HTTP {status}" in logged and advice in logged
    assert KEY not in logged


def test_a_transient_outage_is_retried_by_airflow(airflow_db, emulator, monkeypatch, tmp_path, capfd) -> None:
    """The control: 503s beyond the hook's budget leave the task up for retry; the second try succeeds."""
    emulator.faults.clear()
    _conn(monkeypatch, emulator.base_url, KEY, max_retries=0, backoff_base=0.01)
    emulator.faults.add("503", at_request=emulator.request_count + 1)  # the first try's count request
    run_state, outcome = _run(tmp_path)
    emulator.faults.clear()
    assert (run_state, outcome.state, outcome.try_number) == ("success", "success", 2)
    capfd.readouterr()
