"""Restate GX validation results in documents before Data Docs render them.

GX validates a long table of distinct values (see :mod:`gxrun`), so its own figures count rows: "1 unexpected
value, 0.43% of 231 rows" where the truth is "3 of 168 documents". Each row carries the number of documents
holding it, so every figure a reader sees (element and unexpected counts, percentages, the unexpected-value
table) is recomputed here as a sum of documents and written back into the stored result of a kept run.
The row index list (meaningless outside the run) is dropped. No Airflow, no GX import.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

#: Unexpected values listed per expectation (with their documents); the rest are counted.
LISTED = 20


def _counted(values: list[Any], documents: list[int], listed: int = LISTED) -> list[dict[str, Any]]:
    """Group equal values, sum their documents, biggest first, at most ``listed``."""
    totals: dict[str, list[Any]] = defaultdict(lambda: [None, 0])
    for value, count in zip(values, documents, strict=True):
        key = repr(value)
        totals[key][0] = value
        totals[key][1] += int(count)
    ordered = sorted(totals.values(), key=lambda item: -item[1])
    return [{"value": value, "count": count} for value, count in ordered[:listed]]


def restate(considered: np.ndarray, bad: np.ndarray, documents: np.ndarray, values: list[Any]) -> dict[str, Any]:
    """Return the result fields of one expectation in documents.

    :param considered: boolean mask of the table rows the expectation looked at
    :param bad: indexes of its unexpected rows
    :param documents: documents per table row
    :param values: the value to show for the first unexpected rows (``bad[:len(values)]``); when they are not
        all of them, GX lists them as samples without counts
    """
    element = int(documents[considered].sum())
    unexpected = int(documents[bad].sum()) if bad.size else 0
    percent = 100.0 * unexpected / element if element else 0.0
    counts = _counted(values, [int(documents[i]) for i in bad[:len(values)]])
    return {
        "element_count": element,
        "unexpected_count": unexpected,
        "unexpected_percent": percent,
        "unexpected_percent_total": percent,
        "unexpected_percent_nonmissing": percent,
        "missing_count": 0,
        "missing_percent": 0.0,
        "partial_unexpected_list": [item["value"] for item in counts],
        "partial_unexpected_counts": counts,
        "unexpected_list": [item["value"] for item in counts],
        "unexpected_index_list": None,
        "unexpected_index_query": None,
    }


def expectation_key(expectation_type: str, kwargs: dict[str, Any]) -> str:
    """Identify an expectation of the suite within one run (its type and column)."""
    return f"{expectation_type}:{kwargs.get('column', '')}"


def apply(store: Any, keys: set[Any], restated: dict[str, dict[str, Any]]) -> None:
    """Overwrite the stored results of ``keys`` with their restated (document) figures."""
    for key in keys:
        suite_result = store.get(key)
        for item in suite_result.results:
            config = item.expectation_config
            fields = restated.get(expectation_key(config.type, config.kwargs))
            if fields is not None and item.result is not None:
                item.result.update(fields)
        store.set(key, suite_result)
