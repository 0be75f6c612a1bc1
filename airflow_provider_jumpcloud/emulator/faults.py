"""Fault injection: error statuses, slow answers, cut bodies, resets, non-JSON; by request number or odds.

Spec syntax (command line ``--fault`` and :meth:`FaultPlan.add_spec`):

- ``KIND@N`` fault on request number N (1-based, every request the server receives counts);
  ``KIND@N*T`` on requests N..N+T-1;
- ``KIND~P`` on each request with probability P, drawn from the run's seed (reproducible);
- an optional ``:ARG``: Retry-After seconds for status kinds (``429@3:2``), the delay for ``slow``
  (``slow@7:2.5``) and ``drip`` (seconds between pieces), the kept fraction of the body for ``truncate``
  (``truncate@9:0.3``).

Kinds: an HTTP status (``401``, ``402``, ``403``, ``429``, ``500``, ``502``, ``503``, ``504``...), ``slow``
(answer normally after a delay), ``drip`` (headers at once, then the body 64 bytes per delay: a slow body),
``truncate`` (send part of a valid page, then close), ``reset`` (close the connection without an answer),
``nonjson`` (200 with an HTML body and no paging headers), ``badgzip`` (the answer labelled
``Content-Encoding: gzip`` but not decodable), ``echo`` (the normal answer with an ``X-Request-Id`` that
repeats the client's credential) and ``echobody`` (200 with a text body and ``X-Request-Id`` quoting it).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass

ACTION_KINDS = frozenset({"slow", "drip", "truncate", "reset", "nonjson", "badgzip", "echo", "echobody"})
_SPEC = re.compile(
    r"^(?P<kind>[a-z]+|\d{3})(?:@(?P<at>\d+)(?:\*(?P<times>\d+))?|~(?P<p>[0-9.]+))(?::(?P<arg>[0-9.]+))?$"
)


@dataclass
class Fault:
    """One planned fault; ``at_request`` and ``probability`` are exclusive."""

    kind: str
    at_request: int | None = None
    times: int = 1
    probability: float | None = None
    retry_after: float | None = None
    delay: float = 1.0
    fraction: float = 0.5
    path: str | None = None

    def __post_init__(self) -> None:
        self.kind = str(self.kind).lower()
        if self.kind not in ACTION_KINDS and not (self.kind.isdigit() and 400 <= int(self.kind) <= 599):
            raise ValueError(f"unknown fault kind {self.kind!r}: use an HTTP status 4xx/5xx or one of "
                             f"{sorted(ACTION_KINDS)}")
        if (self.at_request is None) == (self.probability is None):
            raise ValueError("a fault needs exactly one of at_request and probability")
        if self.at_request is not None and (self.at_request < 1 or self.times < 1):
            raise ValueError("at_request and times must be >= 1")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be in [0, 1]")
        if not 0.0 <= self.fraction < 1.0 or self.delay < 0:
            raise ValueError("fraction must be in [0, 1) and delay >= 0")

    @property
    def status(self) -> int | None:
        """Return the HTTP status of a status fault, None for the other kinds."""
        return int(self.kind) if self.kind.isdigit() else None

    def matches_number(self, number: int) -> bool:
        """Whether this fault is scheduled for request ``number`` (probability faults never are)."""
        return self.at_request is not None and self.at_request <= number < self.at_request + self.times


def parse_fault(spec: str) -> Fault:
    """Parse a fault spec such as ``429@3``, ``503@5*2:1``, ``slow@7:2.5`` or ``500~0.1``."""
    m = _SPEC.match(spec.strip().lower())
    if m is None:
        raise ValueError(f"bad fault spec {spec!r}: expected KIND@N[*TIMES][:ARG] or KIND~PROB[:ARG]")
    kind, arg = m["kind"], m["arg"]
    fault = Fault(
        kind,
        at_request=int(m["at"]) if m["at"] else None,
        times=int(m["times"]) if m["times"] else 1,
        probability=float(m["p"]) if m["p"] else None,
    )
    if arg is not None:
        if kind in ("slow", "drip"):
            fault.delay = float(arg)
        elif kind == "truncate":
            fault.fraction = float(arg)
        elif fault.status is not None:
            fault.retry_after = float(arg)
        Fault.__post_init__(fault)
    if kind == "429" and fault.retry_after is None:
        fault.retry_after = 1
    return fault


class FaultPlan:
    """The faults of one run, and how many of each were served (thread-safe)."""

    def __init__(self, seed: int = 0, specs: tuple[str, ...] | list[str] = ()) -> None:
        self.seed = seed
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.served: Counter[str] = Counter()
        for spec in specs:
            self.add_spec(spec)

    def add(
        self, kind: str | int, *, at_request: int | None = None, times: int = 1,
        probability: float | None = None, retry_after: float | None = None, delay: float = 1.0,
        fraction: float = 0.5, path: str | None = None,
    ) -> Fault:
        """Plan a fault; ``path`` (e.g. ``/events/count``) restricts it to URLs ending that way."""
        if str(kind) == "429" and retry_after is None:
            retry_after = 1
        fault = Fault(str(kind), at_request, times, probability, retry_after, delay, fraction, path)
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_spec(self, spec: str) -> Fault:
        """Plan a fault from its text form (see the module docstring)."""
        fault = parse_fault(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget every planned fault (the served counts stay)."""
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        return len(self._faults)

    def pick(self, number: int, path: str) -> Fault | None:
        """Return the fault to serve for request ``number`` on ``path`` (and count it), or None."""
        with self._lock:
            candidates = [f for f in self._faults if f.path is None or path.endswith(f.path)]
            chosen = next((f for f in candidates if f.matches_number(number)), None)
            if chosen is None:
                for index, fault in enumerate(candidates):
                    if fault.probability is None:
                        continue
                    draw = random.Random(f"{self.seed}:{number}:{index}").random()
                    if draw < fault.probability:
                        chosen = fault
                        break
            if chosen is not None:
                self.served[chosen.kind] += 1
            return chosen
