"""Documents Elastic's pipeline would produce: the Elastic sample document and every sample event."""

from __future__ import annotations

import json

import orjson
import pytest

from airflow_provider_jumpcloud.ecs import map_event
from airflow_provider_jumpcloud.timestamps import format_millis, parse_ns
from tests.conftest import FIXTURES, load_sample_events
from tests.ecs.murmur_reference import es_murmur_id

ELASTIC = json.loads((FIXTURES / "elastic_sample_event.json").read_text())
FLEET_ONLY = (
    "agent.", "elastic_agent.", "data_stream.", "input.type", "event.created", "event.ingested",
    "event.dataset", "event.agent_id_status", "client.geo.",
)
ALL_TAGS = ["preserve_original_event", "preserve_duplicate_custom_fields", "forwarded"]
REMOVED = ("id", "timestamp", "client_ip", "src_ip", "@version", "version", "message", "username",
           "useragent", "event_type", "service", "process_name")


def flatten(obj, prefix=""):
    """Dotted paths of a document down to scalars or lists (lists compared whole)."""
    out = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_elastic_sample_document_field_by_field():
    original = ELASTIC["event"]["original"]
    doc_id, doc = map_event(original, tags=ALL_TAGS)
    expected = {k: v for k, v in flatten(ELASTIC).items() if not k.startswith(FLEET_ONLY)}
    assert flatten(doc) == expected
    event = json.loads(original)
    assert doc_id == es_murmur_id(b"\x00" + event["id"].encode() + b"\x00" + event["timestamp"].encode())


def test_elastic_sample_without_tags_drops_duplicates_and_original():
    _, doc = map_event(ELASTIC["event"]["original"])
    ev = doc["jumpcloud"]["event"]
    for key in REMOVED:
        assert key not in ev
    assert ev["initiated_by"] == {"type": "admin"}  # id and email moved to source.user
    assert "original" not in doc["event"] and "tags" not in doc
    assert "provider" not in ev  # null pruned
    assert ev["changes"] == ELASTIC["jumpcloud"]["event"]["changes"]
    assert doc["client"] == {"ip": "81.2.69.144"} and "related" not in doc


SAMPLES = load_sample_events()


def _expected_outcome(ev):
    outcome = "unknown"
    if ev.get("sso_token_success") is True:
        outcome = "success"
    if ev.get("sso_token_success") is False:
        outcome = "failure"
    if ev.get("success") is True:
        outcome = "success"
    if ev.get("success") is False:
        outcome = "failure"
    return outcome


# Per the samples README, in file order: outcome and category reasoned from section 2.6.
EXPECTED = [
    # jumpcloud-di-openapi-examples.json
    ("admin_login_attempt", "success", ["authentication"]),
    (None, "success", None),
    # sekoia-automation-library-tests.json
    ("sso_auth", "success", ["authentication"]),
    ("radius_auth_attempt", "success", None),
    # sekoia-intake-formats.json
    ("admin_login_attempt", "success", ["authentication"]),
    ("association_change", "success", None),
    ("radius_auth_attempt", "failure", None),
    ("radius_auth_attempt", "success", None),
    ("sso_auth", "failure", ["authentication"]),
    ("sso_auth", "failure", ["authentication"]),
    ("sso_auth", "success", ["authentication"]),
    ("user_update", "unknown", None),
    ("user_update", "success", None),
    ("user_update", "success", None),
    # sumologic-docs.json
    ("organization_create", "unknown", None),
]


def test_expectation_table_lines_up_with_the_samples():
    assert len(SAMPLES) == len(EXPECTED) == 15
    for ev, (event_type, outcome, _) in zip(SAMPLES, EXPECTED, strict=True):
        assert ev.get("event_type") == event_type
        assert _expected_outcome(ev) == outcome


