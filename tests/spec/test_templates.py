"""Index and component templates generated from the exported-fields spec."""

from __future__ import annotations

import re

import pytest

from airflow_provider_jumpcloud import __version__
from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.spec import FieldSpec, load_field_spec
from airflow_provider_jumpcloud.spec.templates import (
    DEFAULT_DATA_RETENTION,
    MAPPINGS_COMPONENT,
    SETTINGS_COMPONENT,
    build_properties,
    build_templates,
    parse_version,
)
from tests.support.es_mapping_check import flatten_mapping_types

BIG = {"jumpcloud.event.command.payload", "jumpcloud.event.profile_list.signer_certificates"}


@pytest.fixture(scope="module")
def templates():
    return build_templates()


@pytest.fixture(scope="module")
def properties(templates):
    return templates.component_templates[MAPPINGS_COMPONENT]["template"]["mappings"]["properties"]


def leaf(properties, dotted):
    node = {"properties": properties}
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def test_index_template_shape(templates):
    body = templates.index_template
    assert templates.index_template_name == "logs-jumpcloud.events"
    assert body["index_patterns"] == ["logs-jumpcloud.events-*"]
    assert body["data_stream"] == {}
    assert body["priority"] == 200
    assert SETTINGS_COMPONENT in body["composed_of"] and MAPPINGS_COMPONENT in body["composed_of"]
    assert set(body["ignore_missing_component_templates"]) <= set(body["composed_of"])
    assert body["_meta"]["version"] == __version__
    assert re.fullmatch(r"[0-9a-f]{64}", body["_meta"]["spec_hash"])
    for component in templates.component_templates.values():
        assert component["_meta"]["spec_hash"] == templates.spec_hash


def test_every_spec_field_is_mapped_with_its_type(properties):
    types = flatten_mapping_types(properties)
    specs = load_field_spec(include_ecs=True)
    assert len(specs) > 240
    for spec in specs:
        assert types[spec.name] == spec.type, spec.name


def test_keyword_options(properties):
    for spec in load_field_spec(include_ecs=True):
        if spec.type != "keyword":
            continue
        body = leaf(properties, spec.name)
        if spec.name in BIG or spec.name == "event.original":
            assert body == {"type": "keyword", "index": False, "doc_values": False}, spec.name
        else:
            assert body == {"type": "keyword", "ignore_above": 1024}, spec.name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jumpcloud.event.changes", "flattened"),
        ("data_stream.namespace", "constant_keyword"),
        ("data_stream.dataset", "constant_keyword"),
        ("data_stream.type", "constant_keyword"),
        ("@timestamp", "date"),
        ("client.ip", "ip"),
        ("related.ip", "ip"),
        ("client.geo.location", "geo_point"),
        ("message", "match_only_text"),
        ("jumpcloud.event.success", "boolean"),
        ("jumpcloud.event.error_code", "long"),
        ("jumpcloud.event.geoip.latitude", "float"),
    ],
)
def test_known_field_types(properties, name, expected):
    assert leaf(properties, name)["type"] == expected


def test_settings_and_dynamic_mapping(templates):
    settings = templates.component_templates[SETTINGS_COMPONENT]["template"]["settings"]["index"]
    assert settings["mapping"] == {"total_fields": {"limit": 2000}, "ignore_malformed": False}
    mappings = templates.component_templates[MAPPINGS_COMPONENT]["template"]["mappings"]
    assert mappings["dynamic"] is True
    (dyn,) = mappings["dynamic_templates"]
    assert dyn["strings_as_keyword"]["mapping"] == {"type": "keyword", "ignore_above": 1024}
    assert len(flatten_mapping_types(mappings["properties"])) < 2000


def test_hash_is_stable_and_follows_every_option():
    a, b = build_templates(), build_templates()
    assert a.spec_hash == b.spec_hash
    others = {
        build_templates(ignore_malformed=True).spec_hash,
        build_templates(total_fields_limit=3000).spec_hash,
        build_templates(lifecycle_policy="logs").spec_hash,
        build_templates(data_retention="30d").spec_hash,
        build_templates(version="9.9.9").spec_hash,
        build_templates(specs=load_field_spec(include_ecs=True)[:-1]).spec_hash,
    }
    assert a.spec_hash not in others and len(others) == 6


def test_data_stream_lifecycle_by_default():
    template = build_templates().component_templates[SETTINGS_COMPONENT]["template"]
    assert template["lifecycle"] == {"enabled": True, "data_retention": DEFAULT_DATA_RETENTION}
    assert DEFAULT_DATA_RETENTION == "90d"
    assert "lifecycle" not in template["settings"]["index"]  # no ILM policy next to it


@pytest.mark.parametrize(("retention", "expected"), [("30d", {"enabled": True, "data_retention": "30d"}),
                                                     ("12h", {"enabled": True, "data_retention": "12h"}),
                                                     (None, {"enabled": True})])
def test_data_retention_option(retention, expected):
    template = build_templates(data_retention=retention).component_templates[SETTINGS_COMPONENT]["template"]
    assert template["lifecycle"] == expected


def test_an_ilm_policy_replaces_the_data_stream_lifecycle():
    template = build_templates(lifecycle_policy="logs").component_templates[SETTINGS_COMPONENT]["template"]
    assert template["settings"]["index"]["lifecycle"] == {"name": "logs"}
    assert "lifecycle" not in template


@pytest.mark.parametrize("retention", ["90", "90 days", "-1d", "0d", "d", 90])
def test_malformed_retention_is_a_config_error(retention):
    with pytest.raises(JumpCloudConfigError, match="data_retention"):
        build_templates(data_retention=retention)


def test_leaf_and_object_conflict_is_refused():
    with pytest.raises(ValueError, match="leaf"):
        build_properties((FieldSpec("a.b", "keyword"), FieldSpec("a.b.c", "long")))
    with pytest.raises(ValueError, match="no Elasticsearch mapping"):
        build_properties((FieldSpec("a", "nonsense"),))


def test_nesting():
    assert build_properties((FieldSpec("a.b", "long"), FieldSpec("a.c", "ip"))) == {
        "a": {"properties": {"b": {"type": "long"}, "c": {"type": "ip"}}}
    }


@pytest.mark.parametrize(
    ("older", "newer"), [("0.1.0", "0.2.0"), ("0.9.9", "0.10.0"), ("1.0.0rc1", "1.0.1"), ("", "0.0.1")]
)
def test_version_order(older, newer):
    assert parse_version(older) < parse_version(newer)
