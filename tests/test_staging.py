from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.staging import (
    StagingLayout,
    as_ndjson_line,
    atomic_writer,
    decode_mapped,
    encode_mapped,
    iter_lines,
    manifest,
    read_json,
    write_json,
    write_ndjson,
)
from airflow_provider_jumpcloud.windows import Window

W = Window.parse("2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z")


def test_layout_paths(tmp_path: Path) -> None:
    layout = StagingLayout.at(str(tmp_path))
    assert layout.raw(W) == tmp_path / "raw" / f"{W.key}.ndjson.gz"
    assert layout.ecs(W).name.endswith(".ndjson.gz")
    assert StagingLayout.at(f"file://{tmp_path}").raw(W) == layout.raw(W)


def test_write_ndjson_is_gzip_with_checksum(tmp_path: Path) -> None:
    target = StagingLayout.at(tmp_path).raw(W)
    count, result = write_ndjson(target, [b'{"a":1}', b'{"b":\n2}', b"[]"])
    assert count == 3
    data = target.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert hashlib.sha256(data).hexdigest() == result.sha256 and result.size == len(data)
    assert gzip.decompress(data) == b'{"a":1}\n{"b": 2}\n[]\n'
    assert list(iter_lines(target)) == [b'{"a":1}', b'{"b": 2}', b"[]"]


def test_killed_writer_leaves_no_complete_looking_file(tmp_path: Path) -> None:
    target = tmp_path / "raw" / "w.ndjson.gz"
    with pytest.raises(RuntimeError), atomic_writer(target) as (f, _):
        f.write(b'{"a":1}\n')
        raise RuntimeError("killed")
    assert not target.exists()
    assert list((tmp_path / "raw").iterdir()) == []


def test_rewrite_replaces_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "w.ndjson"
    write_ndjson(target, [b"1", b"2"])
    write_ndjson(target, [b"3"])
    assert list(iter_lines(target)) == [b"3"]


def test_mapped_line_round_trip_and_json(tmp_path: Path) -> None:
    line = encode_mapped("abc", {"event": {"id": "x"}})
    assert line.endswith(b"\n")
    assert decode_mapped(line) == ("abc", {"event": {"id": "x"}})
    write_json(tmp_path / "s.json", {"b": 1, "a": [1]})
    assert read_json(tmp_path / "s.json") == {"a": [1], "b": 1}
    assert manifest("fetch", W, counts={"fetched": 0})["window"] == W.as_dict()


def test_ndjson_line_keeps_value() -> None:
    assert as_ndjson_line(b'{"a":\r\n1}') == b'{"a":  1}\n'
