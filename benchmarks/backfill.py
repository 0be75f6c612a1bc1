"""Airflow runs as users feel them: real scheduler, dag-processor and api-server (LocalExecutor) on a fresh DB.

Run from the repository root with the project's virtualenv (Linux: it reads /proc)::

    .venv/bin/python benchmarks/backfill.py [--part a|b|c|all] [--keep DIR] [--db auto|postgresql|sqlite]

Parts:

* ``a``: ``airflow backfill create`` over 6 hours of ``jumpcloud_events`` (25 runs of 15 minutes, backfill's
  default ``--max-active-runs`` 10). Targets: at most 10 CPU-seconds per run, wall time at most 120 s.
* ``b``: one run of the range DAG ``jumpcloud_events_backfill`` over 15 days (about 300,000 events), started
  with ``airflow dags trigger``. Target: wall time at most 3 minutes.
* ``c``: the range DAG over 90 days less a few hours (about 1.8M events), inside the 90-day retention.
  Targets: wall time at most 8 minutes, every task's peak RSS under 1 GB.

Setup: a work dir (temporary, or ``--keep DIR``) holding AIRFLOW_HOME, the staging root and every child's log;
a metadata DB: a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth; dropped afterwards)
when the server is up or ``pg_ctlcluster`` can start it and psycopg2 + asyncpg are installed, SQLite
otherwise; ``airflow db migrate``; the bundled Directory Insights emulator (20,000 events/day over 92 days,
live clock); then ``airflow api-server``, ``airflow scheduler --skip-serve-logs`` and ``airflow
dag-processor``, all on 127.0.0.1. The scheduler's own schedule is off (``[scheduler] use_job_schedule =
False``) so that only the measured runs run; runs load with the file sink. Every process started is stopped
by process group at the end, also on errors and Ctrl-C.

Prints the metadata DB used, then per part: runs and their states, sub-windows (mapped fetch tasks), events,
wall time (from the CLI command until the last run's end), CPU-seconds (per run for part a) of the Airflow
processes (the trees of the three daemons and of the CLI command, sampled every 0.2 s), of the machine
(``/proc/stat``) less the emulator and this harness, of the metadata DB's PostgreSQL server processes and of
the emulator; each task's mean/max wall time (metadata DB) and peak RSS (the task process, and its
LocalExecutor supervisor); then PASS/FAIL checks made from the staging files alone: all runs succeeded, no
duplicate ``_id`` in ``bulk/``, documents == the emulator's expected count for the covered range, and the raw
windows tile that range exactly. Exits 1 when a check fails (a missed target is printed, not failed).
Machine figures include whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

import orjson
import psutil
import sqlalchemy

from airflow_provider_jumpcloud.emulator.config import EmulatorConfig
from airflow_provider_jumpcloud.emulator.events import expected_count
from airflow_provider_jumpcloud.staging import iter_lines

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAG_ID = "jumpcloud_events"
RANGE_DAG_ID = "jumpcloud_events_backfill"
RANGE_DAG_FILE = REPO / "dags" / "jumpcloud_events_backfill.py"

EMULATOR_SEED = 7
EVENTS_PER_DAY = 20_000
EMULATOR_DAYS = 92
MAX_LATE = timedelta(seconds=300)  # the emulator's --max-late-seconds default
INTERVAL = timedelta(minutes=15)  # jumpcloud_events' schedule
LAG = timedelta(minutes=5)  # jumpcloud_events' default lag_minutes

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
SAMPLE_SECONDS = 0.2
POLL_SECONDS = 1.0
FINAL_STATES = frozenset({"success", "failed"})
GB = 1 << 30

SETUP_TIMEOUT = 600  # db migrate, each daemon's readiness, the DAG's first parse
CLI_TIMEOUT = 300
RUN_TIMEOUT = {"a": 1800, "b": 1800, "c": 3600}  # waiting for the runs to finish

#: Process titles: ``airflow worker -- <ti id>`` (task) and ``airflow worker -- LocalExecutor: <ti id>`` (supervisor).
TITLE = re.compile(r"airflow worker -- (LocalExecutor[^:]*: )?([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})")
RAW_NAME = re.compile(r"^(\d{8}T\d{6}(?:\d{6})?Z)-(\d{8}T\d{6}(?:\d{6})?Z)\.ndjson\.gz$")


class BenchmarkError(RuntimeError):
    """A setup step or a wait failed; the message says which, logs were printed."""


# ---------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def floor_to(value: datetime, step: timedelta) -> datetime:
    """Round an aware datetime down to a multiple of ``step`` since the epoch."""
    seconds = int(step.total_seconds())
    return datetime.fromtimestamp(int(value.timestamp()) // seconds * seconds, tz=UTC)


def ceil_to(value: datetime, step: timedelta) -> datetime:
    """Round an aware datetime up to a multiple of ``step`` since the epoch."""
    floored = floor_to(value, step)
    return floored if floored == value else floored + step


def iso(value: datetime) -> str:
    """ISO 8601 UTC with a Z, as the range DAG's params take it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_utc(value: Any) -> datetime | None:
    """Return a DB timestamp (datetime, or text from SQLite) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_compact(key: str) -> datetime:
    """Parse a staging key such as ``20250101T040000Z`` (optionally with 6 microsecond digits)."""
    body = key.rstrip("Z")
    base = datetime.strptime(body[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return base.replace(microsecond=int(body[15:])) if len(body) > 15 else base


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a text file (or a note that it is missing)."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def mb(value: int | None) -> str:
    """Format bytes as MB (or - when unknown)."""
    return "-" if value is None else f"{value / 1e6:.0f} MB"


def verdict(ok: bool) -> str:
    """Target verdict printed beside a figure."""
    return "met" if ok else "MISSED"


# ---------------------------------------------------------------------------------------------- metadata DB


@dataclass
class MetadataDB:
    """The metadata database of one benchmark run and how to drop it."""

    url: str
    description: str
    pg_database: str | None = None
    _engine: sqlalchemy.Engine | None = field(default=None, repr=False)

    def rows(self, sql: str, *, expanding: Sequence[str] = (), **params: Any) -> list[sqlalchemy.Row[Any]]:
        """Run a read-only query and return its rows; ``expanding`` names list parameters (``IN :ids``)."""
        if self._engine is None:
            self._engine = sqlalchemy.create_engine(self.url, pool_size=1, max_overflow=0)
        stmt = sqlalchemy.text(sql).bindparams(*(sqlalchemy.bindparam(name, expanding=True) for name in expanding))
        with self._engine.connect() as conn:
            return list(conn.execute(stmt, params))

    def drop(self) -> None:
        """Drop the PostgreSQL database (a SQLite file goes with the work dir)."""
        if self._engine is not None:
            self._engine.dispose()
        if self.pg_database is not None:
            with _pg_admin() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')


@contextmanager
def _pg_admin() -> Iterator[Any]:
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _postgres_version() -> str | None:
    """Return the server version when PostgreSQL answers on 127.0.0.1:5432 (None otherwise)."""
    try:
        with _pg_admin() as cur:
            cur.execute("SHOW server_version")
            return str(cur.fetchone()[0])
    except Exception:  # any failure means "not available"
        return None


def _start_postgres(log: Path) -> None:
    """Try ``pg_ctlcluster --skip-systemctl-redirect <version> main start`` (bounded)."""
    conf = Path("/etc/postgresql")
    if not conf.is_dir() or shutil.which("pg_ctlcluster") is None:
        return
    for version in sorted(p.name for p in conf.iterdir()):
        with log.open("ab") as out, suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                           stdout=out, stderr=out, timeout=60, check=False)


def sqlite_db(work: Path) -> MetadataDB:
    """A fresh SQLite file; connections wait up to 30 s for a lock."""
    path = work / "airflow.db"
    path.unlink(missing_ok=True)
    return MetadataDB(f"sqlite:///{path}?timeout=30", f"SQLite {sqlite3.sqlite_version} at {path}")


def provision_db(choice: str, work: Path) -> MetadataDB:
    """Create a fresh PostgreSQL database (starting the server if needed) or fall back to SQLite."""
    if choice == "sqlite":
        return sqlite_db(work)
    missing = [m for m in ("psycopg2", "asyncpg") if find_spec(m) is None]
    if missing:
        if choice == "postgresql":
            raise BenchmarkError(f"PostgreSQL needs the Python packages {missing} in this virtualenv")
        print(f"  PostgreSQL drivers missing ({', '.join(missing)}): using SQLite", flush=True)
        return sqlite_db(work)
    version = _postgres_version()
    if version is None:
        _start_postgres(work / "logs" / "postgresql-start.log")
        deadline = time.monotonic() + 30
        while version is None and time.monotonic() < deadline:
            time.sleep(1)
            version = _postgres_version()
    if version is None:
        if choice == "postgresql":
            raise BenchmarkError(f"PostgreSQL is not available on {PG_HOST}:{PG_PORT}")
        print(f"  PostgreSQL not available on {PG_HOST}:{PG_PORT}: using SQLite", flush=True)
        return sqlite_db(work)
    name = f"airflow_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with _pg_admin() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    return MetadataDB(
        f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}",
        f"PostgreSQL {version} at {PG_HOST}:{PG_PORT}, database {name} (dropped afterwards)",
        pg_database=name,
    )


# ---------------------------------------------------------------------------------------------- processes


class ProcessGroup:
    """Children started in their own sessions, logging to files, stopped by process group."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def log_path(self, name: str) -> Path:
        """Return the log file of a child."""
        return self.logs / f"{name}.log"

    def start(self, name: str, args: Sequence[str], env: dict[str, str], *, pipe_stdout: bool = False
              ) -> subprocess.Popen[bytes]:
        """Start a child in a new session; stdout (unless piped) and stderr go to ``logs/<name>.log``."""
        with self.log_path(name).open("ab") as log:
            proc = subprocess.Popen(
                list(args), env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe_stdout else log, stderr=log, start_new_session=True,
            )
        self._procs.append((name, proc))
        return proc

    def wait(self, name: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Wait for a command; kill its group and raise on timeout or a non-zero exit."""
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc, signal.SIGKILL)  # before reaping it: the group's id cannot name another group yet
            proc.wait()
            self._procs.remove((name, proc))
            raise BenchmarkError(f"{name} did not finish in {timeout:.0f} s\n{tail(self.log_path(name))}") from None
        self._procs.remove((name, proc))  # reaped: stop_all must not signal its group id any more
        if rc != 0:
            raise BenchmarkError(f"{name} exited with {rc}\n{tail(self.log_path(name))}")

    def run(self, name: str, args: Sequence[str], env: dict[str, str], timeout: float = CLI_TIMEOUT) -> None:
        """Run a command to completion (bounded)."""
        self.wait(name, self.start(name, args, env), timeout)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def stop_all(self, grace: float = 45.0) -> None:
        """SIGTERM every group (newest first), wait up to ``grace`` s, then SIGKILL what is left.

        A group is signalled only while its leader is not reaped (so its id still names it). Task processes
        run in process groups of their own, so descendants seen before the SIGTERM are killed one by one
        too (psutil checks that a pid still names the same process).
        """
        procs = list(reversed(self._procs))
        descendants: list[psutil.Process] = []
        for _, proc in procs:
            with suppress(psutil.Error):
                descendants.extend(psutil.Process(proc.pid).children(recursive=True))
            if proc.poll() is None:
                self._kill(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, proc in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _, proc in procs:
            if proc.poll() is None:
                self._kill(proc, signal.SIGKILL)
        for child in descendants:
            with suppress(psutil.Error):
                child.kill()
        for _, proc in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()


# ---------------------------------------------------------------------------------------------- sampling


def machine_busy_seconds() -> float:
    """Busy CPU-seconds of the whole machine since boot (``/proc/stat``, without idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def harness_cpu_seconds() -> float:
    """CPU-seconds of this process (all its threads, not its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _vm_hwm(pid: int) -> int:
    """Return a process's peak RSS in bytes (``VmHWM``), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Usage:
    """What a measurement saw between its start and stop."""

    seconds: float
    airflow_cpu: float
    postgres_cpu: float | None  # server processes of the metadata DB (PostgreSQL only)
    machine_cpu: float
    emulator_cpu: float
    harness_cpu: float
    processes: int
    task_rss: dict[str, int]  # task instance id (hex) -> peak RSS of the task process
    supervisor_rss: dict[str, int]  # task instance id (hex) -> peak RSS of its supervisor while running it

    @property
    def machine_less_known(self) -> float:
        """Machine CPU minus the emulator and this harness."""
        return self.machine_cpu - self.emulator_cpu - self.harness_cpu


class Sampler:
    """Samples the CPU times and RSS of every process in some process trees every 0.2 s (a thread).

    CPU: the last seen ``user + system`` of each process (by pid and start time) minus its value at the
    start (0 for processes born later), so an exited task process counts up to its last sample. RSS: a
    process titled ``airflow worker -- <ti id>`` (the task) or ``airflow worker -- LocalExecutor: <ti id>``
    (its supervisor) is attributed to that task instance; a task's peak uses the kernel's ``VmHWM``. With
    ``postgres = (postmaster pid, database)``, the server processes of that database are counted apart.
    """

    def __init__(self, roots: Sequence[int], emulator_pid: int, postgres: tuple[int, str] | None) -> None:
        self._roots = set(roots)
        self._emulator = psutil.Process(emulator_pid)
        self._postgres = postgres
        self._baseline: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], tuple[str, float]] = {}  # -> (airflow|postgres, cpu)
        self.task_rss: dict[str, int] = defaultdict(int)
        self.supervisor_rss: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()  # one sample at a time (psutil's process cache is not thread-safe)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._start: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def add_root(self, pid: int) -> None:
        """Measure one more process tree (e.g. a CLI command just started)."""
        with self._lock:
            self._roots.add(pid)
        self._sample()

    def _processes(self) -> list[tuple[psutil.Process, str]]:
        """Every process of the measured trees (``airflow``) and the postmaster's children (``postgres``)."""
        children: dict[int, list[int]] = defaultdict(list)
        alive: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter(["ppid"]):
            children[proc.info["ppid"]].append(proc.pid)
            alive[proc.pid] = proc
        found: list[tuple[psutil.Process, str]] = []
        todo = [pid for pid in self._roots if pid in alive]
        while todo:
            pid = todo.pop()
            found.append((alive[pid], "airflow"))
            todo.extend(children.get(pid, ()))
        if self._postgres is not None:
            found.extend((alive[pid], "postgres") for pid in children.get(self._postgres[0], ()))
        return found

    def _sample(self, *, baseline: bool = False) -> None:
        with self._lock:
            for proc, bucket in self._processes():
                try:
                    with proc.oneshot():
                        key = (proc.pid, proc.create_time())
                        times = proc.cpu_times()
                        rss = proc.memory_info().rss
                        title = " ".join(proc.cmdline())
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                if bucket == "postgres" and (self._postgres is None or self._postgres[1] not in title.split()):
                    continue
                cpu = times.user + times.system
                if baseline:
                    self._baseline[key] = cpu
                self._last[key] = (bucket, cpu)
                match = TITLE.search(title) if bucket == "airflow" else None
                if match:
                    ti = uuid.UUID(match.group(2)).hex
                    if match.group(1):
                        self.supervisor_rss[ti] = max(self.supervisor_rss[ti], rss)
                    else:
                        self.task_rss[ti] = max(self.task_rss[ti], rss, _vm_hwm(proc.pid))

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def __enter__(self) -> Sampler:
        self._sample(baseline=True)
        self._start = (time.monotonic(), machine_busy_seconds(), self._emulator_cpu(), harness_cpu_seconds())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _emulator_cpu(self) -> float:
        times = self._emulator.cpu_times()
        return times.user + times.system

    def usage(self) -> Usage:
        """Stop sampling (after a last sample) and return what was measured."""
        self._sample()
        t0, machine0, emulator0, harness0 = self._start
        self._stop.set()
        self._thread.join()
        totals: dict[str, float] = defaultdict(float)
        for key, (bucket, cpu) in self._last.items():
            totals[bucket] += cpu - self._baseline.get(key, 0.0)
        return Usage(
            seconds=time.monotonic() - t0,
            airflow_cpu=totals["airflow"],
            postgres_cpu=totals["postgres"] if self._postgres is not None else None,
            machine_cpu=machine_busy_seconds() - machine0,
            emulator_cpu=self._emulator_cpu() - emulator0,
            harness_cpu=harness_cpu_seconds() - harness0,
            processes=sum(1 for bucket, _ in self._last.values() if bucket == "airflow"),
            task_rss=dict(self.task_rss),
            supervisor_rss=dict(self.supervisor_rss),
        )


