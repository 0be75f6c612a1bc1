"""The fast mapper (pruning, steps, timestamps, ids) gives byte-identical output to the first implementation.

``tests/ecs/reference`` is a frozen copy of the original, straightforward code; random events (with the
field names the pipeline reads, nulls, empty strings and empty containers at any depth) and random
timestamps must map to the same ``(_id, document, status)`` with every tag combination, both with the C
accelerators (when built) and with their pure-Python twins.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.ecs import dates, pipeline, prune, steps
from airflow_provider_jumpcloud.ecs.categorize import CATEGORIES
from airflow_provider_jumpcloud.ecs.dates import DateParseError, es_timestamp
from airflow_provider_jumpcloud.ecs.ip import parse_ip
from airflow_provider_jumpcloud.ecs.pipeline import EventMapper
from airflow_provider_jumpcloud.ecs.prune import may_need_pruning, prune_dict
from tests.ecs.reference import dates as ref_dates
from tests.ecs.reference import prune as ref_prune
from tests.ecs.reference.pipeline import EventMapper as ReferenceMapper

# (the package exports a function named ``fingerprint``, which hides the module from ``from ... import``)
fingerprint = importlib.import_module("airflow_provider_jumpcloud.ecs.fingerprint")
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


@contextmanager
def pure_python() -> Iterator[None]:
    """The mapper with the pure-Python twins of the C accelerators (a no-op when they are not built)."""
    with ExitStack() as stack:
        for module, name, twin in [
            (pipeline, "prune_dict", prune.py_prune_dict),
            (pipeline, "apply_steps", steps.py_apply_steps),
            (pipeline, "fast_event_id", fingerprint.py_fast_event_id),
            (fingerprint, "fast_event_id", fingerprint.py_fast_event_id),
            (dates, "fast_timestamp", dates.py_fast_timestamp),
        ]:
            stack.enter_context(mock.patch.object(module, name, twin))
        yield


def same(raw: bytes | str) -> None:
    for tags in TAG_SETS:
        fast, reference = EventMapper(tags).map(raw), ReferenceMapper(tags).map(raw)
        assert orjson.dumps(fast) == orjson.dumps(reference), (raw, tags)
        with pure_python():
            assert orjson.dumps(EventMapper(tags).map(raw)) == orjson.dumps(reference), (raw, tags)


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


def _steps_agree(event: dict, remove_duplicates: bool) -> bool:
    """The steps with the C fast path and in pure Python build the same document; True when C took it."""
    fast_ev, slow_ev = copy.deepcopy(event), copy.deepcopy(event)
    fast_doc, slow_doc = {"ecs": {}}, {"ecs": {}}
    fast_errors: list[str] = []
    slow_errors: list[str] = []
    args = (event.get("id"), event.get("timestamp"), None, remove_duplicates)
    try:
        steps.py_apply_steps(slow_ev, slow_doc, slow_errors, *args)
    except steps.StepFailed as exc:
        slow_errors.append(f"failed: {exc}")
    try:
        steps.apply_steps(fast_ev, fast_doc, fast_errors, *args)
    except steps.StepFailed as exc:
        fast_errors.append(f"failed: {exc}")
    assert orjson.dumps([fast_doc, fast_ev, fast_errors]) == orjson.dumps([slow_doc, slow_ev, slow_errors])
    if not hasattr(steps, "fast_steps"):
        return False
    c_ev, c_doc = copy.deepcopy(event), {"ecs": {}}
    taken = steps.fast_steps(c_ev, c_doc, *args[:2], remove_duplicates, CATEGORIES, parse_ip)
    if taken:  # the fast path reports no error and builds what the Python steps build
        assert not slow_errors
        assert orjson.dumps([c_doc, c_ev]) == orjson.dumps([slow_doc, slow_ev])
    else:  # it leaves the event alone for the Python steps
        assert orjson.dumps([c_doc, c_ev]) == orjson.dumps([{"ecs": {}}, event])
    return taken


FAST_SHAPED = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=6), "timestamp": STAMPS,
    "client_ip": st.sampled_from(["1.2.3.4", "::1", "10.0.0.256"]), "src_ip": st.sampled_from(["1.2.3.4", "::2"]),
    "event_type": st.sampled_from(["sso_auth", "ldap_bind", "user_unlocked", "other"]),
    "service": VALUES, "message": VALUES, "username": VALUES, "process_name": VALUES,
    "@version": VALUES, "version": VALUES, "success": FLAGS, "sso_token_success": FLAGS,
    "useragent": _object("device", "name", "version", "os_name", "os_full", "os_version", "os"),
    "system": _object("id", "hostname", "x"), "initiated_by": _object("id", "email", "username", "type"),
    "x": JSON,
})


@settings(max_examples=500, deadline=None)
@given(st.one_of(EVENTS, FAST_SHAPED), st.booleans())
def test_c_and_python_steps_agree(event, remove_duplicates) -> None:
    if prune.py_prune_dict(event) or not event:  # the steps take pruned, non-empty events
        return
    _steps_agree(event, remove_duplicates)


def test_sample_events_take_the_c_steps() -> None:
    taken = []
    for path in sorted(SAMPLES.glob("*.json")):
        for event in json.loads(path.read_text())["events"]:
            prune.py_prune_dict(event)
            for remove_duplicates in (True, False):
                taken.append(_steps_agree(event, remove_duplicates))
    assert all(taken) or not hasattr(steps, "fast_steps")


@settings(max_examples=1000, deadline=None)
@given(st.one_of(STAMPS, st.builds(lambda s, i, c: s[:i] + c + s[i + 1:], STAMPS, st.integers(0, 30),
                                   st.sampled_from("0123456789-T:.,Z+\u0663\u00b2x "))))
def test_c_and_python_fast_timestamps_agree(value) -> None:
    fast = dates.fast_timestamp(value)
    assert fast == dates.py_fast_timestamp(value)
    if fast is not None:
        assert fast == ref_dates.es_timestamp(value)


ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)  # surrogates too


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), ANY_TEXT, JSON), st.one_of(st.text(max_size=30), ANY_TEXT, JSON))
def test_c_and_python_event_ids_agree(id_, ts) -> None:
    fast = fingerprint.fast_event_id(id_, ts)
    try:
        slow = fingerprint.py_fast_event_id(id_, ts)
    except UnicodeEncodeError:  # a lone surrogate: the C twin leaves it to event_id, which raises
        assert fast is None
        return
    assert fast == slow
