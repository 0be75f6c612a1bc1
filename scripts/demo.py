"""Run the jumpcloud_events DAG for one window over the emulator into the file sink, then show the results.

Usage: ``python scripts/demo.py [--events-per-day N] [--interval-minutes M] [--output DIR]``.
Everything goes under ``--output`` (default ``demo-output/``): the Airflow home (SQLite), the staging
area with raw events, ECS documents, quality reports, bulk files and load summaries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "demo-output"), help="folder for every result")
    parser.add_argument("--events-per-day", type=int, default=400_000, help="emulator event rate")
    parser.add_argument("--interval-minutes", type=int, default=60, help="length of the DAG's windows")
    parser.add_argument("--seed", type=int, default=7, help="emulator seed (same seed, same events)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    out = Path(args.output).resolve()
    staging = out / "staging"
    home = out / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "JUMPCLOUD_STAGING_ROOT": str(staging),
            "JUMPCLOUD_INTERVAL_MINUTES": str(args.interval_minutes),
        }
    )
    os.environ.pop("JUMPCLOUD_ELASTICSEARCH_CONN_ID", None)

    step("Starting the Directory Insights emulator")
    from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer

    api_key = "demo-" + os.urandom(8).hex()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    config = EmulatorConfig(seed=args.seed, events_per_day=args.events_per_day, days=2, api_key=api_key, now=now)
    with EmulatorServer(config) as emulator:
        os.environ["AIRFLOW_CONN_JUMPCLOUD_DEFAULT"] = json.dumps(
            {"conn_type": "jumpcloud", "host": emulator.base_url, "password": api_key}
        )
        print(f"   emulator at {emulator.base_url} ({args.events_per_day:,} events/day, seed {args.seed})")

        step("Preparing Airflow (SQLite metadata database)")
        t0 = time.monotonic()
        from airflow.utils.db import initdb

        initdb()
        print(f"   database ready in {time.monotonic() - t0:.1f}s under {home}")

        import importlib.util

        spec = importlib.util.spec_from_file_location("jumpcloud_events", ROOT / "dags" / "jumpcloud_events.py")
        module = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(module)
        interval = timedelta(minutes=args.interval_minutes)
        logical_date = now.replace(minute=0) - interval
        step(f"Running DAG jumpcloud_events for the interval ending {logical_date.isoformat()}")
        t0 = time.monotonic()
        run = module.dag.test(logical_date=logical_date)
        elapsed = time.monotonic() - t0
    print(f"\nDAG run {run.run_id}: {run.state} in {elapsed:.1f}s")
    show_results(staging)
    return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


def show_results(staging: Path) -> None:
    """Print where each stage's output is, with the counts from the summaries."""
    def newest(pattern: str) -> list[Path]:
        return sorted(staging.glob(pattern))

    step("Results")
    for label, pattern in [
        ("raw events (gzip NDJSON)", "raw/*.ndjson.gz"),
        ("ECS documents (gzip NDJSON)", "ecs/*.ndjson.gz"),
        ("quality summary (JSON)", "quality/*/summary.json"),
        ("quality report (HTML Data Docs)", "quality/*/docs/index.html"),
        ("load summary (JSON)", "load/*.json"),
        ("bulk files for Elasticsearch (_bulk NDJSON)", "bulk/*.ndjson"),
        ("dead letters", "dead-letter/*.ndjson"),
    ]:
        paths = newest(pattern)
        print(f"   {label}:")
        for p in paths or ["(none)"]:
            print(f"      {p}")
    for summary in newest("load/*.json"):
        data = json.loads(summary.read_text())
        counts = data.get("counts", data)
        print(f"   load {summary.stem}: {json.dumps(counts, sort_keys=True)}")
    for summary in newest("quality/*/summary.json"):
        data = json.loads(summary.read_text())
        print(f"   quality {summary.parent.name}: verdict {data.get('verdict')}")


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