# ---------------------------------------------------------------------------------------------- deployment


class Deployment:
    """A metadata DB, the emulator and the three Airflow daemons, set up in a work dir."""

    def __init__(self, work: Path, db_choice: str) -> None:
        self.work = work
        self.home = work / "airflow-home"
        self.staging = work / "staging"
        self.logs = work / "logs"
        for path in (self.home, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessGroup(self.logs)
        self.db_choice = db_choice
        self.db: MetadataDB | None = None
        self.api_key = secrets.token_hex(16)
        self.emulator_config = EmulatorConfig(
            seed=EMULATOR_SEED, events_per_day=EVENTS_PER_DAY, days=EMULATOR_DAYS, api_key=self.api_key
        )
        self.env: dict[str, str] = {}
        self.emulator: subprocess.Popen[bytes] | None = None
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}

    # -- setup

    def __enter__(self) -> Deployment:
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _setup(self) -> None:
        print("setup: metadata DB", flush=True)
        self.db = provision_db(self.db_choice, self.work)
        print(f"  metadata DB: {self.db.description}", flush=True)
        base_url = self._start_emulator()
        api_port = free_port()
        self.env = self._airflow_env(base_url, api_port)
        print("setup: airflow db migrate", flush=True)
        self.procs.run("db-migrate", [str(BIN / "airflow"), "db", "migrate"], self.env, timeout=SETUP_TIMEOUT)
        # The bundled DAGs' API tasks run in the jumpcloud_api pool (tasks of a missing pool never run).
        self.procs.run("pool", [str(BIN / "airflow"), "pools", "set", "jumpcloud_api", "4", "JumpCloud API"],
                       self.env, timeout=SETUP_TIMEOUT)
        print("setup: api-server, scheduler, dag-processor", flush=True)
        api = self.procs.start("api-server", [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1",
                                              "--port", str(api_port)], self.env)
        scheduler = self.procs.start("scheduler", [str(BIN / "airflow"), "scheduler", "--skip-serve-logs"], self.env)
        processor = self.procs.start("dag-processor", [str(BIN / "airflow"), "dag-processor"], self.env)
        self.daemons = {"api-server": api, "scheduler": scheduler, "dag-processor": processor}
        self._wait_http(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", "api-server")

    def _start_emulator(self) -> str:
        proc = self.procs.start("emulator", [
            sys.executable, "-m", "airflow_provider_jumpcloud.emulator", "--port", "0",
            "--events-per-day", str(EVENTS_PER_DAY), "--days", str(EMULATOR_DAYS), "--seed", str(EMULATOR_SEED),
            "--api-key", self.api_key,
        ], dict(os.environ), pipe_stdout=True)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http"):
            raise BenchmarkError(f"emulator did not print its URL\n{tail(self.procs.log_path('emulator'))}")
        self.emulator = proc
        print(f"  emulator: {line} ({EVENTS_PER_DAY} events/day over {EMULATOR_DAYS} days, live clock)", flush=True)
        return line

    def _airflow_env(self, emulator_url: str, api_port: int) -> dict[str, str]:
        assert self.db is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JUMPCLOUD_"))}
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            # Only the measured runs: no scheduled run of jumpcloud_events appears when it is unpaused.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_JUMPCLOUD_DEFAULT": json.dumps({
                "conn_type": "jumpcloud", "host": emulator_url, "password": self.api_key,
                "extra": {"timeout": 300},
            }),
            "JUMPCLOUD_STAGING_ROOT": str(self.staging),
        })
        return env

    def _wait_http(self, url: str, name: str) -> None:
        deadline = time.monotonic() + SETUP_TIMEOUT
        while time.monotonic() < deadline:
            self.check_daemons()
            with suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
            time.sleep(1)
        raise BenchmarkError(f"{name} did not answer {url} in {SETUP_TIMEOUT} s\n{tail(self.procs.log_path(name))}")

    def check_daemons(self) -> None:
        """Raise when the emulator or one of the Airflow daemons has exited."""
        assert self.emulator is not None
        for name, proc in {"emulator": self.emulator, **self.daemons}.items():
            if proc.poll() is not None:
                raise BenchmarkError(f"{name} exited with {proc.returncode}\n{tail(self.procs.log_path(name))}")

    def close(self) -> None:
        """Stop every process started and drop the metadata DB."""
        print("stopping everything started (up to a minute)", flush=True)
        self.procs.stop_all()
        if self.db is not None:
            try:
                self.db.drop()
            except Exception as err:  # report, keep cleaning up
                print(f"warning: could not drop the metadata DB: {err}", file=sys.stderr)

    # -- helpers for the parts

    def airflow(self, name: str, *args: str) -> None:
        """Run an ``airflow`` CLI command (not measured)."""
        self.procs.run(name, [str(BIN / "airflow"), *args], self.env)

    def airflow_measured(self, sampler: Sampler, name: str, *args: str) -> None:
        """Run an ``airflow`` CLI command whose process tree the sampler measures."""
        proc = self.procs.start(name, [str(BIN / "airflow"), *args], self.env)
        sampler.add_root(proc.pid)
        self.procs.wait(name, proc, CLI_TIMEOUT)

    def sampler(self) -> Sampler:
        """A sampler of the three daemons' process trees (and of the PostgreSQL server of the DB)."""
        assert self.db is not None
        postgres = None
        if self.db.pg_database is not None:
            backend = self.rows("SELECT pg_backend_pid()")[0][0]
            postgres = (psutil.Process(backend).ppid(), self.db.pg_database)
        assert self.emulator is not None
        return Sampler([proc.pid for proc in self.daemons.values()], self.emulator.pid, postgres)

    def rows(self, sql: str, *, expanding: Sequence[str] = (), **params: Any) -> list[sqlalchemy.Row[Any]]:
        """Query the metadata DB."""
        assert self.db is not None
        return self.db.rows(sql, expanding=expanding, **params)

    def wait_for_dag(self, dag_id: str, dag_file: Path) -> None:
        """Wait until the dag-processor has serialized ``dag_id`` (failing on an import error), unpause it."""
        deadline = time.monotonic() + SETUP_TIMEOUT
        while time.monotonic() < deadline:
            self.check_daemons()
            if self.rows("SELECT 1 FROM serialized_dag WHERE dag_id = :d", d=dag_id):
                self.airflow(f"unpause-{dag_id}", "dags", "unpause", dag_id)
                return
            errors = [r for r in self.rows("SELECT filename, stacktrace FROM import_error")
                      if Path(r.filename).name == dag_file.name]
            if errors:
                raise BenchmarkError(f"{dag_file.name} does not import:\n{errors[0].stacktrace}")
            time.sleep(2)
        raise BenchmarkError(f"DAG {dag_id} was not serialized in {SETUP_TIMEOUT} s\n"
                             f"{tail(self.procs.log_path('dag-processor'))}")

    def wait_for_runs(self, where: str, expected: int, timeout: float, **params: Any) -> list[sqlalchemy.Row[Any]]:
        """Poll dag_run rows matching ``where`` until ``expected`` of them are final (bounded)."""
        sql = f"SELECT id, dag_id, run_id, state, start_date, end_date, data_interval_start, data_interval_end " \
              f"FROM dag_run WHERE {where} ORDER BY data_interval_start"
        deadline = time.monotonic() + timeout
        while True:
            runs = self.rows(sql, **params)
            if len(runs) >= expected and all(r.state in FINAL_STATES for r in runs):
                return runs
            if time.monotonic() > deadline:
                states = Counter(r.state for r in runs)
                raise BenchmarkError(f"runs not finished after {timeout:.0f} s: {dict(states)} of {expected}\n"
                                     f"scheduler log:\n{tail(self.procs.log_path('scheduler'))}")
            self.check_daemons()
            time.sleep(POLL_SECONDS)

    def task_instances(self, runs: Sequence[sqlalchemy.Row[Any]]) -> tuple[list[Any], list[Any]]:
        """Return (final tries, earlier tries) of the task instances of ``runs``."""
        ids = [r.id for r in runs]
        cols = "ti.{id}, ti.task_id, ti.map_index, ti.state, ti.start_date, ti.end_date, ti.try_number, ti.run_id"
        stmt = "SELECT {cols} FROM {table} ti JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id " \
               "WHERE dr.id IN :ids"
        final = self.rows(stmt.format(cols=cols.format(id="id"), table="task_instance"), expanding=["ids"], ids=ids)
        earlier = self.rows(stmt.format(cols=cols.format(id="task_instance_id"), table="task_instance_history"),
                            expanding=["ids"], ids=ids)
        return final, earlier

    def failure_details(self, final_tis: Sequence[Any]) -> str:
        """The log tail of the first failed task instance (or the scheduler's log)."""
        for ti in final_tis:
            if ti.state == "failed":
                pattern = f"dag_id=*/run_id={ti.run_id}/task_id={ti.task_id}/**/attempt={ti.try_number}.log"
                for path in sorted((self.home / "logs").glob(pattern)):
                    return f"log of failed task {ti.task_id} (run {ti.run_id}):\n{tail(path)}"
        return f"scheduler log:\n{tail(self.procs.log_path('scheduler'))}"

    def archive_staging(self, part: str) -> Path:
        """Move this part's staging root aside (the next part starts empty); return its new place."""
        target = self.work / f"part-{part}-staging"
        if self.staging.exists():
            self.staging.rename(target)
        else:
            target.mkdir(exist_ok=True)
        return target


