"""Streaming mapping of one staged NDJSON file of raw events into a staged file of ECS documents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_jumpcloud.ecs.pipeline import ECS_VERSION, ERROR_DOCUMENT, MAPPED_WITH_ERRORS, EventMapper
from airflow_provider_jumpcloud.spec.datastream import stamp_document
from airflow_provider_jumpcloud.staging import WriteResult, atomic_writer, encode_mapped, iter_lines

if TYPE_CHECKING:
    from airflow_provider_jumpcloud.ecs.geoip import GeoIP


@dataclass(frozen=True)
class MapCounts:
    """What :func:`map_file` did: ``read == mapped + error_documents`` always holds.

    ``mapped_with_errors`` counts mapped documents (part of ``mapped``) that carry ``error.message`` for a
    value kept under ``jumpcloud.event`` (invalid IP, unparseable timestamp).
    """

    read: int
    mapped: int
    error_documents: int
    mapped_with_errors: int = 0
    output: WriteResult | None = None

    def as_dict(self) -> dict[str, int]:
        """Return the counts (not the output) as a plain dict for manifests."""
        return {
            "read": self.read,
            "mapped": self.mapped,
            "error_documents": self.error_documents,
            "mapped_with_errors": self.mapped_with_errors,
        }


def map_file(
    src: Any,
    dst: Any,
    *,
    tags: Iterable[str] = (),
    geoip: GeoIP | None = None,
    dataset: str | None = None,
    fallback_timestamp: str | None = None,
) -> MapCounts:
    """Map every line of ``src`` (NDJSON, plain or gzip) into ``dst`` as ``{"_id", "_source"}`` lines.

    Streams line by line in constant memory and writes ``dst`` atomically (gzip when its name ends in
    ``.gz``). ``src`` and ``dst`` are ``pathlib.Path`` or ``ObjectStoragePath``-like objects. Every
    non-empty input line yields exactly one output line: a mapped document or an error document.

    For loading into a data stream, ``dataset`` sets ``event.dataset`` (as Elastic's agent does) and
    ``fallback_timestamp`` (e.g. the window start) becomes ``@timestamp`` of documents without one (error
    documents, unparseable timestamps), which data streams require; Elastic uses the agent's read time.
    """
    mapper = EventMapper(tags, geoip)
    read = errors = with_errors = 0
    with atomic_writer(dst) as (out, result):
        write = out.write
        for line in iter_lines(src):
            doc_id, doc, status = mapper.map(line)
            if dataset is not None or fallback_timestamp is not None:
                stamp_document(doc, dataset=dataset, fallback_timestamp=fallback_timestamp)
            try:
                encoded = encode_mapped(doc_id, doc)
            except TypeError as exc:  # orjson refuses it (nested deeper than 254 levels): error document
                doc_id, doc, status = mapper.error_document(line, {"ecs": {"version": ECS_VERSION}}, doc_id, [
                    f"[json] the mapped document cannot be encoded ({exc}); event.original keeps the input"
                ])
                encoded = encode_mapped(doc_id, doc)
            write(encoded)
            read += 1
            if status == ERROR_DOCUMENT:
                errors += 1
            elif status == MAPPED_WITH_ERRORS:
                with_errors += 1
    return MapCounts(
        read=read,
        mapped=read - errors,
        error_documents=errors,
        mapped_with_errors=with_errors,
        output=result,
    )

