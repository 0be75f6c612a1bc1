"""Invalid settings fail fast, before any API call, with a message that says what to fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_jumpcloud.exceptions import InvalidWindowError, JumpCloudConfigError, RetentionError
from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator
from tests.reliability import harness as h

pytestmark = pytest.mark.timeout(30)

KEY = "validation-key-55e1"
START, END = "2025-12-31T12:00:00Z", "2025-12-31T12:05:00Z"


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=1, events_per_day=1000, days=1, now="2026-01-01T00:00:00Z", api_key=KEY)
    with EmulatorServer(config) as server:
        yield server


def fetch_op(tmp_path, **kwargs) -> JumpCloudToStorageOperator:
    kwargs = {"start": START, "end": END, "retention_days": 9999, **kwargs}
    return JumpCloudToStorageOperator(task_id="f", staging_root=str(tmp_path), jumpcloud_conn_id=h.JC_CONN, **kwargs)


def fails_fast(emu: EmulatorServer, op: JumpCloudToStorageOperator, error: type, *phrases: str) -> str:
    """Run ``op``; it must raise ``error`` naming every phrase, without one request to the API.

    ``error`` may come wrapped in AirflowFailException, which fails the task without retries."""
    before = emu.request_count
    with pytest.raises((error, AirflowFailException)) as info:
        op.execute({})
    assert emu.request_count == before, "the API was called before the settings were checked"
    raised = info.value.__cause__ if isinstance(info.value, AirflowFailException) else info.value
    assert isinstance(raised, error), raised
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    return message


@pytest.mark.parametrize(
    ("host", "extra", "password", "phrases"),
    [
        ("", {"region": "mars"}, KEY, ["unknown region 'mars'", "valid regions: us, eu, in", h.JC_CONN]),
        ("ftp://files.example", {}, KEY, ["must be an http(s) URL", "https://api.jumpcloud.com", h.JC_CONN]),
        ("api.jumpcloud.com", {}, KEY, ["must be an http(s) URL", "set the region extra"]),
        ("http://", {}, KEY, ["must be an http(s) URL"]),
        (None, {}, "", ["has no API key", "password field", h.JC_CONN]),
        (None, {}, "   ", ["has no API key", "password field"]),
        (None, {"timeout": "soon"}, KEY, ["timeout must be a positive number of seconds", "'soon'"]),
        (None, {"timeout": -3}, KEY, ["timeout must be a positive number of seconds", "-3"]),
    ],
    ids=["unknown-region", "ftp-url", "url-without-scheme", "url-without-host", "empty-key", "blank-key",
         "timeout-text", "timeout-negative"],
)
def test_invalid_connection_settings(emu, monkeypatch, tmp_path, host, extra, password, phrases) -> None:
    h.set_jumpcloud_conn(monkeypatch, emu.base_url if host is None else host, password, **extra)
    message = fails_fast(emu, fetch_op(tmp_path), JumpCloudConfigError, *phrases)
    assert KEY not in message
    assert not list(tmp_path.rglob("*.gz"))


@pytest.mark.parametrize(
    ("kwargs", "error", "phrases"),
    [
        ({"lag": timedelta(minutes=-5)}, InvalidWindowError, ["lag must not be negative", "-1 day, 23:55:00"]),
        ({"start": "2020-01-01T00:00:00Z", "end": "2020-01-01T00:15:00Z", "retention_days": 15},
         RetentionError, ["starts before the oldest fetchable time", "retention 15 days", "Start the backfill"]),
        ({"window": {"start": "2025-10-01T00:00:00Z", "end": "2025-12-31T00:00:00Z"}, "retention_days": 9999},
         None, None),  # placeholder replaced below (longer than retention needs a recent, long window)
        ({"retention_days": 0}, InvalidWindowError, ["retention_days must be positive, got 0"]),
        ({"services": ["sso", "nope"]}, JumpCloudConfigError, ["unknown JumpCloud service(s) ['nope']",
                                                              "'sso'", "JUMPCLOUD_EXTRA_SERVICES"]),
        ({"services": []}, JumpCloudConfigError, ["at least one service", "['all']"]),
        ({"services": ["all", "sso"]}, JumpCloudConfigError, ["'all' already includes every service"]),
        ({"services": "radius"}, None, None),  # a bare string is one service name, handled below
        ({"page_size": 0}, JumpCloudConfigError, ["page_size must be an integer from 1 to 10000, got 0"]),
        ({"start": "2025-12-31T12:00:00", "end": END}, InvalidWindowError,
         ["'2025-12-31T12:00:00' is not an RFC 3339 timestamp with a time zone"]),
        ({"start": END, "end": START}, InvalidWindowError, ["must be before end"]),
    ],
    ids=["negative-lag", "before-retention", "longer-than-retention", "zero-retention", "unknown-service",
         "no-service", "all-plus-other", "service-string", "page-size", "naive-time", "start-after-end"],
)
def test_invalid_params(emu, monkeypatch, tmp_path, kwargs, error, phrases) -> None:
    h.set_jumpcloud_conn(monkeypatch, emu.base_url, KEY)
    if error is None and "window" in kwargs:
        now = "2026-01-01T00:00:00Z"
        from airflow_provider_jumpcloud.windows import Window, check_retention, to_utc

        window = Window.parse("2025-12-26T00:00:00Z", "2026-01-05T00:00:00Z")  # 10 days, ends in the future
        with pytest.raises(InvalidWindowError, match="longer than the retention of 7 days"):
            check_retention(window, 7, to_utc(now))
        return
    if error is None:  # services="radius": must mean ["radius"], not ["r", "a", "d", ...]
        manifest = fetch_op(tmp_path, **kwargs).execute({})
        assert manifest["services"] == ["radius"]
        return
    fails_fast(emu, fetch_op(tmp_path, **kwargs), error, *phrases)


@pytest.mark.parametrize(
    ("namespace", "phrases"),
    [
        ("Prod", ["invalid data stream namespace 'Prod'", "must be lowercase"]),
        ("prod-eu", ["must not contain '-'"]),
        ("_prod", ["must not start with '_', '+' or '.'"]),
        ("a b", ["must not contain ' '"]),
        ("x" * 101, ["must be at most 100 bytes"]),
        ("", ["must be a non-empty string"]),
    ],
)
def test_bad_namespace_fails_with_what_to_fix(tmp_path, namespace, phrases) -> None:
    manifest = {"window": {"start": START, "end": END}, "ecs_path": str(tmp_path / "missing.ndjson.gz")}
    op = JumpCloudEcsToElasticsearchOperator(task_id="l", manifest=manifest, staging_root=str(tmp_path),
                                             namespace=namespace)
    with pytest.raises(AirflowFailException) as info:
        op.execute({})
    for phrase in phrases:
        assert phrase in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [({"sink": "s3"}, "sink must be one of auto, elasticsearch, file, got 's3'"),
     ({"sink": "elasticsearch"}, "sink='elasticsearch' needs an elasticsearch_conn_id")],
)
def test_bad_sink_settings(tmp_path, kwargs, phrase) -> None:
    manifest = {"window": {"start": START, "end": END}, "ecs_path": str(tmp_path / "missing.ndjson.gz")}
    op = JumpCloudEcsToElasticsearchOperator(task_id="l", manifest=manifest, staging_root=str(tmp_path), **kwargs)
    with pytest.raises(AirflowFailException) as info:
        op.execute({})
    assert phrase in str(info.value)
