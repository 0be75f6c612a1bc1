"""The Elasticsearch double itself: endpoints and rules the loader tests rely on."""

from __future__ import annotations

import threading

import pytest
from elasticsearch import NotFoundError
from elasticsearch.helpers import bulk

from airflow_provider_jumpcloud.sinks.elasticsearch import build_client, ensure_data_stream, install_templates
from airflow_provider_jumpcloud.spec.templates import build_templates
from tests.sinks.docs import sample_document
from tests.support.elasticsearch_double import ElasticsearchDouble

STREAM = "logs-jumpcloud.events-default"


@pytest.fixture
def es():
    with ElasticsearchDouble(version="9.1.5") as double:
        client = build_client(double.url)
        install_templates(client)
        ensure_data_stream(client, STREAM)
        yield double, client


def create(i, **over):
    stream = {
        "data_stream.type": "logs",
        "data_stream.dataset": "jumpcloud.events",
        "data_stream.namespace": "default",
    }
    doc = sample_document(i, **{**stream, **over})
    return {"_op_type": "create", "_index": STREAM, "_id": f"d{i}", "_source": doc}


def test_count_doc_and_head_endpoints(es):
    _, client = es
    assert bulk(client, [create(1), create(2)]) == (2, [])
    assert client.count(index=STREAM)["count"] == 2
    assert client.get(index=STREAM, id="d1")["_source"]["event"]["id"] == "evt-000001"
    assert client.indices.exists_index_template(name="logs-jumpcloud.events").body is True
    assert client.indices.exists_index_template(name="nope").body is False
    with pytest.raises(NotFoundError):
        client.get(index=STREAM, id="missing")


def test_index_op_is_refused_on_a_data_stream(es):
    _, client = es
    ok, errors = bulk(client, [{**create(1), "_op_type": "index"}], raise_on_error=False)
    assert ok == 0 and errors[0]["index"]["status"] == 400


def test_constant_keyword_keeps_its_first_value(es):
    _, client = es
    bulk(client, [create(1)])
    _, errors = bulk(client, [create(2, **{"data_stream.namespace": "other"})], raise_on_error=False)
    assert "only accepts values that are equal" in errors[0]["create"]["error"]["reason"]


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("jumpcloud.event.error_code", "12", True),
        ("jumpcloud.event.error_code", True, False),
        ("jumpcloud.event.success", "false", True),
        ("jumpcloud.event.success", 1, False),
        ("client.ip", "2001:db8::1", True),
        ("client.ip", "1.2.3", False),
        ("@timestamp", "2023-01-14T08:16:06.495123456Z", True),
        ("@timestamp", "yesterday", False),
        ("client.geo.location", {"lat": 1.0, "lon": 2.0}, True),
        ("client.geo.location", "north", False),
        ("user.name", {"nested": 1}, False),
        ("jumpcloud.event.changes", [{"to": {"a": [1]}}], True),
        ("client", "a string where an object is mapped", False),
    ],
)
def test_field_type_checks(es, field, value, accepted):
    _, client = es
    ok, errors = bulk(client, [create(1, **{field: value})], raise_on_error=False)
    assert (ok == 1) is accepted, errors


def test_ignore_malformed_setting_is_honoured():
    with ElasticsearchDouble() as double:
        client = build_client(double.url)
        install_templates(client, build_templates(ignore_malformed=True))
        ok, _ = bulk(client, [create(1, **{"client.ip": "bad"})], raise_on_error=False)
        assert ok == 1


def test_store_documents_false_keeps_only_ids():
    with ElasticsearchDouble(store_documents=False) as double:
        client = build_client(double.url)
        install_templates(client)
        bulk(client, [create(1)])
        assert double.documents(STREAM) == {"d1": None} and double.count(STREAM) == 1


def test_concurrent_bulk_requests_are_counted_exactly(es):
    double, client = es

    def worker(base):
        bulk(client, [create(base + i) for i in range(100)], chunk_size=10)

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert double.count(STREAM) == 400
    assert double.stats["bulk_requests"] == 40 and double.stats["items_created"] == 400


def test_gzip_request_bodies_are_accepted():
    with ElasticsearchDouble() as double:
        client = build_client(double.url, http_compress=True)
        install_templates(client)
        assert bulk(client, [create(1)]) == (1, [])
        assert double.count(STREAM) == 1
