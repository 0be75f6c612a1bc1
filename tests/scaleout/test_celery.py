"""A real CeleryExecutor run: two workers, S3 staging on a local S3 server, one worker killed mid-task.

It runs ``benchmarks/scaleout.py``'s harness over 6 hours of emulator events in 3 sub-windows (about 2 to 3
minutes on the project's 2-core machine); the benchmark itself covers 2 days.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import scaleout


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_celery_workers_stage_on_s3_and_survive_a_killed_worker(tmp_path: Path) -> None:
    settings = scaleout.Settings(hours=6, events_per_day=20_000, max_events_per_window=2_000, kill_worker=True,
                                 run_timeout=300)
    outcome = scaleout.run_scaleout(settings, tmp_path)
    scaleout.report(outcome)
    assert outcome.ok, "\n".join(str(check) for check in outcome.checks)
    assert outcome.sub_windows >= 2 and outcome.events == outcome.expected > 1000
    assert outcome.killed in scaleout.WORKERS and outcome.retried_on in set(scaleout.WORKERS) - {outcome.killed}
