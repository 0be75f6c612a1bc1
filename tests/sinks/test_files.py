"""File sink: valid _bulk NDJSON that the Elasticsearch double accepts, and replay with identical counts."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from airflow_provider_jumpcloud.sinks import replay
from airflow_provider_jumpcloud.sinks.files import iter_bulk_file, write_bulk_file
from tests.sinks.docs import API_KEY, numbered, sample_document, write_window

STREAM = "logs-jumpcloud.events-default"


@pytest.fixture
def bulk_file(tmp_path):
    docs = numbered(25)
    docs.append(("no-ts", sample_document(99, **{"@timestamp": ...})))
    src = write_window(tmp_path / "w.ndjson.gz", docs)
    result = write_bulk_file(
        src,
        tmp_path / "bulk" / "w.ndjson",
        namespace="default",
        fallback_timestamp="2023-01-14T08:00:00.000Z",
    )
    return tmp_path / "bulk" / "w.ndjson", result


def test_output_is_bulk_ndjson_with_create_actions(bulk_file):
    path, result = bulk_file
    assert (result.read, result.indexed, result.already_present, result.dead_lettered) == (26, 26, 0, 0)
    assert result.sink == "file" and result.output_path == str(path)
    assert result.output_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.decode().splitlines()
    assert len(lines) == 52
    for action_text, source_text in zip(lines[::2], lines[1::2], strict=True):
        action = json.loads(action_text)
        assert list(action) == ["create"] and action["create"]["_index"] == STREAM
        source = json.loads(source_text)
        assert source["data_stream"]["namespace"] == "default"
        assert source["event"]["dataset"] == "jumpcloud.events"
        assert "@timestamp" in source
    assert json.loads(lines[0])["create"]["_id"] == "doc-000000"
    assert raw.split(b"\n", 1)[0] == b'{"create":{"_index":"%s","_id":"doc-000000"}}' % STREAM.encode()
    assert json.loads(lines[-2])["create"]["_id"] == "no-ts"


def test_the_double_accepts_the_file_as_a_plain_bulk_body(bulk_file, double, client):
    from airflow_provider_jumpcloud.sinks.elasticsearch import install_templates

    install_templates(client)
    path, _ = bulk_file
    resp = requests.post(
        f"{double.url}/_bulk",
        data=path.read_bytes(),
        timeout=10,
        headers={"Content-Type": "application/x-ndjson", "Authorization": f"ApiKey {API_KEY}"},
    )
    body = resp.json()
    assert resp.status_code == 200 and body["errors"] is False
    assert [item["create"]["status"] for item in body["items"]] == [201] * 26
    assert double.count(STREAM) == 26


def test_replay_gives_identical_counts_then_already_present(bulk_file, double, monkeypatch, capsys):
    path, written = bulk_file
    monkeypatch.setenv("TEST_ES_KEY", API_KEY)
    args = [str(path), "--es-url", double.url, "--api-key-env", "TEST_ES_KEY"]
    assert replay.main(args) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[-1]["total"] == {"read": 26, "indexed": 26, "already_present": 0, "dead_lettered": 0}
    assert written.indexed == out[-1]["total"]["indexed"]
    assert double.count(STREAM) == 26
    assert double.documents(STREAM)["no-ts"]["@timestamp"] == "2023-01-14T08:00:00.000Z"
    assert replay.main(args) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[-1]["total"] == {"read": 26, "indexed": 0, "already_present": 26, "dead_lettered": 0}
    assert API_KEY not in json.dumps(out)


def test_replay_dead_letters_fail_the_exit_code(tmp_path, double, monkeypatch, capsys):
    src = write_window(tmp_path / "w.ndjson.gz", [("bad", sample_document(1, **{"client.ip": "nope"}))])
    write_bulk_file(src, tmp_path / "b.ndjson", namespace="default")
    monkeypatch.setenv("TEST_ES_KEY", API_KEY)
    args = [str(tmp_path / "b.ndjson"), "--es-url", double.url, "--api-key-env", "TEST_ES_KEY"]
    assert replay.main(args) == 1
    dead = tmp_path / "b.dead-letter.ndjson"
    assert json.loads(dead.read_text())["_id"] == "bad"
    assert replay.main([*args, "--max-dead-letters", "1"]) == 0
    assert API_KEY not in capsys.readouterr().out


def test_replay_refuses_a_missing_key_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    assert (
        replay.main(
            [str(tmp_path / "x.ndjson"), "--es-url", "http://127.0.0.1:9", "--api-key-env", "NOPE_KEY"]
        )
        == 2
    )
    assert "NOPE_KEY" in capsys.readouterr().err


def test_iter_bulk_file_rejects_a_broken_file(tmp_path):
    path = tmp_path / "b.ndjson"
    path.write_text('{"create": {"_index": "i", "_id": "1"}}\n')
    with pytest.raises(ValueError, match="no source line"):
        list(iter_bulk_file(path))
    path.write_text('{"delete": {"_index": "i", "_id": "1"}}\n{}\n')
    with pytest.raises(ValueError, match="expected create"):
        list(iter_bulk_file(path))


def test_prestamped_splice_writes_the_same_documents_as_decoding(tmp_path, sample_events):
    """The byte-splicing path (mapping already stamped the documents) equals the decode/encode path."""
    from airflow_provider_jumpcloud.ecs import map_file
    from airflow_provider_jumpcloud.staging import atomic_writer

    raw = tmp_path / "raw.ndjson"
    lines = [json.dumps(e).encode() for e in sample_events] + [b"not json", b'{"id": "x\\"y", "timestamp": 5}']
    with atomic_writer(raw) as (out, _):
        out.write(b"\n".join(lines) + b"\n")
    ecs = tmp_path / "ecs.ndjson.gz"
    counts = map_file(raw, ecs, dataset="jumpcloud.events", fallback_timestamp="2025-01-01T00:00:00.000Z")
    assert counts.read == len(lines)
    spliced = write_bulk_file(ecs, tmp_path / "a.ndjson", namespace="prod", prestamped=True)
    decoded = write_bulk_file(ecs, tmp_path / "b.ndjson", namespace="prod",
                              fallback_timestamp="2025-01-01T00:00:00.000Z")
    assert spliced.read == decoded.read == len(lines)
    a = [json.loads(x) for x in (tmp_path / "a.ndjson").read_bytes().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "b.ndjson").read_bytes().splitlines()]
    assert a == b
    for source in a[1::2]:
        assert source["data_stream"] == {"type": "logs", "dataset": "jumpcloud.events", "namespace": "prod"}
        assert source["event"]["dataset"] == "jumpcloud.events" and "@timestamp" in source
