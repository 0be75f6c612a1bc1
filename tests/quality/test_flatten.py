"""Flattening documents into spec columns, and drift tracking."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.quality import flatten
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


def test_string_columns_count_strings_as_one_class_and_keep_other_values_apart():
    c = chunk()
    for i in range(1000):
        c.add(str(i), {"a": {"b": f"value-{i}"}})
    c.add("x", {"a": {"b": 7}})
    c.add("y", {"a": {"b": ["p", "q"]}})
    c.add("z", {"a": {"b": ["p", 1]}})
    assert distinct(c, "a.b") == [("value-0", 1000), (7, 1), (["p", "q"], 1), (["p", 1], 1)]
    assert c.distinct_values == 4


def test_non_string_columns_keep_every_distinct_value():
    index = FieldIndex.from_types({"n": "long", "when": "date"})
    c = Chunk(index, DriftTracker(index.object_prefixes), first_row=0)
    for i in range(50):
        c.add(str(i), {"n": i % 10, "when": f"2025-01-01T00:00:{i % 5:02d}Z"})
    assert sorted(distinct(c, "n")) == [(i, 5) for i in range(10)]
    assert sorted(distinct(c, "when")) == [(f"2025-01-01T00:00:{i:02d}Z", 10) for i in range(5)]


def test_values_without_json_text_are_counted_apart():
    index = FieldIndex.from_types({"n": "float"})
    c = Chunk(index, DriftTracker(index.object_prefixes), first_row=0)
    for value in (float("inf"), float("inf"), 2**70, (1, 2), 1.5):
        c.add("x", {"n": value})
    got = {repr(v): n for v, n in distinct(c, "n")}
    assert got == {"inf": 2, repr(2**70): 1, "(1, 2)": 1, "1.5": 1}


def test_a_finished_chunk_is_freed_without_the_garbage_collector():
    index = FieldIndex.from_types(TYPES)
    drift = DriftTracker(index.object_prefixes)
    first = Chunk(index, drift, first_row=0)
    first.add("1", {"a": {"b": 1}, "list": {"items": [{"name": "n"}]}})
    gone = weakref.ref(first)
    gc.disable()
    try:
        del first
        Chunk(index, drift, first_row=1)
        assert gone() is None
    finally:
        gc.enable()


def test_container_keys_are_stored_at_their_own_size():
    # orjson's bytes keep a 4 KiB buffer: 2,000 list keys would hold 8 MB if stored as returned
    c = chunk()
    tracemalloc.start()
    try:
        for i in range(2000):
            c.add(str(i), {"obj": {"flat": [{"i": i}]}})
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert c.distinct_values == 2000
    assert current < 2_000_000


SCALAR = (st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([2**63 - 1, -(2**63), 0.5, -1e300])
          | st.sampled_from(["x", "y", "", "2025-01-01T00:00:00Z", "pipeline_error", float("inf"), 2**70]))
LEAF = (SCALAR | st.lists(SCALAR, max_size=3)
        | st.dictionaries(st.sampled_from(["lat", "lon", "field"]), SCALAR, max_size=2))


def _obj(**fields):
    """An object with any subset of ``fields``, or now and then a leaf where an object belongs."""
    return st.fixed_dictionaries({}, optional=fields) | LEAF


# Documents shaped like the spec in TYPES, drawn from a small pool so that values repeat across documents.
DOCS = st.lists(
    st.fixed_dictionaries({}, optional={
        "a": _obj(b=LEAF, zz=LEAF),
        "list": _obj(items=st.lists(_obj(name=LEAF, deep=st.lists(_obj(kind=LEAF), max_size=3)), max_size=3)),
        "obj": _obj(flat=LEAF),
        "geo": _obj(location=LEAF),
        "event": _obj(kind=LEAF),
        "zz": LEAF,
    }),
    min_size=1,
    max_size=4,
).flatmap(lambda pool: st.lists(st.sampled_from(pool), max_size=12))


SHAPES = [
    {"a": {"b": "x"}, "event": {"kind": "pipeline_error"}},
    {"a": {"b": ["x", "y"]}, "obj": {"flat": [{"field": 1}]}, "geo": {"location": {"lat": 1, "lon": 2}}},
    {"a": {"b": 1.5, "zz": [1]}, "list": {"items": [{"name": "n", "deep": [{"kind": "k"}, {"kind": 1}]}, None, 3]}},
    {"a": "scalar-where-object", "list": {"items": [{"name": ["m", None]}]}, "zz": {"x": True}},
]


@settings(max_examples=300, deadline=None)
@given(DOCS)
@example(SHAPES + SHAPES[::-1])
@example([SHAPES[0], SHAPES[0], SHAPES[2], SHAPES[2]])
def test_c_and_python_walkers_agree(docs):
    if flatten.walk_document is flatten.py_walk:
        pytest.skip("the C walker is not built here")
    results = []
    for walker in (flatten.walk_document, flatten.py_walk):
        index = FieldIndex.from_types(TYPES)
        drift = DriftTracker(index.object_prefixes)
        c = Chunk(index, drift, first_row=0, required=("a.b", "event.kind"), walker=walker)
        for n, doc in enumerate(docs):
            c.add(str(n), doc)
        columns = {path: sorted((repr(v), n) for v, n in zip(*c.distinct(path), strict=True)) for path in c.values}
        results.append((columns, c.values, c.required, c.error_documents,
                        {path: stat.as_dict() for path, stat in drift.fields.items()}))
    assert results[0] == results[1]
