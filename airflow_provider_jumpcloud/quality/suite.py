"""The expectation plan, generated from the exported-fields spec (pure: GX objects are made in gxrun).

One type check per spec field (integration fields plus the ECS fields the mapper writes), with the
``constant_keyword`` fields pinned to their data-stream values, and a non-null check of the required
fields on every document that is not an error document. ``jumpcloud.event.id`` and
``jumpcloud.event.timestamp`` are removed by the mapper unless the ``preserve_duplicate_custom_fields`` tag
is set, so each is satisfied by its ECS copy (``event.id``, ``@timestamp``), which the mapper always writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_jumpcloud.quality.checks import supported_types
from airflow_provider_jumpcloud.spec import load_field_spec
from airflow_provider_jumpcloud.spec.datastream import DATA_STREAM_TYPE, DATASET, DEFAULT_NAMESPACE

ERROR_KIND_COLUMN = "event.kind"

#: Required field -> the column that satisfies it (its ECS copy when the mapper removes the original).
REQUIRED_FIELDS: dict[str, str] = {
    "@timestamp": "@timestamp",
    "event.action": "event.action",
    "event.id": "event.id",
    "jumpcloud.event.id": "event.id",
    "jumpcloud.event.timestamp": "@timestamp",
}


@dataclass(frozen=True)
class TypeCheck:
    """Every value of ``column`` must match ``spec_type`` (and equal ``expected_value`` if set)."""

    column: str
    spec_type: str
    expected_value: str | None = None
    source: str = "integration"


@dataclass(frozen=True)
class RequiredCheck:
    """``column`` must be non-null on every document that is not an error document."""

    column: str
    satisfies: tuple[str, ...]


@dataclass(frozen=True)
class SuitePlan:
    """Every check the window validation can run, keyed by column."""

    type_checks: dict[str, TypeCheck]
    required: tuple[RequiredCheck, ...]
    namespace: str

    @property
    def types(self) -> dict[str, str]:
        """Return ``{column: spec type}`` of every spec field."""
        return {name: check.spec_type for name, check in self.type_checks.items()}

    def checks_for(self, present: Iterable[str]) -> tuple[list[TypeCheck], list[RequiredCheck]]:
        """Return the type checks of the present columns and every required check."""
        types = [self.type_checks[name] for name in sorted(present) if name in self.type_checks]
        return types, list(self.required)


def constants(namespace: str) -> dict[str, str]:
    """Return the expected value of each ``constant_keyword`` field of the data stream."""
    return {
        "data_stream.type": DATA_STREAM_TYPE,
        "data_stream.dataset": DATASET,
        "data_stream.namespace": namespace,
    }


def build_plan(namespace: str = DEFAULT_NAMESPACE) -> SuitePlan:
    """Generate the plan from ``load_field_spec(include_ecs=True)``; fail on a spec type we cannot check."""
    fixed = constants(namespace)
    known = supported_types()
    checks: dict[str, TypeCheck] = {}
    for spec in load_field_spec(include_ecs=True):
        if spec.type not in known:
            raise ValueError(f"spec field {spec.name} has type {spec.type!r}, which has no type check")
        expected = fixed.get(spec.name) if spec.type == "constant_keyword" else None
        checks[spec.name] = TypeCheck(spec.name, spec.type, expected, spec.source)
    by_column: dict[str, list[str]] = {}
    for name, column in REQUIRED_FIELDS.items():
        by_column.setdefault(column, []).append(name)
    required = tuple(RequiredCheck(column, tuple(names)) for column, names in by_column.items())
    return SuitePlan(type_checks=checks, required=required, namespace=namespace)
