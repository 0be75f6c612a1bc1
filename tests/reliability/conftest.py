"""Reliability suite: a ledger of scenario reconciliations and hostile-input counts, printed at the end."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.reliability.harness import Account

#: Reconciled scenarios, in the order they ran.
LEDGER: list[Account] = []
#: Hostile inputs tried and crashes (unexpected exceptions) found, per component.
HOSTILE: Counter[str] = Counter()
CRASHES: Counter[str] = Counter()


@pytest.fixture
def ledger() -> list[Account]:
    """Append an :class:`Account` after asserting it; it is printed in the terminal summary."""
    return LEDGER


@pytest.fixture(scope="session")
def hostile() -> tuple[Counter[str], Counter[str]]:
    """``(tried, crashes)`` counters keyed by component."""
    return HOSTILE, CRASHES


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """Print the scenario table and the hostile-input totals."""
    write = terminalreporter.write_line
    if LEDGER:
        terminalreporter.section("reliability: every event accounted for")
        head = (f"{'scenario':<42}{'expected':>9}{'fetched':>9}{'mapped':>8}{'errdocs':>8}{'indexed':>9}"
                f"{'present':>9}{'dead':>6}{'accounted':>10}{'dups':>6}  ok")
        write(head)
        for a in LEDGER:
            ok = a.accounted == a.expected and a.duplicates == 0 and not a.missing and not a.unexpected
            write(f"{a.scenario:<42}{a.expected:>9}{a.fetched:>9}{a.mapped:>8}{a.error_documents:>8}"
                  f"{a.indexed:>9}{a.already_present:>9}{a.dead_lettered:>6}{a.accounted:>10}"
                  f"{a.duplicates:>6}  {'yes' if ok else 'NO'}")
        equal = all(a.accounted == a.expected for a in LEDGER)
        dups = sum(a.duplicates for a in LEDGER)
        write(f"scenarios: {len(LEDGER)}; expected == accounted in all: {equal}; duplicates: {dups}")
    if HOSTILE:
        terminalreporter.section("reliability: hostile input")
        for name in sorted(HOSTILE):
            write(f"{name:<28} tried {HOSTILE[name]:>7}  crashes {CRASHES[name]}")
        write(f"hostile inputs tried: {sum(HOSTILE.values())}, crashes: {sum(CRASHES.values())}")