# ---------------------------------------------------------------------------------------------- checks


@dataclass
class Check:
    """One PASS/FAIL line."""

    ok: bool
    text: str

    def __str__(self) -> str:
        return f"  {'PASS' if self.ok else 'FAIL'} {self.text}"


def bulk_ids(staging: Path) -> tuple[int, int, list[str]]:
    """Return (documents, distinct ``_id``s, leftover temp files) of every file under ``bulk/``."""
    ids: set[str] = set()
    total = 0
    leftovers: list[str] = []
    bulk = staging / "bulk"
    for path in sorted(bulk.iterdir()) if bulk.is_dir() else []:
        if path.name.startswith("."):
            leftovers.append(path.name)
            continue
        for action_line in islice(iter_lines(path), 0, None, 2):
            meta = next(iter(orjson.loads(action_line).values()))
            ids.add(meta["_id"])
            total += 1
    return total, len(ids), leftovers


def raw_windows(staging: Path) -> tuple[list[tuple[datetime, datetime]], list[str]]:
    """Return the sorted windows named by ``raw/<start>-<end>.ndjson.gz`` and other ``*.ndjson.gz`` names."""
    windows, other = [], []
    raw = staging / "raw"
    for path in sorted(raw.glob("*.ndjson.gz")) if raw.is_dir() else []:  # not manifests or temp files
        match = RAW_NAME.match(path.name)
        if match:
            windows.append((parse_compact(match.group(1)), parse_compact(match.group(2))))
        else:
            other.append(path.name)
    return sorted(windows), other