@pytest.mark.parametrize(("index", "expected"), list(enumerate(EXPECTED)))
def test_sample_event_rules(index, expected):
    ev = SAMPLES[index]
    event_type, outcome, category = expected
    doc_id, doc = map_event(orjson.dumps(ev))
    assert "kind" not in doc["event"] and "error" not in doc
    assert doc["ecs"] == {"version": "8.11.0"}
    assert doc_id == es_murmur_id(b"\x00" + ev["id"].encode() + b"\x00" + ev["timestamp"].encode())
    assert doc["event"]["id"] == ev["id"]
    assert doc["event"]["outcome"] == outcome
    if category:
        assert doc["event"]["category"] == category and doc["event"]["type"] == ["info"]
    else:
        assert "category" not in doc["event"] and "type" not in doc["event"]
    assert doc["event"].get("action") == event_type
    assert doc["event"].get("module") == ev.get("service")
    assert doc["@timestamp"] == format_millis(parse_ns(ev["timestamp"]))
    assert doc["client"] == {"ip": ev["client_ip"]}
    # related.ip only ever comes from src_ip (none in the samples); the client IP never reaches it.
    assert "ip" not in doc.get("related", {})
    username = (ev.get("initiated_by") or {}).get("username")
    assert doc.get("related", {}).get("user") == ([username] if username else None)
    assert doc.get("source", {}).get("user", {}).get("name") == username
    assert doc.get("user", {}).get("name") == ev.get("username")
    remaining = doc["jumpcloud"]["event"]
    for key in REMOVED:
        assert key not in remaining
    for value in _walk(remaining):
        assert value is not None and value != "" and value != {} and value != []
    assert "original" not in doc["event"]


def _walk(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield v
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield v
            yield from _walk(v)


def test_timestamp_rounding_by_precision():
    stamps = {ev["timestamp"]: map_event(orjson.dumps(ev))[1]["@timestamp"] for ev in SAMPLES}
    assert stamps["2023-06-15T14:48:36.495420839Z"] == "2023-06-15T14:48:36.495Z"  # 9 digits, truncated
    assert stamps["2023-06-15T14:21:10.34334445Z"] == "2023-06-15T14:21:10.343Z"  # 8 digits
    assert stamps["2023-03-07T13:01:19.21859368Z"] == "2023-03-07T13:01:19.218Z"
    assert stamps["2023-06-15T15:16:41Z"] == "2023-06-15T15:16:41.000Z"  # whole seconds
    assert stamps["2023-06-16T14:06:45.921Z"] == "2023-06-16T14:06:45.921Z"


def test_specific_pruning_in_samples():
    sso = SAMPLES[2]  # provider "", error_message "", auth_methods {}, policies_applied[0].id ""
    ev = map_event(orjson.dumps(sso))[1]["jumpcloud"]["event"]
    assert "provider" not in ev and "error_message" not in ev
    assert "auth_methods" not in ev["auth_context"]
    assert ev["auth_context"]["policies_applied"] == [
        {"name": "Global Policy", "metadata": {"action": "ALLOW", "resource_type": "APPLICATION"}}
    ]
    assert ev["idp_initiated"] is False and ev["mfa"] is False  # false is kept
    radius = map_event(orjson.dumps(SAMPLES[3]))[1]["jumpcloud"]["event"]
    assert radius["outer"] == {"username": "jane.doe"}  # eap_type/error_message null pruned
    assert "mfa_meta" not in radius  # {"type": ""} -> {} -> removed
    assert radius["auth_meta"]["user_cert_enabled"] is False


def test_mdm_style_event_from_the_pipeline_test_data():
    profile = {"payload_content": [{"payload_organization": "", "payload_description": "", "type": "x"}],
               "signer_certificates": ["MIIDrz..."], "payload_display_name": "Chrome"}
    ev = {
        "id": "64a5f7b1d3a0f3a7c2b1e0f9", "timestamp": "2023-07-05T23:00:01.123456789Z", "@version": "1",
        "service": "mdm", "event_type": "mdm_command_result", "error_chain": None, "status": "Acknowledged",
        "request_type": "ProfileList", "mdm_type": "apple",
        "profile_list": [profile, {"payload_content": None, "payload_display_name": "Install Certificate"}],
        "organization": "5f5f5f5f5f5f5f5f5f5f5f5f",
    }
    _, doc = map_event(orjson.dumps(ev), tags=["preserve_duplicate_custom_fields"])
    out = doc["jumpcloud"]["event"]
    assert "error_chain" not in out and out["version"] == "1" and "@version" not in out
    assert out["profile_list"][0]["payload_content"] == [{"type": "x"}]
    assert out["profile_list"][1] == {"payload_display_name": "Install Certificate"}
    assert doc["event"]["module"] == "mdm" and doc["event"]["outcome"] == "unknown"
    assert "category" not in doc["event"]
    assert doc["@timestamp"] == "2023-07-05T23:00:01.123Z"
