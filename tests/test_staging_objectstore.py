"""Object-storage staging against a local S3 server (moto in server mode on 127.0.0.1).

Writes are one upload each (no temporary object, no copy), reads verify manifests, and a write that fails
or is killed midway leaves no object at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from airflow_provider_jumpcloud import atomic_files
from airflow_provider_jumpcloud.ecs import map_file
from airflow_provider_jumpcloud.exceptions import StagingFileError
from airflow_provider_jumpcloud.staging import (
    CheckedFile,
    StagingLayout,
    as_path,
    atomic_writer,
    iter_lines,
    read_json,
    write_json,
    write_ndjson,
)
from airflow_provider_jumpcloud.windows import Window

KEY = "moto-test-key"
W = Window.parse("2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z")
EVENTS = [orjson.dumps({"id": f"{i:024x}", "timestamp": "2025-01-01T00:00:01Z", "service": "directory",
                        "pad": os.urandom(40).hex()}) for i in range(5_000)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture
def s3fs_(s3_server: str) -> Any:
    import s3fs

    fs = s3fs.S3FileSystem(key=KEY, secret=KEY, endpoint_url=s3_server, client_kwargs={"region_name": "us-east-1"},
                           use_listings_cache=False, skip_instance_cache=True)
    return fs


@pytest.fixture
def bucket(s3_server: str, request: pytest.FixtureRequest) -> str:
    import boto3

    name = "staging-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    boto3.client("s3", endpoint_url=s3_server, aws_access_key_id=KEY, aws_secret_access_key=KEY,
                 region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def aws_conn(monkeypatch: pytest.MonkeyPatch, s3_server: str) -> str:
    pytest.importorskip("airflow.providers.amazon")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_MOTO", json.dumps({
        "conn_type": "aws", "login": KEY, "password": KEY,
        "extra": {"endpoint_url": s3_server, "region_name": "us-east-1"},
    }))
    return "aws_moto"


@pytest.fixture
def root(bucket: str, aws_conn: str) -> Any:
    """The staging root as the DAGs give it: ``s3://<conn>@<bucket>/jumpcloud`` (an ObjectStoragePath)."""
    return as_path(f"s3://{aws_conn}@{bucket}/jumpcloud")


