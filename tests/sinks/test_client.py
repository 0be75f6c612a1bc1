"""Client construction: 8.x versus 9.x compatibility headers (the provider's setting), auth, TLS warnings."""

from __future__ import annotations

import logging
import os

import pytest
from elasticsearch import AuthenticationException, BadRequestError

from airflow_provider_jumpcloud.sinks.elasticsearch import (
    build_client,
    client_options,
    configure_client,
    ensure_data_stream,
    install_templates,
    load_window,
    warn_if_insecure,
)
from airflow_provider_jumpcloud.sinks.replay import provider_client
from tests.sinks.docs import FAST, numbered, write_window
from tests.support.elasticsearch_double import ElasticsearchDouble

STREAM = "logs-jumpcloud.events-default"


def compat_values(double):
    out = set()
    for r in double.requests:
        for h in ("accept", "content-type"):
            if h in r.headers:
                out.add((h, r.headers[h]))
    return out


def test_9x_client_defaults_to_compatible_with_9_and_an_8x_server_refuses_it():
    with ElasticsearchDouble(version="8.19.0") as es:
        with pytest.raises(BadRequestError) as err:
            build_client(es.url).info()
        assert err.value.message == "media_type_header_exception"
        assert ("accept", "application/vnd.elasticsearch+json; compatible-with=9") in compat_values(es)


@pytest.mark.parametrize(("server", "major"), [("8.19.0", 8), ("9.1.5", 9), ("9.1.5", None)])
def test_full_load_with_the_providers_compat_setting(server, major, tmp_path, monkeypatch):
    """The provider's hook applies ``[elasticsearch] es_compat_with``; ``es_major`` sets it while building."""
    monkeypatch.delenv("AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH", raising=False)
    with ElasticsearchDouble(version=server) as es:
        hosts, kwargs = client_options(es.url)
        client = configure_client(provider_client(hosts, kwargs, es_major=major), backoff_base=0)
        assert "AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH" not in os.environ
        assert client.info()["version"]["number"] == server
        install_templates(client)
        ensure_data_stream(client, STREAM)
        src = write_window(tmp_path / "w.ndjson.gz", numbered(3))
        result = load_window(client, src, namespace="default", dead_letter_path=tmp_path / "d.ndjson", **FAST)
        assert result.indexed == 3 and es.count(STREAM) == 3
        want = major or 9
        seen = compat_values(es)
        assert ("accept", f"application/vnd.elasticsearch+json; compatible-with={want}") in seen
        assert ("content-type", f"application/vnd.elasticsearch+x-ndjson; compatible-with={want}") in seen
        assert ("content-type", f"application/vnd.elasticsearch+json; compatible-with={want}") in seen
        assert not any(f"compatible-with={17 - want}" in v for _, v in seen)


def test_api_key_and_basic_auth_are_sent_and_checked():
    with ElasticsearchDouble(api_key="the-key", basic_auth=("elastic", "pw-123")) as es:
        assert build_client(es.url, api_key="the-key").info()["tagline"]
        assert build_client(es.url, basic_auth=("elastic", "pw-123")).info()["tagline"]
        auth = [r.headers.get("authorization") for r in es.requests]
        assert auth == ["ApiKey the-key", "Basic ZWxhc3RpYzpwdy0xMjM="]  # base64("elastic:pw-123")


def test_wrong_credentials_raise_401_without_the_secret(caplog):
    caplog.set_level(logging.DEBUG)
    with ElasticsearchDouble(api_key="right-key") as es:
        with pytest.raises(AuthenticationException) as err:
            build_client(es.url, api_key="wrong-secret-key").info()
        assert err.value.status_code == 401
        text = f"{err.value!s} {err.value!r} {err.value.body}"
        assert "wrong-secret-key" not in text and "right-key" not in text
        assert "wrong-secret-key" not in caplog.text


def test_credentials_in_the_url_become_basic_auth_and_leave_the_url(caplog):
    caplog.set_level(logging.DEBUG)
    with ElasticsearchDouble(basic_auth=("elastic", "s3cr3t-pw")) as es:
        url = es.url.replace("http://", "http://elastic:s3cr3t-pw@")
        client = build_client(url)
        assert client.info()["name"] == "es-double"
        node = client.transport.node_pool.all()[0].config
        assert "s3cr3t" not in f"{node.host}{node.path_prefix}"
    assert "s3cr3t-pw" not in caplog.text


def test_verify_certs_off_logs_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    client = build_client("https://127.0.0.1:9", verify_certs=False)
    assert warn_if_insecure(client) is True
    assert "verification is OFF" in caplog.text


def test_verification_on_by_default_logs_nothing(caplog):
    caplog.set_level(logging.WARNING)
    client = build_client("https://127.0.0.1:9")
    assert client.transport.node_pool.all()[0].config.verify_certs is True
    assert warn_if_insecure(client) is False
    assert caplog.text == ""
