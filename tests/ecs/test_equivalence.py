"""The fast mapper (pruning, steps, timestamps, ids) gives byte-identical output to the first implementation.

``tests/ecs/reference`` is a frozen copy of the original, straightforward code; random events (with the
field names the pipeline reads, nulls, empty strings and empty containers at any depth) and random
timestamps must map to the same ``(_id, document, status)`` with every tag combination.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.ecs.dates import DateParseError, es_timestamp
from airflow_provider_jumpcloud.ecs.pipeline import EventMapper
from airflow_provider_jumpcloud.ecs.prune import may_need_pruning, prune_dict
from tests.ecs.reference import dates as ref_dates
from tests.ecs.reference import prune as ref_prune
from tests.ecs.reference.pipeline import EventMapper as ReferenceMapper

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
TAG_SETS = [(), ("forwarded",), ("preserve_original_event",), ("preserve_duplicate_custom_fields",),
            ("preserve_original_event", "preserve_duplicate_custom_fields", "")]
KEYS = st.sampled_from([
    "id", "timestamp", "client_ip", "src_ip", "@version", "version", "success", "sso_token_success",
    "event_type", "service", "message", "username", "useragent", "system", "initiated_by",
    "jumpcloud_protect_device", "hostname", "ip", "os_name", "os_full", "os_version", "name", "device",
    "email", "process_name", "", "x",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63), st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["", "null", "{ }", "1.2.3.4", "::1", "2023-06-15T14:48:36.495Z", "sso_auth", "ldap_bind",
                     "user_unlocked"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=20,
)
STAMPS = st.one_of(
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,10})?Z?\Z"),
    st.from_regex(r"\A20[0-9]{2}-(0[1-9]|1[0-2])-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z\Z"),
    st.text(alphabet="0123456789-T:.,Z+ ", max_size=32),
)

IPS = st.sampled_from(["1.2.3.4", "::1", "10.0.0.256", "", None, ["1.2.3.4", "::2"], ["1.2.3.4", 3], 7, [], {}])
VALUES = st.one_of(st.none(), st.sampled_from(["", "a", "jane", "Mac OS X"]), JSON)
FLAGS = st.one_of(st.booleans(), JSON)


def _object(*keys: str) -> st.SearchStrategy:
    return st.one_of(st.fixed_dictionaries({}, optional={k: VALUES for k in keys}), JSON)


EVENTS = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.text(max_size=6), JSON), "timestamp": st.one_of(STAMPS, JSON),
    "client_ip": IPS, "src_ip": IPS,
    "event_type": st.one_of(st.sampled_from(["sso_auth", "ldap_bind", "user_unlocked", "other"]), JSON),
    "service": VALUES, "message": VALUES, "username": VALUES, "process_name": VALUES,
    "@version": VALUES, "version": VALUES, "success": FLAGS, "sso_token_success": FLAGS,
    "useragent": _object("device", "name", "version", "os_name", "os_full", "os_version", "os"),
    "system": _object("id", "hostname", "x"), "initiated_by": _object("id", "email", "username", "type"),
    "jumpcloud_protect_device": st.one_of(st.fixed_dictionaries({}, optional={"ip": IPS, "x": VALUES}), JSON),
    "x": JSON,
})


def same(raw: bytes | str) -> None:
    for tags in TAG_SETS:
        fast, reference = EventMapper(tags).map(raw), ReferenceMapper(tags).map(raw)
        assert orjson.dumps(fast) == orjson.dumps(reference), (raw, tags)


def test_samples_and_variants() -> None:
    for path in sorted(SAMPLES.glob("*.json")):
        for event in json.loads(path.read_text())["events"]:
            same(orjson.dumps(event))
            same(json.dumps(event, indent=2))
            same(json.dumps({**event, "useragent": None, "system": {"id": "", "hostname": "h"}}))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=10), st.booleans())
def test_random_events(event, spaced) -> None:
    same(json.dumps(event, indent=1 if spaced else None))


@settings(max_examples=500, deadline=None)
@given(EVENTS, st.booleans())
def test_random_jumpcloud_shaped_events(event, spaced) -> None:
    same(json.dumps(event, indent=1 if spaced else None))


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_random_json_values(value) -> None:
    same(orjson.dumps(value))


@settings(max_examples=600, deadline=None)
@given(JSON)
def test_prune_matches_reference(value) -> None:
    raw = orjson.dumps(value)
    if type(value) is dict:
        fast, reference = orjson.loads(raw), orjson.loads(raw)
        assert prune_dict(fast) == ref_prune.prune_dict(reference)
        assert fast == reference
        # The raw-text pre-check may only say "nothing to prune" when pruning indeed changes nothing.
        # (the indented text is made from the decoded JSON: orjson wrote a non-finite float as null)
        for text in (raw, json.dumps(orjson.loads(raw), indent=2).encode()):
            if not may_need_pruning(text):
                assert fast == orjson.loads(raw)


def _render(func, value: str) -> str:
    try:
        return func(value)
    except DateParseError as exc:
        return f"error: {exc}"
    except ref_dates.DateParseError as exc:
        return f"error: {exc}"


@settings(max_examples=1000, deadline=None)
@given(STAMPS)
def test_timestamps_match_reference(value) -> None:
    assert _render(es_timestamp, value) == _render(ref_dates.es_timestamp, value)
    assert _render(es_timestamp, value) == _render(ref_dates.es_timestamp, value)  # cached head verdict


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=4), st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.sampled_from(["", "x", 0, 0.0]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=30)))
def test_c_and_python_prune_agree(value) -> None:
    from airflow_provider_jumpcloud.ecs import prune

    raw = orjson.dumps(value)
    fast, slow = orjson.loads(raw), orjson.loads(raw)
    assert prune.prune_dict(fast) == prune.py_prune_dict(slow)
    assert fast == slow
