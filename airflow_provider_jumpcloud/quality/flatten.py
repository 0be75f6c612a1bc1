"""Flatten ECS documents into dotted columns for one chunk, and track fields the spec does not know.

Every spec field is a leaf: its value is taken as it is (a scalar, a list, or an object for
``flattened`` / ``geo_point``), so a wrong shape stays visible to the type check. Objects are walked into;
arrays of objects put every element's leaves into the same column, as one list of leaf values per
document (so ``profile_list[*].payload_content[*].payload_type`` becomes one list). A column keeps its
distinct values with document counts, not one cell per document. Paths that are not spec fields are
counted as drift with a few truncated examples. No GX, no Airflow; the walk has an optional C twin
(``_flatten.c``) with the pure-Python :func:`py_walk` as fallback.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import orjson

from airflow_provider_jumpcloud.quality.checks import STRING_TYPES, JsonObject

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


#: A path node is a list (the C walker reads it by position): its dotted path, path + ".", whether it
#: is a spec leaf, whether it is a required column, its children by JSON key, the serial of the chunk
#: whose column dict it caches with that dict, and whether the leaf is string-typed.
PATH, PREFIX, LEAF, REQUIRED, CHILDREN, SERIAL, COLUMN, STRINGS = range(8)
Node = list
#: Class keys of a string-typed column: every string, and every non-empty list of strings, is one value
#: for the type check (whose verdict depends on the type alone). Neither is the orjson text of a value.
STR_CLASS = b'"'
LIST_CLASS = b'["'


_JSON_SCALARS = (int, float, bool)


def value_key(value: Any) -> str | bytes | None:
    """A value's key in a column: a string is its own key, any other JSON value its orjson text.

    Keys are ``str`` or ``bytes``, which the GC does not track, so a column of a million distinct values
    costs no collector time; ``1``, ``1.0``, ``true`` and ``"1"`` stay apart. ``None`` means the value has no
    faithful JSON text (a non-finite float, an int beyond 64 bits, a non-JSON type): it is counted apart.
    Inside a list or object orjson writes a non-finite float as ``null``; decoded JSON never holds one.
    """
    kind = type(value)
    if kind is str:
        return value
    if kind is float and not math.isfinite(value):
        return None
    if kind is list or kind is dict or kind in _JSON_SCALARS:
        try:
            return orjson.dumps(value)
        except TypeError:
            return None
    return None


def class_key(value: Any) -> bytes | None:
    """The class key of a string-typed column's value: strings and non-empty lists of strings, else None."""
    kind = type(value)
    if kind is str:
        return STR_CLASS
    if kind is list and value and all(type(item) is str for item in value):
        return LIST_CLASS
    return None


def _tally(node: Node, column: dict[Any, int], value: Any, ctx: tuple[Any, ...]) -> None:
    """Count one document's value in a column: ``{value key: documents}``."""
    key = class_key(value) if node[STRINGS] else None
    if key is not None:
        if key not in column:
            ctx[8][(key, node[PATH])] = value  # the class's representative
    else:
        key = value_key(value)
        if key is None:
            ctx[7](column, value)
            return
        if type(key) is bytes and key not in column:
            key = bytes(memoryview(key))  # orjson's bytes keep a 4 KiB buffer: store an exact-size copy
    column[key] = column.get(key, 0) + 1


def py_walk(document: dict[str, Any], ctx: tuple[Any, ...], row: int) -> None:
    """Tally one document's spec leaves into the chunk's columns; report unknown paths to drift.

    ``ctx`` is ``(root, values, seen, make_node, drift_see, serial, dumps, odd, reps, str_class,
    list_class)``; the C walker in ``_flatten.c`` does the same and is used when it is built.
    """
    root, values, seen, make_node, drift_see, serial = ctx[:6]
    reps = ctx[8]
    pending: dict[str, tuple[Node, list[Any]]] = {}

    def walk(obj: dict[str, Any], nodes: dict[str, Node], prefix: str, in_list: bool) -> None:
        for key, value in obj.items():
            if value is None:
                continue
            node = nodes.get(key)
            if node is None:
                node = make_node(nodes, prefix, key)
            kind = type(value)
            if node[LEAF]:
                if in_list:
                    slot = pending.get(node[PATH])
                    if slot is None:
                        slot = pending[node[PATH]] = (node, [])
                    if kind is list:
                        slot[1].extend(value)
                    else:
                        slot[1].append(value)
                    continue
                if kind is list and not value:
                    continue
                if node[SERIAL] is not serial:
                    node[SERIAL] = serial
                    node[COLUMN] = values.setdefault(node[PATH], {})
                if kind is str:  # the common case, inlined: a string is its own key, or its column's class
                    column = node[COLUMN]
                    vkey = STR_CLASS if node[STRINGS] else value
                    if vkey in column:
                        column[vkey] += 1
                    else:
                        column[vkey] = 1
                        if node[STRINGS]:
                            reps[(STR_CLASS, node[PATH])] = value
                else:
                    _tally(node, node[COLUMN], value, ctx)
                if node[REQUIRED]:
                    seen[node[PATH]] = value
            elif kind is dict:
                if value:
                    walk(value, node[CHILDREN], node[PREFIX], in_list)
            elif kind is list and any(type(item) is dict for item in value):
                for item in list(value):
                    if type(item) is dict:
                        walk(item, node[CHILDREN], node[PREFIX], True)
                    elif item is not None:
                        drift_see(node[PATH], item, row)
            elif kind is list and not value:
                continue
            else:
                drift_see(node[PATH], value, row)

    walk(document, root, "", False)
    for path, (node, items) in pending.items():
        _tally(node, values.setdefault(path, {}), items, ctx)