def check_staging(staging: Path, start: datetime, end: datetime, config: EmulatorConfig) -> tuple[int, list[Check]]:
    """Check the staged output of ``[start, end)`` against the emulator; return (documents, checks)."""
    settle = end + MAX_LATE - datetime.now(UTC)
    if settle > timedelta(0):  # late arrivals of the range must be visible to the expected count too
        time.sleep(settle.total_seconds() + 1)
    expected = expected_count(config, start, end)
    total, distinct, leftovers = bulk_ids(staging)
    windows, other = raw_windows(staging)
    note = f" ({len(leftovers)} temp files left in bulk/)" if leftovers else ""
    checks = [
        Check(total == distinct, f"no duplicate _id: {total} documents, {distinct} distinct _ids{note}"),
        Check(total == expected, f"documents == emulator's expected count for [{iso(start)}, {iso(end)}): "
                                 f"{total} vs {expected}"),
    ]
    gaps = [(a_end, b_start) for (_, a_end), (b_start, _) in pairwise(windows) if a_end != b_start]
    tiles = bool(windows) and not gaps and windows[0][0] == start and windows[-1][1] == end
    detail = f"{len(windows)} raw windows tile [{iso(start)}, {iso(end)})"
    if not tiles:
        first = iso(windows[0][0]) if windows else "-"
        last = iso(windows[-1][1]) if windows else "-"
        detail += f": first start {first}, last end {last}, {len(gaps)} gaps/overlaps"
        detail += f" (first at {iso(gaps[0][0])} / {iso(gaps[0][1])})" if gaps else ""
    if other:
        detail += f"; unexpected files in raw/: {other[:3]}"
    checks.append(Check(tiles and not other, f"no gap: {detail}"))
    return total, checks


