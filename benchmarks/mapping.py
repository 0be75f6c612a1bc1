"""Benchmark the ECS mapper against a plain orjson round trip, on one core, on two mixes of events.

Mixes of 100,000 raw events (``--events``), each measured in a fresh process so its peak RSS is its own:

* ``samples``: the fixture sample events (``tests/fixtures/samples/*.json``) as they are, with varied ids
  and timestamps; nothing synthetic is added (small events, 0.4 to 3 KB);
* ``mdm-heavy``: the same with 2% mdm-sized events (a 16-profile ``profile_list``, ~70 KB) and 1% bad lines.

For each mix, in the same process:

* mapper: ``EventMapper.map`` + ``orjson.dumps`` of the staging line (what ``map_file`` does per line);
* baseline: ``orjson.loads`` + ``orjson.dumps`` of the same lines.

Both run in interleaved rounds on one core and the best round of each is kept, which damps noise from
other processes. Each round is timed by the wall clock and by the thread's CPU time (which excludes time
spent descheduled on a busy machine); both ratios (mapper events/s / baseline events/s) are printed and
checked against the target (>= 0.4). ``--pure-python`` measures without the C accelerator of the pruning
step. Run: ``python benchmarks/mapping.py [--mix samples|mdm-heavy] [--pure-python]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "tests" / "fixtures" / "samples"
CERT = "MIIDtzCCAp+gAwIBAgIQDOfg5RfYRv6P5WD8G/AwOTANBgkqhkiG9w0BAQUFADBlMQswCQYDVQQGEwJVUzEV" * 16
MIXES = ("samples", "mdm-heavy")
TARGET = 0.4
CLOCKS = ("wall clock", "CPU time")


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
        "id": f"{i:024x}", "timestamp": f"2023-07-05T23:00:{i % 60:02d}.{i:09d}Z"[:29] + "Z",
        "organization": "5f5f5f5f5f5f5f5f5f5f5f5f", "command_uuid": f"{i:032x}",
        "request_type": "ProfileList",
        "status": "Acknowledged", "error_chain": None, "mdm_device_id": "dev", "profile_list": profiles,
    }


def _compact(data: bytes) -> bytes:
    """Copy into an exactly sized object: orjson's result keeps its growth buffer (6x RSS for 1 KB lines)."""
    return bytes(memoryview(data))


def sample_line(rng: random.Random, samples: list[dict]) -> bytes:
    """One sample event with a random id and a random timestamp (0 to 9 fraction digits)."""
    ev = dict(rng.choice(samples))
    ev["id"] = f"{rng.getrandbits(96):024x}"
    frac = str(rng.getrandbits(30))[: rng.choice([0, 3, 6, 8, 9])]
    stamp = f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T1{rng.randint(0, 9)}:"
    stamp += f"{rng.randint(10, 59)}:{rng.randint(10, 59)}"
    ev["timestamp"] = stamp + (f".{frac}" if frac else "") + "Z"
    return _compact(orjson.dumps(ev))


def build_lines(n: int, mix: str, seed: int = 7) -> list[bytes]:
    """The ``n`` raw lines of a mix (see the module docstring); deterministic for a seed."""
    rng = random.Random(seed)
    samples = load_samples()
    if mix == "samples":
        return [sample_line(rng, samples) for _ in range(n)]
    bad = [b"not json", b"[1,2,3]", b'{"id": "x", "a": "\xff"}', b'{"broken": ']
    lines = []
    for i in range(n):
        r = rng.random()
        if r < 0.01:
            lines.append(bad[i % len(bad)])
        elif r < 0.03:
            lines.append(_compact(orjson.dumps(mdm_event(i))))
        else:
            lines.append(sample_line(rng, samples))
    return lines


def run_mapper(lines: list[bytes], map_line: Callable[[bytes], Any], encode: Callable[..., bytes]) -> list[float]:
    """Map every line and encode its staging line; return [wall seconds, CPU seconds]."""
    start, cpu = time.perf_counter(), time.thread_time()
    for line in lines:
        doc_id, doc, _ = map_line(line)
        encode(doc_id, doc)
    return [time.perf_counter() - start, time.thread_time() - cpu]


