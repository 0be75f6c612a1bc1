"""Benchmark the ECS mapper against a plain orjson round trip, on one core.

Builds 100,000 mixed raw events (the sample events with varied ids and timestamps, some mdm-sized events
with a 16-profile ``profile_list`` and some bad lines), then measures in the same run:

* mapper: ``EventMapper.map`` + ``orjson.dumps`` of the staging line (what ``map_file`` does per line);
* baseline: ``orjson.loads`` + ``orjson.dumps`` of the same lines.

Both run in interleaved rounds on one core and the best round of each is kept, which damps noise from
other processes. Each round is timed by the wall clock and by the thread's CPU time (which excludes time
spent descheduled on a busy machine); both ratios are printed, the target (>= 0.33) applies to either.
Prints events/s, the ratios and peak RSS. Run: ``python benchmarks/mapping.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_jumpcloud.ecs.pipeline import EventMapper  # noqa: E402
from airflow_provider_jumpcloud.staging import encode_mapped  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "samples"
CERT = "MIIDtzCCAp+gAwIBAgIQDOfg5RfYRv6P5WD8G/AwOTANBgkqhkiG9w0BAQUFADBlMQswCQYDVQQGEwJVUzEV" * 16


def load_samples() -> list[dict]:
    events = []
    for path in sorted(SAMPLES.glob("*.json")):
        events.extend(json.loads(path.read_text())["events"])
    return events


def mdm_event(i: int) -> dict:
    """An mdm_command_result shaped like Elastic's pipeline test event 2 (16 profiles, 3 certificates)."""
    profiles = [
        {
            "payload_identifier": f"com.example.profile.{p}",
            "payload_display_name": f"Profile {p}",
            "payload_uuid": f"{p:08X}-0000-0000-0000-000000000000",
            "payload_version": 1,
            "payload_removal_disallowed": False,
            "has_removal_passcode": False,
            "is_encrypted": False,
            "is_managed": True,
            "signer_certificates": [CERT, CERT, CERT],
            "payload_content": None if p == 5 else [
                {"payload_type": "com.apple.security.root", "payload_identifier": f"c{p}",
                 "payload_organization": "", "payload_description": "", "payload_version": 1}
            ],
        }
        for p in range(16)
    ]
    return {
        "@version": "1", "service": "mdm", "event_type": "mdm_command_result", "mdm_type": "apple",
        "id": f"{i:024x}", "timestamp": f"2023-07-05T23:00:{i % 60:02d}.{i:09d}Z"[:30] + "Z",
        "organization": "5f5f5f5f5f5f5f5f5f5f5f5f", "command_uuid": f"{i:032x}",
        "request_type": "ProfileList",
        "status": "Acknowledged", "error_chain": None, "mdm_device_id": "dev", "profile_list": profiles,
    }


def _compact(data: bytes) -> bytes:
    """Copy into an exactly sized object: orjson's result keeps its growth buffer (6x RSS for 1 KB lines)."""
    return bytes(memoryview(data))


def build_lines(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    samples = load_samples()
    bad = [b"not json", b"[1,2,3]", b'{"id": "x", "a": "\xff"}', b'{"broken": ']
    lines = []
    for i in range(n):
        r = rng.random()
        if r < 0.01:
            lines.append(bad[i % len(bad)])
        elif r < 0.03:
            lines.append(_compact(orjson.dumps(mdm_event(i))))
        else:
            ev = dict(rng.choice(samples))
            ev["id"] = f"{rng.getrandbits(96):024x}"
            frac = str(rng.getrandbits(30))[: rng.choice([0, 3, 6, 8, 9])]
            stamp = f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T1{rng.randint(0, 9)}:"
            stamp += f"{rng.randint(10, 59)}:{rng.randint(10, 59)}"
            ev["timestamp"] = stamp + (f".{frac}" if frac else "") + "Z"
            lines.append(_compact(orjson.dumps(ev)))
    return lines


def run_mapper(lines: list[bytes], mapper: EventMapper) -> tuple[float, float]:
    """Map every line and encode its staging line; return (wall seconds, CPU seconds)."""
    start, cpu = time.perf_counter(), time.thread_time()
    m = mapper.map
    for line in lines:
        doc_id, doc, _ = m(line)
        encode_mapped(doc_id, doc)
    return time.perf_counter() - start, time.thread_time() - cpu


def run_baseline(lines: list[bytes]) -> tuple[float, float]:
    """orjson loads + dumps of every line; return (wall seconds, CPU seconds)."""
    start, cpu = time.perf_counter(), time.thread_time()
    loads, dumps = orjson.loads, orjson.dumps
    for line in lines:
        try:
            dumps(loads(line))
        except orjson.JSONDecodeError:
            dumps(line.decode("utf-8", "replace"))
    return time.perf_counter() - start, time.thread_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    lines = build_lines(args.events)
    mb = sum(map(len, lines)) / 1e6
    mapper = EventMapper(("forwarded",))
    best_map = [float("inf")] * 2
    best_base = [float("inf")] * 2
    for _ in range(args.rounds):
        best_base = list(map(min, best_base, run_baseline(lines)))
        best_map = list(map(min, best_map, run_mapper(lines, mapper)))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"events: {len(lines)} ({mb:.1f} MB), best of {args.rounds} rounds, one core")
    for i, clock in enumerate(("wall clock", "CPU time")):
        map_rate, base_rate = len(lines) / best_map[i], len(lines) / best_base[i]
        print(f"[{clock}] mapper (map + staging line): {map_rate:,.0f} events/s; "
              f"baseline (orjson loads+dumps): {base_rate:,.0f} events/s; "
              f"ratio {map_rate / base_rate:.3f} (target >= 0.33)")
    print(f"peak RSS: {peak_kib / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
