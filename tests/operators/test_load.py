"""JumpCloudEcsToElasticsearchOperator: sinks, default connection, errors with counts, assets, quality docs."""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_jumpcloud.assets import BULK_FILES_ASSET, EVENTS_ASSET, LOAD_ALIAS
from airflow_provider_jumpcloud.exceptions import BulkLoadError, StagingFileError
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator, resolve_sink
from airflow_provider_jumpcloud.staging import StagingLayout, write_json
from airflow_provider_jumpcloud.windows import Window
from tests.sinks.docs import WINDOW, numbered, quality_summary, sample_document, write_window
from tests.support.elasticsearch_double import ElasticsearchDouble

KEY = "op-test-es-key-3b7e91"
STREAM = "logs-jumpcloud.events-default"
QUALITY_STREAM = "logs-jumpcloud.quality-default"


@pytest.fixture(autouse=True)
def no_ambient_connections(monkeypatch):
    """Tests choose their connections; nothing leaks in from the environment."""
    for name in ("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", "AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH",
                 "JUMPCLOUD_ELASTICSEARCH_CONN_ID"):
        monkeypatch.delenv(name, raising=False)


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


def es_connection(double: ElasticsearchDouble, **extra) -> str:
    """The JSON form of an ``elasticsearch`` connection to the double."""
    return json.dumps({
        "conn_type": "elasticsearch",
        "host": "127.0.0.1",
        "port": int(double.url.rsplit(":", 1)[1]),
        "schema": "http",
        "extra": extra,
    })


@pytest.fixture
def es(monkeypatch):
    with ElasticsearchDouble(api_key=KEY) as double:
        monkeypatch.setenv("AIRFLOW_CONN_ES_TEST", es_connection(double, api_key=KEY))
        yield double


@pytest.fixture
def default_es(monkeypatch):
    """A double reachable through ``AIRFLOW_CONN_ELASTICSEARCH_DEFAULT`` only."""
    with ElasticsearchDouble(api_key=KEY) as double:
        monkeypatch.setenv("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", es_connection(double, api_key=KEY))
        yield double


def operator(layout, manifest, **kw):
    kw.setdefault("initial_backoff", 0)
    return JumpCloudEcsToElasticsearchOperator(
        task_id="load", manifest=manifest, staging_root=str(layout.root), **kw
    )


def task_context(try_number: int = 1, run_id: str = "manual__2023-01-14T08:15:00+00:00") -> dict:
    """What execute() reads from a task's context: outlet events, ti (try number, ids), run id."""
    ti = SimpleNamespace(try_number=try_number, run_id=run_id, dag_id="jumpcloud_events")
    return {"outlet_events": OutletEventAccessors(), "ti": ti, "run_id": run_id}


def alias_events(context: dict) -> list:
    return list(context["outlet_events"][LOAD_ALIAS].asset_alias_events)


def test_template_fields_and_outlets():
    assert JumpCloudEcsToElasticsearchOperator.template_fields == (
        "manifest",
        "staging_root",
        "namespace",
        "elasticsearch_conn_id",
        "sink",
        "data_retention",
        "lifecycle_policy",
    )
    op = JumpCloudEcsToElasticsearchOperator(task_id="t", manifest={}, staging_root="/x")
    assert op.elasticsearch_conn_id == "elasticsearch_default"
    assert op.outlets == [LOAD_ALIAS]  # never a plain Asset: that would get an event on every success


