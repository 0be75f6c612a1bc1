from __future__ import annotations

import itertools
import json
import random
from collections import Counter

import numpy as np
import orjson
import pytest

from airflow_provider_jumpcloud.emulator import EmulatorServer, expected_events
from airflow_provider_jumpcloud.emulator.timeline import BURST_COLUMN, COLUMNS
from airflow_provider_jumpcloud.timestamps import NS_PER_S, format_ns, parse_ns

from .conftest import NOW, fetch_all, make_config

NOW_NS = parse_ns(NOW)


def window(start_offset_s: float, length_s: float) -> tuple[str, str]:
    """Return RFC 3339 (start, end) strings relative to NOW, with nanosecond digits."""
    start = NOW_NS - int(start_offset_s * NS_PER_S)
    return format_ns(start), format_ns(start + int(length_s * NS_PER_S))


def test_headers_on_a_full_page_and_token_resume(emu, session):
    start, end = window(6 * 3600, 600)
    body = {"service": ["all"], "start_time": start, "end_time": end, "limit": 50}
    r = session.post(emu.events_url, json=body)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert (r.headers["X-Result-Count"], r.headers["X-Limit"], r.headers["X-Sort"]) == ("50", "50", "ASC")
    assert r.headers["X-Request-Id"]
    token = json.loads(r.headers["X-Search_after"])
    first = r.json()
    assert isinstance(token[0], int) and isinstance(token[1], str)
    assert token[0] == parse_ns(first[-1]["timestamp"]) // 1_000_000
    resumed = session.post(emu.events_url, json={**body, "search_after": token}).json()
    both = session.post(emu.events_url, json={**body, "limit": 100}).json()
    assert first + resumed == both


