"""How many events each (second, service) of the emulated history holds: deterministic, vectorised, cheap.

The history is cut into one-second buckets, each split into one sub-bucket per generated service plus a
"burst" sub-bucket (RADIUS storms: 50+ events sharing one whole-second timestamp). The size of a
sub-bucket is a Poisson draw (inverse CDF of one 64-bit hash of ``(seed, second, column)``) whose mean
follows a daily curve, so counting a day costs a few vectorised numpy operations and no event is built.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_COLUMN = 0xC2B2AE3D27D4EB4F
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
BLOCK_SECONDS = 3600

#: Generated services and their share of the (non-burst) traffic.
SERVICE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("directory", 0.28),
    ("sso", 0.20),
    ("systems", 0.18),
    ("ldap", 0.10),
    ("radius", 0.08),
    ("software", 0.05),
    ("mdm", 0.04),
    ("password_manager", 0.05),
    ("alerts", 0.02),
)
#: Column index -> service name; the last column holds the RADIUS bursts.
COLUMNS: tuple[str, ...] = (*(name for name, _ in SERVICE_WEIGHTS), "radius")
BURST_COLUMN = len(COLUMNS) - 1
BURST_MIN, BURST_MAX = 50, 250


def mix64(x: int) -> int:
    """Return the splitmix64 finaliser of a 64-bit integer (scalar twin of :func:`mix64_array`)."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * _M1) & MASK64
    x = ((x ^ (x >> 27)) * _M2) & MASK64
    return x ^ (x >> 31)