def test_without_a_connection_it_writes_bulk_files(staged):
    layout, manifest = staged
    window = Window.from_dict(WINDOW)
    context = task_context()
    out = operator(layout, manifest).execute(context)
    assert out["sink"] == "file" and out["data_stream"] == STREAM
    assert out["counts"]["indexed"] == 20 and out["counts"]["read"] == 20
    assert out["counts"]["mapped"] == 19  # carried forward from the mapping manifest
    assert out["bulk_path"] == str(layout.bulk(window)) and out["quality_document"] is None
    lines = layout.bulk(window).read_text().splitlines()
    assert len(lines) == 40
    assert json.loads(lines[-1])["@timestamp"] == "2023-01-14T08:00:00.000Z"  # window start fallback
    summary = json.loads(layout.load_summary(window).read_text())
    assert summary["counts"] == {"read": 20, "indexed": 20, "already_present": 0, "dead_lettered": 0}
    assert len(json.dumps(out)) < 1500
    (event,) = alias_events(context)  # the bulk-files asset, never the Elasticsearch one
    assert event.dest_asset_key.name == BULK_FILES_ASSET.name != EVENTS_ASSET.name
    assert event.extra["counts"]["indexed"] == 20 and event.extra["path"] == str(layout.bulk(window))


def test_only_the_default_connection_selects_elasticsearch(staged, default_es):
    layout, manifest = staged
    auto = operator(layout, manifest).execute(task_context())
    assert auto["sink"] == "elasticsearch" and default_es.count(STREAM) == 20
    forced = operator(layout, manifest, sink="elasticsearch").execute(task_context())
    assert forced["sink"] == "elasticsearch"
    assert (forced["counts"]["indexed"], forced["counts"]["already_present"]) == (0, 20)
    assert operator(layout, manifest, sink="file").execute(task_context())["sink"] == "file"


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


def test_asset_event_only_when_documents_arrived_and_it_carries_the_counts(staged, default_es):
    layout, manifest = staged
    first = task_context()
    operator(layout, manifest, namespace="default").execute(first)
    (event,) = alias_events(first)
    assert event.source_alias_name == LOAD_ALIAS.name
    assert (event.dest_asset_key.name, event.dest_asset_key.uri) == (EVENTS_ASSET.name, EVENTS_ASSET.uri)
    assert event.extra == {
        "window": WINDOW | {"start": "2023-01-14T08:00:00Z"},
        "namespace": "default",
        "data_stream": STREAM,
        "counts": {"read": 20, "indexed": 20, "already_present": 0, "dead_lettered": 0},
    }
    rerun = task_context(try_number=2)
    operator(layout, manifest).execute(rerun)  # everything already present: no data arrived
    assert alias_events(rerun) == []


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
    context = task_context()
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, elasticsearch_conn_id="es_test", max_dead_letters=1).execute(context)
    message = str(err.value)
    dead = layout.dead_letter(window)
    assert "2 document(s)" in message and str(dead) in message and "max_dead_letters=1" in message
    assert isinstance(err.value.__cause__, BulkLoadError)
    assert err.value.__cause__.items == 2 and err.value.__cause__.dead_letter_path == str(dead)
    assert {json.loads(line)["_id"] for line in dead.read_text().splitlines()} == {"bad-1", "bad-2"}
    summary = json.loads(layout.load_summary(window).read_text())
    assert summary["counts"] == {"read": 5, "indexed": 3, "already_present": 0, "dead_lettered": 2}
    assert KEY not in caplog.text and KEY not in dead.read_text() and KEY not in message
    assert alias_events(context) == []  # a failed load emits no asset event
    ok = operator(layout, manifest, elasticsearch_conn_id="es_test", max_dead_letters=2).execute({})
    assert ok["counts"]["dead_lettered"] == 2 and ok["counts"]["already_present"] == 3