def run_baseline(lines: list[bytes]) -> list[float]:
    """orjson loads + dumps of every line; return [wall seconds, CPU seconds]."""
    start, cpu = time.perf_counter(), time.thread_time()
    loads, dumps = orjson.loads, orjson.dumps
    for line in lines:
        try:
            dumps(loads(line))
        except orjson.JSONDecodeError:
            dumps(line.decode("utf-8", "replace"))
    return [time.perf_counter() - start, time.thread_time() - cpu]


def measure(mix: str, events: int, rounds: int, pure_python: bool) -> dict[str, Any]:
    """Measure one mix in this process (pinned to one core); return its figures."""
    if pure_python:  # the import of the C accelerator fails, prune.py falls back to its Python walk
        sys.modules["airflow_provider_jumpcloud.ecs._speedups"] = None  # type: ignore[assignment]
    from airflow_provider_jumpcloud.ecs import prune
    from airflow_provider_jumpcloud.ecs.pipeline import EventMapper
    from airflow_provider_jumpcloud.staging import encode_mapped

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    lines = build_lines(events, mix)
    mapper = EventMapper(("forwarded",))
    best_map = [float("inf")] * 2
    best_base = [float("inf")] * 2
    for _ in range(rounds):
        best_base = list(map(min, best_base, run_baseline(lines)))
        best_map = list(map(min, best_map, run_mapper(lines, mapper.map, encode_mapped)))
    n = len(lines)
    return {
        "mix": mix,
        "events": n,
        "mb": sum(map(len, lines)) / 1e6,
        "rounds": rounds,
        "accelerator": "pure Python" if prune.prune_dict is prune.py_prune_dict else "C accelerator",
        "mapper": [n / s for s in best_map],
        "baseline": [n / s for s in best_base],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def report(result: dict[str, Any]) -> list[str]:
    """The printed lines of one mix."""
    lines = [f"mix {result['mix']}: {result['events']:,} events ({result['mb']:.1f} MB), best of "
             f"{result['rounds']} rounds, one core, {result['accelerator']}"]
    for clock, map_rate, base_rate in zip(CLOCKS, result["mapper"], result["baseline"], strict=True):
        lines.append(f"  [{clock:>10}] mapper (map + staging line): {map_rate:,.0f} events/s; "
                     f"baseline (orjson loads+dumps): {base_rate:,.0f} events/s; ratio {map_rate / base_rate:.3f}")
    lines.append(f"  peak RSS: {result['peak_rss_mib']:.1f} MiB (includes the mix's input lines)")
    return lines


def verdict(result: dict[str, Any]) -> str:
    """One line: does the mix meet the target ratio, by each clock."""
    parts = []
    for clock, map_rate, base_rate in zip(CLOCKS, result["mapper"], result["baseline"], strict=True):
        ratio = map_rate / base_rate
        parts.append(f"{clock} {ratio:.3f} {'MET' if ratio >= TARGET else 'NOT MET'}")
    return f"target ratio >= {TARGET} on {result['mix']}: " + ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mix", choices=MIXES, action="append", help="only this mix (repeatable)")
    parser.add_argument("--pure-python", action="store_true", help="without the C accelerator")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one mix, JSON out
    args = parser.parse_args()
    mixes = args.mix or list(MIXES)
    if args.child:
        print(json.dumps(measure(mixes[0], args.events, args.rounds, args.pure_python)))
        return 0
    results = []
    for mix in mixes:  # one process per mix: each peak RSS is the mix's own
        command = [sys.executable, __file__, "--child", "--mix", mix, "--events", str(args.events),
                   "--rounds", str(args.rounds)] + (["--pure-python"] if args.pure_python else [])
        proc = subprocess.run(command, check=True, capture_output=True, text=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print("\n".join(report(results[-1])), flush=True)
    for result in results:
        print(verdict(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
