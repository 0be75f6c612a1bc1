"""Build the Kibana saved objects of the JumpCloud dashboard (``jumpcloud-dashboard.ndjson``) from a panel list.

Kibana 8.x saved-object format, importable with ``POST /api/saved_objects/_import`` (Kibana 8.9 or later,
9.x included): two data views (events and quality data streams), one Lens visualization per panel (by
reference, each with its data view reference), and one dashboard placing them. The data stream patterns
come from :mod:`airflow_provider_jumpcloud.spec.datastream`, their one definition. Rewrite the shipped file
with ``python -m airflow_provider_jumpcloud.kibana.build``; a test fails when it is stale. No Airflow import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_provider_jumpcloud.spec.datastream import DATASET, QUALITY_DATASET, index_pattern

CORE_MIGRATION_VERSION = "8.8.0"
#: Per type, the migration version the objects are written at (Kibana migrates them forward on import).
TYPE_MIGRATION_VERSIONS = {"index-pattern": "8.0.0", "lens": "8.9.0", "dashboard": "8.7.0"}
EVENTS_VIEW = "airflow-jumpcloud-events"
QUALITY_VIEW = "airflow-jumpcloud-quality"
DASHBOARD_ID = "airflow-jumpcloud-overview"
LAYER = "layer1"
RECORDS = "___records___"
TIME_FIELD = "@timestamp"


def _saved_object(kind: str, object_id: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict:
    return {"attributes": attributes, "coreMigrationVersion": CORE_MIGRATION_VERSION, "id": object_id,
            "managed": False, "references": references, "type": kind,
            "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[kind]}


def data_view(view_id: str, pattern: str, name: str) -> dict[str, Any]:
    """Return a data view (``index-pattern``) saved object with ``@timestamp`` as its time field."""
    return _saved_object("index-pattern", view_id, {
        "title": pattern, "name": name, "timeFieldName": TIME_FIELD, "fields": "[]", "fieldFormatMap": "{}",
        "runtimeFieldMap": "{}", "sourceFilters": "[]", "typeMeta": "{}", "fieldAttrs": "{}",
        "allowNoIndex": True}, [])


# -- Lens columns --------------------------------------------------------------------------------------------


def date_histogram() -> dict[str, Any]:
    """Time buckets on ``@timestamp`` at Kibana's automatic interval."""
    return {"label": TIME_FIELD, "dataType": "date", "operationType": "date_histogram", "sourceField": TIME_FIELD,
            "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def terms(field: str, order_by: str, *, size: int = 10, label: str | None = None) -> dict[str, Any]:
    """Top values of a keyword field, ordered by the metric column ``order_by``."""
    column: dict[str, Any] = {
        "label": label or f"Top {size} values of {field}", "dataType": "string", "operationType": "terms",
        "sourceField": field, "isBucketed": True, "scale": "ordinal",
        "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by}, "orderDirection": "desc",
                   "otherBucket": True, "missingBucket": False, "parentFormat": {"id": "terms"},
                   "include": [], "exclude": [], "includeIsRegex": False, "excludeIsRegex": False}}
    if label:
        column["customLabel"] = True
    return column


def count(label: str, kuery: str | None = None) -> dict[str, Any]:
    """Document count, optionally of the documents a KQL query selects."""
    column: dict[str, Any] = {"label": label, "customLabel": True, "dataType": "number", "operationType": "count",
                              "sourceField": RECORDS, "isBucketed": False, "scale": "ratio",
                              "params": {"emptyAsNull": True}}
    if kuery:
        column["filter"] = {"query": kuery, "language": "kuery"}
    return column


def metric(operation: str, field: str, label: str, *, percent: bool = False) -> dict[str, Any]:
    """A numeric metric (``min``, ``max``, ``average``, ``sum``, ``unique_count``) of a field."""
    params: dict[str, Any] = {"emptyAsNull": True}
    if percent:
        params["format"] = {"id": "percent", "params": {"decimals": 2}}
    return {"label": label, "customLabel": True, "dataType": "number", "operationType": operation,
            "sourceField": field, "isBucketed": False, "scale": "ratio", "params": params}


# -- Lens visualizations -------------------------------------------------------------------------------------


def xy(x: str, accessors: list[str], *, split: str | None = None, series: str = "bar_stacked") -> tuple[str, dict]:
    """An XY chart (bars, lines, horizontal bars) of one layer."""
    layer: dict[str, Any] = {"layerId": LAYER, "layerType": "data", "seriesType": series, "xAccessor": x,
                             "accessors": accessors, "position": "top", "showGridlines": False}
    if split:
        layer["splitAccessor"] = split
    return "lnsXY", {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
                     "fittingFunction": "None", "preferredSeriesType": series, "layers": [layer]}


