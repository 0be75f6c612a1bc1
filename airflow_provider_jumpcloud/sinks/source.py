"""Read a mapped window (the sinks' input) line by line; a corrupt file is an error naming file and line.

Staging files are gzip NDJSON of ``{"_id", "_source"}`` lines. A truncated or corrupt gzip stream, or a line
that is not such a document, raises :class:`StagingFileError` with the path and the (1-based) line number:
for a broken gzip stream, the first line that could not be read. Retrying cannot fix either; re-running
the stage that wrote the file can.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any

from isal.igzip_lib import IsalError

from airflow_provider_jumpcloud.exceptions import StagingFileError
from airflow_provider_jumpcloud.staging import decode_mapped, iter_lines, path_str

#: What a corrupt or truncated gzip stream raises (the standard library's and ISA-L's decoders).
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, IsalError)


def numbered_lines(path: Any) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, line)`` of a staged NDJSON file; raise StagingFileError if it is corrupt."""
    number = 0
    try:
        for line in iter_lines(path):
            number += 1
            yield number, line
    except StagingFileError as err:
        if err.line is not None:
            raise
        raise StagingFileError(f"{err} (at line {number + 1})", path=err.path, line=number + 1) from err
    except _GZIP_ERRORS as err:
        raise StagingFileError(
            f"{path_str(path)}: unreadable at line {number + 1} ({type(err).__name__}: {err}); "
            "re-run the stage that wrote it",
            path=path_str(path),
            line=number + 1,
        ) from err


def decode_line(path: Any, number: int, line: bytes) -> tuple[str, dict[str, Any]]:
    """Decode one staging line into ``(_id, document)``; raise StagingFileError naming file and line."""
    try:
        doc_id, doc = decode_mapped(line)
    except (ValueError, KeyError, TypeError) as err:
        raise StagingFileError(
            f"{path_str(path)}: line {number} is not a mapped document ({type(err).__name__}: "
            f"{str(err)[:200]}); re-run the mapping stage",
            path=path_str(path),
            line=number,
        ) from err
    if not isinstance(doc_id, str) or not isinstance(doc, dict):
        raise StagingFileError(
            f"{path_str(path)}: line {number} has no string _id and object _source; re-run the mapping stage",
            path=path_str(path),
            line=number,
        )
    return doc_id, doc


def iter_mapped(path: Any) -> Iterator[tuple[int, str, dict[str, Any], int]]:
    """Yield ``(line number, _id, document, line size)`` for every line of a mapped window."""
    for number, line in numbered_lines(path):
        doc_id, doc = decode_line(path, number, line)
        yield number, doc_id, doc, len(line)