# ---------------------------------------------------------------------------------------------- report


@dataclass
class PartResult:
    """Everything one part prints."""

    runs: list[Any]
    final_tis: list[Any]
    earlier_tis: list[Any]
    usage: Usage
    wall: float
    documents: int
    checks: list[Check]


def task_table(result: PartResult) -> list[str]:
    """Lines of per-task wall time (final tries) and peak RSS (all tries) from the DB and the sampler."""
    durations: dict[str, list[float]] = defaultdict(list)
    states: dict[str, Counter[str]] = defaultdict(Counter)
    first_start: dict[str, datetime] = {}
    task_of: dict[str, str] = {}
    for ti in [*result.final_tis, *result.earlier_tis]:
        task_of[uuid.UUID(str(ti[0])).hex] = ti.task_id
    for ti in result.final_tis:
        states[ti.task_id][ti.state] += 1
        start, end = as_utc(ti.start_date), as_utc(ti.end_date)
        if start:
            first_start[ti.task_id] = min(first_start.get(ti.task_id, start), start)
        if start and end:
            durations[ti.task_id].append((end - start).total_seconds())
    peak: dict[str, int] = defaultdict(int)
    sup: dict[str, int] = defaultdict(int)
    for ti, rss in result.usage.task_rss.items():
        if ti in task_of:
            peak[task_of[ti]] = max(peak[task_of[ti]], rss)
    for ti, rss in result.usage.supervisor_rss.items():
        if ti in task_of:
            sup[task_of[ti]] = max(sup[task_of[ti]], rss)
    lines = [f"  {'task':<34}{'n':>5}{'mean s':>9}{'max s':>9}{'peak RSS':>11}{'supervisor':>12}  states"]
    never = datetime.max.replace(tzinfo=UTC)
    for task_id in sorted(states, key=lambda t: (first_start.get(t, never), t)):
        d = durations[task_id]
        mean = f"{sum(d) / len(d):.1f}" if d else "-"
        longest = f"{max(d):.1f}" if d else "-"
        lines.append(f"  {task_id:<34}{sum(states[task_id].values()):>5}{mean:>9}{longest:>9}"
                     f"{mb(peak.get(task_id)):>11}{mb(sup.get(task_id)):>12}  {dict(states[task_id])}")
    return lines


