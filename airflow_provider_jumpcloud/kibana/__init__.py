"""The Kibana dashboard shipped as package data: saved objects for ``POST /api/saved_objects/_import``.

``python -m airflow_provider_jumpcloud.kibana > jumpcloud-dashboard.ndjson`` writes the file out of an
installed package; :mod:`airflow_provider_jumpcloud.kibana.build` is where it comes from. No Airflow import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

SAVED_OBJECTS_FILE = "jumpcloud-dashboard.ndjson"


def saved_objects_bytes() -> bytes:
    """Return the shipped NDJSON exactly as it is imported."""
    return (files(__package__) / SAVED_OBJECTS_FILE).read_bytes()


def iter_saved_objects() -> Iterator[dict[str, Any]]:
    """Yield the shipped saved objects (data views, Lens visualizations, the dashboard) in file order."""
    for number, line in enumerate(saved_objects_bytes().splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as err:
                raise ValueError(f"{SAVED_OBJECTS_FILE} line {number} is not JSON: {err}") from None
