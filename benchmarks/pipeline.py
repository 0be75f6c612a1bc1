"""One 1,000,000-event window through the whole pipeline: emulator -> staging -> ECS -> quality -> file sink.

Like the DAG, the window is split by ``/events/count`` into sub-windows (``--subwindow-events``, default
500,000) processed ``--lanes`` at a time (default 2, one per core), each sub-window running
fetch -> map -> quality -> load. Each task runs in its own process, as on an Airflow worker, so its peak RSS
is its own; the emulator runs in a further process. Prints events/s per stage (events / task-seconds),
end-to-end events/s (events / wall time) and peak RSS per task. ``--lanes 1 --subwindow-events 2000000``
runs the window as one sequential chain.

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
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
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
    if name == "plan":
        from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
        from airflow_provider_jumpcloud.windows import Window, split_by_count

        window = Window.from_dict(args["window"])
        with JumpCloudHook() as hook:
            # Shrink the window's end (bisection on /events/count) until it holds about the target.
            low, high = window.start, window.end
            for _ in range(30):
                middle = low + (high - low) / 2
                if hook.count_events(window.start, middle) < args["target_events"]:
                    low = middle
                else:
                    high = middle
            window = Window(window.start, high.replace(microsecond=0))
            total = hook.count_events(window.start, window.end - timedelta(microseconds=1))
        parts = split_by_count(window, total, args["subwindow_events"])
        print(json.dumps({"manifest": {"count": total, "windows": [w.as_dict() for w in parts]}, "seconds": 0,
                          "rss_mb": 0}))
        return
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
    parser.add_argument("--lanes", type=int, default=2, help="sub-windows processed at once (one per core)")
    parser.add_argument("--subwindow-events", type=int, default=500_000,
                        help="split the window by /events/count like the DAG (max_events_per_window)")
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.stage:
        stage_main(ns.stage, json.loads(ns.args))
        return 0

    staging = Path(ns.keep) if ns.keep else Path(tempfile.mkdtemp(prefix="jc-bench-"))
    port = free_port()
    key = "bench-" + os.urandom(6).hex()
    per_day = ns.events * 24 / HOURS * 1.2  # the daily curve varies; plan trims the window to --events
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
        t_all = time.perf_counter()
        plan = run_stage("plan", {**args, "subwindow_events": ns.subwindow_events,
                                   "target_events": ns.events})["manifest"]
        print(f"{plan['count']:,} events counted; {len(plan['windows'])} sub-window(s), {ns.lanes} lane(s)",
              flush=True)

        def lane(sub: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
            sub_args = {**args, "window": sub}
            fetched = run_stage("fetch", sub_args)
            mapped = run_stage("map", {**sub_args, "manifest": fetched["manifest"]})
            checked = run_stage("quality", {**sub_args, "manifest": mapped["manifest"]})
            loaded = run_stage("load", {**sub_args, "manifest": mapped["manifest"]})
            print(f"  sub-window {sub['start']} .. {sub['end']}: {fetched['manifest']['counts']['fetched']:,} "
                  f"events, quality {checked['manifest'].get('verdict')}", flush=True)
            return [("fetch", fetched), ("map", mapped), ("quality", checked), ("load", loaded)]

        with ThreadPoolExecutor(max_workers=ns.lanes) as pool:
            results = list(pool.map(lane, plan["windows"]))
        total = time.perf_counter() - t_all
    finally:
        emulator.terminate()
        emulator.wait(10)
    events = sum(dict(r)["fetch"]["manifest"]["counts"]["fetched"] for r in results)
    api = sum(dict(r)["fetch"]["manifest"]["api_count"] for r in results)
    loads = [dict(r)["load"]["manifest"]["counts"] for r in results]
    print(f"\n{events:,} events fetched (API count {api:,}); loaded {sum(c['read'] for c in loads):,}, "
          f"indexed {sum(c['indexed'] for c in loads):,}, dead letters {sum(c['dead_lettered'] for c in loads)}")
    print(f"{'stage (per task)':<22} {'task-seconds':>12} {'events/s':>10} {'peak RSS MB':>12}")
    labels = {"fetch": "fetch (API -> raw)", "map": "map (raw -> ECS)", "quality": "quality (GX)",
              "load": "load (file sink)"}
    for stage, label in labels.items():
        rows = [dict(r)[stage] for r in results]
        seconds = sum(row["seconds"] for row in rows)
        print(f"{label:<22} {seconds:>12.1f} {events / seconds:>10,.0f} {max(row['rss_mb'] for row in rows):>12.0f}")
    peak = max(row["rss_mb"] for r in results for _, row in r)
    print(f"{'end to end (wall)':<22} {total:>12.1f} {events / total:>10,.0f} {peak:>12.0f}")
    if not ns.keep:
        shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
