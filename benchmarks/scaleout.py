"""Scale-out as deployed: CeleryExecutor with two workers, staging on S3, a worker killed mid-task.

Run from the repository root with the project's virtualenv (Linux; needs the ``test`` extra: the Celery and
Amazon providers, s3fs, redis, moto[server], psycopg2)::

    .venv/bin/python benchmarks/scaleout.py [--hours 48] [--events-per-day 20000] [--max-events 10000]
                                            [--no-kill] [--keep DIR]

Sets up, all on 127.0.0.1 and all private to the run: a PostgreSQL database (created on the server at
127.0.0.1:5432, which is started when it is not running, and dropped at the end), a Redis broker (a private
``redis-server`` on a free port; without the binary, the system service on 6379, started when needed), an S3
server (``python -m moto.server``) with one bucket, the Directory Insights emulator, an AIRFLOW_HOME, then
``airflow api-server``, ``scheduler``, ``dag-processor`` and two ``airflow celery worker`` processes with
distinct ``--celery-hostname`` values (each reports its own name as the task instances' ``hostname``).
Staging is ``s3://aws_default@<bucket>/jumpcloud`` through the Amazon provider (connection ``aws_default``
whose extra ``endpoint_url`` points at the S3 server). It triggers one run of ``jumpcloud_events_backfill``
over the range (file sink: the bulk files land in the bucket too) and, unless ``--no-kill``, SIGKILLs one
worker's whole process tree as soon as a ``map`` task instance runs on it; the scheduler's task-instance
heartbeat timeout (30 s here) fails that try and the retry (a cluster policy in the private AIRFLOW_HOME
sets a 5 s retry delay) runs on the other worker.

Prints the setup, then the events, wall time, task instances per worker (final and earlier tries), the
killed try and its retry, and PASS/FAIL checks made from the bucket and the metadata DB: the run succeeded,
every event exactly once (distinct ``_id`` in the bulk objects and in the ECS objects == the emulator's
count, no duplicate), both workers ran tasks, the killed task was retried on the other worker, no object
left half-written, nothing staged outside the bucket. Everything started is stopped, also on errors and
Ctrl-C. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import psutil
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill import (
    BIN,
    FINAL_STATES,
    RANGE_DAG_FILE,
    RANGE_DAG_ID,
    REPO,
    BenchmarkError,
    Check,
    MetadataDB,
    ProcessGroup,
    as_utc,
    floor_to,
    free_port,
    iso,
    provision_db,
    tail,
)

from airflow_provider_jumpcloud.emulator.config import EmulatorConfig
from airflow_provider_jumpcloud.emulator.events import expected_count
from airflow_provider_jumpcloud.staging import iter_lines

EMULATOR_SEED = 7
MAX_LATE = timedelta(seconds=300)  # the emulator's --max-late-seconds default
WORKERS = ("worker1", "worker2")
CONCURRENCY = 2  # task slots per worker
HEARTBEAT_TIMEOUT = 30  # [scheduler] task_instance_heartbeat_timeout, seconds (default 300)
RETRY_DELAY = 5  # seconds, set by the private cluster policy (the DAGs' default is 1 minute)
SETUP_TIMEOUT = 300
POLL_SECONDS = 0.5
ACCESS_KEY = "scaleout-test-key"  # the S3 server accepts any credentials
BUCKET_PREFIX = "jumpcloud-scaleout"

#: Written into the private AIRFLOW_HOME's python path: the worker's name as the task instance hostname
#: (both workers run on one machine) and a short retry delay for every task.
SITE_MODULES = {
    "scaleout_host.py": '''
        """The Celery worker's name as the task instances' hostname (the machine's name elsewhere)."""
        import os
        import socket


        def hostname() -> str:
            """Return the name this worker was started with."""
            return os.environ.get("SCALEOUT_WORKER_NAME") or socket.getfqdn()
    ''',
    "airflow_local_settings.py": f'''
        """Cluster policy of the scale-out benchmark: retry a killed task after {RETRY_DELAY} s."""
        from datetime import timedelta


        def task_policy(task) -> None:
            """Shorten the retry delay of every task."""
            task.retry_delay = timedelta(seconds={RETRY_DELAY})
    ''',
}


@dataclass
class Settings:
    """What one scale-out run covers."""

    hours: float = 48.0
    events_per_day: int = 20_000
    max_events_per_window: int = 10_000
    kill_worker: bool = True
    run_timeout: float = 900.0


@dataclass
class Outcome:
    """What a scale-out run measured and checked."""

    events: int = 0
    expected: int = 0
    wall: float = 0.0
    sub_windows: int = 0
    tasks_per_worker: dict[str, Counter[str]] = field(default_factory=dict)
    killed: str | None = None
    killed_task: str | None = None
    retried_on: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)


# ---------------------------------------------------------------------------------------------- services


def _answers(host: str, port: int) -> bool:
    with suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _wait_port(port: int, name: str, procs: ProcessGroup, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers("127.0.0.1", port):
            return
        time.sleep(0.2)
    raise BenchmarkError(f"{name} did not listen on 127.0.0.1:{port} in {timeout:.0f} s\n{tail(procs.log_path(name))}")


def start_redis(procs: ProcessGroup, work: Path) -> str:
    """Return a broker URL: a private redis-server on a free port, else the system service on 6379."""
    if shutil.which("redis-server"):
        port = free_port()
        procs.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(work)], dict(os.environ))
        _wait_port(port, "redis", procs)
        return f"redis://127.0.0.1:{port}/0"
    if not _answers("127.0.0.1", 6379):
        with procs.log_path("redis-start").open("ab") as log:
            subprocess.run(["service", "redis-server", "start"], stdout=log, stderr=log, timeout=60, check=False)
        _wait_port(6379, "redis-start", procs)
    return f"redis://127.0.0.1:6379/{secrets.randbelow(15) + 1}"


def start_s3(procs: ProcessGroup) -> str:
    """Start the S3 server (moto, server mode) on a free port; return its endpoint URL."""
    port = free_port()
    procs.start("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], dict(os.environ))
    _wait_port(port, "s3", procs)
    return f"http://127.0.0.1:{port}"


def s3_filesystem(endpoint: str) -> Any:
    """An s3fs filesystem on the S3 server (the harness's own view of the bucket, not Airflow's)."""
    import s3fs

    return s3fs.S3FileSystem(key=ACCESS_KEY, secret=ACCESS_KEY, endpoint_url=endpoint,
                             client_kwargs={"region_name": "us-east-1"}, use_listings_cache=False)


# ---------------------------------------------------------------------------------------------- deployment


class CeleryDeployment:
    """Metadata DB, broker, S3 server, emulator, the Airflow daemons and two Celery workers, in a work dir."""

    def __init__(self, work: Path, settings: Settings) -> None:
        self.work = work
        self.settings = settings
        self.home = work / "airflow-home"
        self.site = work / "site"
        self.logs = work / "logs"
        for path in (self.home, self.site, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessGroup(self.logs)
        self.db: MetadataDB | None = None
        self.api_key = secrets.token_hex(16)
        days = max(2, int(settings.hours / 24) + 2)
        self.emulator_config = EmulatorConfig(seed=EMULATOR_SEED, events_per_day=settings.events_per_day, days=days,
                                              api_key=self.api_key)
        self.bucket = f"{BUCKET_PREFIX}-{secrets.token_hex(4)}"
        self.s3_endpoint = ""
        self.env: dict[str, str] = {}
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> CeleryDeployment:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def staging_root(self) -> str:
        """The staging root the DAGs use."""
        return f"s3://aws_default@{self.bucket}/jumpcloud"

    def setup(self) -> None:
        """Start every service and daemon; return when the API server answers and both workers are ready."""
        print("setup: metadata DB, broker, S3 server, emulator", flush=True)
        self.db = provision_db("postgresql", self.work)
        print(f"  metadata DB: {self.db.description}", flush=True)
        broker = start_redis(self.procs, self.work)
        self.s3_endpoint = start_s3(self.procs)
        import boto3

        boto3.client("s3", endpoint_url=self.s3_endpoint, aws_access_key_id=ACCESS_KEY,
                     aws_secret_access_key=ACCESS_KEY, region_name="us-east-1").create_bucket(Bucket=self.bucket)
        print(f"  broker {broker}; S3 server {self.s3_endpoint}, bucket {self.bucket}", flush=True)
        emulator_url = self._start_emulator()
        for name, text in SITE_MODULES.items():
            (self.site / name).write_text(textwrap.dedent(text).lstrip())
        api_port = free_port()
        self.env = self._airflow_env(emulator_url, api_port, broker)
        print("setup: airflow db migrate, pool", flush=True)
        self.procs.run("db-migrate", [str(BIN / "airflow"), "db", "migrate"], self.env, timeout=SETUP_TIMEOUT)
        self.procs.run("pool", [str(BIN / "airflow"), "pools", "set", "jumpcloud_api", "4", "JumpCloud API"],
                       self.env, timeout=SETUP_TIMEOUT)
        print(f"setup: api-server, scheduler, dag-processor, celery workers {', '.join(WORKERS)}", flush=True)
        airflow = str(BIN / "airflow")
        self.daemons = {
            "api-server": self.procs.start("api-server", [airflow, "api-server", "--host", "127.0.0.1",
                                                          "--port", str(api_port)], self.env),
            "scheduler": self.procs.start("scheduler", [airflow, "scheduler", "--skip-serve-logs"], self.env),
            "dag-processor": self.procs.start("dag-processor", [airflow, "dag-processor"], self.env),
        }
        for name in WORKERS:
            env = {**self.env, "SCALEOUT_WORKER_NAME": name}
            self.workers[name] = self.procs.start(name, [
                airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(CONCURRENCY),
                "--skip-serve-logs", "--without-mingle", "--without-gossip",
            ], env)
        self._wait(lambda: self._http_ok(f"http://127.0.0.1:{api_port}/api/v2/monitor/health"), "api-server")
        for name in WORKERS:
            self._wait(lambda name=name: " ready." in self.procs.log_path(name).read_text(errors="replace"), name)

    def _start_emulator(self) -> str:
        config = self.emulator_config
        proc = self.procs.start("emulator", [
            sys.executable, "-m", "airflow_provider_jumpcloud.emulator", "--port", "0", "--events-per-day",
            str(config.events_per_day), "--days", str(config.days), "--seed", str(config.seed),
            "--api-key", self.api_key,
        ], dict(os.environ), pipe_stdout=True)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http"):
            raise BenchmarkError(f"emulator did not print its URL\n{tail(self.procs.log_path('emulator'))}")
        self.daemons["emulator"] = proc
        return line

    def _airflow_env(self, emulator_url: str, api_port: int, broker: str) -> dict[str, str]:
        assert self.db is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JUMPCLOUD_", "AWS_"))}
        pythonpath = os.pathsep.join(p for p in (str(self.site), os.environ.get("PYTHONPATH", "")) if p)
        env.update({
            "PYTHONPATH": pythonpath,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scaleout_host.hostname",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db.url,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.db.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # A killed worker's running task is failed (then retried) this soon after its last heartbeat.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            # A task the killed worker had received but not started is queued again this soon.
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "15",
            "AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_JUMPCLOUD_DEFAULT": json.dumps({
                "conn_type": "jumpcloud", "host": emulator_url, "password": self.api_key, "extra": {"timeout": 300},
            }),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
                "conn_type": "aws", "login": ACCESS_KEY, "password": ACCESS_KEY,
                "extra": {"endpoint_url": self.s3_endpoint, "region_name": "us-east-1"},
            }),
            "JUMPCLOUD_STAGING_ROOT": self.staging_root,
        })
        return env

    @staticmethod
    def _http_ok(url: str) -> bool:
        with suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
        return False

    def _wait(self, ready: Any, name: str, timeout: float = SETUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():
                return
            time.sleep(1)
        raise BenchmarkError(f"{name} was not ready in {timeout:.0f} s\n{tail(self.procs.log_path(name))}")

    def check_alive(self, *, except_worker: str | None = None) -> None:
        """Raise when a daemon or a worker (other than a killed one) has exited."""
        for name, proc in {**self.daemons, **self.workers}.items():
            if name != except_worker and proc.poll() is not None:
                raise BenchmarkError(f"{name} exited with {proc.returncode}\n{tail(self.procs.log_path(name))}")

    def close(self) -> None:
        """Stop every process started and drop the metadata DB."""
        print("stopping everything started", flush=True)
        self.procs.stop_all(grace=20)
        if self.db is not None:
            try:
                self.db.drop()
            except Exception as err:  # report, keep cleaning up
                print(f"warning: could not drop the metadata DB: {err}", file=sys.stderr)

    # -- the run

    def rows(self, sql: str, **params: Any) -> list[sqlalchemy.Row[Any]]:
        """Query the metadata DB."""
        assert self.db is not None
        return self.db.rows(sql, **params)

    def airflow(self, name: str, *args: str) -> None:
        """Run an ``airflow`` CLI command."""
        self.procs.run(name, [str(BIN / "airflow"), *args], self.env)

    def wait_for_dag(self) -> None:
        """Wait until the range DAG is serialized (failing on an import error), then unpause it."""
        def serialized() -> bool:
            errors = [r for r in self.rows("SELECT filename, stacktrace FROM import_error")
                      if Path(r.filename).name == RANGE_DAG_FILE.name]
            if errors:
                raise BenchmarkError(f"{RANGE_DAG_FILE.name} does not import:\n{errors[0].stacktrace}")
            return bool(self.rows("SELECT 1 FROM serialized_dag WHERE dag_id = :d", d=RANGE_DAG_ID))

        self._wait(serialized, "dag-processor")
        self.airflow("unpause", "dags", "unpause", RANGE_DAG_ID)

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker's process group and every process below it (its task processes included)."""
        proc = self.workers[name]
        tree: list[psutil.Process] = []
        with suppress(psutil.Error):
            tree = psutil.Process(proc.pid).children(recursive=True)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for child in tree:
            with suppress(psutil.Error):
                child.kill()
        proc.wait(timeout=30)

    def run_range(self, start: datetime, end: datetime, outcome: Outcome) -> sqlalchemy.Row[Any]:
        """Trigger the range DAG, kill a worker during a map task when asked, wait for the run to end."""
        run_id = f"scaleout_{int(time.time())}"
        conf = {"start": iso(start), "end": iso(end), "sink": "file",
                "max_events_per_window": self.settings.max_events_per_window}
        print(f"  trigger {run_id} with {json.dumps(conf)}", flush=True)
        t0 = time.time()
        self.airflow("trigger", "dags", "trigger", RANGE_DAG_ID, "--run-id", run_id, "--conf", json.dumps(conf))
        deadline = time.monotonic() + self.settings.run_timeout
        while True:
            run = self.rows("SELECT id, state, end_date FROM dag_run WHERE dag_id = :d AND run_id = :r",
                            d=RANGE_DAG_ID, r=run_id)
            if run and run[0].state in FINAL_STATES:
                break
            if time.monotonic() > deadline:
                raise BenchmarkError(f"run {run_id} not finished after {self.settings.run_timeout:.0f} s\n"
                                     f"scheduler log:\n{tail(self.procs.log_path('scheduler'))}")
            if self.settings.kill_worker and outcome.killed is None:
                running = self.rows("SELECT task_id, map_index, hostname FROM task_instance WHERE dag_id = :d AND "
                                    "run_id = :r AND state = 'running' AND task_id LIKE '%.map' "
                                    "AND hostname IN ('worker1', 'worker2')", d=RANGE_DAG_ID, r=run_id)
                if running:
                    victim = running[0]
                    self.kill_worker(victim.hostname)
                    outcome.killed, outcome.killed_task = victim.hostname, f"{victim.task_id}[{victim.map_index}]"
                    print(f"  killed {victim.hostname} (SIGKILL, whole process tree) while it ran "
                          f"{outcome.killed_task}, {time.time() - t0:.1f} s into the run", flush=True)
            self.check_alive(except_worker=outcome.killed)
            time.sleep(POLL_SECONDS)
        end_date = as_utc(run[0].end_date)
        outcome.wall = (end_date.timestamp() if end_date else time.time()) - t0
        return self.rows("SELECT id, run_id, state FROM dag_run WHERE id = :i", i=run[0].id)[0]

    def task_instances(self, run_id: str) -> list[sqlalchemy.Row[Any]]:
        """Every try (final and earlier) of the run's task instances, with hostname and state."""
        cols = "task_id, map_index, try_number, state, hostname"
        return self.rows(f"SELECT {cols}, 'final' AS kind FROM task_instance WHERE dag_id = :d AND run_id = :r "
                         f"UNION ALL SELECT {cols}, 'earlier' AS kind FROM task_instance_history "
                         "WHERE dag_id = :d AND run_id = :r", d=RANGE_DAG_ID, r=run_id)

    def failure_details(self, run_id: str) -> str:
        """The log tail of a failed task (or the scheduler's log)."""
        for path in sorted((self.home / "logs").glob(f"dag_id={RANGE_DAG_ID}/run_id={run_id}/**/*.log")):
            text = path.read_text(errors="replace")
            if "ERROR" in text:
                return f"{path.relative_to(self.home)}:\n{tail(path)}"
        return f"scheduler log:\n{tail(self.procs.log_path('scheduler'))}"


# ---------------------------------------------------------------------------------------------- checks


def bucket_ids(fs: Any, bucket: str, folder: str, *, bulk: bool) -> tuple[int, int, list[str]]:
    """Return (documents, distinct ``_id``s, objects that are not complete staged files) under ``folder``."""
    from upath import UPath

    ids: set[str] = set()
    total = 0
    odd: list[str] = []
    for key in sorted(fs.find(f"{bucket}/jumpcloud/{folder}")):
        name = key.rsplit("/", 1)[-1]
        if name.startswith(".") or ".tmp-" in name:
            odd.append(key)
            continue
        path = UPath(f"s3://{key}", **fs.storage_options)
        if bulk:
            for action in islice(iter_lines(path), 0, None, 2):
                ids.add(next(iter(orjson.loads(action).values()))["_id"])
                total += 1
        else:
            for line in iter_lines(path):
                ids.add(orjson.loads(line)["_id"])
                total += 1
    return total, len(ids), odd


def local_staging_files(dep: CeleryDeployment) -> list[str]:
    """Staging files anywhere under the work dir (the logs aside): there must be none."""
    found = []
    for path in dep.work.rglob("*"):
        if dep.logs in path.parents or dep.home / "logs" in path.parents:
            continue
        if path.is_file() and (".ndjson" in path.name or path.name.endswith((".manifest.json", "summary.json"))):
            found.append(str(path.relative_to(dep.work)))
    return found


def check(dep: CeleryDeployment, run: sqlalchemy.Row[Any], start: datetime, end: datetime, outcome: Outcome) -> None:
    """Fill the outcome's figures and checks from the bucket and the metadata DB."""
    settle = end + MAX_LATE - datetime.now(UTC)
    if settle > timedelta(0):  # late arrivals of the range must be visible to the expected count too
        time.sleep(settle.total_seconds() + 1)
    outcome.expected = expected_count(dep.emulator_config, start, end)
    fs = s3_filesystem(dep.s3_endpoint)
    bulk_total, bulk_distinct, bulk_odd = bucket_ids(fs, dep.bucket, "bulk", bulk=True)
    ecs_total, ecs_distinct, ecs_odd = bucket_ids(fs, dep.bucket, "ecs", bulk=False)
    outcome.events = bulk_distinct
    tis = dep.task_instances(run.run_id)
    per_worker: dict[str, Counter[str]] = defaultdict(Counter)
    for ti in tis:
        per_worker[ti.hostname or "(none)"][ti.kind] += 1
    outcome.tasks_per_worker = dict(per_worker)
    outcome.sub_windows = sum(1 for ti in tis if ti.kind == "final" and ti.task_id.endswith(".fetch"))
    leftovers = [k for k in fs.find(dep.bucket) if ".tmp-" in k or k.rsplit("/", 1)[-1].startswith(".")]
    local = local_staging_files(dep)
    checks = [
        Check(run.state == "success", f"run {run.run_id}: {run.state}"),
        Check(bulk_total == bulk_distinct == outcome.expected,
              f"every event exactly once in bulk/: {bulk_total} documents, {bulk_distinct} distinct _ids, "
              f"emulator's count {outcome.expected}"),
        Check(ecs_total == ecs_distinct == outcome.expected,
              f"every event exactly once in ecs/: {ecs_total} documents, {ecs_distinct} distinct _ids"),
        Check(all(per_worker.get(w) for w in WORKERS),
              "tasks ran on both workers: " + ", ".join(f"{w} {sum(per_worker.get(w, Counter()).values())}"
                                                        for w in WORKERS)),
        Check(not leftovers and not bulk_odd and not ecs_odd,
              f"no half-written object in the bucket ({leftovers[:3]})"),
        Check(not local and not (dep.home / "jumpcloud-staging").exists(),
              f"nothing staged outside the bucket (local staging files: {local[:3]})"),
    ]
    if outcome.killed:
        task_id, map_index = outcome.killed_task.rsplit("[", 1) if outcome.killed_task else ("", "")
        tries = [ti for ti in tis if ti.task_id == task_id and str(ti.map_index) == map_index.rstrip("]")]
        lost = [ti for ti in tries if ti.kind == "earlier" and ti.hostname == outcome.killed]
        final = [ti for ti in tries if ti.kind == "final"]
        outcome.retried_on = final[0].hostname if final else None
        checks.append(Check(
            bool(lost) and bool(final) and final[0].state == "success" and final[0].hostname != outcome.killed,
            f"killed {outcome.killed_task} on {outcome.killed}: tries "
            f"{[(ti.try_number, ti.hostname, ti.state) for ti in sorted(tries, key=lambda t: t.try_number)]}; "
            f"the retry succeeded on {outcome.retried_on}",
        ))
    elif dep.settings.kill_worker:
        checks.append(Check(False, "no map task was seen running on a worker: nothing was killed"))
    outcome.checks = checks


def run_scaleout(settings: Settings, work: Path) -> Outcome:
    """Set everything up in ``work``, run the range over the emulator, check it, stop everything."""
    outcome = Outcome()
    end = floor_to(datetime.now(UTC) - timedelta(minutes=30), timedelta(minutes=15))
    start = end - timedelta(hours=settings.hours)
    with CeleryDeployment(work, settings) as dep:
        dep.wait_for_dag()
        print(f"\n== {RANGE_DAG_ID} over [{iso(start)}, {iso(end)}) on CeleryExecutor, staging {dep.staging_root} ==",
              flush=True)
        run = dep.run_range(start, end, outcome)
        if run.state != "success":
            print(dep.failure_details(run.run_id))
        check(dep, run, start, end, outcome)
    return outcome


def report(outcome: Outcome) -> None:
    """Print the figures and checks."""
    print(f"  events: {outcome.events} (emulator's count {outcome.expected}); sub-windows: {outcome.sub_windows}")
    print(f"  wall time: {outcome.wall:.1f} s (trigger to the run's end)")
    for worker, kinds in sorted(outcome.tasks_per_worker.items()):
        print(f"  task instances on {worker}: {kinds.get('final', 0)} final tries, {kinds.get('earlier', 0)} earlier")
    if outcome.killed:
        print(f"  killed {outcome.killed} during {outcome.killed_task}; retried on {outcome.retried_on}")
    for item in outcome.checks:
        print(item)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=48.0, help="length of the range (default 48)")
    parser.add_argument("--events-per-day", type=int, default=20_000)
    parser.add_argument("--max-events", type=int, default=10_000, help="max_events_per_window of the run")
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work dir to use and keep (default: a temp dir)")
    args = parser.parse_args(argv)
    settings = Settings(hours=args.hours, events_per_day=args.events_per_day, max_events_per_window=args.max_events,
                        kill_worker=not args.no_kill)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="jumpcloud-scaleout-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {work}{'' if args.keep else ' (removed at the end; --keep DIR keeps it)'}", flush=True)
    try:
        outcome = run_scaleout(settings, work)
    except BenchmarkError as err:
        print(f"FAIL {err}")
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped")
        return 130
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(outcome)
    print("\nall checks passed" if outcome.ok else "\nsome checks FAILED")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
