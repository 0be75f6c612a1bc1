"""Staging area: one place for the file layout, NDJSON line formats, atomic writes and manifests.

Works with ``pathlib.Path`` locally and with ``airflow.sdk.ObjectStoragePath`` (or ``upath.UPath``) for
``s3://``, ``gs://`` and other fsspec roots. No Airflow import at module level.

Writes never leave a file that looks complete unless it is: locally a file is written under a locked
temporary sibling and renamed into place; on an object store it is sent in one upload once complete
(an upload is atomic there), from memory or from a local spool file, so an exception or a kill mid-write
leaves no object. Reads name the file and line of any corruption (:class:`StagingFileError`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO, Any, Protocol

import orjson

from airflow_provider_jumpcloud.atomic_files import local_path, local_target, object_target
from airflow_provider_jumpcloud.exceptions import StagingFileError
from airflow_provider_jumpcloud.windows import Window

MANIFEST_VERSION = 1
#: A window's quality report: ``quality/<window>/summary.json`` (written last, so it marks a complete report)
#: beside the Data Docs folder ``quality/<window>/docs/`` (entry page ``index.html``).
QUALITY_SUMMARY = "summary.json"
QUALITY_DOCS = "docs"
QUALITY_DOCS_INDEX = "index.html"
RAW_MANIFEST_SUFFIX = ".manifest.json"
GZIP_MAGIC = b"\x1f\x8b"
try:  # ISA-L's gzip (same file format, several times faster); the standard library otherwise
    from isal.igzip import IGzipFile as _GzipFile
    from isal.isal_zlib import error as _IsalError
except ImportError:  # pragma: no cover - isal has wheels for the usual platforms
    from gzip import GzipFile as _GzipFile
    _IsalError = zlib.error

#: gzip level for staging files: the fastest level; compression is the costliest part of a stage's I/O.
GZIP_LEVEL = 1
#: What a corrupt gzip stream raises while it is read (bad header or data, CRC, truncation).
DECODE_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, _IsalError)


class StoragePath(Protocol):
    """The subset of ``pathlib.Path`` / ``ObjectStoragePath`` the staging code relies on."""

    name: str

    def __truediv__(self, other: str) -> StoragePath: ...

    def open(self, mode: str = ...) -> IO[Any]:  # noqa: D102
        ...

    def exists(self) -> bool:  # noqa: D102
        ...


def as_path(root: str | os.PathLike[str] | StoragePath) -> Any:
    """Turn a staging root or manifest path (local, ``file://`` or any fsspec URL) into a path object.

    URLs such as ``s3://aws_default@bucket/jumpcloud`` become ``airflow.sdk.ObjectStoragePath`` (the user
    part names the Airflow connection) when Airflow is installed, ``upath.UPath`` otherwise; local paths
    and ``file://`` URLs become ``pathlib.Path``. Path objects are returned as they are.
    """
    if not isinstance(root, str | PurePath):
        return root
    text = os.fspath(root)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    if "://" in text:
        try:
            from airflow.sdk import ObjectStoragePath
        except ImportError:
            from upath import UPath

            return UPath(text)
        return ObjectStoragePath(text)
    return Path(text)


@dataclass(frozen=True)
class StagingLayout:
    """Where each stage of one window lives under a staging root."""

    root: Any

    @classmethod
    def at(cls, root: str | os.PathLike[str] | StoragePath) -> StagingLayout:
        """Return the layout for a root given as a string, a path or an ObjectStoragePath."""
        return cls(as_path(root))

    def raw(self, window: Window) -> Any:
        """Raw API events, gzip NDJSON, one event per line exactly as the API sent it."""
        return self.root / "raw" / f"{window.key}.ndjson.gz"

    def raw_manifest(self, window: Window) -> Any:
        """The fetch manifest of a raw window (counts, SHA-256), written after it: the archive's index."""
        return self.root / "raw" / f"{window.key}{RAW_MANIFEST_SUFFIX}"

    def raw_manifests(self) -> Iterator[tuple[Window, Any]]:
        """Yield ``(window, manifest path)`` of every raw window in the archive, in no particular order."""
        folder = self.root / "raw"
        if not folder.exists():
            return
        for path in folder.iterdir():
            name = path.name
            if name.endswith(RAW_MANIFEST_SUFFIX) and not name.startswith("."):  # not a file being written
                yield Window.from_key(name[: -len(RAW_MANIFEST_SUFFIX)]), path

    def archive_plan(self, plan_key: str, window: Window) -> Any:
        """The raw parts one sub-window of an archive re-map reads, listed by the range's plan task."""
        return self.root / "plans" / plan_key / f"{window.key}.json"

    def ecs(self, window: Window) -> Any:
        """Mapped ECS documents, gzip NDJSON of ``{"_id": ..., "_source": {...}}`` lines."""
        return self.root / "ecs" / f"{window.key}.ndjson.gz"

    def quality_dir(self, window: Window) -> Any:
        """Folder of the quality summary (``summary.json``) and Data Docs (``docs/index.html``)."""
        return self.root / "quality" / window.key

    def quality_summary(self, window: Window) -> Any:
        """The window's quality summary, ``quality/<window>/summary.json``."""
        return self.quality_dir(window) / QUALITY_SUMMARY

    def quality_docs_index(self, window: Window) -> Any:
        """Entry page of the window's Data Docs, ``quality/<window>/docs/index.html``."""
        return self.quality_dir(window) / QUALITY_DOCS / QUALITY_DOCS_INDEX

    def bulk(self, window: Window) -> Any:
        """``_bulk``-ready NDJSON written by the file sink."""
        return self.root / "bulk" / f"{window.key}.ndjson"

    def dead_letter(self, window: Window) -> Any:
        """Documents Elasticsearch rejected, one JSON line each with the reason."""
        return self.root / "dead-letter" / f"{window.key}.ndjson"

    def load_summary(self, window: Window) -> Any:
        """JSON summary of the load stage."""
        return self.root / "load" / f"{window.key}.json"


