"""Local staging robustness: orphaned temporary files, concurrent writers, corrupt files named by line."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import orjson
import pytest

from airflow_provider_jumpcloud.atomic_files import ORPHAN_MIN_AGE_SECONDS, local_path, remove_orphans
from airflow_provider_jumpcloud.ecs import map_file
from airflow_provider_jumpcloud.exceptions import StagingFileError
from airflow_provider_jumpcloud.staging import (
    CheckedFile,
    as_path,
    atomic_writer,
    decode_mapped_line,
    encode_mapped,
    file_digest,
    iter_lines,
    iter_numbered_lines,
    open_binary,
    write_ndjson,
)

LINES = [orjson.dumps({"id": f"{i:024x}", "n": i, "pad": "x" * (i % 50)}) for i in range(20_000)]


def _age(path: Path, seconds: float = ORPHAN_MIN_AGE_SECONDS + 5) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


# ---------------------------------------------------------------------------------------------- orphans


def test_a_killed_writer_leaves_a_temp_file_that_the_retry_removes(tmp_path: Path) -> None:
    target = tmp_path / "raw" / "w.ndjson.gz"
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from airflow_provider_jumpcloud.staging import atomic_writer
        with atomic_writer(Path({str(target)!r})) as (f, _):
            f.write(b'{{"a": 1}}\\n' * 100000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = _temps(target.parent)
    assert len(left) == 1 and left[0].startswith(".w.ndjson.gz.tmp-") and not target.exists()
    write_ndjson(target, [b'{"b": 2}'])  # a retry right away: the orphan is too young to be sure of
    assert _temps(target.parent) == left
    _age(target.parent / left[0])
    write_ndjson(target, [b'{"c": 3}'])  # the next retry removes it
    assert _temps(target.parent) == []
    assert list(iter_lines(target)) == [b'{"c": 3}']


def test_a_live_writers_temp_file_is_never_removed_however_old(tmp_path: Path) -> None:
    target = tmp_path / "w.ndjson"
    with atomic_writer(target) as (f, _):
        f.write(b"1\n")
        f.flush()
        (mine,) = _temps(tmp_path)
        _age(tmp_path / mine, 3600)  # a writer stuck for an hour (429 back-off) still holds its lock
        assert remove_orphans(tmp_path, ".w.ndjson.tmp-") == []
        write_ndjson(target, [b"2"])  # a concurrent writer of the same target leaves it alone too
        assert mine in _temps(tmp_path)
    assert list(iter_lines(target)) == [b"1"]  # the last rename wins, complete
    assert _temps(tmp_path) == []


def test_orphans_of_other_targets_are_left_alone(tmp_path: Path) -> None:
    other = tmp_path / ".other.ndjson.tmp-0123"
    other.write_bytes(b"x")
    _age(other)
    write_ndjson(tmp_path / "w.ndjson", [b"1"])
    assert other.exists()


def test_concurrent_writers_of_one_target_both_succeed_and_one_complete_file_wins(tmp_path: Path) -> None:
    target = tmp_path / "w.ndjson.gz"
    errors: list[BaseException] = []

    def write(tag: bytes) -> None:
        try:
            write_ndjson(target, (tag + line for line in LINES))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(tag,)) for tag in (b"A", b"B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = list(iter_lines(target))
    assert len(got) == len(LINES) and len({line[:1] for line in got}) == 1
    assert _temps(tmp_path) == []


# ---------------------------------------------------------------------------------------------- corrupt files


@pytest.fixture
def gz(tmp_path: Path) -> Path:
    path = tmp_path / "raw" / "w.ndjson.gz"
    write_ndjson(path, LINES)
    return path


def _read_until_error(path: Path) -> tuple[int, StagingFileError]:
    read = 0
    with pytest.raises(StagingFileError) as raised:
        for _ in iter_lines(path):
            read += 1
    return read, raised.value


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "crc", "small truncated"])
def test_corrupt_gzip_names_file_and_line_reached(gz: Path, damage: str) -> None:
    data = bytearray(gz.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncated":
        del data[len(data) * 2 // 3:]
    elif damage == "small truncated":  # one read of the fast decoder holds the whole file
        data = bytearray(gzip.compress(b"".join(line + b"\n" for line in LINES[:300])))
        del data[len(data) // 2:]
    else:
        data[-8:-4] = b"\0\0\0\0"
    gz.write_bytes(bytes(data))
    read, err = _read_until_error(gz)
    assert err.path == str(gz)
    assert f"{gz}, line {err.line}:" in str(err) and "gzip" in str(err)
    assert err.line is not None and read + 1 <= err.line  # nothing past it was yielded
    assert err.line == _complete_lines(bytes(data)) + 1
    if damage == "crc":
        assert read <= len(LINES) and err.line == len(LINES) + 1


def _complete_lines(data: bytes) -> int:
    """Newlines zlib decodes from a gzip stream, fed one byte at a time, before it fails or the data ends."""
    decoder, newlines = zlib.decompressobj(31), 0
    try:
        for i in range(len(data)):
            newlines += decoder.decompress(data[i:i + 1]).count(b"\n")
    except zlib.error:
        pass
    return newlines


def test_numbered_lines_count_blank_lines_and_name_each_part(tmp_path: Path) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b'{"a":1}\n\n{"a":2}\r\n')
    second.write_bytes(b'{"b":1}')
    assert list(iter_numbered_lines([first, second])) == [
        (first, 1, b'{"a":1}'), (first, 3, b'{"a":2}'), (second, 1, b'{"b":1}')
    ]


@pytest.mark.parametrize(("line", "problem"), [
    (b'{"_id": "a", "_source": {"x": 1}', "not JSON"),
    (b'{"id": "a"}', "not a staged document"),
    (b"[1, 2]", "not a staged document"),
    (b'{"_id": 5, "_source": {}}', '"_id" must be a string'),
])
def test_decode_mapped_line_names_file_and_line(tmp_path: Path, line: bytes, problem: str) -> None:
    path = tmp_path / "ecs.ndjson"
    path.write_bytes(encode_mapped("ok", {"a": 1}) + line + b"\n")
    decoded = []
    with pytest.raises(StagingFileError) as raised:
        for where, number, text in iter_numbered_lines(path):
            decoded.append(decode_mapped_line(where, number, text))
    assert decoded == [("ok", {"a": 1})]
    assert raised.value.path == str(path) and raised.value.line == 2
    assert problem in str(raised.value) and f"{path}, line 2" in str(raised.value)


def test_open_binary_names_the_corrupt_file(gz: Path) -> None:
    data = bytearray(gz.read_bytes())
    data[100] ^= 0xFF
    gz.write_bytes(bytes(data))
    with pytest.raises(StagingFileError, match="is not valid gzip") as raised, open_binary(gz) as f:
        while f.read(1 << 16):
            pass
    assert raised.value.path == str(gz) and raised.value.line is None


# ---------------------------------------------------------------------------------------------- manifests


def test_checked_file_reads_a_file_that_matches_its_manifest(gz: Path) -> None:
    size, sha256 = file_digest(gz)
    assert size == gz.stat().st_size and sha256 == hashlib.sha256(gz.read_bytes()).hexdigest()
    assert list(iter_lines(CheckedFile(gz, size, sha256))) == LINES


def test_checked_file_refuses_another_size_before_reading(gz: Path) -> None:
    size, sha256 = file_digest(gz)
    with pytest.raises(StagingFileError, match=f"is {size} bytes but its manifest recorded {size + 1}"):
        next(iter_lines(CheckedFile(gz, size + 1, sha256)))


def test_a_changed_file_of_the_same_size_commits_no_output(tmp_path: Path) -> None:
    raw = tmp_path / "raw.ndjson"
    raw.write_bytes(b"".join(line + b"\n" for line in LINES[:100]))
    size, sha256 = file_digest(raw)
    raw.write_bytes(raw.read_bytes().replace(b'"n":7,', b'"n":8,', 1))  # same size, other bytes
    dst = tmp_path / "ecs" / "out.ndjson.gz"
    with pytest.raises(StagingFileError, match="differs from its manifest") as raised:
        map_file(CheckedFile(raw, size, sha256), dst)
    assert raised.value.path == str(raw)
    assert not dst.exists() and list(dst.parent.iterdir()) == []


def test_checked_file_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StagingFileError, match="does not exist"):
        next(iter_lines(CheckedFile(tmp_path / "gone.ndjson.gz", 10, "0" * 64)))


def test_gzip_magic_in_a_plain_file_is_decoded_as_gzip(tmp_path: Path) -> None:
    path = tmp_path / "w.ndjson"
    path.write_bytes(gzip.compress(b'{"a":1}\n'))
    assert list(iter_lines(path)) == [b'{"a":1}']


# ---------------------------------------------------------------------------------------------- paths


def test_as_path_local_forms(tmp_path: Path) -> None:
    assert as_path(str(tmp_path)) == tmp_path
    assert as_path(f"file://{tmp_path}") == tmp_path
    assert as_path(tmp_path) == tmp_path
    assert local_path(as_path("memory://bucket/x")) is None


def test_as_path_gives_object_storage_path_with_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import ObjectStoragePath

    path = as_path("s3://aws_default@bucket/jumpcloud")
    assert isinstance(path, ObjectStoragePath)
    assert path.conn_id == "aws_default" and path.path.rstrip("/") == "bucket/jumpcloud"
    assert (path / "raw" / "w.ndjson.gz").conn_id == "aws_default"
