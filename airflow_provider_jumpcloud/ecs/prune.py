"""Recursive removal of null, empty-string and empty-container values (step 4 of Elastic's pipeline).

Elastic's painless script deletes every ``null`` and ``""`` value, then every map or list that is empty
afterwards (repeating upwards); ``false`` and ``0`` stay.

The walk works in place, children first: it only recurses into non-empty containers, tests the
value's type once (strings, the most common values, first) and builds nothing when nothing changes.
:func:`may_need_pruning` is a pre-check on the raw JSON text (without ``null``, ``""``, ``{}`` or ``[]``
nothing can be pruned); the mapper does not use it: scanning ~1 KB four times costs about as much as
walking a typical JumpCloud event, and most events do need pruning.
"""

from __future__ import annotations

import re
from typing import Any

_SPACED_EMPTY = re.compile(rb"[\[{][ \t\r\n]+[\]}]")


def may_need_pruning(raw: bytes) -> bool:
    """Return False only when the JSON text certainly holds no null, empty string or empty container."""
    if b"null" in raw or b'""' in raw or b"{}" in raw or b"[]" in raw:
        return True
    # A "{ }" / "[ ]" starts with "{ " or "[ ", or holds a tab, CR or LF, which JSON strings cannot contain
    # unescaped; only then is the (slower) pattern search needed.
    if b"{ " in raw or b"[ " in raw or b"\n" in raw or b"\r" in raw or b"\t" in raw:
        return _SPACED_EMPTY.search(raw) is not None
    return False


def py_prune_dict(d: dict[str, Any]) -> bool:
    """Prune ``d`` in place; return True when it ends up empty (pure Python)."""
    dead = None
    for key, value in d.items():
        t = type(value)
        if t is str:
            if value:
                continue
        elif t is dict:
            if value and not py_prune_dict(value):
                continue
        elif t is list:
            if value and not prune_list(value):
                continue
        elif value is not None:
            continue
        if dead is None:
            dead = [key]
        else:
            dead.append(key)
    if dead is None:
        return False
    for key in dead:
        del d[key]
    return not d


def prune_list(items: list[Any]) -> bool:
    """Prune ``items`` in place; return True when it ends up empty."""
    dirty = False
    for value in items:
        t = type(value)
        if t is str:
            if value:
                continue
        elif t is dict:
            if value and not py_prune_dict(value):
                continue
        elif t is list:
            if value and not prune_list(value):
                continue
        elif value is not None:
            continue
        dirty = True
    if not dirty:
        return False
    # Children are pruned now: drop null, "" and empty containers (the falsy values other than 0 / false).
    items[:] = [value for value in items if value or value == 0]
    return not items


try:  # the C walk built from _speedups.c (optional extension); same semantics, ~10x faster
    from airflow_provider_jumpcloud.ecs._speedups import prune_dict
except ImportError:  # pragma: no cover - no compiler where the package was installed
    prune_dict = py_prune_dict
