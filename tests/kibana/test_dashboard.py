"""The shipped Kibana saved objects: up to date, internally consistent, and only aggregatable template fields."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_jumpcloud.kibana import SAVED_OBJECTS_FILE, iter_saved_objects, saved_objects_bytes
from airflow_provider_jumpcloud.kibana import build as kibana_build
from airflow_provider_jumpcloud.kibana.__main__ import main as kibana_main
from airflow_provider_jumpcloud.spec.quality import build_quality_templates
from airflow_provider_jumpcloud.spec.templates import build_templates

#: Elasticsearch field types Lens can aggregate (terms, date histogram, metrics).
AGGREGATABLE = {"keyword", "constant_keyword", "long", "integer", "short", "byte", "double", "float",
                "half_float", "scaled_float", "unsigned_long", "date", "date_nanos", "boolean", "ip"}
RECORDS = "___records___"
KQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
KQL_FIELD = re.compile(r"([A-Za-z_@][\w.@-]*)\s*(?::|<=|>=|<|>)")


def leaf_fields(properties: dict[str, Any], prefix: str = "", nested: bool = False) -> Iterator[tuple[str, dict, bool]]:
    """Yield ``(dotted name, mapping, under a nested parent)`` for every field of a properties tree."""
    for name, body in properties.items():
        dotted = f"{prefix}{name}"
        yield dotted, body, nested
        if "properties" in body:
            yield from leaf_fields(body["properties"], dotted + ".", nested or body.get("type") == "nested")


def template_fields(templates: Any) -> dict[str, tuple[dict, bool]]:
    """Every field the index template's composed mappings define."""
    out: dict[str, tuple[dict, bool]] = {}
    for component in templates.index_template["composed_of"]:
        body = templates.component_templates.get(component, {})
        props = body.get("template", {}).get("mappings", {}).get("properties", {})
        out.update({name: (mapping, nested) for name, mapping, nested in leaf_fields(props)})
    return out


def data_view_fields() -> dict[str, tuple[str, dict[str, tuple[dict, bool]]]]:
    """Data view id -> (index pattern of its template, the template's fields), from the real template builders."""
    events, quality = build_templates(version="test"), build_quality_templates(version="test")
    return {
        kibana_build.EVENTS_VIEW: (events.index_template["index_patterns"][0], template_fields(events)),
        kibana_build.QUALITY_VIEW: (quality.index_template["index_patterns"][0], template_fields(quality)),
    }


def kuery_fields(text: str) -> list[str]:
    """Field names a KQL query uses (quoted values removed first)."""
    return [f for f in KQL_FIELD.findall(KQL_STRING.sub('""', text)) if f.lower() not in {"and", "or", "not"}]


def filter_fields(filters: list[dict[str, Any]]) -> Iterator[str]:
    """Fields of saved filter pills (``meta.key`` and the query's field names)."""
    for pill in filters:
        if key := (pill.get("meta") or {}).get("key"):
            yield key
        query = pill.get("query") or {}
        for clause in query.values():
            if isinstance(clause, dict):
                yield from (k for k in clause if k not in {"query", "field"})
                if "field" in clause:
                    yield clause["field"]


def field_references(obj: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Yield ``(data view id, field, where)`` for every field a saved object uses."""
    attrs = obj["attributes"]
    if obj["type"] == "index-pattern":
        yield obj["id"], attrs["timeFieldName"], "timeFieldName"
    elif obj["type"] == "lens":
        state = attrs["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        refs = {r["name"]: r["id"] for r in obj["references"]}
        view = None
        for layer_id, layer in layers.items():
            view = refs[f"indexpattern-datasource-layer-{layer_id}"]
            for col_id, col in layer["columns"].items():
                if col.get("sourceField") and col["sourceField"] != RECORDS:
                    yield view, col["sourceField"], f"column {col_id} sourceField"
                if sort := (col.get("params") or {}).get("sortField"):
                    yield view, sort, f"column {col_id} sortField"
                if col.get("filter"):
                    assert col["filter"]["language"] == "kuery"
                    for name in kuery_fields(col["filter"]["query"]):
                        yield view, name, f"column {col_id} filter"
        assert view is not None
        for name in kuery_fields(state["query"]["query"]):
            yield view, name, "query"
        for name in filter_fields(state["filters"]):
            yield view, name, "filter"
    elif obj["type"] == "dashboard":
        search = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        # A dashboard-wide query applies to every data view's panels.
        for view in (kibana_build.EVENTS_VIEW, kibana_build.QUALITY_VIEW):
            for name in kuery_fields(search["query"]["query"]):
                yield view, name, "dashboard query"
            for name in filter_fields(search["filter"]):
                yield view, name, "dashboard filter"


def field_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every field reference that is not an aggregatable field of its data view's index template."""
    views = data_view_fields()
    problems = []
    for obj in objects:
        for view, name, where in field_references(obj):
            _pattern, fields = views[view]
            label = f"{obj['type']} {obj['id']} {where}: {name}"
            if name not in fields:
                problems.append(f"{label} is not in the template of {view}")
                continue
            mapping, nested = fields[name]
            kind = mapping.get("type", "object")
            if nested:
                problems.append(f"{label} is inside a nested field (Lens cannot aggregate it)")
            elif kind not in AGGREGATABLE or mapping.get("doc_values") is False or mapping.get("index") is False:
                problems.append(f"{label} is {kind} {mapping}, not aggregatable")
    return problems


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return list(iter_saved_objects())


def test_shipped_file_is_what_the_builder_writes() -> None:
    assert saved_objects_bytes() == kibana_build.render(), (
        f"{SAVED_OBJECTS_FILE} is stale: run python -m airflow_provider_jumpcloud.kibana.build")


def test_every_field_is_an_aggregatable_template_field(objects: list[dict[str, Any]]) -> None:
    used = {(view, name) for obj in objects for view, name, _where in field_references(obj)}
    assert len(used) >= 15  # the walk really finds the dashboard's fields
    assert (kibana_build.EVENTS_VIEW, "event.action") in used
    assert (kibana_build.EVENTS_VIEW, "event.outcome") in used  # also through the KQL filters
    assert (kibana_build.QUALITY_VIEW, "jumpcloud.quality.completeness.ratio") in used
    assert field_problems(objects) == []


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda col: col.update(sourceField="event.nonexistent"), "is not in the template"),
    (lambda col: col.update(sourceField="event.original"), "not aggregatable"),  # doc_values false
    (lambda col: col.update(sourceField="jumpcloud.event"), "not aggregatable"),  # an object
    (lambda col: col.update(filter={"query": 'no.such.field : "x"', "language": "kuery"}), "no.such.field"),
])
def test_the_field_check_fails_on_bad_fields(objects: list[dict[str, Any]], mutate: Any, expected: str) -> None:
    broken = copy.deepcopy(objects)
    lens = next(o for o in broken if o["id"] == "airflow-jumpcloud-events-outcome")
    column = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]["columns"]["g"]
    mutate(column)
    problems = field_problems(broken)
    assert len(problems) == 1 and expected in problems[0] and "airflow-jumpcloud-events-outcome" in problems[0]


