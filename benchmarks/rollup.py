"""Benchmark the quality roll-up: 90 days of 15-minute window reports (8,640 summary.json files).

Usage: ``python benchmarks/rollup.py [--days 90] [--keep DIR] [--screenshot docs/quality-rollup.png]``.
One real summary is made by the quality check over 2,000 realistic documents (``benchmarks/quality.py``'s
generator), then 8,640 variations of it are written as a staging root (sizes as the check writes them): about
200 documents a window, every 97th window short of events, a field mistyped from day 30, drift fields from
days 45 and 60, two windows without a report. The roll-up runs in a fresh process; it prints seconds, peak
RSS and the RSS after 1/4, 1/2 and all of the windows (flat memory: they should barely differ). Target:
under 30 s.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_jumpcloud.staging import StagingLayout, write_json  # noqa: E402
from airflow_provider_jumpcloud.windows import Window  # noqa: E402

STEP = timedelta(minutes=15)


def _quality_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def template_summary(tmp: Path) -> dict[str, Any]:
    """A real summary.json of the quality check over 2,000 generated documents."""
    from airflow_provider_jumpcloud.quality import check_window
    from airflow_provider_jumpcloud.staging import encode_mapped, write_ndjson

    bench = _quality_bench()
    rng = random.Random(7)
    path = tmp / "template.ndjson.gz"
    write_ndjson(path, (encode_mapped(*bench.make_doc(i, rng)).rstrip(b"\n") for i in range(2000)))
    check_window(path, bench.WINDOW, quality_dir=tmp / "template", events_fetched=2000, api_count=2000)
    return orjson.loads((tmp / "template" / "summary.json").read_bytes())


def write_staging(root: Path, days: int, template: dict[str, Any]) -> tuple[Window, int, int]:
    """Write ``days`` x 96 window summaries with known faults; return the span, files and bytes written."""
    layout = StagingLayout.at(root)
    start = Window.parse("2026-01-01T00:00:00Z", "2026-01-01T00:15:00Z").start
    span = Window(start, start + timedelta(days=days))
    rng = random.Random(11)
    field = "client.ip" if "client.ip" in template["fields"] else next(iter(template["fields"]))
    files = size = 0
    for i in range(days * 96):
        window = Window(start + i * STEP, start + (i + 1) * STEP)
        if i in (1000, 5000):
            continue  # no report: a gap
        summary = copy.deepcopy(template)
        n = 150 + rng.randrange(100)
        summary["window"] = window.as_dict()
        summary["documents"] = n
        summary["error_documents"] = 1 if i % 50 == 0 else 0
        api = n + (3 if i % 97 == 0 else 0)
        summary["completeness"] = {"documents": n, "events_fetched": n, "api_count": api}
        for stat in summary["fields"].values():
            stat["checked"], stat["failed"] = n, 0
        day = i // 96
        if day >= 30:
            summary["fields"][field].update(failed=2, examples=['"oops"'])
        summary["fields_failed"] = [field] if day >= 30 else []
        unknown = {}
        if day >= 45:
            unknown["jumpcloud.event.risk_score"] = {"documents": 5, "examples": ["17", "42"]}
        if day >= 60 and i % 3 == 0:
            unknown["jumpcloud.event.device.posture"] = {"documents": 1, "examples": ['"ok"']}
        summary["unknown_fields"], summary["unknown_fields_total"] = unknown, len(unknown)
        summary["verdict"] = "fail" if day >= 30 or api > n else "warn" if unknown or i % 50 == 0 else "pass"
        path = layout.quality_dir(window) / "summary.json"
        write_json(path, summary)
        files += 1
        size += path.stat().st_size
    return span, files, size


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_rollup(root: str, start: str, end: str, out: str) -> None:
    """In this (fresh) process: roll up and print one JSON line of figures."""
    from airflow_provider_jumpcloud.quality.rollup import build_rollup

    span = Window.parse(start, end)
    total = sum(1 for p in (Path(root) / "quality").iterdir() if "-" in p.name)
    marks: dict[str, float] = {}

    def progress(read: int) -> None:
        for label, share in (("quarter", 4), ("half", 2), ("all", 1)):
            if read == total // share:
                marks[label] = round(_rss_mb(), 1)

    started = time.monotonic()
    result = build_rollup(root, span, out, progress=progress)
    seconds = time.monotonic() - started
    print(json.dumps({
        "windows": result["totals"]["windows"], "seconds": round(seconds, 2),
        "seconds_aggregating": result["seconds_aggregating"], "rss_mb": marks,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "page_bytes": Path(result["reports"]["page"]).stat().st_size,
        "rollup_json_bytes": Path(result["reports"]["rollup"]).stat().st_size,
        "headline": result["headline"], "page": result["reports"]["page"],
    }))


def screenshot(page: str, target: Path) -> None:
    """Save a headless Chromium screenshot of the page (for the README)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={target}", "--window-size=1280,1900", Path(page).as_uri()],
                   capture_output=True, timeout=120, check=True)


def main() -> None:
    """Generate the staging root, roll it up in a fresh process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", help="write the staging root here and keep it")
    parser.add_argument("--screenshot", help="save a screenshot of the page to this PNG")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_rollup(*args.child)
        return
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="jc-rollup-bench-"))
    try:
        started = time.monotonic()
        template = template_summary(tmp)
        span, files, size = write_staging(tmp / "staging", args.days, template)
        print(f"wrote {files} summary.json files, {size / 2**20:.1f} MiB (mean {size / files / 1024:.1f} KiB, "
              f"{len(template['fields'])} fields each) in {time.monotonic() - started:.1f} s")
        out = tmp / "staging" / "quality" / "ranges" / "bench"
        child = subprocess.run([sys.executable, __file__, "--child", str(tmp / "staging"), span.as_dict()["start"],
                                span.as_dict()["end"], str(out)], capture_output=True, text=True, check=True)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(figures.pop("headline"))
        print(json.dumps(figures, indent=1))
        if args.screenshot:
            screenshot(figures["page"], Path(args.screenshot))
            print(f"screenshot: {args.screenshot}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
