"""Flatten ECS documents into dotted columns for one chunk, and track fields the spec does not know.

Every spec field is a leaf: its value is taken as it is (a scalar, a list, or an object for
``flattened`` / ``geo_point``), so a wrong shape stays visible to the type check. Objects are walked into;
arrays of objects put every element's leaves into the same column, as one list of leaf values per
document (so ``profile_list[*].payload_content[*].payload_type`` becomes one list). A column keeps its
distinct values with document counts, not one cell per document. Paths that are not spec fields are
counted as drift with a few truncated examples. Pure Python: no GX, no Airflow.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from airflow_provider_jumpcloud.quality.checks import JsonObject

EXAMPLE_CHARS = 200
DRIFT_EXAMPLES = 3
ERROR_KIND = "pipeline_error"
_SERIALS = itertools.count()


def render_example(value: Any, limit: int = EXAMPLE_CHARS) -> str:
    """Render a value as compact JSON text cut to ``limit`` characters (an ellipsis marks the cut)."""
    if type(value) is JsonObject:
        value = value.value
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass
class UnknownField:
    """A path found in the data that the spec does not define."""

    documents: int = 0
    examples: list[str] = field(default_factory=list)
    object_expected: bool = False
    last_row: int = -1

    def as_dict(self) -> dict[str, Any]:
        """Return the report form."""
        out: dict[str, Any] = {"documents": self.documents, "examples": list(self.examples)}
        if self.object_expected:
            out["object_expected"] = True
        return out


class DriftTracker:
    """Counts documents per unknown path across every chunk of a window."""

    def __init__(self, object_prefixes: frozenset[str]) -> None:
        self.fields: dict[str, UnknownField] = {}
        self._object_prefixes = object_prefixes

    def see(self, path: str, value: Any, row: int) -> None:
        """Record one occurrence of ``path`` in document number ``row`` (counted once per document)."""
        stat = self.fields.get(path)
        if stat is None:
            stat = self.fields[path] = UnknownField(object_expected=path in self._object_prefixes)
        if stat.last_row != row:
            stat.last_row = row
            stat.documents += 1
            if len(stat.examples) < DRIFT_EXAMPLES:
                text = render_example(value)
                if text not in stat.examples:
                    stat.examples.append(text)


class _Node:
    """One dotted path met in the data: whether it is a spec leaf, and its children by key."""

    __slots__ = ("children", "chunk", "column", "leaf", "path", "prefix", "required")

    def __init__(self, path: str, leaf: bool) -> None:
        self.path = path
        self.prefix = path + "."
        self.leaf = leaf
        self.required = False
        self.children: dict[str, _Node] = {}
        self.chunk = -1
        self.column: dict[Any, list[Any]] = {}


@dataclass(frozen=True)
class FieldIndex:
    """The spec as the flattener needs it: leaf types and the object paths above them."""

    types: Mapping[str, str]
    object_prefixes: frozenset[str]
    #: Path nodes met so far, keyed by JSON key at each level (grown lazily, shared by every chunk).
    root: dict[str, _Node] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_types(cls, types: Mapping[str, str]) -> FieldIndex:
        """Build the index from ``{dotted name: spec type}``."""
        prefixes = set()
        for name in types:
            parts = name.split(".")
            prefixes.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return cls(types=dict(types), object_prefixes=frozenset(prefixes))


class Chunk:
    """One chunk of documents, reduced to the distinct values of every spec column with document counts.

    A field's type check depends only on its value, so GX validates each distinct value once and the
    counts turn its verdicts back into document counts. ``required`` counts the documents by which
    required columns they hold and whether they are error documents.
    """

    def __init__(self, index: FieldIndex, drift: DriftTracker, first_row: int,
                 required: tuple[str, ...] = ()) -> None:
        self.index = index
        self.serial = next(_SERIALS)
        self.drift = drift
        self.first_row = first_row
        self.size = 0
        self.ids: list[Any] = []
        self.error_documents = 0
        #: column -> {value key: [value, documents]}
        self.values: dict[str, dict[Any, list[Any]]] = {}
        #: (present per required column..., is error document) -> [documents, example values]
        self.required: dict[tuple[bool, ...], list[Any]] = {}
        self.required_columns = required
        self._required_set = frozenset(required)
        self._seen: dict[str, Any] = {}
        self._pending: dict[str, list[Any]] = {}
        self._leaves = index.types

    def add(self, doc_id: Any, source: Mapping[str, Any]) -> None:
        """Flatten one document into the chunk."""
        row = self.size
        self.size += 1
        self.ids.append(doc_id)
        event = source.get("event")
        is_error = type(event) is dict and event.get("kind") == ERROR_KIND
        if is_error:
            self.error_documents += 1
        seen = self._seen
        seen.clear()
        self._walk(source, self.index.root, "", row, False)
        if self._pending:
            for path, items in self._pending.items():
                self._count(path, items)
            self._pending = {}
        if self.required_columns:
            pattern = (*(path in seen for path in self.required_columns), is_error)
            entry = self.required.get(pattern)
            if entry is None:
                self.required[pattern] = [1, tuple(seen.get(path) for path in self.required_columns)]
            else:
                entry[0] += 1

    def _node(self, nodes: dict[str, _Node], prefix: str, key: str) -> _Node:
        path = prefix + key
        node = nodes[key] = _Node(path, path in self._leaves)
        node.required = path in self._required_set
        return node

    def _walk(self, obj: Mapping[str, Any], nodes: dict[str, _Node], prefix: str, row: int,
              in_list: bool) -> None:
        for key, value in obj.items():
            if value is None:
                continue
            node = nodes.get(key)
            if node is None:
                node = self._node(nodes, prefix, key)
            kind = type(value)
            if node.leaf:
                if in_list:
                    pending = self._pending.get(node.path)
                    if pending is None:
                        pending = self._pending[node.path] = []
                    if kind is list:
                        pending.extend(value)
                    else:
                        pending.append(value)
                    continue
                if kind is list and not value:
                    continue
                if node.chunk != self.serial:
                    node.chunk = self.serial
                    node.column = self.values.setdefault(node.path, {})
                column = node.column
                if kind is str:
                    vkey: Any = value
                elif kind is list or kind is dict:
                    vkey = (kind, orjson.dumps(value))
                else:
                    vkey = (kind, value)  # keeps True apart from 1 and 1.0
                entry = column.get(vkey)
                if entry is None:
                    column[vkey] = [JsonObject(value) if kind is dict else value, 1]
                else:
                    entry[1] += 1
                if node.required:
                    self._seen[node.path] = value
            elif kind is dict:
                if value:
                    self._walk(value, node.children, node.prefix, row, in_list)
            elif kind is list and any(type(item) is dict for item in value):
                for item in value:
                    if type(item) is dict:
                        self._walk(item, node.children, node.prefix, row, True)
                    elif item is not None:
                        self.drift.see(node.path, item, self.first_row + row)
            elif kind is list and not value:
                continue
            else:
                self.drift.see(node.path, value, self.first_row + row)

    def _count(self, path: str, value: Any) -> None:
        column = self.values.get(path)
        if column is None:
            column = self.values[path] = {}
        kind = type(value)
        if kind is str:
            key: Any = value
        elif kind is list or kind is dict:
            key = (kind, orjson.dumps(value))
        else:
            key = (kind, value)
        entry = column.get(key)
        if entry is None:
            column[key] = [JsonObject(value) if kind is dict else value, 1]
        else:
            entry[1] += 1

    def distinct(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """Return a column's distinct values (object array) and their document counts."""
        entries = list(self.values.get(path, {}).values())
        values = np.fromiter((entry[0] for entry in entries), dtype=object, count=len(entries))
        counts = np.fromiter((entry[1] for entry in entries), dtype=np.int64, count=len(entries))
        return values, counts
