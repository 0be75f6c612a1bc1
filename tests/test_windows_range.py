"""Range planning: window keys, clipping at the retention, and splitting a range by count with bisection."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_jumpcloud.exceptions import InvalidWindowError, JumpCloudConfigError, RetentionError
from airflow_provider_jumpcloud.windows import Window, clip_to_retention, plan_range, split_range_by_count

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


def event_counter(times: list[datetime]):
    """A /events/count over a fixed set of event times, recording every call."""
    calls: list[Window] = []

    def count(window: Window) -> int:
        calls.append(window)
        return sum(1 for t in times if window.start <= t < window.end)

    return count, calls


def tiles(parts: list[Window], whole: Window) -> bool:
    return (parts[0].start == whole.start and parts[-1].end == whole.end
            and all(a.end == b.start for a, b in itertools.pairwise(parts)))


@pytest.mark.parametrize("key", ["20250101T040000Z-20250101T041500Z", "20250101T040000123456Z-20250101T041500Z"])
def test_key_round_trips(key: str) -> None:
    assert Window.from_key(key).key == key


@pytest.mark.parametrize("bad", ["20250101T040000Z", "2025-01-01-x", "20250101T041500Z-20250101T040000Z", "a-b"])
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidWindowError):
        Window.from_key(bad)


def test_quiet_range_is_one_subwindow_with_one_count() -> None:
    whole = Window(NOW - timedelta(days=4), NOW - timedelta(days=1))
    times = [whole.start + timedelta(seconds=14.4 * i) for i in range(18_000)]  # 18,000 events over 3 days
    count, calls = event_counter(times)
    parts = split_range_by_count(whole, count=count, max_events=500_000)
    assert parts == [(whole, 18_000)] and len(calls) == 1


def test_dense_range_is_bisected_where_events_are() -> None:
    whole = Window(NOW - timedelta(days=8), NOW)
    burst = NOW - timedelta(days=2)
    times = [burst + timedelta(seconds=i) for i in range(3000)] + [whole.start + timedelta(hours=h) for h in range(100)]
    count, calls = event_counter(times)
    parts = split_range_by_count(whole, count=count, max_events=1000)
    assert len(calls) <= 20  # one count per split: log2(8 days / burst) levels, not a scan
    windows = [w for w, _n in parts]
    assert tiles(windows, whole)
    assert all(n <= 1000 for _w, n in parts)
    assert sum(n for _w, n in parts) == 3100
    assert [n for _w, n in parts] == [count(w) for w in windows]  # the rest-of-parent counts are exact
    assert len(parts) <= 8  # the quiet days stay whole; only the burst is cut fine
    assert all(w.start.microsecond == 0 and w.end.microsecond == 0 for w in windows)  # whole seconds


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=86_400 * 3 - 1), max_size=400), st.integers(1, 50))
def test_split_always_tiles_and_counts_add_up(offsets: list[int], max_events: int) -> None:
    whole = Window(NOW - timedelta(days=3), NOW)
    times = [whole.start + timedelta(seconds=o) for o in offsets]
    count, _calls = event_counter(times)
    parts = split_range_by_count(whole, count=count, max_events=max_events)
    assert tiles([w for w, _n in parts], whole)
    assert sum(n for _w, n in parts) == len(times)
    # a sub-window only exceeds max_events when it is too short to split (events within one second or so)
    assert all(n <= max_events or w.duration < timedelta(seconds=4) for w, n in parts)


def test_clip_moves_the_start_to_a_whole_hour_inside_the_retention() -> None:
    whole = Window(NOW - timedelta(days=100), NOW - timedelta(days=1))
    clipped, note = clip_to_retention(whole, 90, clip=True, now=NOW)
    oldest = NOW - timedelta(days=90)  # 2026-09-01T10:30Z
    assert clipped == Window(datetime(2026, 9, 1, 12, tzinfo=UTC), whole.end)
    assert clipped.start - oldest >= timedelta(hours=1)
    assert "2026-08-22T10:30:00Z" in note and "2026-09-01T10:30:00Z" in note and "2026-09-01T12:00:00Z" in note


def test_refusing_instead_of_clipping_names_the_oldest_time() -> None:
    whole = Window(NOW - timedelta(days=100), NOW - timedelta(days=1))
    with pytest.raises(RetentionError, match="2026-09-01T10:30:00"):
        clip_to_retention(whole, 90, clip=False, now=NOW)


def test_range_wholly_past_retention_is_refused_even_when_clipping() -> None:
    whole = Window(NOW - timedelta(days=30), NOW - timedelta(days=20))
    with pytest.raises(RetentionError, match="source='archive'"):
        clip_to_retention(whole, 15, clip=True, now=NOW)


def test_range_inside_retention_is_unchanged() -> None:
    whole = Window(NOW - timedelta(days=10), NOW)
    assert clip_to_retention(whole, 15, clip=True, now=NOW) == (whole, None)


def test_plan_range_checks_everything_before_counting() -> None:
    count, calls = event_counter([])
    for bad, error in [
        (dict(window=Window(NOW - timedelta(days=1), NOW + timedelta(hours=1))), "ends after now"),
        (dict(services=("nope",)), "unknown JumpCloud service"),
        (dict(window=Window(NOW - timedelta(days=100), NOW), clip=False), "oldest fetchable"),
    ]:
        args = {"window": Window(NOW - timedelta(days=1), NOW), "retention_days": 90, "clip": True,
                "services": ("all",), "max_events": 10, "count": count, "now": NOW, **bad}
        with pytest.raises(JumpCloudConfigError, match=error):
            plan_range(**args)
    assert calls == []
    parts, notes = plan_range(Window(NOW - timedelta(days=100), NOW), retention_days=90, clip=True,
                              services=("all",), max_events=10, count=count, now=NOW)
    assert len(parts) == 1 and parts[0][0].start == datetime(2026, 9, 1, 12, tzinfo=UTC) and len(notes) == 1
