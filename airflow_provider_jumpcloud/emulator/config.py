"""Settings of one emulator run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_jumpcloud.timestamps import NS_PER_S, datetime_to_ns, parse_ns

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
EVENTS_PATH = "/insights/directory/v1/events"


@dataclass(frozen=True)
class EmulatorConfig:
    """What the emulated Directory Insights tenant holds and how its API behaves.

    :param seed: same seed, same events (byte for byte).
    :param events_per_day: average generated rate (a daily curve and RADIUS bursts vary it).
    :param days: length of the generated history, ending at ``now``.
    :param retention_days: queries starting earlier than ``now - retention_days`` get a 400.
    :param api_key: the only accepted ``x-api-key`` (never shown in reprs or logs).
    :param org_id: when set, ``x-org-id`` must carry it (403 otherwise).
    :param now: end of the history and reference for "future" and retention checks; ``None`` means the
        real clock (live mode: the history grows and the newest events trickle in).
    :param late_fraction: share of events that only become visible ``1..max_late_seconds`` after their
        timestamp, measured on ``clock_ns`` (real time by default, so a ``now`` in the past shows all).
    :param burst_fraction: share of events that come in RADIUS bursts of 50-250 identical timestamps.
    :param events: explicit-events mode: serve exactly these (dicts, or raw JSON bytes/str served as is).
    :param faults: fault specs as on the command line (``429@3``, ``slow@7:2.5``, ``503~0.1``).
    :param clock_ns: the wall clock, injectable for tests (also the clock of token expiry).
    :param client_id: service-account client id accepted by ``POST /oauth2/token``; None disables the endpoint.
    :param client_secret: that client's secret (never shown in reprs or logs).
    :param token_lifetime: seconds an issued bearer token stays valid (its ``expires_in``).
    """

    seed: int = 7
    events_per_day: float = 20_000
    days: float = 20
    retention_days: float = 90
    api_key: str = field(default="demo-key", repr=False)
    org_id: str | None = None
    now: datetime | str | None = None
    late_fraction: float = 0.01
    max_late_seconds: int = 300
    burst_fraction: float = 0.05
    events: Sequence[dict[str, Any] | bytes | str] | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    faults: Sequence[str] = ()
    clock_ns: Callable[[], int] = field(default=time.time_ns, repr=False, compare=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_lifetime: float = 3600.0

    def __post_init__(self) -> None:
        if self.events_per_day < 0 or self.days < 0 or self.retention_days <= 0:
            raise ValueError("events_per_day and days must be >= 0 and retention_days > 0")
        if not 0.0 <= self.late_fraction <= 1.0 or self.max_late_seconds < 0:
            raise ValueError("late_fraction must be in [0, 1] and max_late_seconds >= 0")
        if not 0.0 <= self.burst_fraction < 1.0:
            raise ValueError("burst_fraction must be in [0, 1)")
        if not self.api_key:
            raise ValueError("api_key must not be empty")
        if self.client_id is not None and not (self.client_id and self.client_secret):
            raise ValueError("a service account needs a non-empty client_id and client_secret")
        if not self.token_lifetime > 0:
            raise ValueError("token_lifetime must be > 0 seconds")
        self.fixed_now_ns()  # validate early

    def fixed_now_ns(self) -> int | None:
        """Return ``now`` as epoch nanoseconds floored to a whole second, or None in live mode."""
        if self.now is None:
            return None
        if isinstance(self.now, datetime):
            if self.now.tzinfo is None:
                raise ValueError("now must be timezone-aware")
            ns = datetime_to_ns(self.now)
        else:
            parsed = parse_ns(self.now)
            if parsed is None:
                raise ValueError(f"now {self.now!r} is not an RFC 3339 timestamp")
            ns = parsed
        return ns - ns % NS_PER_S

    def now_ns(self) -> int:
        """Return the emulator's current time: the fixed ``now`` or the clock."""
        fixed = self.fixed_now_ns()
        return fixed if fixed is not None else self.clock_ns()

    @property
    def effective_max_late(self) -> int:
        """Return the longest visibility delay in seconds (0 when nothing arrives late)."""
        return self.max_late_seconds if self.late_fraction > 0 else 0
