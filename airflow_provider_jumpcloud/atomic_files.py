"""Files that appear complete or not at all: a locked temporary sibling locally, one upload on object stores.

Locally a file is written under ``.<name>.tmp-<uuid>``, locked while it is written, and renamed into place;
a retry removes the siblings its killed predecessor left (only those no live writer holds). On an object
store (``s3://``, ``gs://``, any non-local fsspec path) an upload is atomic while a rename is a copy plus a
delete, so the bytes are kept in memory (or, past a few MiB, in a local spool file) and sent in one upload
once complete: an exception or a kill mid-write leaves no object. No Airflow import.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: temporary files are never taken for orphans
    fcntl = None  # type: ignore[assignment]

#: Temporary files younger than this are never removed as orphans, even when unlocked: it covers the
#: instant between a writer creating its file and locking it.
#: Infix of the temporary names local writes go through: ``.<name>.tmp-<uuid>``.
TMP_INFIX = ".tmp-"
ORPHAN_MIN_AGE_SECONDS = 60.0
#: Object-store writes up to this size are held in memory; larger ones spill to a local spool file.
SPOOL_MEMORY_BYTES = 8 << 20
#: Folder (under the system temporary folder) of the spool files of object-store writes.
SPOOL_DIR_NAME = "jumpcloud-staging-spool"
SPOOL_PREFIX = "spool-"
#: fsspec protocols of flat object stores: no folders to create before a write.
FLAT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"})


def local_path(path: Any) -> Path | None:
    """Return ``path`` as a ``pathlib.Path`` when it is on the local filesystem, else None."""
    if isinstance(path, PurePath):
        return Path(path)
    if getattr(path, "protocol", None) in ("", "file", "local"):
        return Path(path.path)
    return None


def ensure_parent(path: Any) -> None:
    """Create the parent folder of ``path`` (a no-op on object stores without folders)."""
    if getattr(path, "protocol", None) in FLAT_PROTOCOLS:
        return
    parent = path.parent
    with contextlib.suppress(FileExistsError, NotImplementedError):
        parent.mkdir(parents=True, exist_ok=True)


def _create_locked(path: Path) -> IO[bytes]:
    """Create ``path`` (it must not exist) and hold an exclusive lock on it until it is closed."""
    f = open(path, "xb")  # noqa: SIM115 - the caller closes it after renaming or removing it
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else can hold it
    return f


def remove_orphans(folder: Path, prefix: str, *, min_age: float = ORPHAN_MIN_AGE_SECONDS) -> list[Path]:
    """Remove files ``folder/prefix*`` left by killed writers; return those removed.

    A writer holds a lock on its temporary file until it renames or removes it, and the kernel drops the
    lock when the writer dies (also on SIGKILL), so a file nobody holds is an orphan; a concurrent writer
    of the same target keeps its file. Files younger than ``min_age`` seconds are left alone.
    """
    if fcntl is None:
        return []
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if now - entry.stat().st_mtime < min_age:
                continue
            with open(entry.path, "rb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a live writer
                os.unlink(entry.path)
        except OSError:  # held by a live writer, already removed, or locks unsupported: leave it
            continue
        removed.append(Path(entry.path))
    return removed


@contextmanager
def local_target(path: Path) -> Iterator[IO[bytes]]:
    """Yield a locked temporary sibling of ``path``; rename it into place when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}{TMP_INFIX}"
    remove_orphans(path.parent, prefix)  # a retry cleans up after the killed attempt
    tmp = path.parent / f"{prefix}{uuid.uuid4().hex}"
    raw = _create_locked(tmp)
    try:
        yield raw
        raw.flush()
        os.replace(tmp, path)  # atomic, also over a file a concurrent writer just put there; lock still held
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        raw.close()


def spool_dir() -> Path:
    """The local folder of spool files of object-store writes (in the system temporary folder)."""
    return Path(tempfile.gettempdir()) / SPOOL_DIR_NAME


class _Spool(io.RawIOBase):
    """Bytes of one object-store write: in memory up to SPOOL_MEMORY_BYTES, then in a locked local file."""

    def __init__(self) -> None:
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: IO[bytes] | None = None
        self._name = ""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._memory is not None:
            if self._memory.tell() + len(data) <= SPOOL_MEMORY_BYTES:
                return self._memory.write(data)
            self._spill()
        assert self._file is not None
        return self._file.write(data)

    def _spill(self) -> None:
        folder = spool_dir()
        folder.mkdir(parents=True, exist_ok=True)
        remove_orphans(folder, SPOOL_PREFIX)  # spool files of killed writers
        name = folder / f"{SPOOL_PREFIX}{uuid.uuid4().hex}"
        self._file = _create_locked(name)
        self._name = str(name)
        assert self._memory is not None
        self._file.write(self._memory.getbuffer())
        self._memory = None

    def upload(self, path: Any) -> None:
        """Send the bytes to ``path`` (an fsspec path) in one upload."""
        if self._memory is not None:
            path.fs.pipe_file(path.path, self._memory.getvalue())
        else:
            assert self._file is not None
            self._file.flush()
            path.fs.put_file(self._name, path.path)

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._name)
            self._file.close()
            self._file = None
        self._memory = None
        super().close()


@contextmanager
def object_target(path: Any) -> Iterator[IO[bytes]]:
    """Yield a spool for ``path`` on an object store; upload it in one piece when the block succeeds."""
    ensure_parent(path)
    spool = _Spool()
    try:
        yield spool  # type: ignore[misc]
        spool.upload(path)
    finally:
        spool.close()
