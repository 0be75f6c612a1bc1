"""The quality data stream ``logs-jumpcloud.quality-<namespace>``: its index template and its documents.

One document per window and attempt, built from the quality stage's ``summary.json`` (see
:mod:`airflow_provider_jumpcloud.quality.validate`), with ``@timestamp`` = window start. Every field the
document can hold is mapped here (``dynamic: strict``), so a Kibana dashboard can rely on the names:
counts are ``long``, rates ``double``, names ``keyword``, per-field failures and the policy's reasons
``nested`` (one object per field / reason) next to flat keyword lists of the same names for simple
terms aggregations. Pure: no Airflow import.
"""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_provider_jumpcloud.spec.datastream import QUALITY_DATASET, data_stream_fields
from airflow_provider_jumpcloud.spec.templates import (
    DEFAULT_DATA_RETENTION,
    KEYWORD_IGNORE_ABOVE,
    TemplateSet,
    assemble_templates,
)
from airflow_provider_jumpcloud.windows import Window

QUALITY_MAPPINGS_COMPONENT = "jumpcloud-quality@mappings"
QUALITY_SETTINGS_COMPONENT = "jumpcloud-quality@settings"

_K = {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
_L = {"type": "long"}
_D = {"type": "double"}
_DATE = {"type": "date"}


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"properties": props}


#: ``jumpcloud.quality`` properties; documented field by field in the README's quality section.
QUALITY_PROPERTIES: dict[str, Any] = _obj(
    window=_obj(start=_DATE, end=_DATE, key=_K, seconds=_L),
    attempt=_L,
    run_id=_K,
    dag_id=_K,
    verdict=_K,
    failed_checks=_K,
    warned_checks=_K,
    spec_version=_K,
    documents=_L,
    error_documents=_L,
    error_document_rate=_D,
    completeness=_obj(documents=_L, events_fetched=_L, api_count=_L, ratio=_D, missing=_L),
    duplicates=_obj(documents=_L, ids=_L),
    timestamps=_obj(in_window=_L, late=_L, future=_L),
    fields_checked=_L,
    fields_failed=_K,
    fields_failed_count=_L,
    field_failures={
        "type": "nested",
        "properties": {"name": _K, "type": _K, "checked": _L, "failed": _L, "rate": _D},
    },
    required_missing=_K,
    required={"type": "nested", "properties": {"name": _K, "column": _K, "checked": _L, "missing": _L}},
    drift=_obj(fields=_K, total=_L, jumpcloud_fields=_L),
    reasons={"type": "nested", "properties": {"check": _K, "level": _K, "message": {"type": "match_only_text"}}},
    thresholds={"type": "flattened"},
    gx=_obj(chunks=_L, validations=_L, expectations_evaluated=_L, failing_validations=_L),
    seconds=_D,
)


def quality_properties() -> dict[str, Any]:
    """Return the whole ``properties`` tree of a quality document (ECS fields plus ``jumpcloud.quality``)."""
    constant = {"type": "constant_keyword"}
    return {
        "@timestamp": _DATE,
        "data_stream": _obj(type=constant, dataset=constant, namespace=constant),
        "event": _obj(dataset=constant, kind=_K, module=_K, start=_DATE, end=_DATE, outcome=_K),
        "jumpcloud": _obj(quality=QUALITY_PROPERTIES),
    }


def build_quality_templates(
    *,
    version: str | None = None,
    data_retention: str | None = DEFAULT_DATA_RETENTION,
    lifecycle_policy: str | None = None,
) -> TemplateSet:
    """Build the component and index templates of the ``logs-jumpcloud.quality-*`` data streams."""
    return assemble_templates(
        QUALITY_DATASET,
        mappings_component=QUALITY_MAPPINGS_COMPONENT,
        settings_component=QUALITY_SETTINGS_COMPONENT,
        mappings={"dynamic": "strict", "properties": quality_properties()},
        index_settings={"mapping": {"ignore_malformed": False}},
        description="JumpCloud events: one quality summary per window and attempt",
        version=version,
        data_retention=data_retention,
        lifecycle_policy=lifecycle_policy,
    )