def test_wrong_key_fails_without_retry_and_without_the_key(staged, es, monkeypatch, caplog):
    layout, manifest = staged
    monkeypatch.setenv("AIRFLOW_CONN_ES_TEST", es_connection(es, api_key="wrong-key-d00d"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, elasticsearch_conn_id="es_test").execute({})
    assert "HTTP 401" in str(err.value)
    assert "wrong-key-d00d" not in str(err.value) and "wrong-key-d00d" not in caplog.text


def test_es8_cluster_needs_the_providers_compat_setting(staged, monkeypatch):
    layout, manifest = staged
    with ElasticsearchDouble(version="8.19.0") as es8:
        monkeypatch.setenv("AIRFLOW_CONN_ES8", es_connection(es8))
        with pytest.raises(AirflowFailException, match="AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH=8"):
            operator(layout, manifest, elasticsearch_conn_id="es8").execute({})
        first = len(es8.requests)
        monkeypatch.setenv("AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH", "8")
        assert operator(layout, manifest, elasticsearch_conn_id="es8").execute({})["counts"]["indexed"] == 20
        assert not any("compatible-with=9" in r.headers.get("accept", "") for r in list(es8.requests)[first:])


def test_count_mismatch_with_the_mapping_manifest_fails(staged):
    layout, manifest = staged
    manifest = {**manifest, "counts": {"mapped": 25, "error_documents": 0}}
    with pytest.raises(RuntimeError, match="mapping wrote 25"):
        operator(layout, manifest).execute({})


@pytest.mark.parametrize(
    ("sink", "conn", "known", "want"),
    [
        ("auto", None, set(), "file"),
        ("auto", "c", set(), "file"),
        ("auto", "c", {"c"}, "elasticsearch"),
        ("file", "c", {"c"}, "file"),
        ("elasticsearch", "c", {"c"}, "elasticsearch"),
    ],
)
def test_resolve_sink(sink, conn, known, want):
    assert resolve_sink(sink, conn, known.__contains__) == want


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"sink": "elasticsearch"}, "'elasticsearch_default' does not exist.*AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"),
        ({"sink": "elasticsearch", "elasticsearch_conn_id": None}, "needs an elasticsearch_conn_id"),
        ({"sink": "s3"}, "sink must be one of"),
        ({"namespace": "Bad-Name"}, "invalid data stream namespace"),
        ({"data_retention": "90 days"}, "data_retention must be an Elasticsearch time value"),
    ],
)
def test_configuration_errors_fail_the_task(staged, kw, match):
    layout, manifest = staged
    with pytest.raises(AirflowFailException, match=match):
        operator(layout, manifest, **kw).execute({})


# ------------------------------------------------------------------------------ errors with counts
def test_413_halves_the_chunk_until_it_fits(staged, default_es, caplog):
    layout, manifest = staged
    one_doc = len(json.dumps(sample_document(0))) + 200  # with its action line and the data stream fields
    default_es.max_body_bytes = 3 * one_doc
    caplog.set_level(logging.WARNING)
    out = operator(layout, manifest, chunk_size=20).execute(task_context())
    assert out["counts"] == {"fetched": 20, "read": 20, "mapped": 19, "error_documents": 1, "indexed": 20,
                             "already_present": 0, "dead_lettered": 0}
    assert default_es.count(STREAM) == 20
    # 20 -> 10 -> 5 -> 2 or 3 documents per request; later chunks start at the lowered limit.
    assert default_es.stats["requests_413"] >= 3
    sizes = [r.body_bytes for r in default_es.requests if r.path.startswith("/_bulk")]
    assert max(s for s in sizes if s <= default_es.max_body_bytes) <= 3 * one_doc
    assert "HTTP 413" in caplog.text and "halves" in caplog.text


def test_413_for_a_single_document_fails_naming_window_and_counts(staged, default_es):
    layout, manifest = staged
    docs = [*numbered(4), ("huge", sample_document(50, message="x" * 50_000)), *numbered(3, start=10)]
    write_window(layout.ecs(Window.from_dict(WINDOW)), docs)
    default_es.max_body_bytes = 20_000
    context = task_context()
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, chunk_size=4).execute(context)
    message = str(err.value)
    assert "2023-01-14T08:00:00Z, 2023-01-14T08:15:00Z" in message and "'huge'" in message
    assert "HTTP 413" in message and "http.max_content_length" in message
    assert "read=8, indexed=4, already_present=0, dead_lettered=0" in message  # read: the file so far
    assert default_es.count(STREAM) == 4 and alias_events(context) == []


