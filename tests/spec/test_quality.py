"""The quality data stream: its template, and documents built from real and hand-made summaries."""

from __future__ import annotations

import json

import pytest

from airflow_provider_jumpcloud.spec.datastream import data_stream_name
from airflow_provider_jumpcloud.spec.quality import (
    QUALITY_MAPPINGS_COMPONENT,
    QUALITY_SETTINGS_COMPONENT,
    build_quality_templates,
    quality_document,
    quality_document_id,
)
from airflow_provider_jumpcloud.windows import Window
from tests.sinks.docs import WINDOW, quality_summary
from tests.support.es_mapping_check import MappingState, flatten_mapping_types


@pytest.fixture(scope="module")
def templates():
    return build_quality_templates()


@pytest.fixture
def mapping(templates):
    """A fresh index's mapping (constant_keyword values are fixed by the first document)."""
    mappings = templates.component_templates[QUALITY_MAPPINGS_COMPONENT]["template"]["mappings"]
    return MappingState(mappings["properties"], dynamic=mappings["dynamic"])


def leaves(doc, prefix=""):
    """Dotted names of every leaf value of a document (list elements' keys included)."""
    out = set()
    for key, value in doc.items():
        name = prefix + key
        parts = value if isinstance(value, list) else [value]
        if parts and all(isinstance(p, dict) for p in parts) and name != "jumpcloud.quality.thresholds":
            for part in parts:
                out |= leaves(part, name + ".")
        else:
            out.add(name)
    return out


def test_index_template_is_a_data_stream_template_with_a_lifecycle(templates):
    body = templates.index_template
    assert templates.index_template_name == "logs-jumpcloud.quality"
    assert body["index_patterns"] == ["logs-jumpcloud.quality-*"] and body["data_stream"] == {}
    assert body["composed_of"][:2] == [QUALITY_SETTINGS_COMPONENT, QUALITY_MAPPINGS_COMPONENT]
    settings = templates.component_templates[QUALITY_SETTINGS_COMPONENT]["template"]
    assert settings["lifecycle"] == {"enabled": True, "data_retention": "90d"}
    assert data_stream_name("default", "jumpcloud.quality") == "logs-jumpcloud.quality-default"


def test_field_types_kibana_aggregates(templates):
    props = templates.component_templates[QUALITY_MAPPINGS_COMPONENT]["template"]["mappings"]["properties"]
    types = flatten_mapping_types(props)
    q = "jumpcloud.quality."
    for name in ("verdict", "fields_failed", "required_missing", "drift.fields", "failed_checks", "run_id",
                 "field_failures.name", "field_failures.type", "reasons.check", "reasons.level", "window.key"):
        assert types[q + name] == "keyword", name
    for name in ("documents", "error_documents", "attempt", "duplicates.documents", "timestamps.late",
                 "timestamps.future", "completeness.api_count", "field_failures.failed", "required.missing"):
        assert types[q + name] == "long", name
    for name in ("error_document_rate", "completeness.ratio", "field_failures.rate"):
        assert types[q + name] == "double", name
    for name in ("@timestamp", q + "window.start", q + "window.end", "event.start", "event.end"):
        assert types[name] == "date", name
    assert types[q + "field_failures"] == types[q + "required"] == types[q + "reasons"] == "nested"
    assert types[q + "thresholds"] == "flattened"


def test_a_document_from_a_summary(mapping):
    doc_id, doc = quality_document(quality_summary(), namespace="prod", attempt=2, run_id="r1", dag_id="d")
    assert doc_id == quality_document_id(Window.from_dict(WINDOW), 2, "r1")
    assert doc["@timestamp"] == doc["event"]["start"] == "2023-01-14T08:00:00Z"
    assert doc["data_stream"] == {"type": "logs", "dataset": "jumpcloud.quality", "namespace": "prod"}
    q = doc["jumpcloud"]["quality"]
    assert (q["verdict"], q["attempt"], q["run_id"], q["dag_id"]) == ("warn", 2, "r1", "d")
    assert q["error_document_rate"] == 0.05 and q["completeness"] == {
        "documents": 20, "events_fetched": 20, "api_count": 22, "ratio": 0.909091, "missing": 2}
    assert q["field_failures"] == [{"name": "client.ip", "type": "ip", "checked": 19, "failed": 2,
                                    "rate": 0.105263}]
    assert q["fields_failed"] == ["client.ip"] and q["fields_checked"] == 2
    assert q["required_missing"] == ["event.id"] and q["warned_checks"] == ["drift", "type"]
    assert q["drift"] == {"fields": ["foo.bar", "jumpcloud.event.brand_new"], "total": 2, "jumpcloud_fields": 1}
    assert mapping.check(doc, data_stream=True, parse_error_type="document_parsing_exception") is None


def test_ids_are_stable_per_window_attempt_and_run():
    window = Window.from_dict(WINDOW)
    same = {quality_document_id(window, 1, "r") for _ in range(3)}
    assert len(same) == 1
    others = {quality_document_id(window, 2, "r"), quality_document_id(window, 1, "s"),
              quality_document_id(window.shifted(window.duration), 1, "r")}
    assert len(others | same) == 4


def test_unknown_counts_are_absent_not_null():
    summary = quality_summary()
    summary["completeness"] = {"documents": 20, "events_fetched": None, "api_count": None}
    _, doc = quality_document(summary, namespace="default", attempt=1, run_id="r")
    assert doc["jumpcloud"]["quality"]["completeness"] == {"documents": 20}
    assert "null" not in json.dumps(doc)


def test_the_strict_mapping_refuses_a_field_it_does_not_know(mapping):
    _, doc = quality_document(quality_summary(), namespace="default", attempt=1, run_id="r")
    doc["jumpcloud"]["quality"]["surprise"] = 1
    problem = mapping.check(doc, data_stream=True, parse_error_type="document_parsing_exception")
    assert problem is not None and problem[0] == "strict_dynamic_mapping_exception"


def test_a_real_summary_from_check_window_maps_cleanly(tmp_path, mapping, templates):
    """The summary the quality stage really writes fits the template: no strict-mapping or type error."""
    from airflow_provider_jumpcloud.quality.validate import check_window
    from tests.quality.factory import WINDOW as QWINDOW
    from tests.quality.factory import clean_doc, error_doc
    from tests.sinks.docs import write_window

    docs = [clean_doc(i) for i in range(6)] + [error_doc(1)]
    docs[2][1]["client"]["ip"] = "999.1.1.1"  # one type mismatch
    src = write_window(tmp_path / "w.ndjson.gz", docs)
    summary = check_window(src, QWINDOW, quality_dir=tmp_path / "q", events_fetched=7, api_count=8)
    on_disk = json.loads((tmp_path / "q" / "summary.json").read_text())
    _, doc = quality_document(on_disk, namespace="default", attempt=1, run_id="manual__1")
    assert mapping.check(doc, data_stream=True, parse_error_type="document_parsing_exception") is None
    props = templates.component_templates[QUALITY_MAPPINGS_COMPONENT]["template"]["mappings"]["properties"]
    assert leaves(doc) <= set(flatten_mapping_types(props))
    q = doc["jumpcloud"]["quality"]
    assert q["verdict"] == summary["verdict"] and q["documents"] == 7 and q["error_documents"] == 1
    assert "client.ip" in q["fields_failed"] and q["completeness"]["missing"] == 1
