"""The ``date`` processor with format ``ISO8601``: parse like Elasticsearch, render ``@timestamp`` like it.

Parsing follows Elasticsearch's ``Iso8601Parser`` (8.14 and later) for the ``iso8601`` format: a 4-digit
year, then optionally ``-MM``, ``-dd``, ``T``, ``HH``, ``:mm``, ``:ss`` and a fraction of 1 to 9 digits after
``.`` or ``,``; missing fields default to the start of the period. A zone may follow the hour, minute, second
or fraction: ``Z``, a numeric offset ``+HH``, ``+HHmm``, ``+HH:mm``, ``+HH:mm:ss`` (at most 18 hours), or a
``java.time`` zone id (``UTC``, ``GMT+2``, ``Europe/Paris``); no zone means UTC. The output is the default
output format of the date processor, ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX`` in UTC: milliseconds, truncated, and
``Z``. Pure functions, no datetime objects on the fast path.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from functools import lru_cache

from airflow_provider_jumpcloud.ecs.render import java_string

# The common shape: full date-time in UTC, any fraction. Validated and rendered without arithmetic.
_FAST_HEAD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):\Z")
_HEADS: dict[str, bool] = {}  # fast-path verdict per 'YYYY-MM-DDTHH:' (a window spans few of them)
_HEADS_MAX = 4096
_MINUTES_SECONDS = frozenset(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))  # valid 'MM:SS'
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ZONE_ID = re.compile(r"[A-Za-z][A-Za-z0-9~/._+-]+\Z")
_MAX_OFFSET = 18 * 3600


class DateParseError(ValueError):
    """The value is not an ISO 8601 date Elasticsearch's date processor accepts."""


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    return 29 if month == 2 and _leap(year) else _DAYS[month - 1]


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def _year_text(year: int) -> str:
    """Render a year like java.time's ``yyyy`` (year of era, sign when more than 4 digits)."""
    yoe = year if year > 0 else 1 - year
    return f"+{yoe}" if yoe > 9999 else f"{yoe:04d}"


def _digits(s: str, start: int, end: int) -> int | None:
    if len(s) < end:
        return None
    part = s[start:end]
    if len(part) != end - start or not part.isascii() or not part.isdigit():
        return None
    return int(part)


@lru_cache(maxsize=256)
def _region(zone: str) -> zoneinfo.ZoneInfo | None:
    if not _ZONE_ID.match(zone) or ".." in zone:
        return None
    try:
        return zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _offset_text(text: str) -> int | None:
    """Parse ``+h``, ``+hh``, ``+hh:mm``, ``+hhmm``, ``+hh:mm:ss``, ``+hhmmss`` like ``ZoneOffset.of``."""
    if len(text) < 2 or text[0] not in "+-":
        return None
    body = text[1:]
    if len(body) == 1 and body.isdigit():
        h, m, s = int(body), 0, 0
    else:
        m_ = re.fullmatch(r"([0-9]{2})(?::?([0-9]{2})(?::?([0-9]{2}))?)?", body)
        if m_ is None or (":" in body and body.count(":") != (1 if m_.group(3) is None else 2)):
            return None
        h, m, s = int(m_.group(1)), int(m_.group(2) or 0), int(m_.group(3) or 0)
        if m > 59 or s > 59:
            return None
    if h > 18 or (h == 18 and (m or s)):
        return None
    total = h * 3600 + m * 60 + s
    return -total if text[0] == "-" else total


def _zone(s: str, pos: int) -> int | zoneinfo.ZoneInfo | None:
    """Parse the zone at ``pos``: a fixed offset in seconds, a region, or None when invalid."""
    first = s[pos]
    if first == "Z" and len(s) == pos + 1:
        return 0
    if first in "+-":
        positive = first == "+"
        p = pos + 1
        hours = _digits(s, p, p + 2)
        if hours is None:
            return None
        p += 2
        minutes = seconds = 0
        if p < len(s):
            colon = s[p] == ":"
            p += colon
            minutes = _digits(s, p, p + 2)
            if minutes is None:
                return None
            p += 2
            if p < len(s):
                if (s[p] == ":") != colon:
                    return None
                p += colon
                seconds = _digits(s, p, p + 2)
                if seconds is None or p + 2 != len(s):
                    return None
        total = hours * 3600 + minutes * 60 + seconds
        if total > _MAX_OFFSET:
            return None
        return total if positive else -total
    zone = s[pos:]
    if zone == "Z":
        return 0
    for prefix in ("UTC", "GMT", "UT"):
        if zone == prefix:
            return 0
        if zone.startswith(prefix) and zone[len(prefix)] in "+-":
            return _offset_text(zone[len(prefix) :])
    return _region(zone)


def _is_zone_start(c: str) -> bool:
    return c in "+-" or ("A" <= c <= "Z") or ("a" <= c <= "z")