def donut(group: str, value: str) -> tuple[str, dict]:
    """A donut of one bucket column."""
    return "lnsPie", {"shape": "donut", "layers": [{
        "layerId": LAYER, "layerType": "data", "primaryGroups": [group], "metrics": [value],
        "numberDisplay": "percent", "categoryDisplay": "default", "legendDisplay": "default",
        "nestedLegend": False}]}


def big_number(value: str) -> tuple[str, dict]:
    """A single metric."""
    return "lnsMetric", {"layerId": LAYER, "layerType": "data", "metricAccessor": value}


def table(columns: list[str]) -> tuple[str, dict]:
    """A data table of the given columns, in order."""
    return "lnsDatatable", {"layerId": LAYER, "layerType": "data",
                            "columns": [{"columnId": column} for column in columns]}


def lens(lens_id: str, title: str, view_id: str, columns: dict[str, dict[str, Any]],
         visualization: tuple[str, dict], *, description: str = "", kuery: str = "") -> dict[str, Any]:
    """Return a Lens saved object of one layer over a data view; bucket columns come first."""
    order = [c for c, col in columns.items() if col["isBucketed"]] + [
        c for c, col in columns.items() if not col["isBucketed"]]
    vis_type, vis_state = visualization
    state = {
        "visualization": vis_state,
        "query": {"query": kuery, "language": "kuery"},
        "filters": [],
        "datasourceStates": {"formBased": {"layers": {LAYER: {
            "columns": columns, "columnOrder": order, "incompleteColumns": {}}}}, "textBased": {"layers": {}}},
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return _saved_object("lens", lens_id, {"title": title, "description": description,
                                           "visualizationType": vis_type, "state": state},
                         [{"type": "index-pattern", "id": view_id, "name": f"indexpattern-datasource-layer-{LAYER}"}])


def panels() -> list[tuple[dict[str, Any], tuple[int, int, int, int]]]:
    """Every Lens object of the dashboard with its grid position ``(x, y, w, h)`` (48 columns wide)."""
    ev, q = EVENTS_VIEW, QUALITY_VIEW
    failure = 'event.outcome : "failure"'
    return [
        (lens("airflow-jumpcloud-events-total", "Events", ev, {"n": count("Events")}, big_number("n")),
         (0, 0, 8, 7)),
        (lens("airflow-jumpcloud-events-failures", "Failed events", ev,
              {"n": count("Failed events", failure)}, big_number("n")), (8, 0, 8, 7)),
        (lens("airflow-jumpcloud-events-error-documents", "Pipeline error documents", ev,
              {"n": count("Error documents", 'event.kind : "pipeline_error"')}, big_number("n")), (16, 0, 8, 7)),
        (lens("airflow-jumpcloud-events-outcome", "Events by outcome (event.outcome)", ev,
              {"g": terms("event.outcome", "n", size=5), "n": count("Events")}, donut("g", "n")), (24, 0, 12, 14)),
        (lens("airflow-jumpcloud-events-service", "Events by JumpCloud service (event.module)", ev,
              {"g": terms("event.module", "n", size=20, label="Service"), "n": count("Events")},
              xy("g", ["n"], series="bar_horizontal")), (36, 0, 12, 14)),
        (lens("airflow-jumpcloud-events-action-over-time", "Events over time by action (event.action)", ev,
              {"t": date_histogram(), "a": terms("event.action", "n", size=10), "n": count("Events")},
              xy("t", ["n"], split="a")), (0, 7, 24, 14)),
        (lens("airflow-jumpcloud-events-failed-actions", "Failed actions", ev,
              {"a": terms("event.action", "n", size=15, label="Action"), "n": count("Failed events")},
              table(["a", "n"]), kuery=failure), (0, 21, 16, 14)),
        (lens("airflow-jumpcloud-events-country-jumpcloud", "Events by country (JumpCloud geoip)", ev,
              {"c": terms("jumpcloud.event.geoip.country_code", "n", size=15, label="Country"),
               "n": count("Events")}, xy("c", ["n"], series="bar_horizontal"),
              description="The country JumpCloud resolved for the client IP (always present when JumpCloud "
                          "sends it)."), (16, 21, 16, 14)),
        (lens("airflow-jumpcloud-events-country-geoip", "Source countries (GeoIP)", ev,
              {"c": terms("source.geo.country_name", "n", size=15, label="Country"),
               "i": terms("source.geo.country_iso_code", "n", size=1, label="ISO code"),
               "u": metric("unique_count", "source.ip", "Source IPs"), "n": count("Events")},
              table(["c", "i", "u", "n"]),
              description="From the MaxMind databases given to the map task; empty without them."),
         (32, 21, 16, 14)),
        (lens("airflow-jumpcloud-quality-verdicts", "Quality verdicts per window over time", q,
              {"t": date_histogram(), "v": terms("jumpcloud.quality.verdict", "n", size=3, label="Verdict"),
               "n": count("Windows")}, xy("t", ["n"], split="v")), (0, 35, 24, 14)),
        (lens("airflow-jumpcloud-quality-completeness", "Completeness over time (documents / API count)", q,
              {"t": date_histogram(),
               "r": metric("min", "jumpcloud.quality.completeness.ratio", "Lowest completeness", percent=True)},
              xy("t", ["r"], series="line")), (24, 35, 24, 14)),
        (lens("airflow-jumpcloud-quality-missing", "Events missing over time (API count - documents)", q,
              {"t": date_histogram(), "m": metric("sum", "jumpcloud.quality.completeness.missing", "Missing"),
               "e": metric("sum", "jumpcloud.quality.error_documents", "Error documents")},
              xy("t", ["m", "e"], series="bar")), (0, 49, 24, 14)),
        (lens("airflow-jumpcloud-quality-drift", "Schema drift over time (fields outside the spec)", q,
              {"t": date_histogram(), "d": metric("max", "jumpcloud.quality.drift.total", "Unknown fields"),
               "j": metric("max", "jumpcloud.quality.drift.jumpcloud_fields", "of which jumpcloud.event.*")},
              xy("t", ["d", "j"], series="line")), (24, 49, 24, 14)),
        (lens("airflow-jumpcloud-quality-drift-fields", "Fields outside the spec (windows seen in)", q,
              {"f": terms("jumpcloud.quality.drift.fields", "n", size=20, label="Field"), "n": count("Windows")},
              table(["f", "n"])), (0, 63, 16, 14)),
        (lens("airflow-jumpcloud-quality-failed-checks", "Failed checks", q,
              {"c": terms("jumpcloud.quality.failed_checks", "n", size=10, label="Failed check"),
               "n": count("Windows")}, xy("c", ["n"], series="bar_horizontal")), (16, 63, 16, 14)),
        (lens("airflow-jumpcloud-quality-type-failures", "Fields failing their spec type", q,
              {"f": terms("jumpcloud.quality.fields_failed", "n", size=20, label="Field"), "n": count("Windows"),
               "r": metric("max", "jumpcloud.quality.error_document_rate", "Max error rate", percent=True)},
              table(["f", "n", "r"])), (32, 63, 16, 14)),
    ]


def dashboard(placed: list[tuple[dict[str, Any], tuple[int, int, int, int]]]) -> dict[str, Any]:
    """Return the dashboard saved object placing every Lens object by reference."""
    entries, references = [], []
    for index, (obj, (x, y, w, h)) in enumerate(placed, start=1):
        panel = f"p{index}"
        entries.append({"type": "lens", "panelIndex": panel, "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel},
                        "embeddableConfig": {"enhancements": {}}, "panelRefName": f"panel_{panel}",
                        "version": CORE_MIGRATION_VERSION})
        references.append({"type": "lens", "id": obj["id"], "name": f"{panel}:panel_{panel}"})
    options = {"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False,
               "hidePanelTitles": False}
    search = {"query": {"query": "", "language": "kuery"}, "filter": []}
    return _saved_object("dashboard", DASHBOARD_ID, {
        "title": "JumpCloud Directory Insights (Airflow)",
        "description": "JumpCloud events by action, outcome, service and country, and the quality stage's "
                       "verdicts, completeness and schema drift per window.",
        "panelsJSON": json.dumps(entries, separators=(",", ":")),
        "optionsJSON": json.dumps(options, separators=(",", ":")),
        "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now",
        "refreshInterval": {"pause": True, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search, separators=(",", ":"))},
    }, references)


def saved_objects() -> list[dict[str, Any]]:
    """Return every saved object in import order: data views, Lens objects, the dashboard."""
    placed = panels()
    return [
        data_view(EVENTS_VIEW, index_pattern(DATASET), "JumpCloud events (Airflow)"),
        data_view(QUALITY_VIEW, index_pattern(QUALITY_DATASET), "JumpCloud quality (Airflow)"),
        *(obj for obj, _grid in placed),
        dashboard(placed),
    ]


def render() -> bytes:
    """Return the NDJSON text: one saved object per line, keys sorted."""
    return b"".join(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"
                    for obj in saved_objects())


def main() -> None:
    """Rewrite the shipped NDJSON next to this module."""
    from airflow_provider_jumpcloud.kibana import SAVED_OBJECTS_FILE

    target = Path(__file__).with_name(SAVED_OBJECTS_FILE)
    target.write_bytes(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
