"""load_window against the HTTP Elasticsearch double, driven by the real elasticsearch client."""

from __future__ import annotations

import json

import pytest
from elasticsearch import ApiError

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.sinks.deadletter import read_dead_letters
from airflow_provider_jumpcloud.sinks.elasticsearch import ensure_data_stream, install_templates, load_window
from airflow_provider_jumpcloud.spec.datastream import data_stream_name, validate_namespace
from tests.sinks.docs import FAST, numbered, sample_document, write_window

STREAM = "logs-jumpcloud.events-default"


@pytest.fixture
def ready(client):
    install_templates(client)
    ensure_data_stream(client, STREAM)
    return client


def load(client, src, dead, **kw):
    opts = {"namespace": "default", "dead_letter_path": dead, **FAST, **kw}
    return load_window(client, src, **opts)


def assert_balanced(result, read):
    assert result.read == read
    assert result.indexed + result.already_present + result.dead_lettered == read


def test_loads_every_document_then_a_rerun_changes_nothing(ready, double, tmp_path):
    src = write_window(tmp_path / "w.ndjson.gz", numbered(1200))
    first = load(ready, src, tmp_path / "dl.ndjson", chunk_size=500)
    assert (first.indexed, first.already_present, first.dead_lettered) == (1200, 0, 0)
    assert_balanced(first, 1200)
    assert double.count(STREAM) == 1200
    assert double.stats["bulk_requests"] == 3  # 500 + 500 + 200
    second = load(ready, src, tmp_path / "dl.ndjson", chunk_size=500)
    assert (second.indexed, second.already_present, second.dead_lettered) == (0, 1200, 0)
    assert double.count(STREAM) == 1200
    assert not (tmp_path / "dl.ndjson").exists()
    assert first.dead_letter_path is None


def test_documents_are_created_with_the_mapper_id_and_data_stream_fields(ready, double, tmp_path):
    src = write_window(tmp_path / "w.ndjson.gz", [("fp-1", sample_document(1))])
    load(ready, src, tmp_path / "dl.ndjson")
    stored = double.documents(STREAM)
    assert list(stored) == ["fp-1"]
    doc = stored["fp-1"]
    assert doc["data_stream"] == {"type": "logs", "dataset": "jumpcloud.events", "namespace": "default"}
    assert doc["event"]["dataset"] == "jumpcloud.events"
    assert doc["event"]["id"] == "evt-000001"
    bulk = [r for r in double.requests if r.path.endswith("_bulk")]
    assert bulk and all(r.method in ("PUT", "POST") for r in bulk)


def test_mixed_item_results_201_409_400_and_429_then_success(ready, double, tmp_path):
    # Five documents are already in the stream (409), one has a bad IP and one a bad long (400),
    # the first three items of the next request are rejected with 429 once and then succeed.
    pre = write_window(tmp_path / "pre.ndjson.gz", numbered(5))
    load(ready, pre, tmp_path / "pre-dl.ndjson")
    docs = numbered(10)  # 0-4 present, 5-9 new
    docs.append(("bad-ip", sample_document(50, **{"client.ip": "999.1.1.1"})))
    docs.append(("bad-long", sample_document(51, **{"jumpcloud.event.error_code": "not-a-number"})))
    src = write_window(tmp_path / "w.ndjson.gz", docs)
    double.reject_items_429 = 3
    result = load(ready, src, tmp_path / "dl.ndjson", max_retries=2)
    assert (result.indexed, result.already_present, result.dead_lettered) == (5, 5, 2)
    assert_balanced(result, 12)
    assert double.stats["items_429"] == 3
    assert double.count(STREAM) == 10
    assert result.dead_letter_reasons == {"400 document_parsing_exception": 2}
    letters = {d["_id"]: d for d in read_dead_letters(tmp_path / "dl.ndjson")}
    assert set(letters) == {"bad-ip", "bad-long"}
    assert "[client.ip] of type [ip]" in letters["bad-ip"]["error"]["reason"]
    assert "[jumpcloud.event.error_code] of type [long]" in letters["bad-long"]["error"]["reason"]


def test_dead_letter_line_holds_id_status_error_and_the_document_sent(ready, tmp_path):
    bad = sample_document(7, **{"jumpcloud.event.success": "yes"})
    src = write_window(tmp_path / "w.ndjson.gz", [("bad-bool", bad)])
    result = load(ready, src, tmp_path / "dl.ndjson")
    assert result.dead_letter_path == str(tmp_path / "dl.ndjson")
    (line,) = (tmp_path / "dl.ndjson").read_text().splitlines()
    letter = json.loads(line)
    assert set(letter) == {"_id", "index", "status", "error", "document"}
    assert letter["_id"] == "bad-bool"
    assert letter["index"] == STREAM
    assert letter["status"] == 400
    assert letter["error"]["type"] == "document_parsing_exception"
    assert "[jumpcloud.event.success] of type [boolean]" in letter["error"]["reason"]
    assert letter["document"]["jumpcloud"]["event"]["success"] == "yes"
    assert letter["document"]["data_stream"]["namespace"] == "default"


def test_429_beyond_the_retries_is_a_dead_letter(ready, double, tmp_path):
    src = write_window(tmp_path / "w.ndjson.gz", numbered(4))
    double.reject_items_429 = 1000
    result = load(ready, src, tmp_path / "dl.ndjson", max_retries=2)
    assert (result.indexed, result.dead_lettered) == (0, 4)
    assert double.stats["items_429"] == 12  # 4 items x (1 try + 2 retries)
    assert {d["status"] for d in read_dead_letters(tmp_path / "dl.ndjson")} == {429}


