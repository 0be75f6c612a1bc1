"""map_file: streaming, counts that add up, gzip and plain, one output line per input line."""

from __future__ import annotations

import gzip

import orjson
import pytest

from airflow_provider_jumpcloud.ecs import map_event, map_file
from airflow_provider_jumpcloud.staging import decode_mapped, iter_lines
from tests.conftest import load_sample_events

GOOD = [orjson.dumps(e) for e in load_sample_events()]
BAD = [b"not json at all", b"[1,2,3]", b'{"id": "x", "a": "\xff"}', b"{}", b'{"broken": ']
WARN = [b'{"id": "w1", "timestamp": "never", "client_ip": "300.1.1.1"}']


def lines():
    out = []
    for i, good in enumerate(GOOD):
        out.append(good)
        if i < len(BAD):
            out.append(BAD[i])
    return out + WARN


@pytest.mark.parametrize("name", ["raw.ndjson", "raw.ndjson.gz"])
@pytest.mark.parametrize("out_name", ["ecs.ndjson", "ecs.ndjson.gz"])
def test_counts_add_up(tmp_path, name, out_name):
    src = tmp_path / name
    body = b"\n".join(lines()) + b"\n\n"  # a trailing blank line is not an event
    src.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    dst = tmp_path / out_name
    counts = map_file(src, dst, tags=["forwarded"])
    assert counts.read == len(lines()) == len(GOOD) + len(BAD) + len(WARN)
    assert counts.error_documents == len(BAD)
    assert counts.mapped == len(GOOD) + len(WARN)
    assert counts.read == counts.mapped + counts.error_documents
    assert counts.mapped_with_errors == 1
    assert (dst.read_bytes()[:2] == b"\x1f\x8b") == out_name.endswith(".gz")
    out = [decode_mapped(line) for line in iter_lines(dst)]
    assert len(out) == counts.read
    assert out == [map_event(line, tags=["forwarded"]) for line in lines()]
    assert sum(doc["event"].get("kind") == "pipeline_error" for _, doc in out) == len(BAD)
    assert counts.output.path == str(dst) and counts.output.size == dst.stat().st_size
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert counts.as_dict()["read"] == counts.read


def test_empty_file(tmp_path):
    src = tmp_path / "raw.ndjson"
    src.write_bytes(b"")
    counts = map_file(src, tmp_path / "out.ndjson.gz")
    assert (counts.read, counts.mapped, counts.error_documents) == (0, 0, 0)
    assert list(iter_lines(tmp_path / "out.ndjson.gz")) == []


def test_failure_leaves_no_output(tmp_path):
    src = tmp_path / "missing.ndjson"
    dst = tmp_path / "out.ndjson"
    with pytest.raises(FileNotFoundError):
        map_file(src, dst)
    assert list(tmp_path.iterdir()) == []