def _parse_fields(s: str) -> tuple[int, int, int, int, int, int, int, int | zoneinfo.ZoneInfo] | None:
    """Port of ``Iso8601Parser.parse`` with only the year mandatory; returns the fields and the zone."""
    n = len(s)
    year = _digits(s, 0, 4)
    if year is None:
        return None
    month, day, hour, minute, second, nanos = 1, 1, 0, 0, 0, 0
    zone: int | zoneinfo.ZoneInfo | None = 0
    if n == 4:
        return year, month, day, hour, minute, second, nanos, zone
    if s[4] != "-":
        return None
    month = _digits(s, 5, 7)
    if month is None or month > 12:
        return None
    if n == 7:
        return year, month, day, hour, minute, second, nanos, zone
    if s[7] != "-":
        return None
    day = _digits(s, 8, 10)
    if day is None or day > 31:
        return None
    if n == 10 or (n == 11 and s[10] == "T"):
        return year, month, day, hour, minute, second, nanos, zone
    if s[10] != "T":
        return None
    hour = _digits(s, 11, 13)
    if hour is None or hour > 23:
        return None
    pos = 13
    for field in ("minute", "second"):
        if n == pos:
            return year, month, day, hour, minute, second, nanos, zone
        if _is_zone_start(s[pos]):
            zone = _zone(s, pos)
            return None if zone is None else (year, month, day, hour, minute, second, nanos, zone)
        if s[pos] != ":":
            return None
        value = _digits(s, pos + 1, pos + 3)
        if value is None or value > 59:
            return None
        if field == "minute":
            minute = value
        else:
            second = value
        pos += 3
    if n == pos:
        return year, month, day, hour, minute, second, nanos, zone
    if _is_zone_start(s[pos]):
        zone = _zone(s, pos)
        return None if zone is None else (year, month, day, hour, minute, second, nanos, zone)
    if s[pos] not in ".,":
        return None
    end = pos + 1
    while end < n and end < pos + 10 and "0" <= s[end] <= "9":
        end += 1
    if end == pos + 1:
        return None
    nanos = int(s[pos + 1 : end].ljust(9, "0"))
    if end == n:
        return year, month, day, hour, minute, second, nanos, zone
    if _is_zone_start(s[end]):
        zone = _zone(s, end)
        return None if zone is None else (year, month, day, hour, minute, second, nanos, zone)
    return None


def _render(year: int, month: int, day: int, hour: int, minute: int, second: int, millis: int) -> str:
    return f"{_year_text(year)}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def _fast_head(head: str) -> bool:
    """True when ``YYYY-MM-DDTHH:`` is a valid ASCII calendar date and hour; the verdict is cached."""
    # Digits are guaranteed by the pattern, so two-character strings compare like numbers.
    ok = (
        _FAST_HEAD.match(head) is not None
        and "01" <= head[5:7] <= "12"
        and head[:4] != "0000"
        and 1 <= int(head[8:10]) <= _days_in_month(int(head[:4]), int(head[5:7]))
    )
    if len(_HEADS) >= _HEADS_MAX:
        _HEADS.clear()
    _HEADS[head] = ok
    return ok


def py_fast_timestamp(value: object) -> str | None:
    """The fast path of :func:`es_timestamp` (pure Python), or None when the value needs the general parser.

    Takes 'YYYY-MM-DDTHH:MM:SS' + optional '.' or ',' and 1-9 digits + 'Z'. 'MM:SS' is looked up in the set of
    valid ones and the verdict on 'YYYY-MM-DDTHH:' is cached (a window spans few of them).
    """
    if type(value) is str and 20 <= len(value) <= 30 and value[-1] == "Z" and value[14:19] in _MINUTES_SECONDS:
        ok = _HEADS.get(value[:14])
        if ok or (ok is None and _fast_head(value[:14])):
            n = len(value)
            if n == 20:
                return value[:19] + ".000Z"
            frac = value[20:-1]
            if frac.isdigit() and frac.isascii():
                if value[19] == ".":
                    return value[:23] + "Z" if n >= 24 else f"{value[:-1]:0<23}Z"
                if value[19] == ",":
                    return f"{value[:19]}.{frac[:3]:0<3}Z"
    return None


def es_timestamp(value: object) -> str:
    """Return ``@timestamp`` as Elasticsearch's date processor (format ISO8601) renders ``value``.

    Raises :class:`DateParseError` with Elasticsearch's message when the value does not parse.
    """
    return fast_timestamp(value) or parse_general(value)


def parse_general(value: object) -> str:
    """The general ISO 8601 path of :func:`es_timestamp`, without the fast path (same results)."""
    text = value if type(value) is str else java_string(value)
    fields = _parse_fields(text[1:]) if text.startswith("-") else _parse_fields(text) if text else None
    if fields is None:
        raise DateParseError(f"unable to parse date [{text}]")
    year, month, day, hour, minute, second, nanos, zone = fields
    if text.startswith("-"):
        year = -year
    if day > _days_in_month(year, month):
        raise DateParseError(f"unable to parse date [{text}]")
    if isinstance(zone, int):
        offset = zone
    else:
        offset = _region_offset(zone, year, month, day, hour, minute, second)
        if offset is None:
            raise DateParseError(f"unable to parse date [{text}]")
    epoch_s = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    days, rem = divmod(epoch_s, 86400)
    y, mo, d = _civil_from_days(days)
    return _render(y, mo, d, rem // 3600, rem % 3600 // 60, rem % 60, nanos // 1_000_000)


def _region_offset(
    zone: zoneinfo.ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int
) -> int | None:
    """UTC offset of a local time in a region; gaps/overlaps resolve to the same instant as java.time."""
    if not 1 <= year <= 9999:
        return None
    delta = datetime(year, month, day, hour, minute, second, tzinfo=zone).utcoffset()
    return None if delta is None else int(delta.total_seconds())


try:  # the fast path in C, from _speedups.c (optional extension); same results
    from airflow_provider_jumpcloud.ecs._speedups import fast_timestamp
except ImportError:  # pragma: no cover - no compiler where the package was installed
    fast_timestamp = py_fast_timestamp
