"""File sink: write a mapped window as ``_bulk``-ready NDJSON, for a cluster that is not reachable yet.

Each document becomes two lines, ``{"create": {"_index": "logs-jumpcloud.events-<ns>", "_id": ...}}``
and its source, exactly what ``POST /_bulk`` takes. Replay them later with
``python -m airflow_provider_jumpcloud.sinks.replay`` (409s then count as already present) or, for small
files, ``curl -H 'Content-Type: application/x-ndjson' --data-binary @file https://es:9200/_bulk``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from airflow_provider_jumpcloud.sinks.result import LoadResult
from airflow_provider_jumpcloud.sinks.source import decode_line, numbered_lines
from airflow_provider_jumpcloud.spec.datastream import data_stream_fields, data_stream_name, stamp_document
from airflow_provider_jumpcloud.staging import atomic_writer, iter_lines


def write_bulk_file(
    ecs_path: Any,
    bulk_path: Any,
    *,
    namespace: str,
    fallback_timestamp: str | None = None,
    prestamped: bool = False,
) -> LoadResult:
    """Stream a mapped window into ``bulk_path`` (atomic); ``indexed`` counts the documents written.

    ``prestamped`` says the mapping stage already set ``event.dataset`` and ``@timestamp`` on every
    document (its manifest's ``stamped``): then only ``data_stream`` is added, by splicing bytes, without
    decoding and re-encoding each document. Lines not in the staging format take the decoding path;
    a line that does not decode raises StagingFileError naming the file and line.
    """
    index = data_stream_name(namespace)
    result = LoadResult(sink="file", data_stream=index)
    started = time.monotonic()
    dumps = orjson.dumps
    prefix = b'{"create":{"_index":' + dumps(index) + b',"_id":'
    data_stream = dumps({"data_stream": data_stream_fields(namespace)})
    splice_head = data_stream[:-1] + b","  # '{"data_stream":{...},' then the document's own keys
    read = 0
    with atomic_writer(bulk_path) as (out, written):
        write = out.write
        for number, line in numbered_lines(ecs_path):
            read += 1
            if prestamped and line.startswith(b'{"_id":"'):
                cut = line.find(b'","_source":{', 8)
                if cut > 0 and line.endswith(b"}}") and b"\\" not in line[8:cut]:
                    source = line[cut + 12 : -1]
                    body = data_stream if source == b"{}" else splice_head + source[1:]
                    write(b"".join((prefix, line[7 : cut + 1], b"}}\n", body, b"\n")))
                    continue
            doc_id, doc = decode_line(ecs_path, number, line)
            stamp_document(doc, namespace=namespace, fallback_timestamp=fallback_timestamp)
            write(b"".join((prefix, dumps(doc_id), b"}}\n", dumps(doc), b"\n")))
    result.read = read
    result.indexed = result.read
    result.output_path = written.path
    result.output_sha256 = written.sha256
    result.seconds = round(time.monotonic() - started, 3)
    return result


def iter_bulk_file(path: Any) -> Iterator[tuple[str, str, dict[str, Any], int]]:
    """Yield ``(index, _id, document, source size)`` from a file written by :func:`write_bulk_file`."""
    lines = iter_lines(path)
    number = 0
    for action_line in lines:
        number += 1
        action = orjson.loads(action_line)
        if not isinstance(action, dict) or len(action) != 1:
            raise ValueError(f"{path}: line {number} is not a _bulk action line")
        op, meta = next(iter(action.items()))
        if op not in ("create", "index") or "_index" not in meta or "_id" not in meta:
            raise ValueError(f"{path}: line {number}: expected create/index with _index and _id, got {op!r}")
        source_line = next(lines, None)
        if source_line is None:
            raise ValueError(f"{path}: action on line {number} has no source line")
        number += 1
        yield meta["_index"], meta["_id"], orjson.loads(source_line), len(source_line)
