"""``airflow dags test jumpcloud_events`` as a user runs it, with nothing set but the two default connections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_count
from tests.dags.helpers import KEY
from tests.support.elasticsearch_double import ElasticsearchDouble

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
STREAM = "logs-jumpcloud.events-default"


def _airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.timeout(600)
def test_airflow_dags_test_with_only_the_default_connections_indexes_once(airflow_db, tmp_path) -> None:
    config = EmulatorConfig(seed=21, events_per_day=50_000, days=1, now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as emu, ElasticsearchDouble() as es:
        host, port = es.url.removeprefix("http://").split(":")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUMPCLOUD_", "AIRFLOW_CONN_"))}
        env.update({
            "AIRFLOW_CONN_JUMPCLOUD_DEFAULT": json.dumps(
                {"conn_type": "jumpcloud", "host": emu.base_url, "password": KEY}),
            "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps(
                {"conn_type": "elasticsearch", "host": host, "port": int(port), "schema": "http"}),
            # only to keep the test's files in its own folder; the default is $AIRFLOW_HOME/jumpcloud-staging
            "JUMPCLOUD_STAGING_ROOT": str(tmp_path / "staging"),
        })
        logical = (NOW - timedelta(hours=2)).isoformat()
        first = _airflow(["dags", "test", "jumpcloud_events", logical], env)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        start, end = NOW - timedelta(hours=2, minutes=20), NOW - timedelta(hours=2, minutes=5)
        expected = expected_count(config, start, end)
        assert expected > 0
        assert es.count(STREAM) == expected
        assert not (tmp_path / "staging" / "bulk").exists() or not any((tmp_path / "staging" / "bulk").iterdir())
        # The same window again: every document is already there, nothing is added.
        second = _airflow(["dags", "test", "jumpcloud_events", logical], env)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert es.count(STREAM) == expected
        assert KEY not in first.stdout + first.stderr + second.stdout + second.stderr
