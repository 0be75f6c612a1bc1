from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from airflow_provider_jumpcloud.emulator.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(60)
def test_cli_prints_the_base_url_serves_and_stops_on_sigterm():
    key = "cli-secret-key-123"
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_jumpcloud.emulator", "--port", "0", "--seed", "3",
         "--events-per-day", "5000", "--days", "2", "--now", "2026-01-01T00:00:00Z", "--api-key", key,
         "--fault", "429@1:4"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        url = base_url + "/insights/directory/v1/events/count"
        body = {"service": ["all"], "start_time": "2025-12-31T00:00:00Z"}
        first = requests.post(url, json=body, headers={"x-api-key": key}, timeout=10)
        second = requests.post(url, json=body, headers={"x-api-key": key}, timeout=10)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "4")
        assert second.status_code == 200 and 2000 < second.json()["count"] < 8000
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert key not in out + err and "stopping after 2 requests" in err


def test_cli_rejects_a_bad_fault_spec(capsys):
    assert main(["--fault", "explode@1"]) == 2
    assert "unknown fault kind 'explode'" in capsys.readouterr().err


def test_cli_defaults_match_the_compose_file():
    args = build_parser().parse_args(["--host", "0.0.0.0", "--port", "8099"])
    assert (args.host, args.port, args.seed, args.retention_days) == ("0.0.0.0", 8099, 7, 90)
