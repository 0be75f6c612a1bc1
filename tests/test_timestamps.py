from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.timestamps import datetime_to_ns, format_millis, format_ns, parse_ns

BASE = int(datetime(2023, 6, 15, 14, 48, 36, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-06-15T14:48:36Z", BASE),
        ("2023-06-15T14:48:36.4Z", BASE + 400_000_000),
        ("2023-06-15T14:48:36.495Z", BASE + 495_000_000),
        ("2023-06-15T14:48:36.49542083Z", BASE + 495_420_830),
        ("2023-06-15T14:48:36.495420839Z", BASE + 495_420_839),
        ("2023-06-15T16:48:36.495+02:00", BASE + 495_000_000),
        ("2023-06-15T09:48:36-0500", BASE),
        ("2023-06-15t14:48:36z", BASE),
    ],
)
def test_parse_every_precision_and_offset(text: str, expected: int) -> None:
    assert parse_ns(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2023-06-15", "2023-06-15T14:48:36", "2023-13-15T14:48:36Z", "2023-06-15T14:48:36.1234567890Z",
     "2023-02-30T00:00:00Z", "2023-06-15T14:48:36+25:00", "not a date"],
)
def test_rejects_non_rfc3339(text: str) -> None:
    assert parse_ns(text) is None


def test_rejects_non_strings() -> None:
    assert parse_ns(12345) is None  # type: ignore[arg-type]


def test_format_round_trip_and_millis() -> None:
    ns = BASE + 495_420_839
    assert parse_ns(format_ns(ns)) == ns
    assert format_millis(ns) == "2023-06-15T14:48:36.495Z"
    assert format_ns(BASE, 0) == "2023-06-15T14:48:36Z"
    assert datetime_to_ns(datetime(2023, 6, 15, 14, 48, 36, 495420, tzinfo=UTC)) == BASE + 495_420_000


def _datetime_oracle(text: str) -> int | None:
    """parse_ns computed through datetime.fromisoformat, for the forms both accept."""
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    whole = parsed.replace(microsecond=0)
    return int(whole.timestamp()) * 1_000_000_000


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 60),
    st.integers(0, 60), st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", "+2400", "-0059"]),
)
def test_parse_agrees_with_datetime(year, month, day, hour, minute, second, tz) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{tz}"
    try:
        expected = _datetime_oracle(text)
    except (OverflowError, ValueError):  # offsets past year 1 / 9999
        return
    assert parse_ns(text) == expected