def _keys(fs: Any, bucket: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(key.split("/", 1)[1] for key in fs.find(bucket))


def test_staging_root_url_is_an_object_storage_path_on_the_connection(root: Any, aws_conn: str) -> None:
    from airflow.sdk import ObjectStoragePath

    assert isinstance(root, ObjectStoragePath) and root.conn_id == aws_conn
    assert as_path(str(StagingLayout(root).raw(W))).conn_id == aws_conn  # a manifest's path keeps the connection


def test_write_is_one_upload_with_a_verifiable_manifest(root: Any, s3fs_: Any, bucket: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    layout = StagingLayout(root)
    calls: list[str] = []
    target = layout.raw(W)
    for name in ("pipe_file", "put_file", "copy", "cp_file", "mv", "rm", "rm_file"):
        original = getattr(target.fs, name)
        monkeypatch.setattr(target.fs, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1])
    count, written = write_ndjson(target, EVENTS)
    assert count == len(EVENTS) and calls == ["pipe_file"]  # one upload; no temporary object, copy or delete
    assert _keys(s3fs_, bucket) == [f"jumpcloud/raw/{W.key}.ndjson.gz"]
    data = s3fs_.cat_file(f"{bucket}/jumpcloud/raw/{W.key}.ndjson.gz")
    assert len(data) == written.size and hashlib.sha256(data).hexdigest() == written.sha256
    assert written.path == str(layout.raw(W)) and written.path.startswith("s3://")
    assert list(iter_lines(CheckedFile(as_path(written.path), written.size, written.sha256))) == EVENTS
    write_json(layout.raw_manifest(W), {"bytes": written.size, "sha256": written.sha256})
    assert read_json(layout.raw_manifest(W)) == {"bytes": written.size, "sha256": written.sha256}
    assert [w for w, _ in layout.raw_manifests()] == [W]


def test_a_large_write_spools_to_disk_and_uploads_once(root: Any, s3fs_: Any, bucket: str,
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(atomic_files, "SPOOL_MEMORY_BYTES", 64 << 10)
    monkeypatch.setattr(atomic_files, "spool_dir", lambda: tmp_path / "spool")
    target = StagingLayout(root).raw(W)
    count, written = write_ndjson(target, EVENTS)
    assert count == len(EVENTS) and written.size > 64 << 10  # past the memory limit: it went through a spool file
    assert _keys(s3fs_, bucket) == [f"jumpcloud/raw/{W.key}.ndjson.gz"]
    assert list(iter_lines(CheckedFile(target, written.size, written.sha256))) == EVENTS
    assert list(atomic_files.spool_dir().iterdir()) == []  # the spool file is gone


@pytest.mark.parametrize("spool_limit", [8 << 20, 16 << 10], ids=["in-memory", "spooled"])
def test_an_exception_mid_write_leaves_no_object(root: Any, s3fs_: Any, bucket: str, spool_limit: int,
                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(atomic_files, "SPOOL_MEMORY_BYTES", spool_limit)
    monkeypatch.setattr(atomic_files, "spool_dir", lambda: tmp_path / "spool")
    target = StagingLayout(root).ecs(W)
    with pytest.raises(RuntimeError, match="mid-write"), atomic_writer(target) as (f, _):
        for i, event in enumerate(EVENTS):
            f.write(event + b"\n")
            if i == len(EVENTS) // 2:
                f.flush()
                raise RuntimeError("mid-write")
    assert _keys(s3fs_, bucket) == []
    assert not atomic_files.spool_dir().exists() or list(atomic_files.spool_dir().iterdir()) == []


def test_a_failed_upload_leaves_no_object_and_no_spool(root: Any, s3fs_: Any, bucket: str,
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(atomic_files, "SPOOL_MEMORY_BYTES", 16 << 10)
    monkeypatch.setattr(atomic_files, "spool_dir", lambda: tmp_path / "spool")

    def refuse(lpath: str, rpath: str, **kwargs: Any) -> None:
        raise ConnectionResetError("connection reset during upload")

    target = StagingLayout(root).raw(W)
    monkeypatch.setattr(target.fs, "put_file", refuse)
    with pytest.raises(ConnectionResetError):
        write_ndjson(target, EVENTS)
    assert _keys(s3fs_, bucket) == []
    assert list(atomic_files.spool_dir().iterdir()) == []


def test_a_killed_writer_leaves_no_object_and_its_spool_is_removed_later(
    s3_server: str, s3fs_: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_tmp = tmp_path / "tmp"
    spool_tmp.mkdir()
    url = f"s3://{bucket}/jumpcloud/raw/{W.key}.ndjson.gz"
    script = textwrap.dedent(f"""
        import os, time
        from upath import UPath
        from airflow_provider_jumpcloud import atomic_files
        from airflow_provider_jumpcloud.staging import atomic_writer
        atomic_files.SPOOL_MEMORY_BYTES = 16 << 10
        path = UPath({url!r}, key={KEY!r}, secret={KEY!r}, endpoint_url={s3_server!r},
                     client_kwargs={{"region_name": "us-east-1"}})
        with atomic_writer(path) as (f, _):
            f.write(os.urandom(1 << 20))
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env={**os.environ,
                                                                                        "TMPDIR": str(spool_tmp)})
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _keys(s3fs_, bucket) == []  # nothing reached the bucket
    monkeypatch.setattr(atomic_files, "spool_dir", lambda: spool_tmp / atomic_files.SPOOL_DIR_NAME)
    (orphan,) = atomic_files.spool_dir().iterdir()
    old = time.time() - atomic_files.ORPHAN_MIN_AGE_SECONDS - 5
    os.utime(orphan, (old, old))
    monkeypatch.setattr(atomic_files, "SPOOL_MEMORY_BYTES", 16 << 10)
    write_ndjson(_upath(url, s3_server), EVENTS)  # the next spilling write cleans up
    assert not orphan.exists()
    assert _keys(s3fs_, bucket) == [f"jumpcloud/raw/{W.key}.ndjson.gz"]


def _upath(url: str, endpoint: str) -> Any:
    from upath import UPath

    return UPath(url, key=KEY, secret=KEY, endpoint_url=endpoint, client_kwargs={"region_name": "us-east-1"})


def test_map_reads_and_writes_the_bucket_and_refuses_a_changed_object(root: Any, s3fs_: Any, bucket: str) -> None:
    layout = StagingLayout(root)
    _, written = write_ndjson(layout.raw(W), EVENTS)
    counts = map_file(CheckedFile(layout.raw(W), written.size, written.sha256), layout.ecs(W))
    assert counts.read == len(EVENTS)
    ids = [orjson.loads(line)["_id"] for line in iter_lines(layout.ecs(W))]
    assert len(ids) == len(set(ids)) == len(EVENTS)
    # Replace the raw object with other bytes of the same size: map must refuse it and keep the old output.
    data = bytearray(s3fs_.cat_file(f"{bucket}/jumpcloud/raw/{W.key}.ndjson.gz"))
    data[4] ^= 0x01  # the gzip header's MTIME: the events still decode, the bytes differ
    s3fs_.pipe_file(f"{bucket}/jumpcloud/raw/{W.key}.ndjson.gz", bytes(data))
    before = s3fs_.info(f"{bucket}/jumpcloud/ecs/{W.key}.ndjson.gz")["ETag"]
    with pytest.raises(StagingFileError) as raised:
        map_file(CheckedFile(layout.raw(W), written.size, written.sha256), layout.ecs(W))
    assert raised.value.path == str(layout.raw(W))
    s3fs_.invalidate_cache()
    assert s3fs_.info(f"{bucket}/jumpcloud/ecs/{W.key}.ndjson.gz")["ETag"] == before
    assert _keys(s3fs_, bucket) == [f"jumpcloud/ecs/{W.key}.ndjson.gz", f"jumpcloud/raw/{W.key}.ndjson.gz"]
