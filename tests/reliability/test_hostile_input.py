"""Hostile input: page parsing, the mapper and the quality checks never crash, and never lose an element.

Deterministic: hypothesis is derandomized (fixed seed) with bounded examples. Every generated case
bumps the ``hostile`` counter of its component; an unexpected exception bumps ``crashes`` and fails.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.api_pages import (
    MAX_RETRY_AFTER,
    parse_count,
    parse_page,
    parse_retry_after,
    server_message,
    split_array,
)
from airflow_provider_jumpcloud.ecs import map_file
from airflow_provider_jumpcloud.ecs.pipeline import ERROR_DOCUMENT, PIPELINE_ERROR, EventMapper
from airflow_provider_jumpcloud.exceptions import MalformedPageError
from airflow_provider_jumpcloud.quality.checks import JsonObject, match_array, matches, supported_types
from airflow_provider_jumpcloud.quality.flatten import Chunk, DriftTracker, FieldIndex, render_example
from airflow_provider_jumpcloud.quality.suite import build_plan
from airflow_provider_jumpcloud.staging import decode_mapped, encode_mapped, iter_lines

pytestmark = pytest.mark.timeout(120)


def fuzz(n: int) -> Any:
    """Deterministic hypothesis settings with ``n`` examples."""
    return settings(
        max_examples=n, derandomize=True, database=None, deadline=None, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@contextmanager
def case(hostile: tuple, component: str) -> Iterator[None]:
    """Count one generated case; count (and re-raise) anything that escapes."""
    tried, crashes = hostile
    tried[component] += 1
    try:
        yield
    except BaseException:
        crashes[component] += 1
        raise


# --------------------------------------------------------------------------------- JSON strategies
HUGE = st.text(alphabet="ab\u00e9\u2603", min_size=1, max_size=3).map(lambda s: s * 4000)
scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63 - 3, max_value=2**80)
    | st.integers(min_value=-(2**80), max_value=-(2**63) + 3) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20) | HUGE
    | st.sampled_from(["", " ", "1.2.3.4", "::1", "fe80::1%eth0", "999.1.1.1", "2025-12-31T12:00:00Z",
                      "2025-12-31T12:00:00.123456789+05:30", "2025-02-30T00:00:00Z", "not-a-date",
                      "user_login_attempt", "sso", "\x00", "\ufeff", "\u202e", "true", "null", "NaN"])
)
values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=10,
)


def nested(depth: int, leaf: Any = 1) -> Any:
    """A value nested ``depth`` levels deep, alternating lists and objects."""
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"n": leaf}
    return leaf


deep = st.integers(min_value=20, max_value=200).map(nested)
field_value = values | deep


def same_json(a: Any, b: Any) -> bool:
    """Equality of JSON values that treats NaN as equal to itself."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# ---------------------------------------------------------------------------------- page parsing
def _check_split(body: bytes) -> list[tuple[bytes, int | None]] | None:
    """Split ``body``; the outcome must agree with the standard library's parser."""
    try:
        events = split_array(body)
    except MalformedPageError:
        events = None
    try:
        oracle = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        oracle = ...
    if events is None:
        assert not isinstance(oracle, list), "a valid JSON array was refused"
    else:
        assert isinstance(oracle, list) and len(events) == len(oracle)
        assert same_json([json.loads(raw) for raw, _ in events], oracle)
    return events


@fuzz(2000)
@given(body=st.binary(max_size=200) | st.builds(lambda a, b: b"[" + a + b, st.binary(max_size=60),
                                                 st.sampled_from([b"]", b"", b",]", b"}]"])))
def test_split_arbitrary_bytes(hostile, body: bytes) -> None:
    with case(hostile, "pages: arbitrary bytes"):
        _check_split(body)


SEPARATORS = st.sampled_from([",", " , ", ",\n", "\t,\r\n ", ","])
SPACE = st.sampled_from(["", " ", "\n", "\r\n\t  "])


