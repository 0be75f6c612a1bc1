from __future__ import annotations

import random
import re
from collections import Counter

import orjson
import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, expected_count, expected_events
from airflow_provider_jumpcloud.emulator.events import ExplicitSource, GeneratedSource
from airflow_provider_jumpcloud.emulator.timeline import COLUMNS
from airflow_provider_jumpcloud.spec import load_field_spec
from airflow_provider_jumpcloud.timestamps import NS_PER_S, parse_ns

from .conftest import NOW, make_config

NOW_S = parse_ns(NOW) // NS_PER_S
HEX24 = re.compile(r"^[0-9a-f]{24}$")
UUID_UPPER = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
UUID_LOWER = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def day_sample() -> list[dict]:
    """Two hours of a 400k/day tenant (~30k events)."""
    config = make_config(events_per_day=400_000)
    start = (NOW_S - 10 * 3600) * NS_PER_S
    return list(expected_events(config, start, start + 2 * 3600 * NS_PER_S))


def reference_events(source: GeneratedSource, lo: int, hi: int, services: set | None, clock: int) -> list:
    """Brute force: build every sub-bucket of every second (scalar sizes), filter, sort."""
    out = []
    for second in range(lo // NS_PER_S, hi // NS_PER_S + 1):
        parts = [(c, source.timeline.size(second, c)) for c, name in enumerate(COLUMNS)
                 if services is None or name in services]
        for entry in source.build(second, [(c, n) for c, n in parts if n]):
            if lo <= entry.ns <= hi and entry.visible_at <= clock and second >= source.start_s:
                out.append(entry)
    out.sort(key=lambda e: (e.ns, e.tiebreak))
    return out


def test_same_seed_same_bytes_and_other_seed_differs():
    start, end = "2025-12-31T10:00:00Z", "2025-12-31T10:20:00Z"
    a = b"\n".join(orjson.dumps(e) for e in expected_events(make_config(), start, end))
    b = b"\n".join(orjson.dumps(e) for e in expected_events(make_config(), start, end))
    c = b"\n".join(orjson.dumps(e) for e in expected_events(make_config(seed=12), start, end))
    assert a == b and len(a) > 10_000
    assert a != c


def test_every_event_is_in_window_sorted_and_has_common_fields(day_sample):
    stamps = [parse_ns(e["timestamp"]) for e in day_sample]
    assert None not in stamps
    assert stamps == sorted(stamps)
    for e in day_sample:
        assert e["@version"] == "1" and e["organization"] and e["service"] and e["event_type"]
    assert len({(e["id"], e["timestamp"]) for e in day_sample}) == len(day_sample)


def test_timestamp_precision_varies_from_0_to_9_digits(day_sample):
    digits = Counter(len(m.group(1)) if (m := re.search(r"\.(\d+)Z$", e["timestamp"])) else 0
                     for e in day_sample)
    assert set(digits) == set(range(10))
    radius = [e for e in day_sample if e["service"] == "radius"]
    assert radius and all(re.search(r":\d\dZ$", e["timestamp"]) for e in radius)
    assert all(len(e["timestamp"]) == 24 for e in day_sample if e["service"] == "directory")


def test_service_shapes_follow_the_real_samples(day_sample):
    by_type: dict[str, list[dict]] = {}
    for e in day_sample:
        by_type.setdefault(e["event_type"], []).append(e)
    for e in by_type["radius_auth_attempt"]:
        assert UUID_UPPER.match(e["id"]) and "outer" in e and e["username"]
    for e in by_type["sso_auth"]:
        assert HEX24.match(e["id"]) and isinstance(e["sso_token_success"], bool) and "auth_context" in e
    for e in by_type["login_attempt"]:
        assert UUID_LOWER.match(e["id"]) and set(e["system"]) >= {"id", "hostname"}
        assert e["process_name"] and "src_ip" in e and re.search(r"[+-]\d\d:\d\d$", e["system_timestamp"])
    assert {"ldap_bind", "ldap_search", "user_update", "association_change", "user_create",
            "organization_update", "admin_login_attempt", "user_login_attempt"} <= set(by_type)
    mdm = by_type["mdm_command_result"]
    assert max(len(orjson.dumps(e)) for e in mdm) > 4000
    assert any("payload" in e.get("command", {}) for e in mdm)
    assert any("profile_list" in e for e in mdm)


def test_values_include_nulls_empties_and_mixed_change_types(day_sample):
    assert any(e.get("provider") is None and "provider" in e for e in day_sample)
    assert any(e.get("error_message") == "" for e in day_sample)
    to_types = {type(c["to"]).__name__ for e in day_sample for c in e.get("changes", []) if "to" in c}
    assert {"str", "bool", "dict", "list"} <= to_types


def test_some_events_carry_fields_outside_the_spec(day_sample):
    known_top = {f.name.split(".")[2] for f in load_field_spec() if f.name.startswith("jumpcloud.event.")}
    drift = {k for e in day_sample for k in e if k not in known_top}
    assert {"risk_score", "session", "tags"} & drift


@pytest.mark.parametrize("services", [None, {"radius"}, {"sso", "mdm"}])
def test_entries_match_a_brute_force_reference(services):
    config = make_config(events_per_day=150_000, late_fraction=0.05, max_late_seconds=30)
    source = GeneratedSource(config)
    rng = random.Random(len(services or ()))
    lo = (NOW_S - 5000) * NS_PER_S + rng.randrange(NS_PER_S)
    hi = lo + 900 * NS_PER_S + rng.randrange(NS_PER_S)
    clock = hi - 10 * NS_PER_S  # the newest events of the window are not all visible yet
    svc = frozenset(services) if services else None
    got = list(source.entries(lo, hi, svc, clock_ns=clock))
    want = reference_events(source, lo, hi, services, clock)
    assert [e.event for e in got] == [e.event for e in want]
    assert source.count(lo, hi, svc, clock_ns=clock) == len(want)


def test_count_fast_path_equals_building_for_random_windows():
    config = make_config()
    source = GeneratedSource(config)
    rng = random.Random(4)
    for _ in range(6):
        lo = (NOW_S - 3 * 86400) * NS_PER_S + rng.randrange(3 * 86400 * NS_PER_S)
        hi = lo + rng.randrange(1, 3 * 3600) * NS_PER_S + rng.randrange(NS_PER_S)
        services = rng.choice([None, frozenset({"directory"}), frozenset({"radius", "ldap"})])
        assert source.count(lo, hi, services) == sum(1 for _ in source.entries(lo, hi, services))


def test_late_events_appear_once_the_clock_passes_their_delay():
    clock = {"ns": parse_ns("2026-01-10T12:00:00Z")}
    config = EmulatorConfig(seed=3, events_per_day=300_000, days=1, late_fraction=0.2, max_late_seconds=60,
                            now=None, clock_ns=lambda: clock["ns"])
    source = GeneratedSource(config)
    lo, hi = clock["ns"] - 120 * NS_PER_S, clock["ns"] - 1
    early = source.count(lo, hi, None)
    clock["ns"] += 61 * NS_PER_S
    late = source.count(lo, hi, None)
    assert late > early > 0
    assert late == len(list(source.entries(lo, hi, None)))
    assert early == len(list(source.entries(lo, hi, None, clock_ns=clock["ns"] - 61 * NS_PER_S)))


def test_history_is_bounded_by_days_and_now():
    config = make_config(days=1)
    assert expected_count(config, "2025-12-30T00:00:00Z", "2025-12-30T23:59:59Z") == 0
    assert expected_count(config, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z") == 0
    assert expected_count(config, "2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z") > 0


def test_expected_helpers_are_half_open_by_default():
    events = [{"id": str(i), "service": "directory", "timestamp": f"2025-12-31T10:00:0{i}Z"}
              for i in range(4)]
    config = make_config(events=events)
    got = expected_events(config, "2025-12-31T10:00:01Z", "2025-12-31T10:00:03Z")
    assert [e["id"] for e in got] == ["1", "2"]
    assert expected_count(config, "2025-12-31T10:00:01Z", "2025-12-31T10:00:03Z", end_inclusive=True) == 3


def test_explicit_source_keeps_raw_bytes_and_orders_by_nanoseconds():
    raw = b'{"timestamp":"2025-12-31T10:00:00.5Z",  "id":"raw", "service":"sso"}'
    source = ExplicitSource([{"id": "b", "service": "sso", "timestamp": "2025-12-31T10:00:00.500000001Z"},
                             raw, {"id": "a", "service": "sso", "timestamp": "2025-12-31T10:00:00.4999Z"}])
    entries = list(source.entries(0, 2**62, None))
    assert [e.event["id"] for e in entries] == ["a", "raw", "b"]
    assert entries[1].to_json() == raw
    with pytest.raises(ValueError, match="timestamp"):
        ExplicitSource([{"id": "x"}])
