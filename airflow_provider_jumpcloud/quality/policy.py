"""Quality policy: thresholds that turn a window's findings into a verdict ``pass``, ``warn`` or ``fail``.

Defaults: any type mismatch of a spec field, any missing required field, any missing event and any
duplicate ``_id`` fail; unknown fields (drift), late or future ``@timestamp`` and error documents warn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError

Action = Literal["fail", "warn", "ignore"]
ACTIONS = ("fail", "warn", "ignore")
PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds of the quality check; build it from DAG params with :meth:`from_dict`.

    :param max_mismatch_rate: highest tolerated share of a field's values not matching its spec type
    :param field_mismatch_rates: per-field overrides of ``max_mismatch_rate``
    :param max_missing_required_rate: highest tolerated share of non-error documents missing a required field
    :param min_completeness: lowest tolerated ``documents / expected`` (expected = API count, events fetched)
    :param max_error_document_rate: highest tolerated share of error documents (above it: fail)
    :param fail_on_duplicates: whether a duplicate ``_id`` in the window fails it (else warns)
    :param late_events: action when ``@timestamp`` is before the window start
    :param future_events: action when ``@timestamp`` is at or after the window end
    :param drift: action when fields outside the spec are present
    :param error_documents: action when error documents are present but within the rate
    """

    max_mismatch_rate: float = 0.0
    field_mismatch_rates: Mapping[str, float] = field(default_factory=dict)
    max_missing_required_rate: float = 0.0
    min_completeness: float = 1.0
    max_error_document_rate: float = 1.0
    fail_on_duplicates: bool = True
    late_events: Action = "warn"
    future_events: Action = "warn"
    drift: Action = "warn"
    error_documents: Action = "warn"

    def __post_init__(self) -> None:
        for name in ("max_mismatch_rate", "max_missing_required_rate", "min_completeness",
                     "max_error_document_rate"):
            _check_rate(name, getattr(self, name))
        for name, rate in self.field_mismatch_rates.items():
            _check_rate(f"field_mismatch_rates[{name!r}]", rate)
        for name in ("late_events", "future_events", "drift", "error_documents"):
            if getattr(self, name) not in ACTIONS:
                raise JumpCloudConfigError(f"quality policy {name} must be one of {ACTIONS}, "
                                           f"got {getattr(self, name)!r}")
        if not isinstance(self.fail_on_duplicates, bool):
            raise JumpCloudConfigError("quality policy fail_on_duplicates must be true or false")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> QualityPolicy:
        """Build a policy from a dict (DAG params); unknown keys are refused so typos do not pass silently."""
        if not data:
            return cls()
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise JumpCloudConfigError(f"unknown quality policy keys {unknown}; known: {sorted(names)}")
        values = dict(data)
        if "field_mismatch_rates" in values:
            values["field_mismatch_rates"] = dict(values["field_mismatch_rates"] or {})
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Return the thresholds as plain JSON values (for the report)."""
        out = dataclasses.asdict(self)
        out["field_mismatch_rates"] = dict(self.field_mismatch_rates)
        return out

    def judge(self, facts: Mapping[str, Any]) -> tuple[str, list[dict[str, str]]]:
        """Return the verdict and its reasons for the findings of a window (the summary's facts)."""
        reasons: list[dict[str, str]] = []

        def add(level: str, check: str, message: str) -> None:
            if level != "ignore":
                reasons.append({"level": level, "check": check, "message": message})

        for name, stat in sorted(facts.get("fields", {}).items()):
            if stat["failed"]:
                limit = self.field_mismatch_rates.get(name, self.max_mismatch_rate)
                level = FAIL if stat["failed"] / stat["checked"] > limit else WARN
                add(level, "type", f"{name}: {stat['failed']} of {stat['checked']} documents do not match "
                    f"spec type {stat['type']}")
        for name, stat in sorted(facts.get("required", {}).items()):
            if stat["missing"]:
                rate = stat["missing"] / stat["checked"] if stat["checked"] else 1.0
                level = FAIL if rate > self.max_missing_required_rate else WARN
                add(level, "required", f"{name} (checked as {stat['column']}) missing in {stat['missing']} "
                    f"of {stat['checked']} non-error documents")
        self._judge_counts(facts, add)
        levels = {reason["level"] for reason in reasons}
        verdict = FAIL if FAIL in levels else WARN if WARN in levels else PASS
        return verdict, reasons

    def _judge_counts(self, facts: Mapping[str, Any], add: Any) -> None:
        completeness = facts.get("completeness", {})
        for basis in ("events_fetched", "api_count"):
            expected = completeness.get(basis)
            if expected is None:
                continue
            documents = completeness["documents"]
            if documents < expected:
                ratio = documents / expected if expected else 1.0
                level = FAIL if ratio < self.min_completeness else WARN
                add(level, "completeness", f"{expected - documents} of {expected} events missing "
                    f"({basis}: {expected}, documents: {documents})")
            elif documents > expected:
                add(WARN, "completeness", f"{documents - expected} documents more than {basis} {expected}")
        duplicates = facts.get("duplicates", {}).get("documents", 0)
        if duplicates:
            add(FAIL if self.fail_on_duplicates else WARN, "duplicates",
                f"{duplicates} documents repeat an _id already seen in the window")
        timestamps = facts.get("timestamps", {})
        if timestamps.get("late"):
            add(self.late_events, "late", f"{timestamps['late']} documents have @timestamp before the window")
        if timestamps.get("future"):
            add(self.future_events, "future",
                f"{timestamps['future']} documents have @timestamp at or after the window end")
        unknown = facts.get("unknown_fields_total", 0)
        if unknown:
            add(self.drift, "drift", f"{unknown} fields are not in the spec")
        errors = facts.get("error_documents", 0)
        documents = facts.get("documents", 0)
        if errors:
            rate = errors / documents if documents else 1.0
            level = FAIL if rate > self.max_error_document_rate else self.error_documents
            add(level, "error_documents", f"{errors} of {documents} documents are error documents")


def _check_rate(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise JumpCloudConfigError(f"quality policy {name} must be a number in [0, 1], got {value!r}")