@st.composite
def array_body(draw: Any) -> tuple[bytes, list[bytes]]:
    """A JSON array as the API might render it, with each element's exact text."""
    items = draw(st.lists(
        values | st.sampled_from([float("nan"), float("inf"), -float("inf")]) | st.just("dup"), max_size=8))
    texts = []
    for item in items:
        if item == "dup":
            texts.append('{"id":"a","id":"b","timestamp":"2025-12-31T12:00:00Z","timestamp":"x"}')
        else:
            texts.append(json.dumps(item, ensure_ascii=draw(st.booleans()), separators=(draw(SEPARATORS), ":")))
    sep = draw(SEPARATORS)
    body = draw(SPACE) + "[" + draw(SPACE) + sep.join(texts) + draw(SPACE) + "]" + draw(SPACE)
    return body.encode("utf-8"), [t.encode("utf-8") for t in texts]


@fuzz(1000)
@given(page=array_body())
def test_valid_arrays_split_into_every_exact_element(hostile, page: tuple[bytes, list[bytes]]) -> None:
    body, elements = page
    with case(hostile, "pages: valid arrays"):
        events = _check_split(body)
        assert events is not None and [raw for raw, _ in events] == elements  # nothing lost, bytes kept


@fuzz(1000)
@given(page=array_body(), cut=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_truncated_arrays_are_never_accepted(hostile, page: tuple[bytes, list[bytes]], cut: float) -> None:
    body = page[0].rstrip(b" \t\r\n")
    with case(hostile, "pages: truncated arrays"), pytest.raises(MalformedPageError):
        split_array(body[: int(len(body) * cut)])


@fuzz(300)
@given(depth=st.integers(min_value=1, max_value=20_000), kind=st.sampled_from([b"[", b'{"a":']),
       closed=st.booleans())
def test_deep_nesting_is_an_error_not_a_crash(hostile, depth: int, kind: bytes, closed: bool) -> None:
    close = b"]" if kind == b"[" else b"}"
    body = b"[" + kind * depth + b"1" * (kind != b"[") + (close * depth if closed else b"") + b"]"
    with case(hostile, "pages: deep nesting"):
        try:
            events = split_array(body)
        except MalformedPageError:
            return
        assert closed and len(events) == 1


@fuzz(500)
@given(page=array_body(), bad=st.sampled_from([b"\x80", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf5"]),
       where=st.floats(min_value=0, max_value=1))
def test_invalid_utf8_is_refused(hostile, page: tuple[bytes, list[bytes]], bad: bytes, where: float) -> None:
    body = page[0]
    at = int(len(body) * where)
    with case(hostile, "pages: invalid UTF-8"), pytest.raises(MalformedPageError, match="UTF-8"):
        split_array(body[:at] + bad + body[at:])


@fuzz(300)
@given(digits=st.integers(min_value=19, max_value=6000), sign=st.sampled_from(["", "-"]))
def test_numbers_beyond_64_bits(hostile, digits: int, sign: str) -> None:
    body = f'[{{"id":"x","n":{sign}{"9" * digits}}}, 1]'.encode()
    with case(hostile, "pages: big numbers"):
        try:
            events = split_array(body)
        except MalformedPageError:
            assert digits > 4300  # Python's int-conversion limit; below it the element must survive
            return
        assert [raw for raw, _ in events] == [body[1:-4], b"1"]


header_text = st.text(max_size=30) | st.integers(min_value=-5, max_value=20).map(str)


@fuzz(800)
@given(page=array_body(), count=st.none() | header_text, limit=st.none() | header_text,
       token=st.none() | header_text | st.just('[1735646400000,"abc"]'), requested=st.integers(1, 10))
def test_page_headers(hostile, page, count, limit, token, requested) -> None:
    headers = {k: v for k, v in (("X-Result-Count", count), ("X-Limit", limit), ("X-Search_after", token))
               if v is not None}
    with case(hostile, "pages: headers"):
        try:
            parsed = parse_page(page[0], headers, requested_limit=requested)
        except MalformedPageError:
            return
        assert parsed.result_count == len(parsed.events) == len(page[1]) <= parsed.limit
        assert not parsed.full or parsed.token_text


@fuzz(800)
@given(text=st.none() | st.text(max_size=40) | st.floats().map(str) | st.sampled_from(
    ["Wed, 21 Oct 2015 07:28:00 GMT", "Thu, 01 Jan 2099 00:00:00 GMT", "1e309", "-5", "nan", "inf", "0x10"]),
    body=st.binary(max_size=80) | values.map(lambda v: json.dumps(v).encode()))
def test_retry_after_server_message_and_count(hostile, text, body) -> None:
    with case(hostile, "pages: retry-after/message/count"):
        delay = parse_retry_after(text)
        assert delay is None or 0.0 <= delay <= MAX_RETRY_AFTER
        assert isinstance(server_message(body), str)
        with suppress(MalformedPageError):
            assert parse_count(body) >= 0


# ------------------------------------------------------------------------------------------ mapper
TOP_FIELDS = ("id", "timestamp", "client_ip", "src_ip", "event_type", "service", "success", "sso_token_success",
              "username", "process_name", "message", "@version", "version", "jumpcloud_protect_device")
NESTED_FIELDS = {
    "initiated_by": ("id", "email", "username", "type"),
    "system": ("id", "hostname"),
    "useragent": ("device", "name", "version", "os_name", "os_full", "os_version"),
}
events = st.fixed_dictionaries(
    {},
    optional={
        **{name: field_value for name in TOP_FIELDS},
        **{parent: field_value | st.fixed_dictionaries({}, optional=dict.fromkeys(children, field_value))
           for parent, children in NESTED_FIELDS.items()},
        "extra": values,
    },
)
MAPPER = EventMapper(("preserve_original_event",))


def _check_mapped(raw: bytes) -> tuple[str, dict[str, Any], int]:
    doc_id, doc, status = MAPPER.map(raw)
    again = MAPPER.map(raw)
    assert again[0] == doc_id and same_json(again[1], doc)  # deterministic: re-runs are idempotent
    assert isinstance(doc_id, str) and doc_id
    messages = (doc.get("error") or {}).get("message") or []
    assert not any("[internal]" in m for m in messages), messages  # the last-resort guard never fired
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        assert doc["event"]["original"] == text  # the original is always kept
    if status == ERROR_DOCUMENT:
        assert doc["event"]["kind"] == PIPELINE_ERROR and messages
    else:
        assert type(doc["jumpcloud"]["event"]) is dict
    assert decode_mapped(encode_mapped(doc_id, doc))[0] == doc_id
    return doc_id, doc, status


@fuzz(1200)
@given(event=events, ensure_ascii=st.booleans())
def test_mapper_with_unexpected_types_in_every_field(hostile, event: dict[str, Any], ensure_ascii: bool) -> None:
    raw = json.dumps(event, ensure_ascii=ensure_ascii).encode("utf-8")
    with case(hostile, "mapper: field types"):
        _check_mapped(raw)


SYSTEMATIC = [None, True, False, 0, -1, 2**64 + 1, 1.5, "", "x" * 100_000, [], [None, 1, "a", {}], {},
              {"a": {"b": [1]}}, nested(150), "\ud800", "1.2.3.4", float("nan")]
FIELD_PATHS = [*TOP_FIELDS, *(f"{p}.{c}" for p, cs in NESTED_FIELDS.items() for c in cs)]


@pytest.mark.parametrize("path", FIELD_PATHS)
def test_mapper_every_field_every_type(hostile, path: str) -> None:
    for value in SYSTEMATIC:
        event: dict[str, Any] = {"id": "e1", "timestamp": "2025-12-31T12:00:00Z", "event_type": "user_login_attempt"}
        parent, _, child = path.partition(".")
        if child:
            event[parent] = {child: value}
        else:
            event[parent] = value
        with case(hostile, "mapper: systematic fields"):
            _check_mapped(json.dumps(event).encode("utf-8", "surrogatepass"))


@fuzz(1200)
@given(raw=st.binary(max_size=200) | st.text(max_size=60).map(lambda t: t.encode("utf-8")))
def test_mapper_with_arbitrary_bytes(hostile, raw: bytes) -> None:
    with case(hostile, "mapper: arbitrary bytes"):
        _check_mapped(raw)


def test_map_file_turns_every_hostile_line_into_one_document(hostile, tmp_path: Path) -> None:
    lines = [b'{"id":"d%d","timestamp":"2025-12-31T12:00:00Z","x":' % d + b"[" * d + b"]" * d + b"}"
             for d in (10, 240, 251, 252, 253, 254, 300, 900, 1100)]
    lines += [b'{"id":"big","n":' + b"9" * 30 + b"}", b'{"a":NaN}', b"\xff\xfe", b"[1,2]", b'"text"', b"{}"]
    src = tmp_path / "raw.ndjson"
    src.write_bytes(b"\n".join(lines) + b"\n")
    with case(hostile, "mapper: map_file lines"):
        counts = map_file(src, tmp_path / "ecs.ndjson.gz", tags=("preserve_original_event",))
        out = [decode_mapped(x) for x in iter_lines(tmp_path / "ecs.ndjson.gz")]
    hostile[0]["mapper: map_file lines"] += len(lines) - 1
    assert counts.read == len(out) == len(lines) and counts.mapped + counts.error_documents == len(lines)
    assert len({doc_id for doc_id, _ in out}) == len(lines)


# ----------------------------------------------------------------------------------------- quality
PLAN_TYPES = build_plan("default").types
INDEX = FieldIndex.from_types(PLAN_TYPES)
SPEC_PATHS = sorted(PLAN_TYPES)


def _oracle(value: Any, leaf_ok: Any) -> bool:
    if value is None:
        return True
    if type(value) is list:
        return all(_oracle(v, leaf_ok) for v in value)
    return leaf_ok(value)


ORACLES = {
    "keyword": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "long": lambda v: type(v) is int and -(2**63) <= v < 2**63,
    "float": lambda v: type(v) is int or (type(v) is float and math.isfinite(v)),
    "object": lambda v: type(v) is dict,
}


@fuzz(1500)
@given(value=values | deep | st.sampled_from([float("nan"), float("inf"), [float("nan")], {"lat": 1, "lon": 2}]))
def test_type_checks_on_any_value(hostile, value: Any) -> None:
    with case(hostile, "quality: type checks"):
        for spec_type in sorted(supported_types()):
            result = matches(value, spec_type, "default")
            assert type(result) is bool
            if spec_type in ORACLES:
                assert result == _oracle(value, ORACLES[spec_type]), (spec_type, value)
        column = [value, JsonObject(value) if type(value) is dict else value, None]
        for spec_type in ("keyword", "ip", "date", "geo_point", "long"):
            assert match_array(column, spec_type).shape == (3,)
        assert isinstance(render_example(value), str)


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    """A document putting hostile values at spec paths (and around them), then read back like staging."""
    doc: dict[str, Any] = draw(st.dictionaries(st.text(max_size=6), values, max_size=3))
    for path in draw(st.lists(st.sampled_from(SPEC_PATHS), max_size=8)):
        node = doc
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if type(child) is not dict:
                child = node[part] = {}
                if draw(st.integers(0, 5)) == 0:  # sometimes an array of objects on the way
                    node[part] = [child, draw(values)]
            node = child
        node[parts[-1]] = draw(field_value)
    try:
        return orjson.loads(json.dumps(doc))  # what decode_mapped would hand over
    except orjson.JSONDecodeError:
        assume(False)
        raise


@fuzz(600)
@given(docs=st.lists(documents(), min_size=1, max_size=4))
def test_flatten_and_check_arbitrary_documents(hostile, docs: list[dict[str, Any]]) -> None:
    with case(hostile, "quality: flatten + checks"):
        drift = DriftTracker(INDEX.object_prefixes)
        chunk = Chunk(INDEX, drift, 0, ("@timestamp", "event.kind"))
        for n, doc in enumerate(docs):
            chunk.add(f"id-{n}", doc)
        assert chunk.size == len(docs)
        for path in chunk.values:
            distinct, counts = chunk.distinct(path)
            assert len(distinct) == len(counts) and counts.sum() >= 1
            match_array(list(distinct), PLAN_TYPES[path], "default")
        for unknown in drift.fields.values():
            assert all(isinstance(x, str) for x in unknown.as_dict()["examples"])
