from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.ecs.fingerprint import (
    FingerprintError,
    event_id,
    fingerprint,
    fingerprint_bytes,
    murmur3_base64,
    raw_id,
)
from tests.ecs.murmur_reference import es_murmur_id, murmur3_x64_128


def test_known_answer_vector_from_elasticsearch():
    assert fingerprint_bytes({"foo": "foo", "bar": "bar"}) == b"\x00bar\x00foo"
    assert fingerprint({"foo": "foo", "bar": "bar"}) == "yjfaOoy2UQ3EHZRAzFK9sw=="
    assert es_murmur_id(b"\x00bar\x00foo") == "yjfaOoy2UQ3EHZRAzFK9sw=="


def test_reference_murmur_matches_published_vectors():
    # Empty input with seed 0 hashes to zero; "hello" is a widely published x64_128 vector.
    assert murmur3_x64_128(b"") == (0, 0)
    h1, h2 = murmur3_x64_128(b"hello")
    assert f"{h1:016x}{h2:016x}" == "cbd8a7b341bd9b025b1e906a48ae1d19"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_mmh3_based_hash_equals_independent_implementation(data):
    assert murmur3_base64(data) == es_murmur_id(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_event_id_is_zero_byte_framed_id_then_timestamp(id_, ts):
    expected = es_murmur_id(b"\x00" + id_.encode("utf-8", "surrogatepass") + b"\x00"
                            + ts.encode("utf-8", "surrogatepass"))
    assert event_id(id_, ts) == expected
    assert fingerprint({"jumpcloud.event.timestamp": ts, "jumpcloud.event.id": id_}) == expected


def test_missing_fields_are_skipped_and_all_missing_gives_none():
    assert event_id(None, None) is None
    assert event_id("abc", None) == es_murmur_id(b"\x00abc")
    assert event_id(None, "2023-01-01T00:00:00Z") == es_murmur_id(b"\x002023-01-01T00:00:00Z")


def test_non_string_values_follow_the_java_to_bytes_rules():
    # Integer (fits 32 bits): 4 bytes little-endian; Long: 8 bytes; Double: 8 bytes; booleans 1/2.
    assert fingerprint_bytes({"a": 7}) == b"\x00" + b"\x07\x00\x00\x00"
    assert fingerprint_bytes({"a": -1}) == b"\x00" + b"\xff\xff\xff\xff"
    assert fingerprint_bytes({"a": 2**31}) == b"\x00" + (2**31).to_bytes(8, "little")
    assert fingerprint_bytes({"a": 1.5}) == b"\x00" + struct.pack("<d", 1.5)
    assert fingerprint_bytes({"a": True, "b": False}) == b"\x00\x01\x00\x02"
    # Map entries sorted by key, each as 0x00 + key then the value; lists in order.
    assert fingerprint_bytes({"a": {"z": "1", "y": ["p", 2]}}) == (
        b"\x00y" + b"\x00p" + b"\x00\x02\x00\x00\x00" + b"\x00z" + b"\x001"
    )
    with pytest.raises(FingerprintError, match="BigInteger"):
        fingerprint_bytes({"a": 2**63})


def test_map_keys_sort_in_java_utf16_order():
    # U+10000 is a surrogate pair (D800 DC00) in UTF-16, so Java sorts it before U+FFFF.
    data = fingerprint_bytes({"a": {"\uffff": "x", "\U00010000": "y"}})
    assert data.index("\U00010000".encode()) < data.index("\uffff".encode())


def test_raw_id_is_prefixed_and_distinct_from_fingerprints():
    rid = raw_id(b"not json")
    assert rid == "raw-" + es_murmur_id(b"not json")
    assert len(rid) == 28
    assert raw_id(b"not json") == rid
    assert raw_id(b"not json!") != rid
