"""Half-open time windows ``[start, end)``: validation, lag, retention limits, splitting by count."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_jumpcloud.exceptions import InvalidWindowError, JumpCloudConfigError, RetentionError
from airflow_provider_jumpcloud.timestamps import datetime_to_ns, format_ns, parse_ns

#: Retention of the Directory Insights API by plan: 15 days on the lowest plan, 90 otherwise.
RETENTION_DAYS_CHOICES = (15, 90)
DEFAULT_RETENTION_DAYS = 90


def to_utc(value: Any, *, name: str = "time") -> datetime:
    """Return an aware UTC datetime from an aware datetime, a pendulum object or an RFC 3339 string."""
    if isinstance(value, str):
        ns = parse_ns(value.strip())
        if ns is None:
            raise InvalidWindowError(f"{name} {value!r} is not an RFC 3339 timestamp with a time zone")
        value = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
            microsecond=(ns % 1_000_000_000) // 1000
        )
    if not isinstance(value, datetime):
        raise InvalidWindowError(
            f"{name} must be a datetime or an RFC 3339 string, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidWindowError(
            f"{name} {value.isoformat()} is a naive datetime; pass an aware datetime "
            "(e.g. pendulum.datetime(..., tz='UTC')) so the window is unambiguous"
        )
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
        tzinfo=value.tzinfo,
    ).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open UTC interval ``[start, end)``; consecutive windows tile time exactly once."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, name="start"))
        object.__setattr__(self, "end", to_utc(self.end, name="end"))
        if self.start >= self.end:
            raise InvalidWindowError(
                f"window start {self.start.isoformat()} must be before end {self.end.isoformat()}"
            )

    @classmethod
    def parse(cls, start: Any, end: Any) -> Window:
        """Build a window from datetimes, pendulum objects or RFC 3339 strings."""
        return cls(to_utc(start, name="start"), to_utc(end, name="end"))

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Window:
        """Build a window from ``{"start": ..., "end": ...}`` as stored in manifests."""
        return cls.parse(data["start"], data["end"])

    @property
    def count_end(self) -> datetime:
        """End to send to ``/events/count``: the API's ``end_time`` may be inclusive, the window is not."""
        return self.end - timedelta(microseconds=1)

    @property
    def start_ns(self) -> int:
        """Start as epoch nanoseconds."""
        return datetime_to_ns(self.start)

    @property
    def end_ns(self) -> int:
        """End as epoch nanoseconds."""
        return datetime_to_ns(self.end)

    @property
    def duration(self) -> timedelta:
        """Length of the window."""
        return self.end - self.start

    def contains_ns(self, ns: int) -> bool:
        """Whether epoch nanoseconds fall in ``[start, end)``."""
        return self.start_ns <= ns < self.end_ns

    def shifted(self, delta: timedelta) -> Window:
        """Return the window moved by ``delta`` (negative to move back)."""
        return Window(self.start + delta, self.end + delta)

    def api_bounds(self) -> tuple[str, str]:
        """Return ``(start_time, end_time)`` as RFC 3339 strings for the API body."""
        return _api_time(self.start), _api_time(self.end)

    def as_dict(self) -> dict[str, str]:
        """Return ``{"start", "end"}`` ISO strings, the form stored in manifests and XCom."""
        return {"start": _api_time(self.start), "end": _api_time(self.end)}

    @property
    def key(self) -> str:
        """A file-name-safe identifier, e.g. ``20250101T040000Z-20250101T041500Z``."""
        return f"{_compact(self.start)}-{_compact(self.end)}"

    @classmethod
    def from_key(cls, key: str) -> Window:
        """Parse a :attr:`key` back into its window (raises InvalidWindowError for other text)."""
        parts = key.split("-")
        if len(parts) != 2:
            raise InvalidWindowError(f"{key!r} is not a window key like 20250101T040000Z-20250101T041500Z")
        return cls(_from_compact(parts[0], key), _from_compact(parts[1], key))

    def overlaps(self, other: Window) -> bool:
        """Whether the two half-open windows share any instant."""
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        start, end = self.api_bounds()
        return f"[{start}, {end})"


def _api_time(value: datetime) -> str:
    ns = datetime_to_ns(value)
    return format_ns(ns, 6 if value.microsecond else 0)


def _compact(value: datetime) -> str:
    text = value.strftime("%Y%m%dT%H%M%S")
    if value.microsecond:
        text += f"{value.microsecond:06d}"
    return text + "Z"


