"""QualityPolicy thresholds and the suite plan generated from the spec."""

from __future__ import annotations

import pytest

from airflow_provider_jumpcloud.exceptions import JumpCloudConfigError
from airflow_provider_jumpcloud.quality.policy import QualityPolicy
from airflow_provider_jumpcloud.quality.suite import REQUIRED_FIELDS, build_plan
from airflow_provider_jumpcloud.spec import load_field_spec


def facts(**over):
    base = {
        "documents": 100, "error_documents": 0,
        "completeness": {"documents": 100, "events_fetched": 100, "api_count": 100},
        "fields": {"x": {"type": "keyword", "checked": 100, "failed": 0}},
        "required": {"event.id": {"column": "event.id", "checked": 100, "missing": 0}},
        "duplicates": {"documents": 0}, "timestamps": {"late": 0, "future": 0}, "unknown_fields_total": 0,
    }
    base.update(over)
    return base


def test_clean_facts_pass():
    assert QualityPolicy().judge(facts()) == ("pass", [])


@pytest.mark.parametrize(("over", "check", "level"), [
    ({"fields": {"x": {"type": "long", "checked": 100, "failed": 1}}}, "type", "fail"),
    ({"required": {"event.id": {"column": "event.id", "checked": 100, "missing": 1}}}, "required", "fail"),
    ({"completeness": {"documents": 100, "events_fetched": 100, "api_count": 101}}, "completeness", "fail"),
    ({"completeness": {"documents": 99, "events_fetched": 100, "api_count": None}}, "completeness", "fail"),
    ({"completeness": {"documents": 100, "events_fetched": 100, "api_count": 99}}, "completeness", "warn"),
    ({"duplicates": {"documents": 1}}, "duplicates", "fail"),
    ({"timestamps": {"late": 2, "future": 0}}, "late", "warn"),
    ({"timestamps": {"late": 0, "future": 1}}, "future", "warn"),
    ({"unknown_fields_total": 3}, "drift", "warn"),
    ({"error_documents": 5}, "error_documents", "warn"),
])
def test_default_policy(over, check, level):
    verdict, reasons = QualityPolicy().judge(facts(**over))
    assert [(r["check"], r["level"]) for r in reasons] == [(check, level)]
    assert verdict == level


def test_thresholds_relax_and_tighten():
    policy = QualityPolicy.from_dict({
        "max_mismatch_rate": 0.05, "field_mismatch_rates": {"y": 0.0}, "min_completeness": 0.99,
        "fail_on_duplicates": False, "late_events": "fail", "drift": "ignore", "max_error_document_rate": 0.01,
    })
    verdict, reasons = policy.judge(facts(
        fields={"x": {"type": "long", "checked": 100, "failed": 5}, "y": {"type": "long", "checked": 10, "failed": 1}},
        completeness={"documents": 99, "events_fetched": 99, "api_count": 100},
        duplicates={"documents": 2}, timestamps={"late": 1, "future": 0}, unknown_fields_total=4, error_documents=2,
    ))
    got = {(r["check"], r["level"], r["message"].split(":")[0]) for r in reasons}
    assert got == {
        ("type", "warn", "x"), ("type", "fail", "y"), ("completeness", "warn", "1 of 100 events missing (api_count"),
        ("duplicates", "warn", "2 documents repeat an _id already seen in the window"),
        ("late", "fail", "1 documents have @timestamp before the window"),
        ("error_documents", "fail", "2 of 100 documents are error documents"),
    }
    assert verdict == "fail"


@pytest.mark.parametrize("bad", [{"max_mismatch_rate": 2}, {"late_events": "explode"}, {"typo": 1},
                                 {"fail_on_duplicates": "yes"}, {"min_completeness": True}])
def test_bad_policy_refused(bad):
    with pytest.raises(JumpCloudConfigError):
        QualityPolicy.from_dict(bad)


def test_policy_round_trips():
    policy = QualityPolicy.from_dict({"max_mismatch_rate": 0.1, "field_mismatch_rates": {"a": 0.5}})
    assert QualityPolicy.from_dict(policy.as_dict()) == policy


def test_plan_covers_the_whole_spec():
    plan = build_plan("prod")
    spec = load_field_spec(include_ecs=True)
    assert set(plan.type_checks) == {f.name for f in spec}
    assert {name: c.spec_type for name, c in plan.type_checks.items()} == {f.name: f.type for f in spec}
    constants = {n: c.expected_value for n, c in plan.type_checks.items() if c.spec_type == "constant_keyword"}
    assert constants == {"data_stream.type": "logs", "data_stream.dataset": "jumpcloud.events",
                         "data_stream.namespace": "prod"}
    assert {c.column for c in plan.required} == {"@timestamp", "event.action", "event.id"}
    assert {name for c in plan.required for name in c.satisfies} == set(REQUIRED_FIELDS)
    types, _required = plan.checks_for(["event.id", "not.in.spec", "@timestamp"])
    assert [t.column for t in types] == ["@timestamp", "event.id"]
