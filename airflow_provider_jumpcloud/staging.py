"""Staging area: one place for the file layout, NDJSON line formats, atomic writes and manifests.

Works with any path object that supports ``/``, ``open``, ``rename``, ``exists`` and ``unlink``:
``pathlib.Path`` locally, ``airflow.sdk.ObjectStoragePath`` (or ``upath.UPath``) for ``s3://``,
``gs://`` and ``file://`` roots. No Airflow import here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from airflow_provider_jumpcloud.windows import Window

MANIFEST_VERSION = 1
RAW_MANIFEST_SUFFIX = ".manifest.json"
GZIP_MAGIC = b"\x1f\x8b"
try:  # ISA-L's gzip (same file format, several times faster); the standard library otherwise
    from isal.igzip import IGzipFile as _GzipFile
except ImportError:  # pragma: no cover - isal has wheels for the usual platforms
    from gzip import GzipFile as _GzipFile

#: gzip level for staging files: the fastest level; compression is the costliest part of a stage's I/O.
GZIP_LEVEL = 1


class StoragePath(Protocol):
    """The subset of ``pathlib.Path`` / ``ObjectStoragePath`` the staging code relies on."""

    name: str

    def __truediv__(self, other: str) -> StoragePath: ...

    def open(self, mode: str = ...) -> IO[Any]:  # noqa: D102
        ...

    def exists(self) -> bool:  # noqa: D102
        ...


def as_path(root: str | os.PathLike[str] | StoragePath) -> Any:
    """Turn a staging root (local path, ``file://`` or any fsspec URL) into a path object."""
    if not isinstance(root, str | os.PathLike):
        return root
    text = os.fspath(root)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    if "://" in text:
        from upath import UPath

        return UPath(text)
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


def ensure_parent(path: Any) -> None:
    """Create the parent folder of ``path`` (a no-op on object stores without folders)."""
    parent = path.parent
    with contextlib.suppress(FileExistsError, NotImplementedError):
        parent.mkdir(parents=True, exist_ok=True)


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


@dataclass
class WriteResult:
    """What an atomic write produced: final path, compressed size and SHA-256 of the file bytes."""

    path: str
    size: int = 0
    sha256: str = ""


@contextmanager
def atomic_writer(path: Any, *, compress: bool | None = None) -> Iterator[tuple[IO[bytes], WriteResult]]:
    """Write ``path`` through a temporary sibling and rename it into place only on success.

    A killed or failing writer leaves at most a ``*.tmp-*`` file, never a complete-looking one.
    ``compress`` defaults to ``path.name.endswith(".gz")``.
    """
    if compress is None:
        compress = path.name.endswith(".gz")
    ensure_parent(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    result = WriteResult(path=path_str(path))
    try:
        with tmp.open("wb") as raw:
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
        if isinstance(path, Path):
            tmp.replace(path)  # atomic, also over a file a concurrent writer just put there
        else:
            with contextlib.suppress(FileNotFoundError):  # a concurrent writer may have removed it
                if path.exists():
                    path.unlink()
            tmp.rename(path)
    except BaseException:
        try:
            if tmp.exists():
                tmp.unlink()
        except OSError:
            pass
        raise


class _Passthrough(io.RawIOBase):
    """Raw adapter so a BufferedWriter can sit on top of a GzipFile."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._target.write(data)


@contextmanager
def open_binary(path: Any) -> Iterator[IO[bytes]]:
    """Open a staging file for reading, transparently un-gzipping it when it is compressed."""
    with path.open("rb") as raw:
        buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw, buffer_size=1 << 20)
        head = buffered.peek(2)[:2]
        if head == GZIP_MAGIC:
            with _GzipFile(fileobj=buffered, mode="rb") as gz:
                yield io.BufferedReader(gz, buffer_size=1 << 20)  # type: ignore[arg-type]
        else:
            yield buffered


def iter_lines(path: Any) -> Iterator[bytes]:
    """Yield the non-empty lines of a (possibly gzipped) NDJSON file, or of a list of them in order."""
    if isinstance(path, list | tuple):
        for part in path:
            yield from iter_lines(part)
        return
    with open_binary(path) as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line:
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


def write_json(path: Any, data: Any) -> WriteResult:
    """Write a small JSON document (summary, manifest) atomically."""
    with atomic_writer(path, compress=False) as (f, result):
        f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return result


def read_json(path: Any) -> Any:
    """Read a JSON document written by :func:`write_json`."""
    with path.open("rb") as f:
        return orjson.loads(f.read())


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
