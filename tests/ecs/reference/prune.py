"""Recursive removal of null, empty-string and empty-container values (step 4 of Elastic's pipeline).

Elastic's painless script deletes every ``null`` and ``""`` value, then every map or list that is empty
afterwards (repeating upwards); ``false`` and ``0`` stay. :func:`may_need_pruning` is a fast pre-check on
the raw JSON text: without ``null``, ``""``, ``{}`` or ``[]`` (whitespace allowed inside the brackets)
nothing can be pruned and the walk is skipped.
"""

from __future__ import annotations

import re
from typing import Any

_SPACED_EMPTY = re.compile(rb"[\[{][ \t\r\n]+[\]}]")


def may_need_pruning(raw: bytes) -> bool:
    """Return False only when the JSON text certainly holds no null, empty string or empty container."""
    return (
        b"null" in raw
        or b'""' in raw
        or b"{}" in raw
        or b"[]" in raw
        or _SPACED_EMPTY.search(raw) is not None
    )


def _is_empty(value: Any) -> bool:
    """For a falsy value: True for null, "" and empty containers, False for 0 and false."""
    return value is None or value == "" or value == {} or value == []


def prune_dict(d: dict[str, Any]) -> bool:
    """Prune ``d`` in place; return True when it ends up empty."""
    dead = None
    for key, value in d.items():
        if value:
            t = type(value)
            if (t is dict and prune_dict(value)) or (t is list and prune_list(value)):
                if dead is None:
                    dead = [key]
                else:
                    dead.append(key)
        elif value is None or value == "" or value == {} or value == []:
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
    keep = None
    for i, value in enumerate(items):
        if value:
            t = type(value)
            drop = (t is dict and prune_dict(value)) or (t is list and prune_list(value))
        else:
            drop = _is_empty(value)
        if drop:
            if keep is None:
                keep = items[:i]
        elif keep is not None:
            keep.append(value)
    if keep is None:
        return False
    items[:] = keep
    return not keep
