from __future__ import annotations

import random

import numpy as np
import pytest

from airflow_provider_jumpcloud.emulator.timeline import (
    BURST_COLUMN,
    BURST_MIN,
    COLUMNS,
    MASK64,
    Timeline,
    mix64,
    mix64_array,
)

DAY0 = 1767225600 - 3 * 86400  # 2025-12-29T00:00:00Z


def test_scalar_and_vector_hash_agree():
    rng = random.Random(1)
    values = [rng.getrandbits(64) for _ in range(500)] + [0, MASK64]
    vector = mix64_array(np.asarray(values, dtype=np.uint64))
    assert [int(v) for v in vector] == [mix64(v) for v in values]


def test_sizes_vector_path_matches_scalar_path():
    timeline = Timeline(seed=3, events_per_day=300_000)
    matrix = timeline.sizes(DAY0 + 3000, DAY0 + 4200)  # crosses an hour boundary
    for offset in range(0, matrix.shape[0], 7):
        for column in range(len(COLUMNS)):
            assert timeline.size(DAY0 + 3000 + offset, column) == matrix[offset, column]


@pytest.mark.parametrize("rate", [20_000, 400_000])
def test_average_rate_over_days_is_close_to_events_per_day(rate):
    timeline = Timeline(seed=5, events_per_day=rate)
    total = timeline.count(DAY0, DAY0 + 2 * 86400 - 1, list(range(len(COLUMNS))))
    # Poisson noise plus ~10 bursts/day of 50-250 events: within 5% over two days.
    assert abs(total / 2 - rate) < 0.05 * rate


def test_count_equals_sum_of_sizes_for_unaligned_ranges():
    timeline = Timeline(seed=9, events_per_day=100_000)
    first, last = DAY0 + 1234, DAY0 + 3 * 3600 + 77
    matrix = timeline.sizes(first, last)
    cols = [0, 4, BURST_COLUMN]
    assert timeline.count(first, last, cols) == int(matrix[:, cols].sum())
    assert timeline.count(first, last, list(range(len(COLUMNS)))) == int(matrix.sum())


def test_bursts_hold_many_events_in_one_second():
    timeline = Timeline(seed=7, events_per_day=20_000)
    matrix = timeline.sizes(DAY0, DAY0 + 86400 - 1)
    bursts = matrix[:, BURST_COLUMN]
    assert (bursts > 0).sum() >= 3
    assert bursts[bursts > 0].min() >= BURST_MIN


def test_nonempty_lists_exactly_the_seconds_with_events_in_both_orders():
    timeline = Timeline(seed=2, events_per_day=50_000)
    first, last = DAY0 + 100, DAY0 + 5000
    matrix = timeline.sizes(first, last)
    cols = [1, 2]
    expected = [first + i for i in np.flatnonzero(matrix[:, cols].sum(axis=1))]
    got = list(timeline.nonempty(first, last, cols))
    assert [s for s, _ in got] == expected
    for second, parts in got:
        assert all(column in cols and size == matrix[second - first, column] for column, size in parts)
    assert [s for s, _ in timeline.nonempty(first, last, cols, descending=True)] == expected[::-1]


def test_daily_curve_changes_the_rate_by_hour():
    timeline = Timeline(seed=1, events_per_day=1_000_000)
    night = timeline.count(DAY0 + 2 * 3600, DAY0 + 3 * 3600 - 1, list(range(BURST_COLUMN)))
    afternoon = timeline.count(DAY0 + 14 * 3600, DAY0 + 15 * 3600 - 1, list(range(BURST_COLUMN)))
    assert afternoon > 2 * night
