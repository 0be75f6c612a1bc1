"""Secrets never leak: not in logs, XCom manifests, staging files, dead letters or exception text; TLS is on.

Distinctive fake secrets are used so a plain substring search is conclusive; the Basic-auth header form
(base64 of ``user:password``) is searched too.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_jumpcloud.exceptions import JumpCloudAuthError, JumpCloudTransientError
from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
from airflow_provider_jumpcloud.sinks.elasticsearch import build_client, configure_client
from airflow_provider_jumpcloud.windows import Window
from tests.reliability import harness as h
from tests.support.elasticsearch_double import ElasticsearchDouble

pytestmark = pytest.mark.timeout(60)

JC_KEY = "jcSECRETkey-4a1f9e77c2d0"
ES_API_KEY = "esSECRETapikey-b81d3c5e07"
ES_USER = "svc-jumpcloud"
ES_PASSWORD = "esSECRETpass-91e0aa4f3d"
BASIC = base64.b64encode(f"{ES_USER}:{ES_PASSWORD}".encode()).decode()
SECRETS = (JC_KEY, ES_API_KEY, ES_PASSWORD, BASIC)
NOW = "2026-01-01T00:00:00Z"
WIN = Window.parse("2025-12-31T12:00:00Z", "2025-12-31T12:05:00Z")


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=3, events_per_day=50_000, days=1, now=NOW, api_key=JC_KEY, late_fraction=0.0)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def api(emu, monkeypatch):
    emu.faults.clear()
    h.set_jumpcloud_conn(monkeypatch, emu.base_url, JC_KEY, timeout=2)
    return emu


@pytest.fixture(autouse=True)
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)


def staging_text(root: Path) -> dict[str, bytes]:
    """Every file under the staging root, decompressed when gzip."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out[str(path)] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return out


def assert_no_secret(caplog, capfd, root: Path, *things: Any) -> None:
    """No secret in captured logs, captured stdout/stderr, staging files or the given objects."""
    captured = capfd.readouterr()
    places = {"caplog": caplog.text, "stdout": captured.out, "stderr": captured.err}
    places.update({f"object {n}": repr(x) + " " + str(x) for n, x in enumerate(things)})
    places.update({f"manifest {n}": json.dumps(x, default=str) for n, x in enumerate(things) if isinstance(x, dict)})
    places.update({name: data.decode("utf-8", "replace") for name, data in staging_text(root).items()})
    assert len(places) > 3
    for secret in SECRETS:
        leaks = [name for name, text in places.items() if secret in text]
        assert not leaks, f"secret {secret[:8]}... found in {leaks}"


def es_conn(monkeypatch, double: ElasticsearchDouble, *, basic: bool = False, api_key: str = ES_API_KEY) -> None:
    if basic:
        h.set_es_conn(monkeypatch, double, login=ES_USER, password=ES_PASSWORD)
    else:
        h.set_es_conn(monkeypatch, double, api_key=api_key)


@pytest.mark.parametrize("basic", [False, True], ids=["es-api-key", "es-basic-auth"])
def test_successful_run_with_dead_letters_leaks_nothing(api, monkeypatch, tmp_path, caplog, capfd, basic) -> None:
    auth = {"basic_auth": (ES_USER, ES_PASSWORD)} if basic else {"api_key": ES_API_KEY}
    with ElasticsearchDouble(**auth, reject=lambda _i, d: "bad" if d["event"]["id"][-1] in "ab" else None) as es:
        es_conn(monkeypatch, es, basic=basic)
        fetched, mapped, loaded = h.run_window(tmp_path, WIN, load_kwargs={"max_dead_letters": 10**6})
        assert loaded["counts"]["dead_lettered"] > 0 and loaded["counts"]["indexed"] > 0  # both paths used
        assert es.stats["unauthorized"] == 0
    assert_no_secret(caplog, capfd, tmp_path, fetched, mapped, loaded)


def test_api_401_leaks_nothing(emu, monkeypatch, tmp_path, caplog, capfd) -> None:
    h.set_jumpcloud_conn(monkeypatch, emu.base_url, JC_KEY + "-revoked", timeout=2)
    with pytest.raises(AirflowFailException) as raised:
        h.fetch(tmp_path, WIN)
    cause = raised.value.__cause__
    assert isinstance(cause, JumpCloudAuthError) and cause.status == 401
    text = f"{raised.value} {cause} {cause!r} {cause.server_message} {cause.endpoint}"
    assert "-revoked" not in text
    assert_no_secret(caplog, capfd, tmp_path, text)


def test_api_retries_exhausted_leaks_nothing(api, tmp_path, caplog, capfd) -> None:
    api.faults.add("503", probability=1.0, path="/events")
    with pytest.raises(JumpCloudTransientError) as info:
        h.fetch(tmp_path, WIN, max_retries=2)
    out = capfd.readouterr()
    logged = caplog.text + out.out + out.err
    assert "retry 2/2" in logged  # the retries were logged ...
    assert_no_secret(caplog, capfd, tmp_path, info.value, info.value.endpoint, logged)  # ... without the key


def test_api_connection_errors_leak_nothing(api, tmp_path, caplog, capfd) -> None:
    api.faults.add("reset", probability=1.0, path="/events")
    with pytest.raises(JumpCloudTransientError) as info:
        h.fetch(tmp_path, WIN, max_retries=1)
    assert "Connection" in str(info.value)
    assert_no_secret(caplog, capfd, tmp_path, info.value)


