"""Elasticsearch index and component templates of the ``logs-jumpcloud.events-*`` data streams, from the spec.

Pure: builds plain dicts (request bodies) from :func:`load_field_spec`; installing them is the sink's job
(:mod:`airflow_provider_jumpcloud.sinks.elasticsearch`).

Mapping choices, each with its reason:

* ``keyword`` fields get ``ignore_above: 1024``: longer values stay in ``_source`` but are not indexed,
  so one odd value cannot make a term too large for Lucene (32 KiB) and fail the document.
* ``jumpcloud.event.command.payload`` and ``jumpcloud.event.profile_list.signer_certificates`` are opaque
  base64 blobs (plists, DER certificates) of 1-100+ KiB. Searching inside base64 is meaningless and
  indexing them as terms bloats the index (Elastic's 1.16.0 raised ``ignore_above`` to 4096, which still
  skips every payload above 4 KiB). They are ``keyword`` with ``index: false, doc_values: false``: kept
  and shown from ``_source``, costing nothing in the index. ``wildcard`` would make them searchable at a
  high storage cost for no real query; ``match_only_text`` would tokenize base64 into useless tokens.
* ``event.original``: not indexed, no doc values (ECS recommendation; it is the raw JSON text).
* ``jumpcloud.event.changes`` is ``flattened`` (its ``from``/``to`` are booleans, strings or objects).
* ``data_stream.*`` are ``constant_keyword`` (one value per data stream, free to store).
* ``index.mapping.ignore_malformed`` is explicitly **false** (Elasticsearch's built-in ``logs@settings``
  turns it on). The quality stage already checks every spec field's type before loading, so a value of
  the wrong type reaching Elasticsearch is a bug to see: the document goes to the dead-letter file and
  the load fails loudly, and it can be replayed once fixed. With ``true`` it would be indexed with the
  field silently unsearchable. Pass ``ignore_malformed=True`` to prefer availability.
* Lifecycle: by default the data stream lifecycle deletes backing indices ``data_retention`` (``90d``)
  after rollover; ``data_retention=None`` keeps data forever (the lifecycle still manages rollover), and
  ``lifecycle_policy`` names an existing ILM policy instead (``index.lifecycle.name``; no data stream
  lifecycle then). It lives in the settings component, so a ``@custom`` component can override it.
* Fields outside the spec are mapped dynamically (``dynamic: true``, like Elastic's integration), with
  strings as ``keyword`` (ignore_above 1024) rather than ``text`` + ``keyword``, so new JumpCloud fields
  are searchable; ``index.mapping.total_fields.limit`` is 2000 (the spec has ~250 fields) as head-room.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.spec import FieldSpec, load_field_spec
from airflow_provider_jumpcloud.spec.datastream import DATASET, index_pattern, index_template_name

INDEX_TEMPLATE_NAME = index_template_name(DATASET)
INDEX_PATTERN = index_pattern(DATASET)
MAPPINGS_COMPONENT = "jumpcloud-events@mappings"
SETTINGS_COMPONENT = "jumpcloud-events@settings"
#: Optional user component (Fleet's naming convention); missing is fine.
CUSTOM_COMPONENT = f"{INDEX_TEMPLATE_NAME}@custom"
PRIORITY = 200
KEYWORD_IGNORE_ABOVE = 1024
TOTAL_FIELDS_LIMIT = 2000
MANAGED_BY = "airflow-provider-jumpcloud"
#: Default data stream lifecycle retention: backing indices are deleted this long after rollover.
DEFAULT_DATA_RETENTION = "90d"
_RETENTION_RE = re.compile(r"^[1-9][0-9]*(d|h|m|s|ms|micros|nanos)$")

#: Large opaque text fields: kept in _source, not indexed (see the module docstring).
UNINDEXED_KEYWORDS = frozenset(
    {"jumpcloud.event.command.payload", "jumpcloud.event.profile_list.signer_certificates"}
)


@dataclass(frozen=True)
class TemplateSet:
    """Component templates and the index template to install, plus the hash that identifies them."""

    index_template_name: str
    index_template: dict[str, Any]
    component_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    spec_hash: str = ""
    version: str = ""


def field_mapping(spec: FieldSpec) -> dict[str, Any]:
    """Return the Elasticsearch mapping of one spec field."""
    if spec.name in UNINDEXED_KEYWORDS or (spec.type == "keyword" and not spec.index):
        return {"type": "keyword", "index": False, "doc_values": False}
    if spec.type == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if spec.type in {
        "long",
        "float",
        "boolean",
        "ip",
        "geo_point",
        "match_only_text",
        "flattened",
        "constant_keyword",
        "double",
        "integer",
        "short",
        "byte",
        "scaled_float",
        "wildcard",
        "text",
        "date_nanos",
    }:
        mapping: dict[str, Any] = {"type": spec.type}
        if spec.type == "scaled_float":
            mapping["scaling_factor"] = 1000
        return mapping
    if spec.type == "date":
        return {"type": "date"}
    if spec.type == "object":
        return {"type": "object"}
    raise ValueError(f"field {spec.name}: no Elasticsearch mapping for spec type {spec.type!r}")


def build_properties(specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """Nest dotted field names into Elasticsearch ``properties`` objects."""
    root: dict[str, Any] = {}
    for spec in sorted(specs, key=lambda s: s.name):
        parts = spec.name.split(".")
        node = root
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {"properties": {}})
            if "properties" not in child:
                dotted = ".".join(parts[: i + 1])
                raise ValueError(f"field {spec.name}: parent {dotted} is a leaf of type {child.get('type')}")
            node = child["properties"]
        leaf = parts[-1]
        if leaf in node:
            raise ValueError(f"field {spec.name} is both a leaf and an object, or listed twice")
        node[leaf] = field_mapping(spec)
    return root


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def build_templates(
    *,
    version: str | None = None,
    ignore_malformed: bool = False,
    dynamic: bool | str = True,
    total_fields_limit: int = TOTAL_FIELDS_LIMIT,
    data_retention: str | None = DEFAULT_DATA_RETENTION,
    lifecycle_policy: str | None = None,
    specs: tuple[FieldSpec, ...] | None = None,
) -> TemplateSet:
    """Build the mappings and settings component templates and the events data-stream index template.

    ``_meta`` carries the package ``version`` and ``spec_hash``, a SHA-256 over every generated body,
    so an installer can tell "same as installed" from "different" from "newer than ours".
    """
    specs = load_field_spec(include_ecs=True) if specs is None else specs
    mappings = {
        "dynamic": dynamic,
        "dynamic_templates": [
            {
                "strings_as_keyword": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
                }
            }
        ],
        "properties": build_properties(specs),
    }
    index_settings: dict[str, Any] = {
        "mapping": {
            "total_fields": {"limit": total_fields_limit},
            "ignore_malformed": ignore_malformed,
        }
    }
    return assemble_templates(
        DATASET,
        mappings_component=MAPPINGS_COMPONENT,
        settings_component=SETTINGS_COMPONENT,
        mappings=mappings,
        index_settings=index_settings,
        description="JumpCloud Directory Insights events (ECS)",
        version=version,
        data_retention=data_retention,
        lifecycle_policy=lifecycle_policy,
    )


def lifecycle_template(data_retention: str | None, lifecycle_policy: str | None) -> dict[str, Any]:
    """Return the lifecycle part of a component template: ``{"lifecycle": ...}`` or ILM settings.

    ``lifecycle_policy`` (an existing ILM policy) wins; else the data stream lifecycle with
    ``data_retention`` (``None``: keep forever). Raises JumpCloudConfigError on a malformed retention.
    """
    if lifecycle_policy:
        if not isinstance(lifecycle_policy, str) or lifecycle_policy != lifecycle_policy.strip():
            raise JumpCloudConfigError(f"lifecycle_policy must be an ILM policy name, got {lifecycle_policy!r}")
        return {"settings": {"index": {"lifecycle": {"name": lifecycle_policy}}}}
    if data_retention in (None, ""):
        return {"lifecycle": {"enabled": True}}
    if not isinstance(data_retention, str) or not _RETENTION_RE.match(data_retention):
        raise JumpCloudConfigError(
            f"data_retention must be an Elasticsearch time value such as '90d' or '12h', got {data_retention!r}"
        )
    return {"lifecycle": {"enabled": True, "data_retention": data_retention}}


def assemble_templates(
    dataset: str,
    *,
    mappings_component: str,
    settings_component: str,
    mappings: dict[str, Any],
    index_settings: dict[str, Any],
    description: str,
    version: str | None = None,
    data_retention: str | None = DEFAULT_DATA_RETENTION,
    lifecycle_policy: str | None = None,
) -> TemplateSet:
    """Wrap mappings and settings into components plus a ``logs-<dataset>`` data-stream index template.

    The index template matches ``logs-<dataset>-*``, is composed of the settings, mappings and optional
    ``@custom`` components, and every body carries ``_meta`` (managed_by, version, spec_hash).
    """
    if version is None:
        from airflow_provider_jumpcloud import __version__ as version
    name = index_template_name(dataset)
    custom = f"{name}@custom"
    lifecycle = lifecycle_template(data_retention, lifecycle_policy)
    settings_template: dict[str, Any] = {"settings": {"index": dict(index_settings)}}
    if "settings" in lifecycle:
        settings_template["settings"]["index"].update(lifecycle["settings"]["index"])
    else:
        settings_template["lifecycle"] = lifecycle["lifecycle"]
    meta_base = {"managed_by": MANAGED_BY, "version": version}
    components = {
        mappings_component: {"template": {"mappings": mappings}, "_meta": dict(meta_base)},
        settings_component: {"template": settings_template, "_meta": dict(meta_base)},
    }
    index_template: dict[str, Any] = {
        "index_patterns": [index_pattern(dataset)],
        "data_stream": {},
        "priority": PRIORITY,
        "composed_of": [settings_component, mappings_component, custom],
        "ignore_missing_component_templates": [custom],
        "_meta": dict(meta_base, description=description),
    }
    digest = hashlib.sha256(_canonical({"components": components, "index_template": index_template}))
    spec_hash = digest.hexdigest()
    for body in components.values():
        body["_meta"]["spec_hash"] = spec_hash
    index_template["_meta"]["spec_hash"] = spec_hash
    return TemplateSet(
        index_template_name=name,
        index_template=index_template,
        component_templates=components,
        spec_hash=spec_hash,
        version=version,
    )


def parse_version(text: str) -> tuple[int, ...]:
    """Parse ``1.2.3`` (ignoring any suffix such as ``rc1`` or ``.dev0``) into a comparable tuple."""
    parts: list[int] = []
    for piece in str(text).split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)
