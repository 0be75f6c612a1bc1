"""The exported-fields spec of the ``jumpcloud.events`` data stream, shipped as package data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class FieldSpec:
    """One field of the spec: dotted name, Elasticsearch type and description."""

    name: str
    type: str
    description: str = ""
    source: str = "integration"
    array: bool = False
    index: bool = True


SPEC_FILES = ("fields.json", "ecs_fields.json")


def _read(name: str) -> dict:
    return json.loads((files(__package__) / name).read_text(encoding="utf-8"))


@cache
def spec_version() -> str:
    """Return a short content hash of the shipped spec files: suites and reports name the spec they used."""
    digest = hashlib.sha256()
    for name in SPEC_FILES:
        digest.update((files(__package__) / name).read_bytes())
    return digest.hexdigest()[:12]


@cache
def load_field_spec(*, include_ecs: bool = False) -> tuple[FieldSpec, ...]:
    """Return the integration's exported fields; with ``include_ecs`` also the ECS fields we set.

    The integration fields (``spec/fields.json``) are generated from the exported-fields table by
    ``scripts/build_field_spec.py``; the ECS fields (``spec/ecs_fields.json``) are the ECS 8.11 types
    of every ECS field the mapper writes.
    """
    fields = [
        FieldSpec(name=f["name"], type=f["type"], description=f.get("description", ""))
        for f in _read("fields.json")["fields"]
    ]
    if include_ecs:
        known = {f.name for f in fields}
        fields.extend(
            FieldSpec(
                name=f["name"],
                type=f["type"],
                description=f.get("description", ""),
                source="ecs",
                array=bool(f.get("array", False)),
                index=bool(f.get("index", True)),
            )
            for f in _read("ecs_fields.json")["fields"]
            if f["name"] not in known
        )
    return tuple(fields)


def field_types(*, include_ecs: bool = True) -> dict[str, str]:
    """Return ``{dotted name: type}`` for the spec."""
    return {f.name: f.type for f in load_field_spec(include_ecs=include_ecs)}