def mix64_array(x: np.ndarray) -> np.ndarray:
    """Return the splitmix64 finaliser of a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(_M1)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(_M2)
    return x ^ (x >> np.uint64(31))


def seed_key(seed: int) -> int:
    """Return the 64-bit key every hash of a run derives from."""
    return mix64(seed * 0x2545F4914F6CDD1D + 0x5851F42D4C957F2D)


def bucket_hash(key: int, second: int, column: int) -> int:
    """Return the hash that sizes and seeds sub-bucket ``(second, column)``."""
    return mix64(((key ^ ((second * _GOLDEN) & MASK64)) + column * _COLUMN) & MASK64)


def _poisson_cdf(mean: float) -> np.ndarray:
    """Return the Poisson CDF of ``mean`` truncated where the tail is negligible (last entry 1.0)."""
    if mean <= 0:
        return np.ones(1, dtype=np.float64)
    values: list[float] = []
    total, k, log_term = 0.0, 0, -mean
    limit = mean + 60 * math.sqrt(mean) + 60
    while True:
        total += math.exp(log_term)
        values.append(min(total, 1.0))
        if (k >= mean and 1.0 - total < 1e-15) or k > limit:
            break
        k += 1
        log_term += math.log(mean) - math.log(k)
    values[-1] = 1.0
    return np.asarray(values, dtype=np.float64)


def hour_factor(hour: int) -> float:
    """Return the daily traffic curve (mean 1 over 24 UTC hours; peak at 14:00)."""
    return 1.0 + 0.6 * math.cos(2.0 * math.pi * (hour - 14) / 24.0)


@dataclass(frozen=True)
class Block:
    """Non-empty sub-buckets of one hour: parallel arrays of second, column and size, by second."""

    seconds: np.ndarray
    columns: np.ndarray
    sizes: np.ndarray
    totals: np.ndarray  # events per column over the whole block


class Timeline:
    """Deterministic per-(second, column) event counts for one seed and rate."""

    def __init__(self, seed: int, events_per_day: float, burst_fraction: float = 0.05) -> None:
        if events_per_day < 0:
            raise ValueError("events_per_day must not be negative")
        self.seed = seed
        self.key = seed_key(seed)
        self.events_per_day = events_per_day
        rate = events_per_day / 86400.0
        burst_mean = (BURST_MIN + BURST_MAX) / 2.0
        self.burst_probability = min(0.5, burst_fraction * rate / burst_mean) if rate else 0.0
        base = rate - self.burst_probability * burst_mean
        total_weight = sum(w for _, w in SERVICE_WEIGHTS)
        self._cdfs = [
            [_poisson_cdf(base * w / total_weight * hour_factor(h)) for _, w in SERVICE_WEIGHTS]
            for h in range(24)
        ]
        self._lock = threading.Lock()
        self._blocks: OrderedDict[int, Block] = OrderedDict()
        self._totals: dict[int, np.ndarray] = {}

    # -- scalar path (used when events are built) -------------------------------------------------
    def size(self, second: int, column: int) -> int:
        """Return how many events sub-bucket ``(second, column)`` holds."""
        u = (bucket_hash(self.key, second, column) >> 11) * (1.0 / (1 << 53))
        if column == BURST_COLUMN:
            if u >= self.burst_probability:
                return 0
            return BURST_MIN + mix64(bucket_hash(self.key, second, column) ^ 0xB0057) % (
                BURST_MAX - BURST_MIN + 1
            )
        cdf = self._cdfs[(second // 3600) % 24][column]
        return int(np.searchsorted(cdf, u, side="right"))

    # -- vectorised path (used for counting and for skipping empty seconds) ----------------------
    def sizes(self, first: int, last: int) -> np.ndarray:
        """Return an int64 array ``[seconds, columns]`` of sub-bucket sizes for seconds first..last."""
        if last < first:
            return np.zeros((0, len(COLUMNS)), dtype=np.int64)
        seconds = np.arange(first, last + 1, dtype=np.int64)
        out = np.zeros((seconds.size, len(COLUMNS)), dtype=np.int64)
        base = np.uint64(self.key) ^ (seconds.astype(np.uint64) * np.uint64(_GOLDEN))
        hours = (seconds // 3600) % 24
        for column in range(len(COLUMNS)):
            h = mix64_array(base + np.uint64((column * _COLUMN) & MASK64))
            u = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
            if column == BURST_COLUMN:
                hit = u < self.burst_probability
                if hit.any():
                    extra = mix64_array(h[hit] ^ np.uint64(0xB0057)) % np.uint64(BURST_MAX - BURST_MIN + 1)
                    out[hit, column] = BURST_MIN + extra.astype(np.int64)
                continue
            for hour in np.unique(hours):
                sel = hours == hour
                out[sel, column] = np.searchsorted(self._cdfs[int(hour)][column], u[sel], side="right")
        return out

    def block(self, index: int) -> Block:
        """Return (cached) the non-empty sub-buckets of hour block ``index``."""
        with self._lock:
            found = self._blocks.get(index)
            if found is not None:
                self._blocks.move_to_end(index)
                return found
        first = index * BLOCK_SECONDS
        matrix = self.sizes(first, first + BLOCK_SECONDS - 1)
        rows, cols = np.nonzero(matrix)
        block = Block(
            seconds=rows.astype(np.int64) + first,
            columns=cols.astype(np.int64),
            sizes=matrix[rows, cols],
            totals=matrix.sum(axis=0),
        )
        with self._lock:
            self._blocks[index] = block
            self._totals[index] = block.totals
            while len(self._blocks) > 64:
                self._blocks.popitem(last=False)
        return block

    def count(self, first: int, last: int, columns: list[int]) -> int:
        """Return the number of events in seconds first..last (inclusive) for the given columns."""
        if last < first or not columns:
            return 0
        total = 0
        index = first // BLOCK_SECONDS
        while index * BLOCK_SECONDS <= last:
            lo = max(first, index * BLOCK_SECONDS)
            hi = min(last, (index + 1) * BLOCK_SECONDS - 1)
            if lo == index * BLOCK_SECONDS and hi == (index + 1) * BLOCK_SECONDS - 1:
                with self._lock:
                    totals = self._totals.get(index)
                if totals is None:
                    totals = self.block(index).totals
                total += int(totals[columns].sum())
            else:
                total += int(self.sizes(lo, hi)[:, columns].sum())
            index += 1
        return total

    def nonempty(
        self, first: int, last: int, columns: list[int], descending: bool = False
    ) -> Iterator[tuple[int, list[tuple[int, int]]]]:
        """Yield ``(second, [(column, size), ...])`` for seconds first..last holding events of ``columns``."""
        if last < first or not columns:
            return
        wanted = np.zeros(len(COLUMNS), dtype=bool)
        wanted[columns] = True
        indexes = range(first // BLOCK_SECONDS, last // BLOCK_SECONDS + 1)
        for index in reversed(indexes) if descending else indexes:
            block = self.block(index)
            sel = wanted[block.columns] & (block.seconds >= first) & (block.seconds <= last)
            seconds = block.seconds[sel].tolist()
            cols = block.columns[sel].tolist()
            sizes = block.sizes[sel].tolist()
            groups: list[tuple[int, list[tuple[int, int]]]] = []
            for second, column, size in zip(seconds, cols, sizes, strict=True):
                if groups and groups[-1][0] == second:
                    groups[-1][1].append((column, size))
                else:
                    groups.append((second, [(column, size)]))
            yield from reversed(groups) if descending else groups