def test_paging_returns_exactly_the_expected_events(emu, session):
    start, end = window(5 * 3600 + 0.3, 1800.7)
    body = {"service": ["all"], "start_time": start, "end_time": end, "limit": 777}
    events, responses = fetch_all(session, emu.events_url, body)
    expected = list(expected_events(emu.config, start, end, end_inclusive=True))
    assert len(events) > 2000 and events == expected
    assert [int(r.headers["X-Result-Count"]) for r in responses[:-1]] == [777] * (len(responses) - 1)
    stamps = [parse_ns(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps) and parse_ns(start) <= stamps[0] and stamps[-1] <= parse_ns(end)


def test_exact_multiple_of_limit_ends_with_an_empty_page(session):
    events = [{"id": str(i), "service": "sso", "timestamp": f"2025-12-31T10:00:{i:02d}Z"} for i in range(6)]
    with EmulatorServer(make_config(events=events)) as server:
        body = {"service": ["all"], "start_time": "2025-12-31T10:00:00Z", "end_time": "2025-12-31T11:00:00Z",
                "limit": 3}
        got, responses = fetch_all(session, server.events_url, body)
    assert [e["id"] for e in got] == [str(i) for i in range(6)]
    assert [r.headers["X-Result-Count"] for r in responses] == ["3", "3", "0"]
    tokens = [json.loads(r.headers["X-Search_after"]) for r in responses]
    assert tokens[-1] == tokens[-2]


@pytest.mark.parametrize(("limit", "effective"), [(1, 1), (10_000, 10_000), (10_001, 1000), (0, 1000),
                                                  (-5, 1000), ("50", 1000), (True, 1000), (None, 1000)])
def test_limit_values(emu, session, limit, effective):
    start, end = window(20 * 3600, 3 * 3600)
    body = {"service": ["all"], "start_time": start, "end_time": end}
    if limit is not None:
        body["limit"] = limit
    r = session.post(emu.events_url, json=body)
    assert r.headers["X-Limit"] == str(effective)
    assert len(r.json()) == effective


def test_count_equals_paged_events_for_random_windows(emu, session):
    rng = random.Random(8)
    for _ in range(4):
        start, end = window(rng.uniform(600, 2.9 * 86400), rng.uniform(1, 1200))
        services = rng.choice([["all"], ["radius"], ["directory", "sso"], ["mdm"]])
        body = {"service": services, "start_time": start, "end_time": end}
        count = session.post(emu.events_url + "/count", json=body).json()["count"]
        events, _ = fetch_all(session, emu.events_url, {**body, "limit": 1000})
        assert count == len(events)
        if services != ["all"]:
            assert {e["service"] for e in events} <= set(services)


def test_adjacent_windows_tile_without_loss_or_duplicates(emu, session):
    bounds = [format_ns(NOW_NS - 7200 * NS_PER_S + k * 600 * NS_PER_S) for k in range(4)]
    whole, _ = fetch_all(session, emu.events_url, {"service": ["all"], "start_time": bounds[0],
                                                   "end_time": bounds[-1], "limit": 5000})
    parts: list = []
    for a, b in itertools.pairwise(bounds):
        got, _ = fetch_all(session, emu.events_url, {"service": ["all"], "start_time": a, "end_time": b,
                                                     "limit": 5000})
        # The API's end is inclusive: a client keeps [a, b) itself.
        parts.extend(e for e in got if parse_ns(e["timestamp"]) < parse_ns(b))
    last = [e for e in whole if parse_ns(e["timestamp"]) == parse_ns(bounds[-1])]
    assert parts + last == whole


def test_end_time_is_inclusive(session):
    events = [{"id": "before", "service": "sso", "timestamp": "2025-12-31T10:59:59.999999999Z"},
              {"id": "at-end", "service": "sso", "timestamp": "2025-12-31T11:00:00Z"},
              {"id": "after", "service": "sso", "timestamp": "2025-12-31T11:00:00.000000001Z"},
              {"id": "at-start", "service": "sso", "timestamp": "2025-12-31T10:00:00.000Z"}]
    with EmulatorServer(make_config(events=events)) as server:
        body = {"service": ["all"], "start_time": "2025-12-31T10:00:00Z", "end_time": "2025-12-31T11:00:00Z"}
        ids = [e["id"] for e in session.post(server.events_url, json=body).json()]
        count = session.post(server.events_url + "/count", json=body).json()["count"]
    assert ids == ["at-start", "before", "at-end"] and count == 3


def test_generated_events_at_exactly_end_time_are_included(emu, session):
    start, end = window(2 * 3600, 120)
    events, _ = fetch_all(session, emu.events_url, {"service": ["radius"], "start_time": start,
                                                     "end_time": end, "limit": 1000})
    stamp = events[len(events) // 2]["timestamp"]  # RADIUS: whole seconds, often shared
    at_stamp = [e for e in events if e["timestamp"] == stamp]
    body = {"service": ["radius"], "start_time": start, "end_time": stamp}
    upto, _ = fetch_all(session, emu.events_url, {**body, "limit": 1000})
    assert upto[-len(at_stamp):] == at_stamp
    assert upto == [e for e in events if parse_ns(e["timestamp"]) <= parse_ns(stamp)]
    assert session.post(emu.events_url + "/count", json=body).json()["count"] == len(upto)


def test_same_timestamp_burst_survives_page_boundaries(session):
    config = make_config(events_per_day=20_000)
    with EmulatorServer(config) as server:
        timeline = server.source.timeline
        first = NOW_NS // NS_PER_S - 86400
        sizes = timeline.sizes(first, first + 86400 - 1)[:, BURST_COLUMN]
        burst_second = first + int(np.flatnonzero(sizes)[0])
        start, end = format_ns((burst_second - 1) * NS_PER_S), format_ns((burst_second + 1) * NS_PER_S)
        body = {"service": ["radius"], "start_time": start, "end_time": end, "limit": 7}
        events, responses = fetch_all(session, server.events_url, body)
    same = Counter(e["timestamp"] for e in events).most_common(1)[0]
    assert same[0] == format_ns(burst_second * NS_PER_S, 0) and same[1] >= 50
    radius_columns = [c for c, name in enumerate(COLUMNS) if name == "radius"]
    assert len(radius_columns) == 2  # the ordinary RADIUS traffic and the bursts
    assert same[1] == sum(timeline.size(burst_second, c) for c in radius_columns)
    assert len({e["id"] for e in events}) == len(events)
    assert len(responses) > 8


def test_descending_sort_is_the_reverse_and_pages_backwards(emu, session):
    start, end = window(3 * 3600, 300)
    asc, _ = fetch_all(session, emu.events_url, {"service": ["all"], "start_time": start, "end_time": end,
                                                 "limit": 100})
    desc, responses = fetch_all(session, emu.events_url, {"service": ["all"], "start_time": start,
                                                          "end_time": end, "limit": 100, "sort": "desc"})
    assert desc == asc[::-1] and responses[0].headers["X-Sort"] == "DESC"
    r = session.post(emu.events_url, json={"service": ["all"], "start_time": start, "sort": "sideways"})
    assert r.headers["X-Sort"] == "ASC"


def test_search_term_filters_like_the_api(emu, session):
    start, end = window(4 * 3600, 900)
    base = {"service": ["all"], "start_time": start, "end_time": end, "limit": 10_000}
    everything = session.post(emu.events_url, json=base).json()
    term = {"and": [{"service": "RADIUS"}, {"success": "false"}]}
    got = session.post(emu.events_url, json={**base, "search_term": term}).json()
    assert got == [e for e in everything if e["service"] == "radius" and e["success"] is False] and got
    term = {"or": [{"event_type": ["ldap_bind", "ldap_search"]}, {"initiated_by.type": "admin"}]}
    got = session.post(emu.events_url, json={**base, "search_term": term}).json()
    assert got == [e for e in everything
                   if e["event_type"].startswith("ldap_") or e.get("initiated_by", {}).get("type") == "admin"]
    term = {"not": [{"service": "sso"}]}
    got = session.post(emu.events_url, json={**base, "search_term": term}).json()
    assert got == [e for e in everything if e["service"] != "sso"]
    count = session.post(emu.events_url + "/count", json={**base, "search_term": term}).json()["count"]
    assert count == len(got)


def test_fields_projection_keeps_nesting_and_timestamp(emu, session):
    start, end = window(4 * 3600, 60)
    body = {"service": ["sso"], "start_time": start, "end_time": end, "limit": 5}
    full = session.post(emu.events_url, json=body).json()
    slim = session.post(emu.events_url, json={**body, "fields": ["initiated_by.username", "event_type",
                                                                 "no.such.field"]}).json()
    assert slim == [{"initiated_by": {"username": e["initiated_by"]["username"]}, "event_type": "sso_auth",
                     "timestamp": e["timestamp"]} for e in full]


def test_distinct_returns_terms_buckets(emu, session):
    start, end = window(4 * 3600, 900)
    base = {"service": ["all"], "start_time": start, "end_time": end}
    everything, _ = fetch_all(session, emu.events_url, {**base, "limit": 10_000})
    got = session.post(emu.events_url + "/distinct", json={**base, "field": "service"}).json()
    counts = Counter(e["service"] for e in everything)
    assert {b["key"]: b["doc_count"] for b in got["buckets"]} == dict(counts)
    assert got["sum_other_doc_count"] == 0 and got["doc_count_error_upper_bound"] == 0
    assert [b["doc_count"] for b in got["buckets"]] == sorted(counts.values(), reverse=True)


def test_identical_requests_give_identical_bytes(session):
    body = {"service": ["all"], "start_time": "2025-12-31T08:00:00Z", "end_time": "2025-12-31T08:10:00Z"}
    bodies = []
    for seed in (11, 11, 12):
        with EmulatorServer(make_config(seed=seed)) as server:
            bodies.append(session.post(server.events_url, json=body).content)
    assert bodies[0] == bodies[1] and bodies[0] != bodies[2]
    assert orjson.loads(bodies[0])


def test_request_log_records_each_request(session):
    with EmulatorServer(make_config()) as server:
        body = {"service": ["all"], "start_time": "2025-12-31T08:00:00Z"}
        session.post(server.events_url + "/count", json=body)
        session.post(server.events_url, data=b"{nope")
        assert server.request_count == 2
        first, second = server.requests
    assert (first.number, first.path, first.status) == (1, "/insights/directory/v1/events/count", 200)
    assert first.body["service"] == ["all"] and second.status == 400