def path_str(path: Any) -> str:
    """Render a path for manifests and logs (URL form for object storage, plain path locally)."""
    return str(path)


class _CountingHashWriter(io.RawIOBase):
    """Binary writer that hashes and counts the bytes passing to the underlying file."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.size += view.nbytes
        self._raw.write(view)
        return view.nbytes


class _Passthrough(io.RawIOBase):
    """Raw adapter so a BufferedWriter can sit on top of a GzipFile."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._target.write(data)


@dataclass
class WriteResult:
    """What an atomic write produced: final path, compressed size and SHA-256 of the file bytes."""

    path: str
    size: int = 0
    sha256: str = ""


@contextmanager
def atomic_writer(path: Any, *, compress: bool | None = None) -> Iterator[tuple[IO[bytes], WriteResult]]:
    """Write ``path`` so that it appears complete or not at all; fill the result on success.

    Locally through a locked temporary sibling renamed into place (a retry removes the siblings of killed
    writers); on object stores as one upload after the block succeeds. ``compress`` defaults to
    ``path.name.endswith(".gz")``.
    """
    if compress is None:
        compress = path.name.endswith(".gz")
    local = local_path(path)
    target = local_target(local) if local is not None else object_target(path)
    result = WriteResult(path=path_str(path))
    with target as raw:
        counter = _CountingHashWriter(raw)
        if compress:
            with _GzipFile(fileobj=counter, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:
                buffered = io.BufferedWriter(_Passthrough(gz), buffer_size=1 << 20)
                yield buffered, result
                buffered.flush()
        else:
            buffered = io.BufferedWriter(counter, buffer_size=1 << 20)
            yield buffered, result
            buffered.flush()
        result.size = counter.size
        result.sha256 = counter.sha256.hexdigest()


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class CheckedFile:
    """A staged file with the size and SHA-256 its manifest recorded: reading it verifies both.

    The size is checked when it is opened; the SHA-256 when it has been read to the end, before the last
    read returns, so a stage streaming it into an atomic write commits nothing from a changed file.
    """

    path: Any
    size: int
    sha256: str

    @property
    def name(self) -> str:
        """The file name."""
        return str(self.path.name)

    def __str__(self) -> str:
        return path_str(self.path)

    def open(self, mode: str = "rb") -> IO[bytes]:
        """Open for binary reading; raise StagingFileError when it is missing or its size is not recorded."""
        if mode != "rb":
            raise ValueError(f"{self} is opened for reading only, not {mode!r}")
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise StagingFileError(f"staging file {self} does not exist", path=str(self)) from None
        if size != self.size:
            raise StagingFileError(
                f"staging file {self} is {size} bytes but its manifest recorded {self.size}: it was truncated or "
                "replaced after it was written; run the stage that wrote it again", path=str(self),
            )
        return io.BufferedReader(_VerifyingReader(self.path.open("rb"), self), buffer_size=1 << 20)


class _VerifyingReader(io.RawIOBase):
    """Raw reader that hashes what it reads and compares with the manifest at the end of the file."""

    def __init__(self, raw: IO[bytes], expected: CheckedFile) -> None:
        self._raw = raw
        self._expected = expected
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if not data:
            self._verify()
            return 0
        buffer[: len(data)] = data
        self._sha256.update(data)
        self._size += len(data)
        return len(data)

    def _verify(self) -> None:
        if self._verified:
            return
        expected = self._expected
        digest = self._sha256.hexdigest()
        if self._size != expected.size or digest != expected.sha256:
            raise StagingFileError(
                f"staging file {expected} differs from its manifest: {self._size} bytes with SHA-256 "
                f"{digest[:16]}..., recorded {expected.size} bytes with {expected.sha256[:16]}...: it was changed "
                "after it was written; run the stage that wrote it again", path=str(expected),
            )
        self._verified = True

    def close(self) -> None:
        self._raw.close()
        super().close()


def file_digest(path: Any) -> tuple[int, str]:
    """Return the size and SHA-256 (hex) of a file's bytes, reading it in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


class _NamedDecodeErrors(io.RawIOBase):
    """Raw reader that turns gzip decoding errors into StagingFileError naming the file."""

    def __init__(self, source: IO[bytes], path: Any) -> None:
        self._source = source
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._source.readinto(buffer)  # type: ignore[attr-defined, no-any-return]
        except DECODE_ERRORS as err:
            raise StagingFileError(f"staging file {path_str(self._path)} is not valid gzip: {err}",
                                   path=path_str(self._path)) from err


class _ReadOnce(io.RawIOBase):
    """Raw adapter over a GzipFile: one decompression step per read (``read1``), so a buffered reader on
    top keeps every line decoded before a corrupt or truncated block (and skips a copy)."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def _open_decoded(path: Any) -> Iterator[IO[bytes]]:
    """Open a staging file for reading, un-gzipping it when it starts with the gzip magic."""
    with path.open("rb") as raw:
        buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw, buffer_size=1 << 20)
        head = buffered.peek(2)[:2]
        if head == GZIP_MAGIC:
            with _GzipFile(fileobj=buffered, mode="rb") as gz:
                yield io.BufferedReader(_ReadOnce(gz), buffer_size=1 << 20)
        else:
            yield buffered


