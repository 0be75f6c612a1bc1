"""Benchmark the load stage: 200,000 mapped documents into the Elasticsearch double and into the file sink.

Writes synthetic mapped documents (Elastic's sample ECS document with varied ids, times and IPs) to a
temporary gzip NDJSON window, then runs each sink in a fresh subprocess and prints documents/s and the
peak RSS of that subprocess. The Elasticsearch double runs in its own process (``store_documents=False``),
so the loader's figures are not mixed with the server's. Run: ``python benchmarks/load.py [--docs N]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_jumpcloud.staging import atomic_writer, encode_mapped  # noqa: E402

SAMPLE = ROOT / "tests" / "fixtures" / "elastic_sample_event.json"


def make_window(path: Path, n: int) -> int:
    base = json.loads(SAMPLE.read_text())
    for key in ("agent", "elastic_agent", "input", "data_stream"):
        base.pop(key, None)
    base["event"].pop("agent_id_status", None)
    with atomic_writer(path) as (out, result):
        for i in range(n):
            doc = copy.deepcopy(base)
            doc["event"]["id"] = f"{i:024x}"
            doc["@timestamp"] = (
                f"2023-01-14T08:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z"
            )
            doc["client"]["ip"] = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            doc["event"]["dataset"] = "jumpcloud.events"  # the mapping stage stamps it (manifest "stamped")
            out.write(encode_mapped(f"bench-{i:09d}", doc))
    return result.size


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_file(src: Path, out_dir: Path, prestamped: bool = True) -> dict:
    from airflow_provider_jumpcloud.sinks.files import write_bulk_file

    t0 = time.perf_counter()
    result = write_bulk_file(src, out_dir / "bulk.ndjson", namespace="bench", prestamped=prestamped)
    seconds = time.perf_counter() - t0
    label = "file (stamped by map, byte splice)" if prestamped else "file (decode + re-encode)"
    return {"sink": label, "docs": result.indexed, "seconds": seconds, "counts": result.counts()}


def run_es(src: Path, out_dir: Path, url: str, chunk_size: int) -> dict:
    from airflow_provider_jumpcloud.sinks.elasticsearch import (
        build_client,
        configure_client,
        ensure_data_stream,
        install_templates,
        load_window,
    )

    client = configure_client(build_client(url), backoff_base=0)
    install_templates(client)
    ensure_data_stream(client, "logs-jumpcloud.events-bench")
    t0 = time.perf_counter()
    result = load_window(
        client, src, namespace="bench", dead_letter_path=out_dir / "dead.ndjson", chunk_size=chunk_size
    )
    seconds = time.perf_counter() - t0
    return {
        "sink": f"elasticsearch (double, chunk {chunk_size})",
        "docs": result.indexed,
        "seconds": seconds,
        "counts": result.counts(),
    }


def serve_double() -> None:
    from tests.support.elasticsearch_double import ElasticsearchDouble

    with ElasticsearchDouble(store_documents=False) as double:
        print(double.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        print(json.dumps({"double_peak_rss_mb": round(peak_rss_mb(), 1), **double.stats}), flush=True)


def child(args: argparse.Namespace) -> None:
    src, out_dir = Path(args.input), Path(args.out)
    if args.child == "es":
        report = run_es(src, out_dir, args.url, args.chunk_size)
    else:
        report = run_file(src, out_dir, prestamped=args.child == "file")
    report["docs_per_s"] = report["docs"] / report["seconds"]
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(report))


def spawn(*extra: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *extra], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--child", choices=["file", "file-decode", "es"])
    parser.add_argument("--serve-double", action="store_true")
    parser.add_argument("--input")
    parser.add_argument("--out")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.serve_double:
        serve_double()
        return
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="jc-load-bench-") as tmp:
        src = Path(tmp) / "window.ndjson.gz"
        t0 = time.perf_counter()
        size = make_window(src, args.docs)
        took = time.perf_counter() - t0
        print(f"input: {args.docs:,} mapped documents, {size / 1e6:.1f} MB gzip ({took:.1f}s)")
        common = ["--input", str(src), "--out", tmp]
        reports = [spawn("--child", "file", *common), spawn("--child", "file-decode", *common)]
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve-double"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = server.stdout.readline().strip()
            reports.append(
                spawn("--child", "es", "--url", url, "--chunk-size", str(args.chunk_size), *common)
            )
        finally:
            server.stdin.close()
            double_stats = json.loads(server.stdout.readline() or "{}")
            server.wait(timeout=30)
        for r in reports:
            print(
                f"{r['sink']:<40} {r['docs_per_s']:>10,.0f} docs/s  {r['seconds']:6.2f}s  "
                f"peak RSS {r['peak_rss_mb']:.0f} MB  counts {r['counts']}"
            )
        print(
            f"double process: peak RSS {double_stats.get('double_peak_rss_mb')} MB, "
            f"{double_stats.get('bulk_requests')} bulk requests"
        )


if __name__ == "__main__":
    main()