def _from_compact(text: str, key: str) -> datetime:
    formats = {16: "%Y%m%dT%H%M%SZ", 22: "%Y%m%dT%H%M%S%fZ"}
    try:
        return datetime.strptime(text, formats[len(text)]).replace(tzinfo=UTC)
    except (KeyError, ValueError):
        raise InvalidWindowError(f"{key!r} is not a window key like 20250101T040000Z-20250101T041500Z") from None


def lagged(start: Any, end: Any, lag: timedelta) -> Window:
    """Return the fetch window ``[start - lag, end - lag)`` for a data interval and a lag."""
    if lag < timedelta(0):
        raise InvalidWindowError(f"lag must not be negative, got {lag}")
    return Window.parse(start, end).shifted(-lag)


def oldest_fetchable(retention_days: int, now: datetime | None = None) -> datetime:
    """Return the oldest start time the API serves for a retention of ``retention_days``."""
    if retention_days <= 0:
        raise InvalidWindowError(f"retention_days must be positive, got {retention_days}")
    now = to_utc(now, name="now") if now is not None else datetime.now(UTC)
    return now - timedelta(days=retention_days)


def check_retention(window: Window, retention_days: int, now: datetime | None = None) -> None:
    """Raise RetentionError when ``window`` starts before the API's retention limit."""
    oldest = oldest_fetchable(retention_days, now)
    if window.start < oldest:
        raise RetentionError(
            f"window {window} starts before the oldest fetchable time {oldest.isoformat()} "
            f"(retention {retention_days} days); JumpCloud no longer serves these events. "
            "Start the backfill at or after that time.",
            oldest=oldest.isoformat(),
        )
    if window.duration > timedelta(days=retention_days):
        raise InvalidWindowError(
            f"window {window} is longer than the retention of {retention_days} days"
        )


