"""map_event never raises, always returns a str _id and a JSON-serialisable doc, and keeps the original."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.ecs import map_event

KEEP = ("preserve_original_event",)
KEYS = st.sampled_from(["id", "timestamp", "client_ip", "src_ip", "@version", "version", "success",
                        "sso_token_success", "event_type", "service", "message", "username", "useragent",
                        "system", "initiated_by", "jumpcloud_protect_device", "hostname", "ip", "os_name",
                        "device", "email", "process_name", "", "x"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["", "1.2.3.4", "::1", "2023-06-15T14:48:36.495Z", "sso_auth", "user_unlocked"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=25,
)


def check(raw: bytes | str, tags=()):
    doc_id, doc = map_event(raw, tags=tags)
    assert isinstance(doc_id, str) and doc_id
    assert orjson.loads(orjson.dumps(doc)) == doc
    assert map_event(raw, tags=tags) == (doc_id, doc)  # deterministic
    return doc_id, doc


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw):
    _, doc = check(raw, KEEP)
    assert doc["event"]["original"] == raw.decode("utf-8", "replace")
    _, plain = check(raw)
    if plain["event"].get("kind") == "pipeline_error":
        assert plain["event"]["original"] == raw.decode("utf-8", "replace")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    _, doc = check(text, KEEP)
    expected = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    assert doc["event"]["original"] == expected


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(KEYS, JSON, max_size=10),
    st.sampled_from([(), KEEP, ("preserve_duplicate_custom_fields",)]),
)
def test_arbitrary_json_objects(obj, tags):
    raw = json.dumps(obj, ensure_ascii=False).encode()
    _, doc = check(raw, tags)
    if doc["event"].get("kind") == "pipeline_error" or "preserve_original_event" in tags:
        assert doc["event"]["original"] == raw.decode()
    if doc["event"].get("kind") != "pipeline_error":
        assert doc["event"]["outcome"] in {"success", "failure", "unknown"}


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_arbitrary_json_values(value):
    check(json.dumps(value).encode(), KEEP)