@contextmanager
def open_binary(path: Any) -> Iterator[IO[bytes]]:
    """Open a staging file for reading, transparently un-gzipping it when it is compressed.

    Corrupt gzip data raises StagingFileError naming the file while it is read.
    """
    with _open_decoded(path) as f:
        yield io.BufferedReader(_NamedDecodeErrors(f, path), buffer_size=1 << 20)


def _newlines(decoder: Any, data: bytes) -> tuple[Any, int]:
    """Feed gzip bytes to a zlib decoder (following member boundaries); return it and the newlines decoded."""
    newlines = 0
    while data:
        newlines += decoder.decompress(data, 1 << 22).count(b"\n")
        if decoder.eof:  # the next gzip member, if any
            data, decoder = decoder.unused_data, zlib.decompressobj(31)
        else:
            data = decoder.unconsumed_tail
    return decoder, newlines


def _line_reached(path: Any, fallback: int) -> int:
    """Return the line at which a damaged gzip file stops decoding, counted exactly with zlib.

    The fast reader decodes in blocks and loses the lines of the block it fails in; this pass (made only
    after a failure) counts the complete lines decoded before the byte where zlib detects the damage, so a
    truncated file names its last, partial line and a bad checksum the line after the last. ``fallback``
    is returned when the file cannot be read again.
    """
    lines = 0
    decoder = zlib.decompressobj(31)
    try:
        with (path.path if isinstance(path, CheckedFile) else path).open("rb") as raw:
            while chunk := raw.read(1 << 16):
                saved = decoder.copy()
                try:
                    decoder, newlines = _newlines(decoder, chunk)
                except zlib.error:  # again byte by byte from before this chunk: the lines up to the damage
                    decoder = saved
                    for i in range(len(chunk)):
                        decoder, newlines = _newlines(decoder, chunk[i:i + 1])
                        lines += newlines
                    raise
                lines += newlines
    except zlib.error:
        pass
    except OSError:
        return fallback
    return lines + 1


