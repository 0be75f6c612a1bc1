"""Command line: ``python -m airflow_provider_jumpcloud.emulator --port 8099 --seed 7 ...``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from airflow_provider_jumpcloud.emulator.config import EmulatorConfig
from airflow_provider_jumpcloud.emulator.faults import parse_fault
from airflow_provider_jumpcloud.emulator.server import EmulatorServer


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the emulator command."""
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_jumpcloud.emulator",
        description="Serve a deterministic JumpCloud Directory Insights API "
        "(POST /insights/directory/v1/events, /events/count, /events/distinct) for tests and demos.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=8099, help="port to bind (0 picks a free one)")
    p.add_argument("--seed", type=int, default=7, help="same seed, same events")
    p.add_argument("--events-per-day", type=float, default=20_000, help="average event rate")
    p.add_argument("--days", type=float, default=20, help="days of history before --now")
    p.add_argument("--retention-days", type=float, default=90, help="older start_time values get a 400")
    p.add_argument("--api-key", default=os.environ.get("JUMPCLOUD_EMULATOR_API_KEY", "demo-key"),
                   help="accepted x-api-key (default: $JUMPCLOUD_EMULATOR_API_KEY or demo-key)")
    p.add_argument("--org-id", default=None, help="require this x-org-id (403 otherwise)")
    p.add_argument("--client-id", default=None,
                   help="accept this service-account client id at POST /oauth2/token (default: no service account)")
    p.add_argument("--client-secret", default=os.environ.get("JUMPCLOUD_EMULATOR_CLIENT_SECRET"),
                   help="that client's secret (default: $JUMPCLOUD_EMULATOR_CLIENT_SECRET)")
    p.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds an issued token stays valid")
    p.add_argument("--now", default=None, help="fixed 'now' (RFC 3339); default: the real clock (live mode)")
    p.add_argument("--late-fraction", type=float, default=0.01, help="share of events that arrive late")
    p.add_argument("--max-late-seconds", type=int, default=300, help="longest arrival delay")
    p.add_argument("--burst-fraction", type=float, default=0.05, help="share of events in same-second bursts")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="inject a fault: KIND@N[*TIMES][:ARG] or KIND~PROB[:ARG]; KIND is an HTTP status "
                   "(429, 500, 502, 503, 504, 401...) or slow, drip, truncate, reset, nonjson, badgzip, echo, "
                   "echobody. Repeatable.")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until Ctrl-C or SIGTERM."""
    args = build_parser().parse_args(argv)
    try:
        for spec in args.fault:
            parse_fault(spec)
        config = EmulatorConfig(
            seed=args.seed, events_per_day=args.events_per_day, days=args.days,
            retention_days=args.retention_days, api_key=args.api_key, org_id=args.org_id, now=args.now,
            late_fraction=args.late_fraction, max_late_seconds=args.max_late_seconds,
            burst_fraction=args.burst_fraction, host=args.host, port=args.port, faults=tuple(args.fault),
            client_id=args.client_id, client_secret=args.client_secret, token_lifetime=args.token_lifetime,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with EmulatorServer(config) as emulator:
        mode = f"now {args.now}" if args.now else "live clock"
        print(emulator.base_url, flush=True)  # the first stdout line is the base URL, for scripts
        print(f"JumpCloud Directory Insights emulator on {args.host}:{emulator.port} (seed {args.seed}, "
              f"{args.events_per_day:g} events/day over {args.days:g} days, {mode}, "
              f"{len(emulator.faults)} faults); Ctrl-C to stop", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
        print(f"stopping after {emulator.request_count} requests", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
