"""The emulated event store: deterministic generated history or an explicit list, walked in sort order.

Sort order is ``(epoch_ms, tiebreak)``, the ``X-Search_after`` token. The tiebreak starts with the six
sub-millisecond digits of the displayed timestamp, so that order is also the order of the displayed
timestamp in nanoseconds; nothing is ever held for more than one second of history at a time.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import accumulate
from typing import Any, NamedTuple, Protocol

import orjson

from airflow_provider_jumpcloud.emulator.builders import SERVICE_BUILDERS, Ctx
from airflow_provider_jumpcloud.emulator.config import EmulatorConfig
from airflow_provider_jumpcloud.emulator.pools import Pools, build_pools, uuid_text
from airflow_provider_jumpcloud.emulator.timeline import BURST_COLUMN, COLUMNS, Timeline, bucket_hash
from airflow_provider_jumpcloud.timestamps import NS_PER_S, datetime_to_ns, parse_ns

Predicate = Callable[[dict[str, Any]], bool]
_DRIFT = ("risk_score", "session", "tags")
_UNUSED_RNG = random.Random(0)


class Entry(NamedTuple):
    """One stored event with its sort key and the time it becomes visible."""

    ms: int
    tiebreak: str
    ns: int
    visible_at: int
    event: dict[str, Any]
    raw: bytes | None = None

    def to_json(self) -> bytes:
        """Return the event as served (raw bytes in explicit mode)."""
        return self.raw if self.raw is not None else orjson.dumps(self.event)


class EventSource(Protocol):
    """What the HTTP layer needs from a store."""

    def entries(
        self, lo_ns: int, hi_ns: int, services: frozenset[str] | None, *, descending: bool = False,
        after: tuple[int, str] | None = None, clock_ns: int | None = None,
    ) -> Iterator[Entry]:
        """Yield visible events with ``lo_ns <= ts <= hi_ns`` in sort order, strictly after ``after``."""
        ...

    def count(
        self, lo_ns: int, hi_ns: int, services: frozenset[str] | None, *, clock_ns: int | None = None
    ) -> int:
        """Return how many visible events ``entries`` would yield without a token."""
        ...


def _after_ok(entry: Entry, after: tuple[int, str] | None, descending: bool) -> bool:
    if after is None:
        return True
    key = (entry.ms, entry.tiebreak)
    return key < after if descending else key > after


def _fraction(sub_ns: int, style: str) -> tuple[int, str]:
    """Return (displayed sub-second ns, fraction text with dot) for a timestamp style."""
    if style == "s":
        return 0, ""
    if style == "ms":
        v = sub_ns // 1_000_000
        return v * 1_000_000, f".{v:03d}"
    if style == "us":
        v = sub_ns // 1000
        return v * 1000, f".{v:06d}"
    if sub_ns % 16 == 0:  # a coarser clock: 1-2, 4 or 5 digits once trailing zeros are dropped
        sub_ns -= sub_ns % (10_000_000, 100_000, 10_000)[(sub_ns >> 4) % 3]
    text = f"{sub_ns:09d}".rstrip("0")  # Go's RFC3339Nano: 0-9 digits, trailing zeros dropped
    return sub_ns, f".{text}" if text else ""


class GeneratedSource:
    """Deterministic history of ``config.events_per_day`` over ``config.days`` ending at ``now``."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.timeline = Timeline(config.seed, config.events_per_day, config.burst_fraction)
        self.pools: Pools = build_pools(config.seed)
        anchor = config.fixed_now_ns()
        anchor = anchor if anchor is not None else config.clock_ns()
        self.start_s = anchor // NS_PER_S - int(config.days * 86400)
        self._choosers = {
            service: (style, id_style, list(accumulate(w for w, _ in table)), [b for _, b in table])
            for service, (style, id_style, table) in SERVICE_BUILDERS.items()
        }

    def _end_s(self, clock_ns: int) -> int:
        """Return the first second after the history (exclusive)."""
        fixed = self.config.fixed_now_ns()
        return fixed // NS_PER_S if fixed is not None else clock_ns // NS_PER_S + 1

    def build(self, second: int, parts: list[tuple[int, int]]) -> list[Entry]:
        """Build the events of ``second`` for ``parts`` = ``[(column, size), ...]`` (unsorted)."""
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        late_fraction, max_late = self.config.late_fraction, self.config.max_late_seconds
        key, pools, choosers = self.timeline.key, self.pools, self._choosers
        out = []
        ctx = Ctx(_UNUSED_RNG, pools, second)  # each sub-bucket sets its own PRNG below
        for column, size in parts:
            rng = random.Random(bucket_hash(key, second, column))
            rand = rng.random
            service = COLUMNS[column]
            style, id_style, cumulative, builders = choosers[service]
            if column == BURST_COLUMN:
                style = "s"
            total, single = cumulative[-1], len(builders) == 1
            ctx.rng = rng
            for i in range(size):
                sub, text = _fraction(int(rand() * NS_PER_S), style)
                builder = builders[0] if single else builders[bisect.bisect_right(cumulative, rand() * total)]
                body = builder(ctx)
                if id_style == "hex":
                    eid = f"{second & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"
                else:
                    eid = uuid_text(rng, upper=id_style == "UUID")
                event = body
                event["id"] = eid
                event["service"] = service
                event["timestamp"] = f"{base}{text}Z"
                if rand() < 0.003:  # schema drift: a field the exported-fields table does not know
                    name = _DRIFT[int(rand() * len(_DRIFT))]
                    drift = {"risk_score": 17, "session": {"id": uuid_text(rng)}, "tags": ["beta"]}
                    event[name] = drift[name]
                late_u, delay_u = rand(), rand()
                ns = second * NS_PER_S + sub
                delay = (1 + int(delay_u * max_late)) * NS_PER_S if late_u < late_fraction and max_late else 0
                tiebreak = f"{ns % 1_000_000:06d}{column:02d}{i:05d}"
                out.append(Entry(ns // 1_000_000, tiebreak, ns, ns + delay, event))
        return out

    def _columns(self, services: frozenset[str] | None) -> list[int]:
        return [c for c, name in enumerate(COLUMNS) if services is None or name in services]

    def entries(
        self, lo_ns: int, hi_ns: int, services: frozenset[str] | None, *, descending: bool = False,
        after: tuple[int, str] | None = None, clock_ns: int | None = None,
    ) -> Iterator[Entry]:
        """Yield visible events with ``lo_ns <= ts <= hi_ns`` in sort order, strictly after ``after``."""
        clock = self.config.clock_ns() if clock_ns is None else clock_ns
        first, last = max(lo_ns // NS_PER_S, self.start_s), min(hi_ns // NS_PER_S, self._end_s(clock) - 1)
        if after is not None:
            if descending:
                last = min(last, after[0] // 1000)
            else:
                first = max(first, after[0] // 1000)
        for second, parts in self.timeline.nonempty(first, last, self._columns(services), descending):
            bucket = self.build(second, parts)
            bucket.sort(key=lambda e: (e.ms, e.tiebreak), reverse=descending)
            for e in bucket:
                if lo_ns <= e.ns <= hi_ns and e.visible_at <= clock and _after_ok(e, after, descending):
                    yield e

    def count(
        self, lo_ns: int, hi_ns: int, services: frozenset[str] | None, *, clock_ns: int | None = None
    ) -> int:
        """Count visible events; whole seconds that are surely visible are counted without building."""
        clock = self.config.clock_ns() if clock_ns is None else clock_ns
        full_first = -(-lo_ns // NS_PER_S)
        full_last = (hi_ns + 1) // NS_PER_S - 1
        safe_last = (clock + 1) // NS_PER_S - 1 - self.config.effective_max_late
        a = max(full_first, self.start_s)
        b = min(full_last, safe_last, self._end_s(clock) - 1)
        if a > b:
            return sum(1 for _ in self.entries(lo_ns, hi_ns, services, clock_ns=clock))
        total = self.timeline.count(a, b, self._columns(services))
        if lo_ns < a * NS_PER_S:
            total += sum(1 for _ in self.entries(lo_ns, a * NS_PER_S - 1, services, clock_ns=clock))
        if (b + 1) * NS_PER_S <= hi_ns:
            total += sum(1 for _ in self.entries((b + 1) * NS_PER_S, hi_ns, services, clock_ns=clock))
        return total


class ExplicitSource:
    """Exactly the given events (dicts, or raw JSON served byte for byte), all visible."""

    def __init__(self, events: list[dict[str, Any] | bytes | str]) -> None:
        entries = []
        for index, item in enumerate(events):
            raw = item.encode() if isinstance(item, str) else item if isinstance(item, bytes) else None
            event = orjson.loads(raw) if raw is not None else item
            if not isinstance(event, dict):
                raise ValueError(f"explicit event {index} is not a JSON object")
            ns = parse_ns(event.get("timestamp"))
            if ns is None:
                raise ValueError(f"explicit event {index} has no RFC 3339 timestamp")
            entries.append(Entry(ns // 1_000_000, f"{ns % 1_000_000:06d}{index:07d}", ns, 0, event, raw))
        entries.sort(key=lambda e: (e.ms, e.tiebreak))
        self._entries = entries
        self._keys = [e.ns for e in entries]

    def entries(
        self, lo_ns: int, hi_ns: int, services: frozenset[str] | None, *, descending: bool = False,
        after: tuple[int, str] | None = None, clock_ns: int | None = None,
    ) -> Iterator[Entry]:
        """Yield events with ``lo_ns <= ts <= hi_ns`` in sort order, strictly after ``after``."""
        window = self._entries[bisect.bisect_left(self._keys, lo_ns):bisect.bisect_right(self._keys, hi_ns)]
        for e in reversed(window) if descending else window:
            if (services is None or e.event.get("service") in services) and _after_ok(e, after, descending):
                yield e

    def count(
        self, lo_ns: int, hi_ns: int, services: frozenset[str] | None, *, clock_ns: int | None = None
    ) -> int:
        """Return how many events ``entries`` would yield."""
        return sum(1 for _ in self.entries(lo_ns, hi_ns, services))


def make_source(config: EmulatorConfig) -> EventSource:
    """Return the store a config describes."""
    if config.events is not None:
        return ExplicitSource(list(config.events))
    return GeneratedSource(config)


def _to_ns(value: datetime | str | int) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return datetime_to_ns(value)
    ns = parse_ns(value)
    if ns is None:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp")
    return ns


def _bounds(start: datetime | str | int, end: datetime | str | int, end_inclusive: bool) -> tuple[int, int]:
    lo, hi = _to_ns(start), _to_ns(end)
    return lo, hi if end_inclusive else hi - 1


def _services(services: tuple[str, ...] | list[str] | None) -> frozenset[str] | None:
    return None if not services or "all" in services else frozenset(services)


def expected_events(
    config: EmulatorConfig | EventSource, start: datetime | str | int, end: datetime | str | int,
    services: tuple[str, ...] | list[str] | None = ("all",), *, end_inclusive: bool = False,
    clock_ns: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield, in API order, the events the emulator holds in ``[start, end)`` (``]`` with end_inclusive)."""
    source = make_source(config) if isinstance(config, EmulatorConfig) else config
    lo, hi = _bounds(start, end, end_inclusive)
    for entry in source.entries(lo, hi, _services(services), clock_ns=clock_ns):
        yield entry.event


def expected_count(
    config: EmulatorConfig | EventSource, start: datetime | str | int, end: datetime | str | int,
    services: tuple[str, ...] | list[str] | None = ("all",), *, end_inclusive: bool = False,
    clock_ns: int | None = None,
) -> int:
    """Return how many events the emulator holds in ``[start, end)``, counted without building most."""
    source = make_source(config) if isinstance(config, EmulatorConfig) else config
    lo, hi = _bounds(start, end, end_inclusive)
    return source.count(lo, hi, _services(services), clock_ns=clock_ns)