def line_error(path: Any, line: int, problem: str) -> StagingFileError:
    """Return the StagingFileError for a bad line ``line`` (1-based) of the staging file ``path``."""
    where = path_str(path)
    return StagingFileError(f"staging file {where}, line {line}: {problem}", path=where, line=line)


def iter_numbered_lines(path: Any) -> Iterator[tuple[Any, int, bytes]]:
    """Yield ``(path, line number, line)`` for the non-empty lines of a staging file, or of a list of them.

    Line numbers count every line of the (decompressed) file from 1. A corrupt or truncated gzip stream
    raises StagingFileError naming the file and the line being read.
    """
    if isinstance(path, list | tuple):
        for part in path:
            yield from iter_numbered_lines(part)
        return
    number = 0
    try:
        with _open_decoded(path) as f:
            for number, line in enumerate(f, 1):
                line = line.rstrip(b"\r\n")
                if line:
                    yield path, number, line
    except DECODE_ERRORS as err:
        raise line_error(path, _line_reached(path, number + 1), f"corrupt or truncated gzip data ({err})") from err


def iter_lines(path: Any) -> Iterator[bytes]:
    """Yield the non-empty lines of a (possibly gzipped) NDJSON file, or of a list of them in order.

    A corrupt or truncated gzip stream raises StagingFileError naming the file and the line being read.
    """
    for _path, _number, line in iter_numbered_lines(path):
        yield line


def as_ndjson_line(raw_json: bytes) -> bytes:
    """Return one JSON value's text as a single NDJSON line (newline-terminated).

    JSON allows raw line breaks only as whitespace between tokens (inside strings they must be
    escaped), so turning them into spaces keeps the value identical.
    """
    if b"\n" in raw_json or b"\r" in raw_json:
        raw_json = raw_json.replace(b"\r", b" ").replace(b"\n", b" ")
    return raw_json + b"\n"


def encode_mapped(doc_id: str, doc: dict[str, Any]) -> bytes:
    """Encode one mapped document as its staging line ``{"_id": ..., "_source": {...}}``."""
    return orjson.dumps({"_id": doc_id, "_source": doc}) + b"\n"


def decode_mapped(line: bytes) -> tuple[str, dict[str, Any]]:
    """Decode a staging line written by :func:`encode_mapped`."""
    obj = orjson.loads(line)
    return obj["_id"], obj["_source"]


def decode_mapped_line(path: Any, number: int, line: bytes) -> tuple[str, dict[str, Any]]:
    """Decode a staging line like :func:`decode_mapped`; raise StagingFileError naming file and line."""
    try:
        doc_id, doc = decode_mapped(line)
    except orjson.JSONDecodeError as err:
        raise line_error(path, number, f"not JSON ({err})") from err
    except (KeyError, TypeError):
        raise line_error(path, number, 'not a staged document {"_id": ..., "_source": {...}}') from None
    if not isinstance(doc_id, str) or not isinstance(doc, dict):
        raise line_error(path, number, '"_id" must be a string and "_source" an object')
    return doc_id, doc


def write_json(path: Any, data: Any) -> WriteResult:
    """Write a small JSON document (summary, manifest) atomically."""
    with atomic_writer(path, compress=False) as (f, result):
        f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return result


def read_json(path: Any) -> Any:
    """Read a JSON document written by :func:`write_json`; raise StagingFileError when it is not JSON."""
    with path.open("rb") as f:
        data = f.read()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise StagingFileError(f"staging file {path_str(path)} is not JSON ({err})", path=path_str(path)) from err


def manifest(stage: str, window: Window, **fields: Any) -> dict[str, Any]:
    """Return the small XCom manifest of a stage: version, stage, window, then paths and counts."""
    return {"version": MANIFEST_VERSION, "stage": stage, "window": window.as_dict(), **fields}


def write_ndjson(path: Any, lines: Iterable[bytes]) -> tuple[int, WriteResult]:
    """Stream JSON texts into an NDJSON file atomically; return the line count and the write result."""
    count = 0
    with atomic_writer(path) as (f, result):
        write = f.write
        for raw in lines:
            write(as_ndjson_line(raw))
            count += 1
    return count, result
