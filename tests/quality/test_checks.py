"""Spec type predicates: what each Elasticsearch type accepts and rejects, arrays included."""

from __future__ import annotations

import pytest

from airflow_provider_jumpcloud.quality.checks import JsonObject, match_array, matches, supported_types
from airflow_provider_jumpcloud.spec import load_field_spec

CASES = {
    "keyword": (["a", "", ["a", "b"], []], [1, True, 1.5, {"a": 1}, ["a", 2]]),
    "long": ([0, -5, 2**63 - 1, [1, 2]], [True, False, 1.5, "1", 2**63, -(2**63) - 1, [1, "2"]]),
    "float": ([1, 1.5, -0.0, [1, 2.5]], [True, "1.5", float("nan"), float("inf"), "x"]),
    "boolean": ([True, False, [True, False]], [1, 0, "true", "false", "no"]),
    "date": (["2023-01-14T08:16:06.495Z", "2023-01-14T08:16:06+02:00", "2023-01-14T08:16:06.123456789Z"],
             ["2023-01-14", "14/01/2023", 1673683200000, "2023-13-01T00:00:00Z", "2023-01-14T08:16:06"]),
    "ip": (["81.2.69.144", "::1", "2001:db8::1", ["1.2.3.4", "::"]], ["999.1.1.1", "nope", 16909060, ["1.2.3.4", "x"]]),
    "flattened": ([{"a": 1}, [{"a": 1}, {"b": [1]}], {}], ["text", 1, [{"a": 1}, "b"]]),
    "geo_point": ([{"lat": 51.5, "lon": -0.09}, {"lat": 0, "lon": 180}],
                  [{"lat": 91, "lon": 0}, {"lat": 0, "lon": -181}, {"lat": "1", "lon": 2}, "51.5,-0.09",
                   {"lat": 1, "lon": 2, "z": 3}, {"lat": True, "lon": 1}]),
    "match_only_text": (["some text"], [5, {"a": "b"}]),
}


@pytest.mark.parametrize("spec_type", sorted(CASES))
def test_accepts_and_rejects(spec_type):
    good, bad = CASES[spec_type]
    assert [matches(v, spec_type) for v in good] == [True] * len(good)
    assert [matches(v, spec_type) for v in bad] == [False] * len(bad)


def test_constant_keyword_compares_to_the_expected_value():
    assert matches("logs", "constant_keyword", "logs")
    assert matches(["logs", "logs"], "constant_keyword", "logs")
    assert not matches("metrics", "constant_keyword", "logs")
    assert not matches(["logs", "metrics"], "constant_keyword", "logs")


def test_null_and_nested_arrays():
    assert matches(None, "long")
    assert matches([1, None, [2, [3]]], "long")
    assert not matches([1, [2, ["x"]]], "long")


def test_match_array_unwraps_json_objects():
    values = [JsonObject({"lat": 1, "lon": 2}), "1,2", JsonObject({"lat": 100, "lon": 2}), None]
    assert match_array(values, "geo_point").tolist() == [True, False, False, True]
    assert match_array([JsonObject({"a": 1})], "keyword").tolist() == [False]
    assert str(JsonObject({"a": 1})) == '{"a":1}'


def test_every_spec_type_has_a_check():
    types = {f.type for f in load_field_spec(include_ecs=True)}
    assert types <= supported_types()


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="no type check"):
        matches(1, "histogram")


@pytest.mark.parametrize("spec_type", sorted(CASES))
def test_match_array_agrees_with_matches(spec_type):
    good, bad = CASES[spec_type]
    values = [*good, *bad, None]
    expected = [matches(v, spec_type) for v in values]
    wrapped = [JsonObject(v) if type(v) is dict else v for v in values]
    assert match_array(wrapped, spec_type).tolist() == expected
    assert match_array([v for v in wrapped if type(v) is not list and v is not None], spec_type).tolist() == [
        e for v, e in zip(values, expected, strict=True) if type(v) is not list and v is not None]


def test_ipv4_fast_path_agrees_with_ipaddress():
    import ipaddress

    from airflow_provider_jumpcloud.quality.checks import is_ip

    for text in ["1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "0.0.0.0",
                 "1.2.3.4\n", " 1.2.3.4", "1.2.3.04", "10.0.0.255", "::ffff:1.2.3.4"]:
        try:
            ipaddress.ip_address(text)
            want = True
        except ValueError:
            want = False
        assert is_ip(text) == want, text
