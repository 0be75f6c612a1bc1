"""JumpCloudEcsToElasticsearchOperator: file sink, Elasticsearch through the provider's connection."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_jumpcloud.exceptions import BulkLoadError
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator, resolve_sink
from airflow_provider_jumpcloud.staging import StagingLayout
from airflow_provider_jumpcloud.testing import ElasticsearchDouble
from airflow_provider_jumpcloud.windows import Window
from tests.sinks.docs import WINDOW, numbered, sample_document, write_window

KEY = "op-test-es-key-3b7e91"
STREAM = "logs-jumpcloud.events-default"


@pytest.fixture
def staged(tmp_path):
    """A staging root with one mapped window of 20 documents (one an error document without @timestamp)."""
    layout = StagingLayout.at(tmp_path / "staging")
    ecs = layout.ecs(Window.from_dict(WINDOW))
    docs = numbered(19)
    docs.append(("err-doc", sample_document(99, **{"@timestamp": ..., "event.kind": "pipeline_error"})))
    write_window(ecs, docs)
    manifest = {
        "version": 1,
        "stage": "map",
        "window": WINDOW,
        "ecs_path": str(ecs),
        "counts": {"fetched": 20, "read": 20, "mapped": 19, "error_documents": 1},
    }
    return layout, manifest


@pytest.fixture
def es(monkeypatch):
    with ElasticsearchDouble(api_key=KEY) as double:
        conn = {
            "conn_type": "elasticsearch",
            "host": "127.0.0.1",
            "port": int(double.url.rsplit(":", 1)[1]),
            "schema": "http",
            "extra": {"api_key": KEY},
        }
        monkeypatch.setenv("AIRFLOW_CONN_ES_TEST", json.dumps(conn))
        monkeypatch.delenv("AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH", raising=False)
        yield double


def operator(layout, manifest, **kw):
    kw.setdefault("initial_backoff", 0)
    return JumpCloudEcsToElasticsearchOperator(
        task_id="load", manifest=manifest, staging_root=str(layout.root), **kw
    )


def test_template_fields():
    assert JumpCloudEcsToElasticsearchOperator.template_fields == (
        "manifest",
        "staging_root",
        "namespace",
        "elasticsearch_conn_id",
        "sink",
    )


def test_without_a_connection_it_writes_bulk_files(staged):
    layout, manifest = staged
    window = Window.from_dict(WINDOW)
    out = operator(layout, manifest).execute({})
    assert out["sink"] == "file" and out["data_stream"] == STREAM
    assert out["counts"]["indexed"] == 20 and out["counts"]["read"] == 20
    assert out["counts"]["mapped"] == 19  # carried forward from the mapping manifest
    assert out["bulk_path"] == str(layout.bulk(window))
    lines = layout.bulk(window).read_text().splitlines()
    assert len(lines) == 40
    assert json.loads(lines[-1])["@timestamp"] == "2023-01-14T08:00:00.000Z"  # window start fallback
    summary = json.loads(layout.load_summary(window).read_text())
    assert summary["counts"] == {"read": 20, "indexed": 20, "already_present": 0, "dead_lettered": 0}
    assert len(json.dumps(out)) < 1500


def test_loads_into_elasticsearch_and_a_rerun_is_idempotent(staged, es):
    layout, manifest = staged
    first = operator(layout, manifest, elasticsearch_conn_id="es_test").execute({})
    assert first["sink"] == "elasticsearch"
    assert first["counts"]["indexed"] == 20 and first["dead_letter_path"] is None
    assert es.count(STREAM) == 20
    second = operator(layout, manifest, elasticsearch_conn_id="es_test").execute({})
    assert (second["counts"]["indexed"], second["counts"]["already_present"]) == (0, 20)
    assert es.count(STREAM) == 20
    assert all(r.headers.get("authorization") == f"ApiKey {KEY}" for r in es.requests)


def test_dead_letters_over_the_threshold_fail_with_count_and_path(staged, es, caplog):
    layout, manifest = staged
    window = Window.from_dict(WINDOW)
    ecs = layout.ecs(window)
    docs = numbered(3)
    docs += [
        ("bad-1", sample_document(7, **{"client.ip": "x"})),
        ("bad-2", sample_document(8, **{"client.ip": "y"})),
    ]
    write_window(ecs, docs)
    manifest = {**manifest, "counts": {"mapped": 5, "error_documents": 0}}
    caplog.set_level(logging.INFO)
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, elasticsearch_conn_id="es_test", max_dead_letters=1).execute({})
    message = str(err.value)
    dead = layout.dead_letter(window)
    assert "2 document(s)" in message and str(dead) in message and "max_dead_letters=1" in message
    assert isinstance(err.value.__cause__, BulkLoadError)
    assert err.value.__cause__.items == 2 and err.value.__cause__.dead_letter_path == str(dead)
    assert {json.loads(line)["_id"] for line in dead.read_text().splitlines()} == {"bad-1", "bad-2"}
    summary = json.loads(layout.load_summary(window).read_text())
    assert summary["counts"] == {"read": 5, "indexed": 3, "already_present": 0, "dead_lettered": 2}
    assert KEY not in caplog.text and KEY not in dead.read_text() and KEY not in message
    ok = operator(layout, manifest, elasticsearch_conn_id="es_test", max_dead_letters=2).execute({})
    assert ok["counts"]["dead_lettered"] == 2 and ok["counts"]["already_present"] == 3


def test_wrong_key_fails_without_retry_and_without_the_key(staged, es, monkeypatch, caplog):
    layout, manifest = staged
    conn = json.loads(__import__("os").environ["AIRFLOW_CONN_ES_TEST"])
    conn["extra"]["api_key"] = "wrong-key-d00d"
    monkeypatch.setenv("AIRFLOW_CONN_ES_TEST", json.dumps(conn))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, elasticsearch_conn_id="es_test").execute({})
    assert "HTTP 401" in str(err.value)
    assert "wrong-key-d00d" not in str(err.value) and "wrong-key-d00d" not in caplog.text


def test_es8_cluster_needs_compat_8(staged, monkeypatch):
    layout, manifest = staged
    with ElasticsearchDouble(version="8.19.0") as es8:
        conn = {"conn_type": "elasticsearch", "host": "127.0.0.1", "port": int(es8.url.rsplit(":", 1)[1])}
        monkeypatch.setenv("AIRFLOW_CONN_ES8", json.dumps(conn))
        monkeypatch.delenv("AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH", raising=False)
        with pytest.raises(AirflowFailException, match="ES_COMPAT_WITH=8"):
            operator(layout, manifest, elasticsearch_conn_id="es8").execute({})
        assert (
            operator(layout, manifest, elasticsearch_conn_id="es8", es_major=8).execute({})["counts"][
                "indexed"
            ]
            == 20
        )
        monkeypatch.setenv("AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH", "8")
        again = operator(layout, manifest, elasticsearch_conn_id="es8").execute({})
        assert again["counts"]["already_present"] == 20
        with pytest.raises(AirflowFailException, match="contradicts"):
            operator(layout, manifest, elasticsearch_conn_id="es8", es_major=9).execute({})
        assert not any("compatible-with=9" in r.headers.get("accept", "") for r in list(es8.requests)[1:])


def test_count_mismatch_with_the_mapping_manifest_fails(staged):
    layout, manifest = staged
    manifest = {**manifest, "counts": {"mapped": 25, "error_documents": 0}}
    with pytest.raises(RuntimeError, match="mapping wrote 25"):
        operator(layout, manifest).execute({})


@pytest.mark.parametrize(
    ("sink", "conn", "want"),
    [
        ("auto", None, "file"),
        ("auto", "c", "elasticsearch"),
        ("file", "c", "file"),
        ("elasticsearch", "c", "elasticsearch"),
    ],
)
def test_resolve_sink(sink, conn, want):
    assert resolve_sink(sink, conn) == want


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"sink": "elasticsearch"}, "needs an elasticsearch_conn_id"),
        ({"sink": "s3"}, "sink must be one of"),
        ({"namespace": "Bad-Name"}, "invalid data stream namespace"),
    ],
)
def test_configuration_errors_fail_the_task(staged, kw, match):
    layout, manifest = staged
    with pytest.raises(AirflowFailException, match=match):
        operator(layout, manifest, **kw).execute({})
