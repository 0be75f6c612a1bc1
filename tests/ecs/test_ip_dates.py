"""IP validation (Elasticsearch InetAddresses rules) and the date processor (ISO8601 -> @timestamp)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.ecs.dates import DateParseError, es_timestamp
from airflow_provider_jumpcloud.ecs.ip import parse_ip, to_address
from airflow_provider_jumpcloud.timestamps import format_millis, format_ns, parse_ns

VALID = ["1.2.3.4", "0.0.0.0", "255.255.255.255", "::", "::1", "1::", "2001:db8::1", "2001:DB8::A",
         "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4%x", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
         "::2:3:4:5:6:7:8", "00001::", "1:2:3:4:5:6:1.2.3.4"]
INVALID = ["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.4%", "1:2:3:4:5:6:7:8:9", "1::2::3",
           ":1::", "1:::2", "::1.2.3.4:5", "12345::", "1.2.3.a", " 1.2.3.4", "1.2.3.4 ", "\uff11.2.3.4",
           "::g", "1:2:3:4:5:6:7:8::", "1:2:3:4:5:6:7", "1.2..3", "abc", ":", "1:"]


@pytest.mark.parametrize("text", VALID)
def test_valid_ips(text):
    assert parse_ip(text) is not None


@pytest.mark.parametrize("text", INVALID)
def test_invalid_ips(text):
    assert parse_ip(text) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_packed_bytes_match_ipaddress(address):
    for text in {str(address), address.exploded}:
        assert parse_ip(text) == address.packed


def test_ipv4_mapped_is_looked_up_as_ipv4():
    assert to_address(parse_ip("::ffff:81.2.69.144")) == ipaddress.IPv4Address("81.2.69.144")
    assert to_address(parse_ip("2001:db8::1")) == ipaddress.IPv6Address("2001:db8::1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-06-15T14:48:36.495420839Z", "2023-06-15T14:48:36.495Z"),
        ("2023-06-15T14:48:36Z", "2023-06-15T14:48:36.000Z"),
        ("2023-06-15T14:48:36.4Z", "2023-06-15T14:48:36.400Z"),
        ("2023-06-15T14:48:36,5Z", "2023-06-15T14:48:36.500Z"),
        ("2023-06-15T14:48:36.495+02:00", "2023-06-15T12:48:36.495Z"),
        ("2023-06-15T14:48:36-0130", "2023-06-15T16:18:36.000Z"),
        ("2023-12-31T23:59:59.999-05:00", "2024-01-01T04:59:59.999Z"),
        ("2023-06-15T14:48:36", "2023-06-15T14:48:36.000Z"),  # no zone: UTC
        ("2023-06-15T14:48Z", "2023-06-15T14:48:00.000Z"),
        ("2023-06-15T14Z", "2023-06-15T14:00:00.000Z"),
        ("2023-06-15", "2023-06-15T00:00:00.000Z"),
        ("2023-06", "2023-06-01T00:00:00.000Z"),
        ("2023", "2023-01-01T00:00:00.000Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"),
        ("2023-06-15T14:48:36UTC", "2023-06-15T14:48:36.000Z"),
        ("2023-06-15T14:48:36GMT+2", "2023-06-15T12:48:36.000Z"),
        ("2023-01-15T14:48:36Europe/Paris", "2023-01-15T13:48:36.000Z"),
        ("2023-07-15T14:48:36Europe/Paris", "2023-07-15T12:48:36.000Z"),
    ],
)
def test_es_iso8601_dates(text, expected):
    assert es_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z", "2023-06-15T24:00:00Z",
     "2023-06-15T14:60:00Z", "2023-06-15T14:48:60Z", "2023-06-15t14:48:36Z", "2023-06-15 14:48:36Z",
     "2023-06-15T14:48:36.1234567891Z", "2023-06-15T14:48:36z", "2023-06-15T14:48:36+19:00",
     "2023-06-15T14:48:36Mars/Olympus", "2023-06-15T14:48:36.Z", "20230615T144836Z"],
)
def test_dates_elasticsearch_rejects(text):
    with pytest.raises(DateParseError, match="unable to parse date"):
        es_timestamp(text)


def test_non_string_dates_are_rendered_first():
    with pytest.raises(DateParseError, match=r"unable to parse date \[1686840000\]"):
        es_timestamp(1686840000)
    assert es_timestamp(2023) == "2023-01-01T00:00:00.000Z"  # "2023".toString() is a valid year


@settings(max_examples=400, deadline=None)
@given(
    st.integers(min_value=-30_000_000_000 * 10**9, max_value=250_000_000_000 * 10**9),
    st.integers(min_value=0, max_value=9),
    st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", "+14:00", "-11:45"]),
)
def test_dates_agree_with_an_independent_rfc3339_parser(ns, digits, zone):
    text = format_ns(ns, digits)
    if zone != "Z":
        text = text[:-1] + zone  # same wall clock, other offset: a different instant
    assert es_timestamp(text) == format_millis(parse_ns(text))
