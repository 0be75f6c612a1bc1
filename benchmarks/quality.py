"""Benchmark the quality check: 200,000 and 1,000,000 mapped documents, one core, peak RSS per size.

Usage: ``python benchmarks/quality.py [--sizes 200000 1000000] [--chunk-size 100000] [--pure-python]``.
Each size is generated into a temporary gzip NDJSON file, then checked in a fresh subprocess pinned to
one CPU, so the peak RSS printed is that size's alone. ``--pure-python`` measures the fallback walker used
where the C extension could not be built. Targets: >= 20,000 documents/s, peak RSS < 1.5 GB at 1M, RSS
growth 200k -> 1M < 30%.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_jumpcloud.staging import encode_mapped, write_ndjson  # noqa: E402
from airflow_provider_jumpcloud.windows import Window  # noqa: E402

WINDOW = Window.parse("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
ACTIONS = [("sso", "sso_auth"), ("directory", "admin_login_attempt"), ("radius", "radius_auth_attempt"),
           ("ldap", "ldap_bind"), ("systems", "user_login_attempt"), ("mdm", "mdm_command_result")]
CITIES = [("London", "GB", "Europe", 51.5142, -0.0931), ("Paris", "FR", "Europe", 48.8323, 2.4075),
          ("Denver", "US", "North America", 39.74, -104.99), ("Sydney", "AU", "Oceania", -33.86, 151.2)]


def make_doc(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One realistic mapped document (about 1% error documents, some arrays of objects)."""
    doc_id = f"{i:08x}{rng.getrandbits(64):016x}"
    if i % 100 == 99:
        return "raw-" + doc_id, {
            "ecs": {"version": "8.11.0"}, "tags": ["preserve_original_event"],
            "event": {"kind": "pipeline_error", "original": f"{{'id': '{doc_id}'}}"},
            "error": {"message": ["[json] field [event.original] is not valid JSON"]},
        }
    service, action = ACTIONS[i % len(ACTIONS)]
    city, cc, continent, lat, lon = CITIES[i % len(CITIES)]
    ip = f"{81 + i % 50}.{i % 251}.{(i >> 8) % 251}.{i % 7 + 1}"
    ts_ms = WINDOW.start_ns // 1_000_000 + (i * 86_397) % 86_400_000
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"
    user = f"user{i % 5000}@example.com"
    event: dict[str, Any] = {
        "geoip": {"continent_code": cc[:2], "country_code": cc, "latitude": lat, "longitude": lon,
                  "region_code": "X", "region_name": city, "timezone": "Europe/London"},
        "initiated_by": {"email": user, "id": f"{i % 5000:024x}", "type": "user"},
        "mfa": bool(i % 3), "organization": "1234abcdef123456789abcde", "success": bool(i % 5),
        "useragent": {"major": "109", "minor": "0", "os_major": "10", "os_minor": "15", "patch": "0"},
        "client_ip": ip,
    }
    if service == "mdm":
        event["profile_list"] = [
            {"payload_display_name": "Wi-Fi", "is_managed": True,
             "payload_content": [{"payload_type": "com.apple.wifi", "payload_version": 1},
                                 {"payload_type": "com.apple.vpn", "payload_version": 1.5}]},
        ]
    if service == "sso":
        event["auth_context"] = {"policies_applied": [{"id": "p1", "name": "MFA"}, {"id": "p2", "name": "Geo"}],
                                 "auth_methods": {"password": {"success": True}}}
        event["error_code"] = 0
    doc = {
        "@timestamp": ts,
        "ecs": {"version": "8.11.0"},
        "data_stream": {"type": "logs", "dataset": "jumpcloud.events", "namespace": "default"},
        "event": {"id": doc_id, "action": action, "module": service, "dataset": "jumpcloud.events",
                  "category": ["authentication"], "type": ["info"], "outcome": "success" if i % 5 else "failure",
                  "original": json.dumps({"id": doc_id, "event_type": action, "client_ip": ip})},
        "client": {"ip": ip, "geo": {"city_name": city, "country_iso_code": cc, "continent_name": continent,
                                     "location": {"lat": lat, "lon": lon}}},
        "source": {"ip": ip, "user": {"email": user, "id": f"{i % 5000:024x}"}},
        "user": {"name": user},
        "user_agent": {"name": "Chrome", "version": "109.0.0.0", "os": {"name": "Mac OS X", "version": "10.15.7"}},
        "related": {"ip": [ip], "user": [user]},
        "jumpcloud": {"event": event},
        "tags": ["preserve_original_event"],
    }
    return doc_id, doc


def generate(path: Path, n: int) -> None:
    """Write ``n`` documents to ``path`` (gzip NDJSON), streaming."""
    rng = random.Random(n)
    write_ndjson(path, (encode_mapped(*make_doc(i, rng)).rstrip(b"\n") for i in range(n)))


def run_one(path: str, n: int, chunk_size: int, pure_python: bool) -> dict[str, Any]:
    """Check one file in this process (pinned to one CPU); return timings and peak RSS."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.monotonic()
    import great_expectations  # noqa: F401  (import cost reported separately)

    from airflow_provider_jumpcloud.quality import check_window, flatten

    if pure_python:
        flatten.walk_document = flatten.py_walk

    t1 = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        summary = check_window(path, WINDOW, quality_dir=Path(out) / "q", events_fetched=n,
                               chunk_size=chunk_size, log_chunk=lambda _m: None)
    t2 = time.monotonic()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"documents": summary["documents"], "walker": "python" if flatten.walk_document is flatten.py_walk else "C",
            "chunks": summary["gx"]["chunks"], "verdict": summary["verdict"],
            "reasons": [r["message"] for r in summary["reasons"]][:5], "import_s": round(t1 - t0, 2),
            "check_s": round(t2 - t1, 2), "docs_per_s": round(n / (t2 - t1)), "peak_rss_mb": round(peak_kb / 1024)}


def main() -> None:
    """Generate each size, check it in a fresh subprocess, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--pure-python", action="store_true", help="use the pure-Python walker")
    parser.add_argument("--run", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run[0], int(args.run[1]), args.chunk_size, args.pure_python)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"ecs-{n}.ndjson.gz"
            t = time.monotonic()
            generate(path, n)
            print(f"generated {n} documents in {time.monotonic() - t:.1f} s ({path.stat().st_size >> 20} MiB)")
            command = [sys.executable, __file__, "--run", str(path), str(n), "--chunk-size", str(args.chunk_size)]
            if args.pure_python:
                command.append("--pure-python")
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            results[n] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n:>9} documents: {results[n]}")
            path.unlink()
    if len(results) >= 2:
        small, big = min(results), max(results)
        growth = results[big]["peak_rss_mb"] / results[small]["peak_rss_mb"] - 1
        print(f"peak RSS growth {small} -> {big}: {growth:.1%}")


if __name__ == "__main__":
    main()