@pytest.mark.parametrize("statuses", [[429], [503], [429, 503], [502, 504]])
def test_whole_request_overload_is_retried_then_succeeds(ready, double, tmp_path, statuses):
    src = write_window(tmp_path / "w.ndjson.gz", numbered(30))
    double.fail_bulk_requests.extend(statuses)
    result = load(ready, src, tmp_path / "dl.ndjson")
    assert (result.indexed, result.dead_lettered) == (30, 0)
    assert double.stats["bulk_requests"] == 1 + len(statuses)
    assert double.count(STREAM) == 30


def test_whole_request_failure_beyond_retries_raises_and_leaves_no_dead_letter(ready, double, tmp_path):
    src = write_window(tmp_path / "w.ndjson.gz", numbered(3))
    double.fail_bulk_requests.extend([503] * 50)
    with pytest.raises(ApiError) as err:
        load(ready, src, tmp_path / "dl.ndjson", max_retries=1)
    assert err.value.status_code == 503
    assert not list(tmp_path.glob("*dl.ndjson*")) and not list(tmp_path.glob(".dl.ndjson*"))
    assert double.count(STREAM) == 0


def test_stale_dead_letter_file_is_removed_by_a_clean_run(ready, tmp_path):
    dead = tmp_path / "dl.ndjson"
    dead.write_text('{"old": true}\n')
    src = write_window(tmp_path / "w.ndjson.gz", numbered(2))
    result = load(ready, src, dead)
    assert result.dead_lettered == 0 and not dead.exists()


def test_missing_timestamp_is_refused_unless_a_fallback_is_given(ready, double, tmp_path):
    src = write_window(tmp_path / "w.ndjson.gz", [("no-ts", sample_document(1, **{"@timestamp": ...}))])
    refused = load(ready, src, tmp_path / "dl.ndjson")
    assert refused.dead_lettered == 1
    assert "[@timestamp] is missing" in read_dead_letters(tmp_path / "dl.ndjson")[0]["error"]["reason"]
    fixed = load(ready, src, tmp_path / "dl.ndjson", fallback_timestamp="2023-01-14T08:00:00.000Z")
    assert fixed.indexed == 1
    assert double.documents(STREAM)["no-ts"]["@timestamp"] == "2023-01-14T08:00:00.000Z"


def test_oversized_document_is_dead_lettered_without_being_sent(ready, double, tmp_path):
    docs = numbered(2)
    docs.append(("huge", sample_document(9, message="x" * 5000)))
    src = write_window(tmp_path / "w.ndjson.gz", docs)
    result = load(ready, src, tmp_path / "dl.ndjson", max_document_bytes=4000)
    assert (result.indexed, result.dead_lettered) == (2, 1)
    assert double.stats["bulk_items"] == 2
    (letter,) = read_dead_letters(tmp_path / "dl.ndjson")
    assert (letter["_id"], letter["status"], letter["error"]["type"]) == ("huge", 413, "document_too_large")


def test_duplicate_ids_in_one_window_count_once_each(ready, double, tmp_path):
    docs = [("same", sample_document(1)), ("other", sample_document(2)), ("same", sample_document(1))]
    src = write_window(tmp_path / "w.ndjson.gz", docs)
    result = load(ready, src, tmp_path / "dl.ndjson")
    assert (result.indexed, result.already_present, result.dead_lettered) == (2, 1, 0)


def test_constant_namespace_is_enforced_by_the_stream(ready, double, tmp_path):
    # The loader stamps the namespace, so a document carrying another one is corrected, not refused.
    src = write_window(
        tmp_path / "w.ndjson.gz", [("x", sample_document(1, **{"data_stream.namespace": "o"}))]
    )
    assert load(ready, src, tmp_path / "dl.ndjson").indexed == 1
    assert double.documents(STREAM)["x"]["data_stream"]["namespace"] == "default"


@pytest.mark.parametrize("namespace", ["default", "prod_eu", "team.a", "x" * 100])
def test_valid_namespaces(namespace):
    assert data_stream_name(namespace) == f"logs-jumpcloud.events-{namespace}"


@pytest.mark.parametrize("namespace", ["", "Prod", "a-b", "a b", "a*b", "_x", "a/b", "x" * 101, "a,b", "a#b"])
def test_invalid_namespaces(namespace):
    with pytest.raises(JumpCloudConfigError):
        validate_namespace(namespace)


@pytest.mark.parametrize("namespace", ["default", "prod_eu", "team.a", "x" * 100, "_x", "a-b", "Prod", "a b", "a:b"])
def test_the_param_pattern_agrees_with_validate_namespace(namespace):
    import re

    from airflow_provider_jumpcloud.spec.datastream import NAMESPACE_PATTERN

    try:
        validate_namespace(namespace)
        valid = True
    except JumpCloudConfigError:
        valid = False
    assert bool(re.match(NAMESPACE_PATTERN, namespace)) is valid


def test_one_stamping_function_for_both_stages():
    from airflow_provider_jumpcloud.spec.datastream import stamp_document

    mapped = stamp_document({"event": {"id": "x"}}, fallback_timestamp="2023-01-14T08:00:00.000Z")
    assert mapped == {"event": {"id": "x", "dataset": "jumpcloud.events"}, "@timestamp": "2023-01-14T08:00:00.000Z"}
    loaded = stamp_document({"@timestamp": "t"}, namespace="prod", fallback_timestamp="later")
    assert loaded == {"@timestamp": "t", "event": {"dataset": "jumpcloud.events"},
                      "data_stream": {"type": "logs", "dataset": "jumpcloud.events", "namespace": "prod"}}
    assert stamp_document({}, dataset=None) == {}
