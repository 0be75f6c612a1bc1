from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
