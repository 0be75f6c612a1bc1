"""A hostile API (credential echoes, corrupt gzip, slow bodies) through the fetch operator: bounded, nothing leaks.

Both auth modes: API key and service account (the token is echoed too). Checked: exception text, task logs
(caplog and captured output), the XCom manifest and every staged file.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_count
from airflow_provider_jumpcloud.exceptions import ContentEncodingError, JumpCloudTransientError, MalformedPageError
from airflow_provider_jumpcloud.staging import StagingLayout
from airflow_provider_jumpcloud.windows import Window
from tests.reliability import harness as h

pytestmark = pytest.mark.timeout(60)

KEY = "hostile-jc-KEY-5d0e7c2b19"
CLIENT_ID, SECRET = "hostile-client", "hostile-SECRET-a7f2e9c0d4"
NOW = "2026-01-01T00:00:00Z"
WIN = Window.parse("2025-12-31T15:00:00Z", "2025-12-31T15:05:00Z")


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=31, events_per_day=50_000, days=1, now=NOW, api_key=KEY, late_fraction=0.0,
                            client_id=CLIENT_ID, client_secret=SECRET)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture(params=["api-key", "service-account"])
def mode(request, emu, monkeypatch) -> str:
    emu.faults.clear()
    if request.param == "api-key":
        h.set_jumpcloud_conn(monkeypatch, emu.base_url, KEY, timeout=2)
    else:
        conn = {"conn_type": "jumpcloud", "host": emu.base_url, "login": CLIENT_ID, "password": SECRET,
                "extra": {"timeout": 2, "token_url": emu.base_url + "/oauth2/token"}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{h.JC_CONN.upper()}", json.dumps(conn))
    return request.param


@pytest.fixture(autouse=True)
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)


def shown_everywhere(caplog, capfd, root: Path, *things: object) -> str:
    out = capfd.readouterr()
    texts = [caplog.text, out.out, out.err, *(json.dumps(t, default=str) if isinstance(t, dict) else f"{t!r} {t}"
                                             for t in things)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()]
    return "\n".join(texts)


def test_credential_echoes_on_every_answer_leak_nothing(emu, mode, tmp_path, caplog, capfd) -> None:
    emu.faults.add("echo", probability=1.0)  # every X-Request-Id repeats the key or token
    manifest = h.fetch(tmp_path, WIN)
    assert manifest["counts"]["fetched"] == expected_count(emu.config, WIN.start, WIN.end) > 0
    text = shown_everywhere(caplog, capfd, tmp_path, manifest)
    assert KEY not in text and SECRET not in text


def test_a_200_text_count_body_quoting_the_credential_shows_stars(emu, mode, tmp_path, caplog, capfd) -> None:
    emu.faults.add("echobody", probability=1.0, path="/events/count")
    with pytest.raises(MalformedPageError) as info:
        h.fetch(tmp_path, WIN)
    assert "request refused for credential ***" in str(info.value)  # the key or the token was where *** is
    text = shown_everywhere(caplog, capfd, tmp_path, info.value)
    assert KEY not in text and SECRET not in text and "Bearer" not in text


def test_corrupt_gzip_pages_fail_with_the_request_named(emu, mode, tmp_path, caplog, capfd) -> None:
    emu.faults.add("badgzip", probability=1.0, path="/events")
    with pytest.raises(ContentEncodingError) as info:
        h.fetch(tmp_path, WIN)
    assert f"page 1 of window {WIN}, 0 events fetched before it" in str(info.value)
    assert not StagingLayout.at(tmp_path).raw(WIN).exists() and h.staging_leftovers(tmp_path) == []
    text = shown_everywhere(caplog, capfd, tmp_path, info.value)
    assert KEY not in text and SECRET not in text


def test_slow_bodies_cannot_hold_the_task(emu, mode, tmp_path) -> None:
    emu.faults.add("drip", probability=1.0, path="/events", delay=0.1)  # 64 bytes per 0.1 s, never a 1 s gap
    started = time.monotonic()
    with pytest.raises(JumpCloudTransientError, match="whole-request deadline") as info:
        h.fetch(tmp_path, WIN, timeout=1, request_deadline=0.8, retry_deadline=2.0)
    took = time.monotonic() - started
    assert "retry deadline 2s reached" in str(info.value)
    assert 1.6 <= took <= 2.0 + 1.0, took  # the count, then page 1 cut off at 0.8 s per attempt until 2 s