def split_by_count(window: Window, count: int, max_events: int) -> list[Window]:
    """Split ``window`` into equal sub-windows expected to hold at most ``max_events`` each.

    Sub-windows tile the window exactly (half-open, no gap, no overlap); the split is by time,
    so a burst can still put more than ``max_events`` into one sub-window (the hook pages anyway).
    """
    if max_events <= 0:
        raise InvalidWindowError(f"max_events must be positive, got {max_events}")
    parts = max(1, math.ceil(max(count, 0) / max_events))
    total_us = (window.end - window.start) // timedelta(microseconds=1)
    parts = min(parts, max(1, total_us))
    bounds = [window.start + timedelta(microseconds=total_us * i // parts) for i in range(parts)]
    bounds.append(window.end)
    return [Window(a, b) for a, b in itertools.pairwise(bounds) if a < b]


def plan_subwindows(
    interval_start: Any,
    interval_end: Any,
    *,
    lag: timedelta,
    retention_days: int,
    services: tuple[str, ...],
    max_events: int,
    count: Callable[..., int],
    now: datetime | None = None,
) -> list[Window]:
    """Return the sub-windows to fetch for a data interval: lagged, retention-checked, split by count.

    ``count(start, end, services=...)`` is the API's ``/events/count``; it is called only after the
    window has passed the lag, retention and service checks.
    """
    validate_services(services)
    window = lagged(interval_start, interval_end, lag)
    check_retention(window, retention_days, now)
    total = count(window.start, window.count_end, services=services)
    return split_by_count(window, total, max_events)


#: A range clipped at the retention starts this much after the oldest fetchable time, on a whole hour, so its
#: first sub-window is still fetchable when its fetch task runs (retries included).
CLIP_MARGIN = timedelta(hours=1)
#: Bisection stops at sub-windows this short, however many events they hold (the hook pages anyway).
MIN_SPLIT = timedelta(seconds=2)


def clip_to_retention(
    window: Window, retention_days: int, *, clip: bool, now: datetime | None = None
) -> tuple[Window, str | None]:
    """Return the part of ``window`` the API can still serve, and a message when it was clipped.

    With ``clip`` a start before the oldest fetchable time moves to the next whole hour after it plus
    :data:`CLIP_MARGIN`; without it, such a window raises :class:`RetentionError` (before any API call),
    as does a window that lies wholly outside the retention.
    """
    oldest = oldest_fetchable(retention_days, now)
    if window.start >= oldest:
        return window, None
    if not clip:
        check_retention(window, retention_days, now)
    later = oldest + CLIP_MARGIN
    start = later.replace(minute=0, second=0, microsecond=0)
    start = start if start == later else start + timedelta(hours=1)
    if start >= window.end:
        raise RetentionError(
            f"range {window} ends before the oldest fetchable time {oldest.isoformat()} (retention "
            f"{retention_days} days, plus a margin of {CLIP_MARGIN}); JumpCloud no longer serves these events. "
            "Re-map them from the raw archive with source='archive' if they were staged.",
            oldest=oldest.isoformat(),
        )
    clipped = Window(start, window.end)
    return clipped, (
        f"range start {_api_time(window.start)} is before the oldest fetchable time {_api_time(oldest)} "
        f"(retention {retention_days} days): clipped to {_api_time(start)}, so the range is {clipped}"
    )


def split_range_by_count(
    window: Window, *, count: Callable[[Window], int], max_events: int
) -> list[tuple[Window, int]]:
    """Split a range into consecutive sub-windows of at most ``max_events`` events each, by bisection.

    ``count(window)`` is the API's event count of a window. A sub-window holding more than ``max_events`` is
    halved (on a whole second) until it fits or is :data:`MIN_SPLIT` short; the right half's count is the
    rest of its parent's, so each split costs one count. Neighbours are then merged while together they
    still fit, so the quiet halves bisection leaves beside a burst coalesce again, and a quiet range stays
    whole: 18,000 events over 3 days with ``max_events=500,000`` are one sub-window. Returns
    ``[(sub-window, count), ...]`` in time order, tiling the range exactly (half-open, no gap, no overlap).
    """
    if max_events <= 0:
        raise InvalidWindowError(f"max_events must be positive, got {max_events}")
    done: list[tuple[Window, int]] = []
    todo = [(window, count(window))]
    while todo:
        part, total = todo.pop()
        half = timedelta(seconds=(part.duration // 2).total_seconds() // 1)
        if total <= max_events or part.duration < 2 * MIN_SPLIT or half <= timedelta(0):
            done.append((part, total))
            continue
        left, right = Window(part.start, part.start + half), Window(part.start + half, part.end)
        left_total = count(left)
        todo.append((right, max(0, total - left_total)))
        todo.append((left, left_total))
    merged: list[tuple[Window, int]] = []
    for part, total in done:
        if merged and merged[-1][1] + total <= max_events:
            merged[-1] = (Window(merged[-1][0].start, part.end), merged[-1][1] + total)
        else:
            merged.append((part, total))
    return merged


def plan_range(
    window: Window,
    *,
    retention_days: int,
    clip: bool,
    services: tuple[str, ...],
    max_events: int,
    count: Callable[[Window], int],
    now: datetime | None = None,
) -> tuple[list[tuple[Window, int]], list[str]]:
    """Plan a range backfill: check services and the range, clip it to the retention, split it by count.

    Everything but the split happens before any API call. Returns ``[(sub-window, count), ...]`` and the
    notes worth logging (the clipping).
    """
    validate_services(services)
    now = to_utc(now, name="now") if now is not None else datetime.now(UTC)
    if window.end > now:
        raise InvalidWindowError(
            f"range {window} ends after now ({_api_time(now)}); a backfill covers the past: end it at or before "
            "now, and leave the newest minutes to the scheduled DAG, which waits for late events"
        )
    window, note = clip_to_retention(window, retention_days, clip=clip, now=now)
    return split_range_by_count(window, count=count, max_events=max_events), [note] if note else []


#: Service names the Directory Insights API documents (plus ``all``); extend with JUMPCLOUD_EXTRA_SERVICES.
KNOWN_SERVICES = frozenset(
    {
        "all", "access_management", "aigw", "alert", "alerts", "asset_management", "di_events", "directory",
        "genai", "ldap", "mdm", "notifications", "object_storage", "password_manager", "radius", "reports",
        "saas_app_management", "software", "sso", "systems", "workflows",
    }
)


def validate_services(services: tuple[str, ...] | list[str]) -> None:
    """Raise JumpCloudConfigError for an empty list, unknown names, or ``all`` mixed with others."""
    extra = {s.strip() for s in os.environ.get("JUMPCLOUD_EXTRA_SERVICES", "").split(",") if s.strip()}
    known = KNOWN_SERVICES | extra
    if not services:
        raise JumpCloudConfigError("services must name at least one service, e.g. ['all']")
    unknown = sorted(s for s in services if s not in known)
    if unknown:
        raise JumpCloudConfigError(
            f"unknown JumpCloud service(s) {unknown}; valid: {sorted(known)} "
            "(set JUMPCLOUD_EXTRA_SERVICES=name1,name2 for services newer than this provider)"
        )
    if "all" in services and len(services) > 1:
        raise JumpCloudConfigError("'all' already includes every service; do not combine it with others")
