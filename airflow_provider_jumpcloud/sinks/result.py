"""What a sink did with one mapped window: counts that always add up, and where the files went."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LoadResult:
    """Counts of one load; ``read == indexed + already_present + dead_lettered`` always holds.

    ``indexed`` is "created in Elasticsearch" for the Elasticsearch sink and "written" for the file sink.
    """

    sink: str
    data_stream: str
    read: int = 0
    indexed: int = 0
    already_present: int = 0
    dead_lettered: int = 0
    dead_letter_path: str | None = None
    output_path: str | None = None
    output_sha256: str | None = None
    seconds: float = 0.0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """True when every document read is accounted for exactly once."""
        return self.read == self.indexed + self.already_present + self.dead_lettered

    def counts(self) -> dict[str, int]:
        """Return the four counts as a plain dict."""
        return {
            "read": self.read,
            "indexed": self.indexed,
            "already_present": self.already_present,
            "dead_lettered": self.dead_lettered,
        }

    def as_dict(self) -> dict[str, Any]:
        """Return every field as a JSON-ready dict."""
        return asdict(self)