try:  # the C walker built from _flatten.c (optional extension); same semantics, several times faster
    from airflow_provider_jumpcloud.quality._flatten import walk as walk_document
except ImportError:  # pragma: no cover - no compiler where the package was installed
    walk_document = py_walk


@dataclass(frozen=True)
class FieldIndex:
    """The spec as the flattener needs it: leaf types and the object paths above them."""

    types: Mapping[str, str]
    object_prefixes: frozenset[str]
    #: Path nodes met so far, keyed by JSON key at each level (grown lazily, shared by every chunk).
    root: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_types(cls, types: Mapping[str, str]) -> FieldIndex:
        """Build the index from ``{dotted name: spec type}``."""
        prefixes = set()
        for name in types:
            parts = name.split(".")
            prefixes.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return cls(types=dict(types), object_prefixes=frozenset(prefixes))


def _make_node(leaves: Mapping[str, str], required: frozenset[str], nodes: dict[str, Node], prefix: str,
               key: str) -> Node:
    """Create and store the node of ``prefix + key`` (a spec leaf or not, required or not)."""
    path = prefix + key
    node = nodes[key] = [path, path + ".", path in leaves, path in required, {}, None, None,
                         leaves.get(path) in STRING_TYPES]
    return node


def _count_odd(odd: dict[tuple[str, str, int], Any], column: dict[Any, int], value: Any) -> None:
    """Count a value that has no JSON key under a stand-in key, keeping the value in ``odd``."""
    key = ("odd", type(value).__name__, len(odd))
    for known, kept in odd.items():
        if type(kept) is type(value) and (kept is value or kept == value):
            key = known
            break
    odd[key] = value
    column[key] = column.get(key, 0) + 1


def _release_columns(nodes: dict[str, Node]) -> None:
    """Drop the column dicts cached on every node, so a finished chunk's values can be freed."""
    for node in nodes.values():
        node[SERIAL] = node[COLUMN] = None
        if node[CHILDREN]:
            _release_columns(node[CHILDREN])


class Chunk:
    """One chunk of documents, reduced to the distinct values of every spec column with document counts.

    A field's type check depends only on its value, so GX validates each distinct value once and the
    counts turn its verdicts back into document counts; a string-typed column counts its strings as one
    class (see :data:`STR_CLASS`). ``required`` counts the documents by which required columns they hold
    and whether they are error documents. Keys are strings and bytes, which the garbage collector does
    not track, and nothing points back at the chunk, so a finished chunk is freed at once.
    """

    def __init__(self, index: FieldIndex, drift: DriftTracker, first_row: int,
                 required: tuple[str, ...] = (), *, walker: Callable[..., None] | None = None) -> None:
        self.index = index
        self.serial = next(_SERIALS)
        self.drift = drift
        self.first_row = first_row
        self.size = 0
        self.ids: list[Any] = []
        self.error_documents = 0
        #: column -> {value key (see :func:`value_key`): documents}
        self.values: dict[str, dict[Any, int]] = {}
        #: values without a JSON key, by their stand-in key
        self._odd: dict[tuple[str, str, int], Any] = {}
        #: (class key, column) -> the first value of that class in the chunk
        self._reps: dict[tuple[bytes, str], Any] = {}
        #: (present per required column..., is error document) -> [documents, example values]
        self.required: dict[tuple[bool, ...], list[Any]] = {}
        self.required_columns = required
        self._required_set = frozenset(required)
        self._seen: dict[str, Any] = {}
        self._walker = walker or walk_document
        _release_columns(index.root)  # the nodes' cached columns of the previous chunk
        # The callbacks hold no reference to the chunk, so a finished chunk is freed at once, not by the GC.
        self._ctx = (index.root, self.values, self._seen, partial(_make_node, index.types, self._required_set),
                     drift.see, self.serial, orjson.dumps, partial(_count_odd, self._odd), self._reps, STR_CLASS,
                     LIST_CLASS)

    def add(self, doc_id: Any, source: dict[str, Any]) -> None:
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
        self._walker(source, self._ctx, self.first_row + row)
        if self.required_columns:
            pattern = (*(path in seen for path in self.required_columns), is_error)
            entry = self.required.get(pattern)
            if entry is None:
                self.required[pattern] = [1, tuple(seen.get(path) for path in self.required_columns)]
            else:
                entry[0] += 1

    def value(self, key: Any, path: str = "") -> Any:
        """The value behind a column key (a class key gives its representative; objects are wrapped)."""
        if type(key) is str:
            return key
        if type(key) is tuple:
            value = self._odd[key]
        elif key in (STR_CLASS, LIST_CLASS):
            return self._reps[(key, path)]
        else:
            value = orjson.loads(key)
        return JsonObject(value) if type(value) is dict else value

    def items(self, path: str) -> Iterator[tuple[Any, int]]:
        """Yield a column's distinct values (a class by its representative) with their document counts."""
        value = self.value
        for key, count in self.values.get(path, {}).items():
            yield value(key, path), count

    @property
    def distinct_values(self) -> int:
        """Distinct values held, over every column (what a chunk's memory grows with)."""
        return sum(map(len, self.values.values()))

    def distinct(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """Return a column's distinct values (object array) and their document counts."""
        column = self.values.get(path, {})
        values = np.fromiter(column, dtype=object, count=len(column))  # a string is its own key
        kinds = np.fromiter(map(type, column), dtype=object, count=len(column))
        for i in np.flatnonzero(kinds != str):  # noqa: E721 (element-wise on an array of types)
            values[i] = self.value(values[i], path)
        counts = np.fromiter(column.values(), dtype=np.int64, count=len(column))
        return values, counts
