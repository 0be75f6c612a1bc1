"""RFC 3339 timestamps with 0 to 9 fractional digits, as integer nanoseconds since the epoch."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})\Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
NS_PER_S = 1_000_000_000


@lru_cache(maxsize=4096)  # a window's timestamps share a few dates
def _epoch_day(text: str) -> int | None:
    """Days since the epoch of a ``YYYY-MM-DD`` date, or None for an impossible date."""
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:10])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


def parse_ns(value: str) -> int | None:
    """Return epoch nanoseconds for an RFC 3339 timestamp, or None when it is not one."""
    if not isinstance(value, str):
        return None
    m = _RFC3339.match(value)
    if m is None:
        return None
    _year, _month, _day, hour, minute, second, frac, tz = m.groups()
    days = _epoch_day(value[:10])
    h, mi, sec = int(hour), int(minute), int(second)
    if days is None or h > 23 or mi > 59 or sec > 59:
        return None
    seconds = days * 86400 + h * 3600 + mi * 60 + sec
    if tz != "Z" and tz != "z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            return None
        seconds -= sign * (hours * 3600 + minutes * 60)
    nanos = int(frac.ljust(9, "0")) if frac else 0
    return seconds * NS_PER_S + nanos


def ns_to_datetime(ns: int) -> datetime:
    """Return the aware UTC datetime of epoch nanoseconds (microsecond precision)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(value: datetime) -> int:
    """Return epoch nanoseconds of an aware datetime."""
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def format_ns(ns: int, digits: int = 9) -> str:
    """Format epoch nanoseconds as RFC 3339 UTC with ``digits`` fractional digits (0 for none)."""
    seconds, nanos = divmod(ns, NS_PER_S)
    base = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if digits <= 0:
        return base + "Z"
    return f"{base}.{nanos:09d}"[: len(base) + 1 + digits] + "Z"


def format_millis(ns: int) -> str:
    """Format as Elasticsearch renders a date: UTC with exactly three fractional digits."""
    return format_ns(ns, 3)