def quality_document_id(window: Window, attempt: int, run_id: str) -> str:
    """Return the ``_id`` of a window's quality document: the same for a re-run of the same attempt."""
    run = hashlib.sha256(run_id.encode()).hexdigest()[:16]
    return f"{window.key}-try{int(attempt)}-{run}"


def quality_document(
    summary: dict[str, Any], *, namespace: str, attempt: int, run_id: str, dag_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Return ``(_id, document)`` for one ``summary.json``; KeyError/TypeError/ValueError if malformed."""
    window = Window.from_dict(summary["window"])
    documents = int(summary["documents"])
    errors = int(summary["error_documents"])
    comp = summary.get("completeness") or {}
    expected = comp.get("api_count") if comp.get("api_count") is not None else comp.get("events_fetched")
    fields = summary.get("fields") or {}
    failures = [
        {"name": name, "type": str(stat.get("type", "")), "checked": int(stat["checked"]),
         "failed": int(stat["failed"]), "rate": float(stat.get("rate", 0.0))}
        for name, stat in sorted(fields.items())
        if int(stat.get("failed", 0))
    ]
    required = [
        {"name": name, "column": str(stat.get("column", name)), "checked": int(stat["checked"]),
         "missing": int(stat["missing"])}
        for name, stat in sorted((summary.get("required") or {}).items())
    ]
    reasons = [
        {"check": str(r.get("check", "")), "level": str(r.get("level", "")), "message": str(r.get("message", ""))}
        for r in summary.get("reasons") or []
    ]
    times = summary.get("timestamps") or {}
    dup = summary.get("duplicates") or {}
    gx = summary.get("gx") or {}
    verdict = str(summary["verdict"])
    quality: dict[str, Any] = {
        "window": {**window.as_dict(), "key": window.key, "seconds": int(window.duration.total_seconds())},
        "attempt": int(attempt),
        "run_id": run_id,
        "verdict": verdict,
        "failed_checks": sorted({r["check"] for r in reasons if r["level"] == "fail"}),
        "warned_checks": sorted({r["check"] for r in reasons if r["level"] == "warn"}),
        "spec_version": str(summary.get("spec_version", "")),
        "documents": documents,
        "error_documents": errors,
        "error_document_rate": round(errors / documents, 6) if documents else 0.0,
        "completeness": {
            "documents": int(comp.get("documents", documents)),
            "events_fetched": _int_or_none(comp.get("events_fetched")),
            "api_count": _int_or_none(comp.get("api_count")),
            "ratio": round(documents / int(expected), 6) if expected else None,
            "missing": int(expected) - documents if expected is not None else None,
        },
        "duplicates": {"documents": int(dup.get("documents", 0)), "ids": int(dup.get("ids", 0))},
        "timestamps": {k: int(times.get(k, 0)) for k in ("in_window", "late", "future")},
        "fields_checked": len(fields),
        "fields_failed": [f["name"] for f in failures],
        "fields_failed_count": len(failures),
        "field_failures": failures,
        "required_missing": [r["name"] for r in required if r["missing"]],
        "required": required,
        "drift": {
            "fields": sorted(summary.get("unknown_fields") or {}),
            "total": int(summary.get("unknown_fields_total", 0)),
            "jumpcloud_fields": int(summary.get("unknown_jumpcloud_fields", 0)),
        },
        "reasons": reasons,
        "thresholds": summary.get("thresholds") or {},
        "gx": {k: int(gx.get(k, 0)) for k in ("chunks", "validations", "expectations_evaluated",
                                             "failing_validations")},
        "seconds": float(summary.get("seconds", 0.0)),
    }
    if dag_id:
        quality["dag_id"] = dag_id
    start, end = window.as_dict()["start"], window.as_dict()["end"]
    doc = {
        "@timestamp": start,
        "data_stream": data_stream_fields(namespace, QUALITY_DATASET),
        "event": {"dataset": QUALITY_DATASET, "kind": "metric", "module": "jumpcloud", "start": start,
                  "end": end, "outcome": "failure" if verdict == "fail" else "success"},
        "jumpcloud": {"quality": _without_none(quality)},
    }
    return quality_document_id(window, attempt, run_id), doc


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values (unknown counts) so they are absent rather than ``null``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "thresholds":
            value = _without_none(value)
        if value is not None:
            out[key] = value
    return out