def test_bulk_item_without_status_fails_with_counts_so_far(staged, default_es):
    layout, manifest = staged
    # The first request (8 items) is answered normally, the 3rd item of the second one has no status.
    default_es.omit_status_items = {11}
    context = task_context()
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, chunk_size=8).execute(context)
    message = str(err.value)
    assert "without a numeric status" in message and "item 3 of 8" in message and "'doc-000010'" in message
    assert "[2023-01-14T08:00:00Z, 2023-01-14T08:15:00Z)" in message
    assert "read=16, indexed=10, already_present=0, dead_lettered=0" in message
    assert default_es.stats["items_without_status"] == 1 and alias_events(context) == []


@pytest.mark.parametrize("sink", ["file", "elasticsearch"])
def test_broken_line_in_the_staging_file_names_file_line_and_window(staged, default_es, sink):
    layout, manifest = staged
    ecs = layout.ecs(Window.from_dict(WINDOW))
    lines = gzip.decompress(ecs.read_bytes()).splitlines(keepends=True)
    lines[6] = b'{"_id": "cut-here", "_sour\n'
    ecs.write_bytes(gzip.compress(b"".join(lines)))
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, sink=sink).execute({})
    message = str(err.value)
    assert str(ecs) in message and "line 7" in message and "2023-01-14T08:00:00Z" in message
    assert isinstance(err.value.__cause__, StagingFileError) and err.value.__cause__.line == 7


