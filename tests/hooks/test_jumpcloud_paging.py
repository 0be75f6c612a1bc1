"""Pagination of JumpCloudHook.iter_events against the independent fake API: scale, boundaries, windows."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.hooks.fake_di import FakeDirectoryInsights, Fault, make_event, ns_of, spread

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
T0_NS, T1_NS = ns_of(T0), ns_of(T1)


def ids(raw_events) -> list[str]:
    return [json.loads(raw)["id"] for raw in raw_events]


def test_25003_events_with_a_503_and_a_429_arrive_once_in_order(make_hook, requests_mock, sleeps):
    inside = spread(25_003, T0_NS, T1_NS)
    at_end = [make_event(T1_NS, f"z-end-{i}") for i in range(5)]  # returned: the fake's end_time is inclusive
    before = [make_event(T0_NS - 1, "a-before")]
    after = [make_event(T1_NS + 1_000_000, "z-after")]
    fake = FakeDirectoryInsights(inside + at_end + before + after).install(requests_mock)
    fake.faults[2] = Fault(503)
    fake.faults[3] = Fault(429, headers={"Retry-After": "7"}, body='{"message": "Too Many Requests"}')

    with make_hook(backoff_base=0.5) as hook:
        raw = list(hook.iter_events(T0, T1))

    got = ids(raw)
    assert len(got) == 25_003 == len(set(got))
    assert got == [e["id"] for e in inside]  # spread() ids already ascend with time
    assert got == fake.expected(T0_NS, T1_NS)
    # exact bytes: the fake serialises each element with json.dumps' defaults
    by_id = {e["id"]: e for e in inside}
    assert all(r == json.dumps(by_id[i]).encode() for r, i in zip(raw[:50], got[:50], strict=True))
    # 3 pages + one 503 + one 429 = 5 requests; the 503 slept a jittered back-off, the 429 its Retry-After
    assert len(fake.requests) == 5
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and sleeps[1] == 7.0
    # the retried request was the same page (same token), and the token went back as [int ms, "id"]
    bodies = [b for _, b in fake.requests]
    assert "search_after" not in bodies[0]
    assert bodies[1]["search_after"] == bodies[2]["search_after"] == bodies[3]["search_after"]
    last_of_page1 = inside[9_999]
    token = bodies[3]["search_after"]
    assert isinstance(token[0], int)
    assert token == [ns_of_event(last_of_page1) // 1_000_000, last_of_page1["id"]]


def ns_of_event(event: dict) -> int:
    main, frac = event["timestamp"][:-1].split(".")
    return ns_of(datetime.fromisoformat(main + "+00:00")) + int(frac)


@pytest.mark.parametrize("n", [0, 1, 9_999, 10_000, 10_001, 25_003])
def test_page_boundaries(make_hook, requests_mock, n):
    fake = FakeDirectoryInsights(spread(n, T0_NS, T1_NS)).install(requests_mock)
    got = ids(make_hook().iter_events(T0, T1))
    assert got == fake.expected(T0_NS, T1_NS)
    assert len(got) == n == len(set(got))
    # a full page always asks again, so an exact multiple of the limit ends with an empty page
    assert fake.event_requests == n // 10_000 + 1


def test_same_timestamp_straddles_pages_and_windows(make_hook, requests_mock):
    tm = T0 + timedelta(minutes=5)
    tm_ns = ns_of(tm)
    events = [make_event(T0_NS + i * 1_000_000_000, f"a{i:02d}") for i in range(3)]
    events += [make_event(tm_ns - 1, f"b{i:02d}") for i in range(4)]  # 1 ns before the boundary
    events += [make_event(tm_ns, f"c{i:02d}") for i in range(25)]  # exactly on the boundary
    events += [make_event(tm_ns + 500, f"d{i:02d}") for i in range(6)]  # same millisecond, after
    events += [make_event(T1_NS - 1, f"e{i:02d}") for i in range(9)]  # last ns of window B
    events += [make_event(T1_NS, f"f{i:02d}") for i in range(8)]  # belongs to the next window
    fake = FakeDirectoryInsights(events).install(requests_mock)
    hook = make_hook()

    first = ids(hook.iter_events(T0, tm, page_size=7))
    second = ids(hook.iter_events(tm.isoformat(), T1.isoformat().replace("+00:00", "Z"), page_size=7))

    assert first == [e["id"] for e in events[:7]] == fake.expected(T0_NS, tm_ns)
    assert second == [e["id"] for e in events[7:47]] == fake.expected(tm_ns, T1_NS)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(e["id"] for e in events[:47])
    # the (inclusive) server did send the boundary events with window A; the hook dropped them
    counted = hook.count_events(T0, tm)
    assert counted == 7 + 25 > len(first)


def test_adjacent_random_windows_share_nothing_and_miss_nothing(make_hook, requests_mock):
    rng = random.Random(20250101)
    hot = [T0_NS + rng.randrange(0, T1_NS - T0_NS) for _ in range(12)]
    events = []
    for i in range(600):
        base = rng.choice(hot)
        ns = base + rng.choice([0, 0, 0, 1, 999, 1000, 1_000_000, -1, -1000])
        events.append(make_event(min(max(ns, T0_NS), T1_NS - 1), f"r{rng.randrange(10**9):09d}-{i}"))
    fake = FakeDirectoryInsights(events).install(requests_mock)
    # split points on hot timestamps (microsecond-aligned, as windows are), plus the ends
    cuts = sorted({T0_NS, T1_NS, *((h // 1000) * 1000 for h in rng.sample(hot, 6))})
    hook = make_hook()
    seen: list[str] = []
    for a, b in itertools.pairwise(cuts):
        start = T0 + timedelta(microseconds=(a - T0_NS) // 1000)
        end = T0 + timedelta(microseconds=(b - T0_NS) // 1000)
        part = ids(hook.iter_events(start, end, page_size=rng.choice([1, 3, 7, 50])))
        assert part == fake.expected(a, b)
        seen += part
    assert len(seen) == len(set(seen)) == 600


def test_query_body_and_headers(make_hook, requests_mock):
    fake = FakeDirectoryInsights([make_event(T0_NS, "x1")]).install(requests_mock)
    term = {"and": [{"success": "false"}]}
    got = list(make_hook().iter_events(
        T0, T1, services=["sso", "radius"], search_term=term, fields=["id"], page_size=500
    ))
    assert len(got) == 1
    (path, body), = fake.requests
    assert path == "events"
    assert body == {
        "service": ["sso", "radius"],
        "start_time": "2025-01-01T04:00:00Z",
        "end_time": "2025-01-01T04:15:00Z",
        "limit": 500, "sort": "ASC", "search_term": term, "fields": ["id", "timestamp"],
    }
    headers = requests_mock.last_request.headers
    assert headers["x-api-key"] == "jc-test-key-5f2b9c1e0d7a4b3c"
    assert headers["Content-Type"] == headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("airflow-provider-jumpcloud/")
    assert "x-org-id" not in headers and "x-provider-id" not in headers


def test_events_without_timestamp_are_kept_and_logged_per_page(make_hook, requests_mock, caplog):
    body = json.dumps([{"id": "no-ts"}, {"id": "bad", "timestamp": "yesterday"}, 7, "text", None])
    requests_mock.post(
        "https://api.jumpcloud.com/insights/directory/v1/events",
        text=body, headers={"X-Result-Count": "5", "X-Limit": "10000", "X-Search_after": "[]"},
    )
    got = list(make_hook().iter_events(T0, T1))
    assert got == [b'{"id": "no-ts"}', b'{"id": "bad", "timestamp": "yesterday"}', b"7", b'"text"', b"null"]
    page_lines = [r for r in caplog.records if r.levelname == "INFO" and "page 1" in r.getMessage()]
    assert len(page_lines) == 1 and "5 events" in page_lines[0].getMessage()
