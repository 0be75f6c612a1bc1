from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pendulum
import pytest

from airflow_provider_jumpcloud.exceptions import InvalidWindowError, JumpCloudConfigError, RetentionError
from airflow_provider_jumpcloud.windows import (
    Window,
    check_retention,
    lagged,
    plan_subwindows,
    split_by_count,
    validate_services,
)

T0 = datetime(2025, 1, 1, 4, tzinfo=UTC)


def test_parse_accepts_strings_datetimes_and_pendulum() -> None:
    a = Window.parse("2025-01-01T04:00:00Z", pendulum.datetime(2025, 1, 1, 5, tz="UTC"))
    b = Window(T0, datetime(2025, 1, 1, 6, 0, tzinfo=pendulum.timezone("Europe/Paris")))
    assert a == b
    assert a.key == "20250101T040000Z-20250101T050000Z"
    assert a.as_dict() == {"start": "2025-01-01T04:00:00Z", "end": "2025-01-01T05:00:00Z"}
    assert Window.from_dict(a.as_dict()) == a


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC), "naive"),
        (T0, T0, "must be before"),
        (T0 + timedelta(hours=1), T0, "must be before"),
        ("yesterday", T0, "RFC 3339"),
        (1234, T0, "datetime or an RFC 3339"),
    ],
)
def test_invalid_windows_are_clear_errors(start: object, end: object, message: str) -> None:
    with pytest.raises(InvalidWindowError, match=message):
        Window.parse(start, end)


def test_half_open_membership() -> None:
    w = Window(T0, T0 + timedelta(minutes=15))
    assert w.contains_ns(w.start_ns)
    assert not w.contains_ns(w.end_ns)
    assert w.contains_ns(w.end_ns - 1)


def test_lag_moves_window_back_and_rejects_negative() -> None:
    w = lagged(T0, T0 + timedelta(minutes=15), timedelta(minutes=5))
    assert (w.start, w.end) == (T0 - timedelta(minutes=5), T0 + timedelta(minutes=10))
    with pytest.raises(InvalidWindowError, match="negative"):
        lagged(T0, T0 + timedelta(minutes=15), timedelta(minutes=-1))


def test_retention_names_oldest_fetchable_time() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    check_retention(Window(now - timedelta(days=14), now), 15, now)
    with pytest.raises(RetentionError) as info:
        check_retention(Window(now - timedelta(days=16), now - timedelta(days=15, hours=23)), 15, now)
    assert "2025-02-14T00:00:00+00:00" in str(info.value)
    assert info.value.oldest == "2025-02-14T00:00:00+00:00"


@pytest.mark.parametrize("count", [0, 1, 9_999, 10_000, 10_001, 25_003, 1_000_000])
def test_split_tiles_window_exactly(count: int) -> None:
    w = Window(T0, T0 + timedelta(hours=1))
    parts = split_by_count(w, count, 10_000)
    assert parts[0].start == w.start and parts[-1].end == w.end
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert len(parts) == max(1, -(-count // 10_000))


def test_plan_checks_before_counting() -> None:
    calls: list[tuple] = []

    def count(start: datetime, end: datetime, *, services: tuple[str, ...]) -> int:
        calls.append((start, end, services))
        return 25_003

    now = datetime(2025, 1, 2, tzinfo=UTC)
    parts = plan_subwindows(T0, T0 + timedelta(hours=1), lag=timedelta(minutes=5), retention_days=90,
                            services=("all",), max_events=10_000, count=count, now=now)
    assert len(parts) == 3 and parts[0].start == T0 - timedelta(minutes=5)
    assert calls and calls[0][2] == ("all",)
    calls.clear()
    with pytest.raises(RetentionError):
        plan_subwindows(T0, T0 + timedelta(hours=1), lag=timedelta(0), retention_days=15, services=("all",),
                        max_events=10, count=count, now=datetime(2025, 2, 1, tzinfo=UTC))
    with pytest.raises(JumpCloudConfigError, match="unknown JumpCloud service"):
        plan_subwindows(T0, T0 + timedelta(hours=1), lag=timedelta(0), retention_days=90, services=("sso", "nope"),
                        max_events=10, count=count, now=now)
    assert calls == []


def test_validate_services() -> None:
    validate_services(["directory", "sso"])
    with pytest.raises(JumpCloudConfigError, match="at least one"):
        validate_services([])
    with pytest.raises(JumpCloudConfigError, match="do not combine"):
        validate_services(["all", "sso"])


def test_extra_services_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUMPCLOUD_EXTRA_SERVICES", "pam, brand_new")
    validate_services(["pam", "brand_new"])
