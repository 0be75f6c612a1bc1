from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, resource, time
    import orjson
    from airflow_provider_jumpcloud.emulator import EmulatorConfig, expected_count, expected_events

    config = EmulatorConfig(seed=7, events_per_day=20_000_000, days=1, now="2026-01-01T00:00:00Z")
    start, end = "2025-12-31T14:00:00Z", "2025-12-31T14:47:00Z"
    total = expected_count(config, start, end)
    for _ in expected_events(config, start, "2025-12-31T14:00:05Z"):  # warm up imports and pools
        pass
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    n = size = 0
    for event in expected_events(config, start, end):
        n += 1
        size += len(orjson.dumps(event))
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": total, "streamed": n, "bytes": size, "seconds": elapsed,
                      "rss_before_kb": before, "rss_after_kb": after}))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_million_event_window_streams_in_bounded_memory():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    print(stats)
    assert stats["streamed"] == stats["count"] >= 1_000_000
    # Held in memory, a million ~1 kB events would be over 1 GB; streaming stays within tens of MB.
    assert stats["bytes"] > 900_000_000
    assert stats["rss_after_kb"] - stats["rss_before_kb"] < 100 * 1024
