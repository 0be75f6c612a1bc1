"""Flattening documents into spec columns, and drift tracking."""

from __future__ import annotations

from airflow_provider_jumpcloud.quality.checks import JsonObject
from airflow_provider_jumpcloud.quality.flatten import Chunk, DriftTracker, FieldIndex, render_example

TYPES = {
    "a.b": "keyword",
    "list.items.name": "keyword",
    "list.items.deep.kind": "keyword",
    "obj.flat": "flattened",
    "geo.location": "geo_point",
    "event.kind": "keyword",
}


def chunk(required=()):
    index = FieldIndex.from_types(TYPES)
    return Chunk(index, DriftTracker(index.object_prefixes), first_row=0, required=required)


def distinct(c, path):
    values, counts = c.distinct(path)
    return list(zip(values.tolist(), counts.tolist(), strict=True))


def test_leaves_objects_and_arrays_of_objects():
    c = chunk()
    doc = {
        "a": {"b": "x"},
        "list": {"items": [{"name": "n1", "deep": [{"kind": "k1"}, {"kind": "k2"}]}, {"name": ["n2", "n3"]}]},
        "obj": {"flat": [{"field": "active"}]},
        "geo": {"location": {"lat": 1, "lon": 2}},
    }
    c.add("1", doc)
    c.add("2", {"a": {"b": 5}, "unknown": {"x": 1}})
    c.add("3", doc)
    assert distinct(c, "a.b") == [("x", 2), (5, 1)]
    assert distinct(c, "list.items.name") == [(["n1", "n2", "n3"], 2)]
    assert distinct(c, "list.items.deep.kind") == [(["k1", "k2"], 2)]
    assert distinct(c, "obj.flat") == [([{"field": "active"}], 2)]
    ((location, count),) = distinct(c, "geo.location")
    assert type(location) is JsonObject and location.value == {"lat": 1, "lon": 2} and count == 2
    assert "event.kind" not in c.values
    assert c.ids == ["1", "2", "3"]


def test_distinct_keys_keep_types_apart():
    c = chunk()
    for value in (True, 1, 1.0, "1", [1], [True], 1, True):
        c.add("x", {"a": {"b": value}})
    got = [(type(v).__name__, v, n) for v, n in distinct(c, "a.b")]
    assert got == [("bool", True, 2), ("int", 1, 2), ("float", 1.0, 1), ("str", "1", 1),
                   ("list", [1], 1), ("list", [True], 1)]


def test_required_patterns():
    c = chunk(required=("a.b", "event.kind"))
    c.add("1", {"a": {"b": "x"}})
    c.add("2", {"a": {"b": "y"}})
    c.add("3", {"event": {"kind": "pipeline_error"}})
    c.add("4", {"a": {"b": []}})
    assert {p: e[0] for p, e in c.required.items()} == {
        (True, False, False): 2, (False, True, True): 1, (False, False, False): 1,
    }
    assert c.required[(True, False, False)][1] == ("x", None)


def test_wrong_shape_at_a_leaf_stays_visible():
    c = chunk()
    c.add("1", {"a": {"b": {"nested": 1}}})
    ((value, _),) = distinct(c, "a.b")
    assert type(value) is JsonObject and value.value == {"nested": 1}
    assert c.drift.fields == {}


def test_drift_counts_documents_once_and_keeps_three_distinct_examples():
    index = FieldIndex.from_types(TYPES)
    drift = DriftTracker(index.object_prefixes)
    first = Chunk(index, drift, first_row=0)
    for i in range(3):
        first.add(str(i), {"new": {"field": [{"v": i}, {"v": i}]}, "list": "scalar-where-object"})
    second = Chunk(index, drift, first_row=3)
    for i in range(3, 6):
        second.add(str(i), {"new": {"field": [{"v": i % 2}]}})
    stat = drift.fields["new.field.v"]
    assert stat.documents == 6
    assert stat.examples == ["0", "1", "2"]
    conflict = drift.fields["list"].as_dict()
    assert conflict == {"documents": 3, "examples": ['"scalar-where-object"'], "object_expected": True}


def test_error_documents_counted():
    c = chunk()
    c.add("1", {"event": {"kind": "pipeline_error"}})
    c.add("2", {"event": {"kind": "event"}})
    c.add("3", {})
    assert c.error_documents == 1


def test_render_example_truncates():
    assert render_example("x" * 300) == '"' + "x" * 198 + "\u2026"
    assert len(render_example(list(range(500)))) == 200
    assert render_example(JsonObject({"a": 1})) == '{"a":1}'
