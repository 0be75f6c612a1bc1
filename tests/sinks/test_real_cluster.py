"""Against a real cluster: only when JUMPCLOUD_TEST_ES_URL is set (optional JUMPCLOUD_TEST_ES_API_KEY).

Example: ``JUMPCLOUD_TEST_ES_URL=http://localhost:9200 pytest tests/sinks/test_real_cluster.py``
(``docker compose up elasticsearch``). Uses the namespace ``jctest<random>`` and deletes its data stream.
"""

from __future__ import annotations

import os
import uuid

import pytest

from airflow_provider_jumpcloud.sinks.deadletter import read_dead_letters
from airflow_provider_jumpcloud.sinks.elasticsearch import (
    build_client,
    client_options,
    configure_client,
    ensure_data_stream,
    install_templates,
    load_window,
)
from airflow_provider_jumpcloud.sinks.replay import provider_client
from tests.sinks.docs import FAST, numbered, sample_document, write_window

URL = os.environ.get("JUMPCLOUD_TEST_ES_URL")
pytestmark = [pytest.mark.es_cluster, pytest.mark.skipif(not URL, reason="JUMPCLOUD_TEST_ES_URL is not set")]


@pytest.fixture
def cluster():
    client = build_client(URL, api_key=os.environ.get("JUMPCLOUD_TEST_ES_API_KEY"))
    major = int(
        client.options(headers={"accept": "application/json"}).info()["version"]["number"].split(".")[0]
    )
    hosts, kwargs = client_options(URL, api_key=os.environ.get("JUMPCLOUD_TEST_ES_API_KEY"))
    client = configure_client(provider_client(hosts, kwargs, es_major=major), backoff_base=0)
    namespace = f"jctest{uuid.uuid4().hex[:8]}"
    stream = f"logs-jumpcloud.events-{namespace}"
    install_templates(client)
    ensure_data_stream(client, stream)
    yield client, namespace, stream
    client.indices.delete_data_stream(name=stream)


def test_load_twice_and_dead_letters_on_a_real_cluster(cluster, tmp_path):
    client, namespace, stream = cluster
    docs = numbered(50)
    docs.append(("bad-ip", sample_document(99, **{"client.ip": "not-an-ip"})))
    src = write_window(tmp_path / "w.ndjson.gz", docs)
    first = load_window(client, src, namespace=namespace, dead_letter_path=tmp_path / "d.ndjson", **FAST)
    assert (first.indexed, first.already_present, first.dead_lettered) == (50, 0, 1)
    assert read_dead_letters(tmp_path / "d.ndjson")[0]["status"] == 400
    client.indices.refresh(index=stream)
    assert client.count(index=stream)["count"] == 50
    second = load_window(client, src, namespace=namespace, dead_letter_path=tmp_path / "d.ndjson", **FAST)
    assert (second.indexed, second.already_present, second.dead_lettered) == (0, 50, 1)
    client.indices.refresh(index=stream)
    assert client.count(index=stream)["count"] == 50
    mapping = client.indices.get_mapping(index=stream)
    props = next(iter(mapping.body.values()))["mappings"]["properties"]
    assert props["jumpcloud"]["properties"]["event"]["properties"]["changes"]["type"] == "flattened"
