"""One 1,000,000-event window through the whole pipeline: emulator -> staging -> ECS -> quality -> file sink.

Each task runs in its own process, as it would on an Airflow worker, so its peak RSS is its own; the
emulator runs in a further process. Prints events/s per stage, end-to-end events/s and peak RSS per task.

    python benchmarks/pipeline.py [--events 1000000] [--keep DIR]
Targets: end to end >= 10,000 events/s on a 2-core machine; every task's peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOW = "2026-01-01T00:00:00Z"
HOURS = 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_stage(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one task's operator in a fresh process; return its manifest, seconds and peak RSS."""
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", name, json.dumps(args)],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stage_main(name: str, args: dict[str, Any]) -> None:
    """Child process: execute one operator and print a JSON line with its result."""
    os.environ["AIRFLOW_CONN_JUMPCLOUD_DEFAULT"] = json.dumps(
        {"conn_type": "jumpcloud", "host": args["base_url"], "password": args["api_key"], "extra": {"timeout": 300}}
    )
    t0 = time.perf_counter()
    if name == "fetch":
        from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator

        op: Any = JumpCloudToStorageOperator(task_id="fetch", staging_root=args["staging"], window=args["window"],
                                             retention_days=100_000)
    elif name == "map":
        from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator

        op = JumpCloudEventsToEcsOperator(task_id="map", manifest=args["manifest"], staging_root=args["staging"])
    elif name == "quality":
        from airflow_provider_jumpcloud.operators.quality import JumpCloudEcsQualityCheckOperator

        op = JumpCloudEcsQualityCheckOperator(task_id="quality", manifest=args["manifest"],
                                              staging_root=args["staging"], policy={"min_completeness": 0.0})
    else:
        from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator

        op = JumpCloudEcsToElasticsearchOperator(task_id="load", manifest=args["manifest"],
                                                 staging_root=args["staging"], sink="file")
    result = op.execute({})
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"manifest": result, "seconds": seconds, "rss_mb": rss_mb}, default=str))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="about this many events in the window")
    parser.add_argument("--keep", default=None, help="keep the staging area in this folder")
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.stage:
        stage_main(ns.stage, json.loads(ns.args))
        return 0

    staging = Path(ns.keep) if ns.keep else Path(tempfile.mkdtemp(prefix="jc-bench-"))
    port = free_port()
    key = "bench-" + os.urandom(6).hex()
    per_day = ns.events * 24 / HOURS
    emulator = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_jumpcloud.emulator", "--port", str(port), "--api-key", key,
         "--events-per-day", str(per_day), "--days", "1", "--now", NOW, "--late-fraction", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        base_url = emulator.stdout.readline().strip().split()[-1]
        window = {"start": "2025-12-31T12:00:00Z", "end": f"2025-12-31T{12 + HOURS}:00:00Z"}
        print(f"window {window['start']} .. {window['end']} from {base_url}, staging {staging}", flush=True)
        args = {"base_url": base_url, "api_key": key, "staging": str(staging), "window": window}
        rows = []
        t_all = time.perf_counter()
        fetched = run_stage("fetch", args)
        events = fetched["manifest"]["counts"]["fetched"]
        rows.append(("fetch (API -> raw staging)", fetched))
        mapped = run_stage("map", {**args, "manifest": fetched["manifest"]})
        rows.append(("map (raw -> ECS)", mapped))
        checked = run_stage("quality", {**args, "manifest": mapped["manifest"]})
        rows.append(("quality (GX checks)", checked))
        loaded = run_stage("load", {**args, "manifest": mapped["manifest"]})
        rows.append(("load (file sink)", loaded))
        total = time.perf_counter() - t_all
    finally:
        emulator.terminate()
        emulator.wait(10)
    print(f"\n{events:,} events (API count {fetched['manifest']['api_count']:,})")
    print(f"{'stage':<28} {'seconds':>8} {'events/s':>10} {'peak RSS MB':>12}")
    for label, row in rows:
        print(f"{label:<28} {row['seconds']:>8.1f} {events / row['seconds']:>10,.0f} {row['rss_mb']:>12.0f}")
    print(f"{'end to end (4 tasks)':<28} {total:>8.1f} {events / total:>10,.0f} "
          f"{max(r['rss_mb'] for _, r in rows):>12.0f}")
    print(f"quality verdict: {checked['manifest'].get('verdict')}; "
          f"load counts: {json.dumps(loaded['manifest']['counts'], sort_keys=True)}")
    if not ns.keep:
        shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