def report(result: PartResult, *, per_run: bool, wall_target: float, rss_target: int | None) -> bool:
    """Print a part's figures and checks; return whether every check passed."""
    u = result.usage
    n = len(result.runs)
    divisor = n if per_run and n else 1
    unit = "CPU-s per run" if per_run else "CPU-s"
    retries = len(result.earlier_tis)
    fetches = sum(1 for ti in result.final_tis if ti.task_id.endswith(".fetch"))
    print(f"  runs: {n} {dict(Counter(r.state for r in result.runs))}; sub-windows (fetch tasks): {fetches}; "
          f"earlier tries (retries): {retries}")
    print(f"  events: {result.documents}")
    print(f"  wall time: {result.wall:.1f} s (target <= {wall_target:.0f} s: {verdict(result.wall <= wall_target)})")
    cpu_line = f"  Airflow process CPU: {u.airflow_cpu / divisor:.1f} {unit}"
    if per_run:
        cpu_line += f" ({u.airflow_cpu:.0f} total; target <= 10 per run: {verdict(u.airflow_cpu / divisor <= 10)})"
    print(f"{cpu_line}; {u.processes} processes seen")
    print(f"  machine CPU minus emulator and this harness: {u.machine_less_known / divisor:.1f} {unit} "
          f"(machine {u.machine_cpu:.0f} CPU-s over {u.seconds:.0f} s, {os.cpu_count()} cores; includes the "
          f"DB server and anything else running)")
    if u.postgres_cpu is not None:
        print(f"  PostgreSQL server processes of the metadata DB: {u.postgres_cpu / divisor:.1f} {unit} "
              f"(includes this harness's polling)")
    print(f"  emulator CPU: {u.emulator_cpu:.1f} CPU-s; this harness: {u.harness_cpu:.1f} CPU-s")
    for line in task_table(result):
        print(line)
    if rss_target is not None:
        worst = max(u.task_rss.values(), default=0)
        print(f"  peak task RSS: {mb(worst)} (target < {rss_target // (1 << 20)} MB: {verdict(worst < rss_target)})")
    for check in result.checks:
        print(check)
    return all(c.ok for c in result.checks)


