"""Dead-letter file: one NDJSON line per document Elasticsearch (or the loader) refused, with the reason."""

from __future__ import annotations

import contextlib
from collections import Counter
from contextlib import ExitStack
from types import TracebackType
from typing import IO, Any

import orjson

from airflow_provider_jumpcloud.staging import atomic_writer


class DeadLetterWriter:
    """Write dead letters atomically, creating the file only when there is one (a stale one is removed).

    Each line: ``{"_id", "index", "status", "error": {"type", "reason"}, "document"}``. The document is
    the one that was sent, so fixing the cause and replaying the file is enough.
    """

    def __init__(self, path: Any) -> None:
        self.path = path
        self.count = 0
        self.reasons: Counter[str] = Counter()
        self._stack = ExitStack()
        self._out: IO[bytes] | None = None

    def __enter__(self) -> DeadLetterWriter:
        return self

    def write(
        self, doc_id: str | None, index: str, status: int, error_type: str, reason: str, doc: Any
    ) -> None:
        """Append one dead letter."""
        if self._out is None:
            self._out, _ = self._stack.enter_context(atomic_writer(self.path, compress=False))
        line = {
            "_id": doc_id,
            "index": index,
            "status": status,
            "error": {"type": error_type, "reason": reason},
            "document": doc,
        }
        self._out.write(orjson.dumps(line) + b"\n")
        self.count += 1
        self.reasons[f"{status} {error_type}"] += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        suppressed = self._stack.__exit__(exc_type, exc, tb)
        if exc_type is None and self.count == 0:
            with contextlib.suppress(FileNotFoundError, NotImplementedError):
                if self.path.exists():
                    self.path.unlink()
        return suppressed


def read_dead_letters(path: Any) -> list[dict[str, Any]]:
    """Read a dead-letter file (for tests and inspection; it is small by construction)."""
    from airflow_provider_jumpcloud.staging import iter_lines

    return [orjson.loads(line) for line in iter_lines(path)]