@pytest.mark.parametrize("sink", ["file", "elasticsearch"])
def test_truncated_gzip_staging_file_names_the_file_and_window(staged, default_es, sink):
    layout, manifest = staged
    ecs = layout.ecs(Window.from_dict(WINDOW))
    data = ecs.read_bytes()
    ecs.write_bytes(data[: len(data) // 2])
    with pytest.raises(AirflowFailException) as err:
        operator(layout, manifest, sink=sink).execute({})
    message = str(err.value)
    assert str(ecs) in message and "line" in message and "2023-01-14T08:15:00Z" in message
    assert isinstance(err.value.__cause__, StagingFileError) and err.value.__cause__.path == str(ecs)


# ------------------------------------------------------------------------------ lifecycle, quality
def test_templates_give_both_data_streams_a_lifecycle(staged, default_es):
    layout, manifest = staged
    write_json(layout.quality_dir(Window.from_dict(WINDOW)) / "summary.json", quality_summary())
    operator(layout, manifest, data_retention="30d").execute(task_context())
    for stream in (STREAM, QUALITY_STREAM):
        assert default_es.indices[stream].lifecycle == {"enabled": True, "data_retention": "30d"}, stream


def test_an_ilm_policy_replaces_the_data_stream_lifecycle(staged, default_es):
    layout, manifest = staged
    operator(layout, manifest, lifecycle_policy="logs-hot-warm").execute({})
    assert default_es.indices[STREAM].ilm_policy == "logs-hot-warm"
    assert default_es.indices[STREAM].lifecycle is None


def test_quality_summary_is_indexed_once_per_attempt(staged, default_es):
    layout, manifest = staged
    write_json(layout.quality_dir(Window.from_dict(WINDOW)) / "summary.json", quality_summary())
    first = operator(layout, manifest).execute(task_context(try_number=1))
    assert first["quality_document"]["created"] is True
    assert first["quality_document"]["data_stream"] == QUALITY_STREAM
    assert default_es.is_data_stream(QUALITY_STREAM)
    (doc,) = default_es.documents(QUALITY_STREAM).values()
    assert doc["@timestamp"] == "2023-01-14T08:00:00Z"
    quality = doc["jumpcloud"]["quality"]
    assert (quality["verdict"], quality["attempt"], quality["documents"]) == ("warn", 1, 20)
    assert quality["fields_failed"] == ["client.ip"] and quality["completeness"]["missing"] == 2
    again = operator(layout, manifest).execute(task_context(try_number=1))
    assert again["quality_document"] == {**first["quality_document"], "created": False}
    assert default_es.count(QUALITY_STREAM) == 1
    retry = operator(layout, manifest).execute(task_context(try_number=2))
    assert retry["quality_document"]["created"] is True and default_es.count(QUALITY_STREAM) == 2
    other_run = operator(layout, manifest).execute(task_context(try_number=1, run_id="backfill__x"))
    assert other_run["quality_document"]["created"] is True and default_es.count(QUALITY_STREAM) == 3


def test_without_a_quality_summary_the_load_goes_on(staged, default_es, caplog, capfd):
    layout, manifest = staged
    caplog.set_level(logging.INFO)
    out = operator(layout, manifest).execute(task_context())
    assert out["counts"]["indexed"] == 20 and out["quality_document"] is None
    printed = capfd.readouterr()
    assert "No quality summary at" in printed.out + printed.err + caplog.text
    assert default_es.count(QUALITY_STREAM) == 0


def test_a_summary_of_another_window_fails_naming_the_file(staged, default_es):
    layout, manifest = staged
    path = layout.quality_dir(Window.from_dict(WINDOW)) / "summary.json"
    write_json(path, quality_summary({"start": "2023-01-14T09:00:00Z", "end": "2023-01-14T09:15:00Z"}))
    with pytest.raises(AirflowFailException, match=f"{path}.* is not a usable quality summary"):
        operator(layout, manifest).execute({})


# ------------------------------------------------------------------------------------- a DAG run
@pytest.fixture(scope="module")
def metadata_db():
    from airflow.utils.db import initdb

    initdb()


DAG_FILE = """
import json, os
from datetime import UTC, datetime

from airflow.sdk import DAG

from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator

with DAG(dag_id=os.environ["LOAD_TEST_DAG_ID"], schedule=None, start_date=datetime(2023, 1, 1, tzinfo=UTC)) as dag:
    JumpCloudEcsToElasticsearchOperator(task_id="load", manifest=json.loads(os.environ["LOAD_TEST_MANIFEST"]),
                                        staging_root=os.environ["LOAD_TEST_STAGING"], initial_backoff=0)
"""


def test_dag_run_with_only_the_default_connections_indexes_then_a_rerun_adds_nothing(
    metadata_db, staged, default_es, monkeypatch, tmp_path
):
    """What ``airflow dags test`` does, with only AIRFLOW_CONN_ELASTICSEARCH_DEFAULT/_JUMPCLOUD_DEFAULT set."""
    import importlib.util

    from airflow import settings
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    layout, manifest = staged
    write_json(layout.quality_dir(Window.from_dict(WINDOW)) / "summary.json", quality_summary())
    dag_id = f"load_only_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW_CONN_JUMPCLOUD_DEFAULT", json.dumps({"conn_type": "jumpcloud", "password": "k"}))
    monkeypatch.setenv("LOAD_TEST_DAG_ID", dag_id)
    monkeypatch.setenv("LOAD_TEST_MANIFEST", json.dumps(manifest))
    monkeypatch.setenv("LOAD_TEST_STAGING", str(layout.root))
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "load_only.py").write_text(DAG_FILE)
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))  # dag.test() syncs the dags-folder bundle
    spec = importlib.util.spec_from_file_location(f"load_only_{dag_id}", folder / "load_only.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = module.dag.test()
    assert getattr(first.state, "value", first.state) == "success"
    assert default_es.count(STREAM) == 20 and default_es.count(QUALITY_STREAM) == 1
    second = module.dag.test()
    assert getattr(second.state, "value", second.state) == "success"
    assert default_es.count(STREAM) == 20 and default_es.count(QUALITY_STREAM) == 2  # a new run, a new doc
    with create_session() as session:
        events = [e for e in session.scalars(select(AssetEvent)) if e.source_dag_id == dag_id]
        found = [(e.asset.name, e.source_run_id, e.extra) for e in events]
    assert [(name, run) for name, run, _ in found] == [(EVENTS_ASSET.name, first.run_id)], found
    assert found[0][2]["counts"] == {"read": 20, "indexed": 20, "already_present": 0, "dead_lettered": 0}
    assert found[0][2]["window"]["end"] == WINDOW["end"] and found[0][2]["namespace"] == "default"