# ---------------------------------------------------------------------------------------------- parts


def _finish(dep: Deployment, part: str, runs: list[Any], usage: Usage, t0: float, start: datetime,
            end: datetime) -> PartResult:
    """Collect the DB figures and the staging checks of a finished part."""
    final, earlier = dep.task_instances(runs)
    ends = [as_utc(r.end_date) for r in runs if r.end_date is not None]
    wall = (max(ends).timestamp() if ends else time.time()) - t0
    staging = dep.archive_staging(part)
    print(f"  checking {staging} against the emulator", flush=True)
    documents, checks = check_staging(staging, start, end, dep.emulator_config)
    failed = [r for r in runs if r.state != "success"]
    checks.insert(0, Check(not failed and bool(runs), f"all {len(runs)} runs succeeded"))
    if failed:
        print(dep.failure_details(final))
    return PartResult(runs, final, earlier, usage, wall, documents, checks)


def part_a(dep: Deployment) -> bool:
    """``airflow backfill create`` over 6 hours of jumpcloud_events."""
    print(f"\n== part a: airflow backfill create, 6 hours of {DAG_ID} ==", flush=True)
    dep.wait_for_dag(DAG_ID, REPO / "dags" / "jumpcloud_events.py")
    to_date = floor_to(datetime.now(UTC), INTERVAL) - timedelta(hours=2)
    from_date = to_date - timedelta(hours=6)
    expected_runs = int((to_date - from_date) / INTERVAL) + 1
    print(f"  backfill {iso(from_date)} .. {iso(to_date)} (logical dates, inclusive): {expected_runs} runs",
          flush=True)
    with dep.sampler() as sampler:
        t0 = time.time()
        dep.airflow_measured(sampler, "backfill-create", "backfill", "create", "--dag-id", DAG_ID,
                             "--from-date", from_date.isoformat(), "--to-date", to_date.isoformat(),
                             "--dag-run-conf", json.dumps({"sink": "file"}))
        backfill = dep.rows("SELECT id FROM backfill WHERE dag_id = :d ORDER BY id DESC", d=DAG_ID)
        if not backfill:
            raise BenchmarkError(f"backfill create made no backfill\n{tail(dep.procs.log_path('backfill-create'))}")
        bid = backfill[0].id
        created = dep.rows("SELECT count(*) FROM backfill_dag_run WHERE backfill_id = :b AND dag_run_id IS NOT NULL",
                           b=bid)[0][0]
        print(f"  backfill {bid}: {created} runs created; waiting", flush=True)
        runs = dep.wait_for_runs("backfill_id = :b", created, RUN_TIMEOUT["a"], b=bid)
        usage = sampler.usage()
    start = min(as_utc(r.data_interval_start) for r in runs) - LAG
    end = max(as_utc(r.data_interval_end) for r in runs) - LAG
    result = _finish(dep, "a", runs, usage, t0, start, end)
    if len(runs) != expected_runs:
        result.checks.append(Check(False, f"{len(runs)} runs, expected {expected_runs}"))
    return report(result, per_run=True, wall_target=120, rss_target=None)