def test_a_nested_quality_field_is_refused(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(objects)
    lens = next(o for o in broken if o["id"] == "airflow-jumpcloud-quality-type-failures")
    layer = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]
    layer["columns"]["f"]["sourceField"] = "jumpcloud.quality.field_failures.name"
    assert ["nested" in p for p in field_problems(broken)] == [True]


def test_data_views_match_the_index_templates(objects: list[dict[str, Any]]) -> None:
    views = {o["id"]: o["attributes"] for o in objects if o["type"] == "index-pattern"}
    expected = data_view_fields()
    assert set(views) == set(expected)
    for view_id, attrs in views.items():
        assert attrs["title"] == expected[view_id][0] and attrs["timeFieldName"] == "@timestamp"


def test_saved_objects_are_consistent(objects: list[dict[str, Any]]) -> None:
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids))
    assert [o["type"] for o in objects][-1] == "dashboard" and sum(o["type"] == "dashboard" for o in objects) == 1
    for obj in objects:
        assert {"attributes", "coreMigrationVersion", "id", "references", "type", "typeMigrationVersion"} <= set(obj)
    by_id = {o["id"]: o for o in objects}
    lenses = [o for o in objects if o["type"] == "lens"]
    for lens in lenses:
        state = lens["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            ref = next(r for r in lens["references"] if r["name"] == f"indexpattern-datasource-layer-{layer_id}")
            assert by_id[ref["id"]]["type"] == "index-pattern"
            assert sorted(layer["columnOrder"]) == sorted(layer["columns"])
            for col in layer["columns"].values():
                order_by = (col.get("params") or {}).get("orderBy") or {}
                assert order_by.get("type") != "column" or order_by["columnId"] in layer["columns"]
        columns = {c for layer in layers.values() for c in layer["columns"]}
        assert accessors(lens["attributes"]["visualizationType"], state["visualization"]) <= columns, lens["id"]
    dash = objects[-1]
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    used = [refs[f"{p['panelIndex']}:{p['panelRefName']}"]["id"] for p in panels]
    assert sorted(used) == sorted(o["id"] for o in lenses)  # every Lens object on the dashboard, once
    cells = set()
    for p in panels:
        grid = p["gridData"]
        assert grid["i"] == p["panelIndex"] and grid["x"] >= 0 and grid["x"] + grid["w"] <= 48
        xs, ys = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        area = {(x, y) for x in xs for y in ys}
        assert not area & cells, f"panel {p['panelIndex']} overlaps another"
        cells |= area


def accessors(vis_type: str, vis: dict[str, Any]) -> set[str]:
    """Column ids a Lens visualization state points at."""
    if vis_type == "lnsXY":
        return {a for layer in vis["layers"]
                for a in [layer["xAccessor"], *layer["accessors"], layer.get("splitAccessor", layer["xAccessor"])]}
    if vis_type == "lnsPie":
        return {a for layer in vis["layers"] for a in [*layer["primaryGroups"], *layer["metrics"]]}
    if vis_type == "lnsMetric":
        return {vis["metricAccessor"]}
    if vis_type == "lnsDatatable":
        return {c["columnId"] for c in vis["columns"]}
    raise AssertionError(f"unexpected visualization type {vis_type}")


def test_the_panels_cover_what_the_dashboard_promises(objects: list[dict[str, Any]]) -> None:
    fields = {name for obj in objects for _view, name, _where in field_references(obj)}
    assert {"event.action", "event.outcome", "event.module", "jumpcloud.event.geoip.country_code",
            "source.geo.country_iso_code", "source.geo.country_name", "jumpcloud.quality.verdict",
            "jumpcloud.quality.completeness.ratio", "jumpcloud.quality.drift.total"} <= fields


def test_cli_writes_the_file(tmp_path, capsysbinary) -> None:
    assert kibana_main(["-o", str(tmp_path / "out.ndjson")]) == 0
    assert (tmp_path / "out.ndjson").read_bytes() == saved_objects_bytes()
    assert kibana_main([]) == 0
    assert capsysbinary.readouterr().out == saved_objects_bytes()