def test_hook_test_connection_and_repr_leak_nothing(emu, monkeypatch, caplog, capfd, tmp_path) -> None:
    h.set_jumpcloud_conn(monkeypatch, emu.base_url, JC_KEY + "-wrong", timeout=2)
    hook = JumpCloudHook(h.JC_CONN, sleep=lambda _s: None)
    ok, message = hook.test_connection()
    assert not ok and "401" in message
    assert "-wrong" not in message + repr(hook) + repr(emu.config)
    assert JC_KEY not in repr(emu.config)
    assert_no_secret(caplog, capfd, tmp_path, message, hook, emu.config)


@pytest.mark.parametrize("basic", [False, True], ids=["es-api-key", "es-basic-auth"])
def test_elasticsearch_401_leaks_nothing(api, monkeypatch, tmp_path, caplog, capfd, basic) -> None:
    with ElasticsearchDouble(api_key="the-cluster-wants-another-key") as es:
        es_conn(monkeypatch, es, basic=basic)
        fetched = h.fetch(tmp_path, WIN)
        mapped = h.map_window(tmp_path, fetched)
        with pytest.raises(AirflowFailException, match="refused the credentials") as info:
            h.load(tmp_path, mapped)
        assert es.stats["unauthorized"] >= 1
    assert_no_secret(caplog, capfd, tmp_path, info.value, info.value.__cause__, fetched, mapped)


def test_elasticsearch_retries_exhausted_leak_nothing(api, monkeypatch, tmp_path, caplog, capfd) -> None:
    with ElasticsearchDouble(api_key=ES_API_KEY, fail_bulk_requests=[503] * 20) as es:
        es_conn(monkeypatch, es)
        fetched = h.fetch(tmp_path, WIN)
        mapped = h.map_window(tmp_path, fetched)
        with pytest.raises(Exception, match="503") as info:
            h.load(tmp_path, mapped, max_retries=2)
    assert_no_secret(caplog, capfd, tmp_path, info.value, info.value.__cause__, fetched, mapped)


def test_elasticsearch_credentials_in_a_url_are_moved_out_of_it(caplog) -> None:
    client = build_client(f"https://{ES_USER}:{ES_PASSWORD}@127.0.0.1:9", request_timeout=1)
    nodes = list(client.transport.node_pool.all())
    assert nodes and all(ES_PASSWORD not in repr(n.config) for n in nodes)
    assert ES_PASSWORD not in repr(client) and ES_PASSWORD not in caplog.text


# ---------------------------------------------------------------------------------------------- TLS
class _Sent(Exception):
    """Raised by the fake transport so nothing leaves the process."""


def test_hook_verifies_tls_by_default(monkeypatch) -> None:
    h.set_jumpcloud_conn(monkeypatch, "https://api.jumpcloud.example", JC_KEY)
    hook = JumpCloudHook(h.JC_CONN, max_retries=0)
    seen: dict[str, Any] = {}

    def send(_request: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise _Sent

    monkeypatch.setattr(hook.get_conn(), "send", send)
    with pytest.raises(_Sent):
        hook.count_events("2025-12-31T12:00:00Z", "2025-12-31T12:05:00Z")
    assert seen["verify"] is True and hook.verify is True


@pytest.mark.parametrize("value", [False, "false", "0", "no"])
def test_turning_hook_tls_off_logs_a_warning(monkeypatch, caplog, capfd, value) -> None:
    h.set_jumpcloud_conn(monkeypatch, "https://api.jumpcloud.example", JC_KEY, verify=value)
    hook = JumpCloudHook(h.JC_CONN)
    assert hook.verify is False
    out = capfd.readouterr()
    assert "TLS certificate verification is OFF" in caplog.text + out.out + out.err


def test_elasticsearch_client_verifies_tls_by_default_and_warns_when_off(caplog) -> None:
    secure = build_client("https://127.0.0.1:9", api_key=ES_API_KEY)
    assert all(n.config.verify_certs is True for n in secure.transport.node_pool.all())
    configure_client(secure)
    assert "verification is OFF" not in caplog.text
    insecure = build_client("https://127.0.0.1:9", api_key=ES_API_KEY, verify_certs=False)
    configure_client(insecure)
    assert "TLS certificate verification is OFF for Elasticsearch" in caplog.text


def test_load_operator_client_verifies_tls_by_default(monkeypatch, caplog) -> None:
    from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator

    conn = {"conn_type": "elasticsearch", "host": "127.0.0.1", "port": 9, "schema": "https",
            "extra": {"api_key": ES_API_KEY}}
    monkeypatch.setenv("AIRFLOW_CONN_ES_TLS", json.dumps(conn))
    op = JumpCloudEcsToElasticsearchOperator(
        task_id="l", manifest={}, staging_root="/x", elasticsearch_conn_id="es_tls"
    )
    client = op._client()
    assert all(n.config.verify_certs is True for n in client.transport.node_pool.all())
    assert "verification is OFF" not in caplog.text
    conn["extra"]["verify_certs"] = False
    monkeypatch.setenv("AIRFLOW_CONN_ES_TLS", json.dumps(conn))
    op._client()
    assert "TLS certificate verification is OFF for Elasticsearch" in caplog.text


def test_the_leak_detector_finds_a_planted_secret(caplog, capfd, tmp_path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "x.ndjson.gz").write_bytes(gzip.compress(f'{{"k": "{ES_PASSWORD}"}}'.encode()))
    with pytest.raises(AssertionError, match="found in"):
        assert_no_secret(caplog, capfd, tmp_path)