def part_range(dep: Deployment, part: str, start: datetime, end: datetime, wall_target: float,
               rss_target: int | None) -> bool:
    """One ``airflow dags trigger`` of the range DAG over ``[start, end)``."""
    print(f"\n== part {part}: {RANGE_DAG_ID} over {(end - start) / timedelta(days=1):.2f} days ==", flush=True)
    if not RANGE_DAG_FILE.exists():
        print(f"  FAIL {RANGE_DAG_FILE.relative_to(REPO)} does not exist")
        return False
    dep.wait_for_dag(RANGE_DAG_ID, RANGE_DAG_FILE)
    run_id = f"benchmark_{part}_{int(time.time())}"
    conf = {"start": iso(start), "end": iso(end), "sink": "file"}
    print(f"  trigger {run_id} with {json.dumps(conf)}", flush=True)
    with dep.sampler() as sampler:
        t0 = time.time()
        dep.airflow_measured(sampler, f"trigger-{part}", "dags", "trigger", RANGE_DAG_ID, "--run-id", run_id,
                             "--conf", json.dumps(conf))
        runs = dep.wait_for_runs("dag_id = :d AND run_id = :r", 1, RUN_TIMEOUT[part], d=RANGE_DAG_ID, r=run_id)
        usage = sampler.usage()
    result = _finish(dep, part, runs, usage, t0, start, end)
    return report(result, per_run=False, wall_target=wall_target, rss_target=rss_target)


def run_parts(dep: Deployment, parts: Sequence[str]) -> bool:
    """Run the selected parts in order; return whether all passed."""
    ok = True
    for part in parts:
        now = datetime.now(UTC)
        end = floor_to(now - timedelta(minutes=30), INTERVAL)
        try:
            if part == "a":
                ok &= part_a(dep)
            elif part == "b":
                ok &= part_range(dep, "b", end - timedelta(days=15), end, wall_target=180, rss_target=None)
            else:
                start = ceil_to(now - timedelta(days=90) + timedelta(hours=2), INTERVAL)
                ok &= part_range(dep, "c", start, end, wall_target=480, rss_target=GB)
        except BenchmarkError as err:
            print(f"  FAIL {err}")
            if dep.staging.exists():  # the next part starts with an empty staging root all the same
                dep.archive_staging(part)
            ok = False
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, set everything up, run the parts and clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work dir to use and keep (default: a temp dir)")
    parser.add_argument("--db", choices=["auto", "postgresql", "sqlite"], default="auto",
                        help="metadata DB: PostgreSQL when available (auto), or force one")
    args = parser.parse_args(argv)
    parts = ["a", "b", "c"] if args.part == "all" else [args.part]

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="jumpcloud-airflow-bench-"))
    print(f"work dir: {work}{'' if args.keep else ' (removed at the end; --keep DIR keeps it)'}", flush=True)
    try:
        with Deployment(work, args.db) as dep:
            ok = run_parts(dep, parts)
    except BenchmarkError as err:
        print(f"FAIL {err}")
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped")
        return 130
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\nall checks passed" if ok else "\nsome checks FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
