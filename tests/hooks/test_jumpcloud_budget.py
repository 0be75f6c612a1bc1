"""One retry budget per page, whole-request and retry deadlines, bad Content-Encoding, cursors that do not advance."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_jumpcloud.exceptions import (
    ContentEncodingError,
    CursorNotAdvancingError,
    JumpCloudConfigError,
    JumpCloudTransientError,
    MalformedPageError,
)
from tests.hooks.fake_di import EVENTS_URL

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
NOW = "2026-01-01T00:00:00Z"
EMU_KEY = "budget-emulator-key-77a1c2"
EMU_WINDOW = ("2025-12-31T12:00:00Z", "2025-12-31T12:10:00Z")
NONJSON = {"text": "<html>502</html>", "headers": {"X-Request-Id": "r-x"}}
S503 = {"status_code": 503, "json": {"message": "busy"}}


def ev(i: int) -> dict:
    return {"id": f"e{i}", "timestamp": "2025-01-01T04:00:01Z"}


def page(events: list, *, limit: int, token: str | None = None, rid: str = "r") -> dict:
    headers = {"X-Result-Count": str(len(events)), "X-Limit": str(limit), "X-Request-Id": rid}
    if token is not None:
        headers["X-Search_after"] = token
    return {"text": json.dumps(events), "headers": headers}


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=9, events_per_day=100_000, days=1, now=NOW, api_key=EMU_KEY, late_fraction=0.0)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def api(emu, set_conn):
    emu.faults.clear()
    set_conn("emu", host=emu.base_url, password=EMU_KEY)
    return emu


# ------------------------------------------------------------------------------------ one budget
def test_mixed_permanent_failures_share_one_budget(make_hook, requests_mock, sleeps):
    """503 and non-JSON pages alternating forever: 8 requests, not page_retries x attempts (36 before)."""
    m = requests_mock.post(EVENTS_URL, [S503, NONJSON] * 50)
    with pytest.raises(MalformedPageError, match="8 attempts") as info:
        list(make_hook().iter_events(T0, T1))  # default max_retries=8: at most 9 attempts
    assert m.call_count == 8 and len(sleeps) == 7  # the 4th non-JSON body ends it, inside the 9-attempt cap
    assert "page 1" in str(info.value) and "r-x" in str(info.value)


@pytest.mark.parametrize("max_retries", [0, 2, 5])
def test_permanent_corruption_costs_at_most_the_attempt_cap_per_page(api, make_hook, max_retries):
    """Against a real socket: every /events answer cut mid-body (or reset); the count is the attempt cap."""
    for kind, p in (("truncate", 0.5), ("reset", 1.0)):
        api.faults.add(kind, probability=p, path="/events")
    before = api.request_count
    with pytest.raises(JumpCloudTransientError) as info:
        list(make_hook("emu", max_retries=max_retries).iter_events(*EMU_WINDOW))
    assert api.request_count - before == max_retries + 1
    assert f"{max_retries + 1} attempts" in str(info.value) and "page 1 of window" in str(info.value)


def test_retry_after_beyond_the_retry_deadline_stops_without_sleeping(make_hook, requests_mock, sleeps):
    m = requests_mock.post(EVENTS_URL, [{**S503, "headers": {"Retry-After": "600"}}, page([], limit=10)])
    with pytest.raises(JumpCloudTransientError, match=r"after 1 attempts .*retry deadline 100s reached"):
        list(make_hook(retry_deadline=100).iter_events(T0, T1))
    assert m.call_count == 1 and sleeps == []


@pytest.mark.parametrize(
    ("extra", "match"),
    [({"max_retries": -1}, "max_retries must be a whole number"), ({"max_retries": 1.5}, "max_retries"),
     ({"request_deadline": 0}, "request_deadline must be a positive"),
     ({"retry_deadline": "soon"}, "retry_deadline must be a positive"), ({"backoff_cap": -2}, "backoff_cap")],
)
def test_bad_retry_extras_fail_before_any_request(make_hook, set_conn, requests_mock, extra, match):
    set_conn("jc", password="k" * 12, extra=extra)
    with pytest.raises(JumpCloudConfigError, match=match):
        make_hook("jc").count_events(T0, T1)
    assert requests_mock.call_count == 0


def test_retry_extras_are_read_from_the_connection(make_hook, set_conn):
    set_conn("jc", password="k" * 12, extra={"max_retries": "2", "request_deadline": 9, "retry_deadline": "30",
                                             "backoff_base": 0.5, "backoff_cap": 4, "timeout": 3})
    policy = make_hook("jc").retry_policy
    assert (policy.max_retries, policy.request_deadline, policy.retry_deadline) == (2, 9.0, 30.0)
    assert (policy.backoff_base, policy.backoff_cap, policy.timeout) == (0.5, 4.0, 3.0)
    assert make_hook("jc", max_retries=5).retry_policy.max_retries == 5  # a hook argument wins


# --------------------------------------------------------------------------------- slow bodies
@pytest.mark.parametrize(
    ("delay", "timeout", "deadline"),
    [(0.2, 1.0, 1.5),  # 64 bytes every 0.2 s: no read ever waits the 1 s timeout, only a deadline stops it
     (2.5, 10.0, 1.2)],  # one read would block 2.5 s: the socket wait is cut to what is left of the deadline
)
def test_a_slow_body_is_cut_off_by_the_request_deadline(api, make_hook, delay, timeout, deadline):
    api.faults.add("drip", probability=1.0, path="/events", delay=delay)
    hook = make_hook("emu", timeout=timeout, request_deadline=deadline, max_retries=0)
    started = time.monotonic()
    with pytest.raises(JumpCloudTransientError, match="whole-request deadline passed after") as info:
        list(hook.iter_events(*EMU_WINDOW))
    took = time.monotonic() - started
    assert deadline <= took <= deadline + 0.5, took
    assert "1 attempts" in str(info.value)


def test_the_retry_deadline_bounds_all_attempts(api, make_hook):
    api.faults.add("drip", probability=1.0, path="/events", delay=0.2)
    hook = make_hook("emu", timeout=1, request_deadline=1.0, retry_deadline=2.5, max_retries=10)
    started = time.monotonic()
    with pytest.raises(JumpCloudTransientError, match=r"retry deadline 2\.5s reached"):
        list(hook.iter_events(*EMU_WINDOW))
    took = time.monotonic() - started
    assert 2.0 <= took <= 2.5 + 0.75, took


# --------------------------------------------------------------------------- Content-Encoding
def test_a_bad_gzip_body_names_the_request_and_the_events_so_far(api, make_hook):
    start = api.request_count
    api.faults.add("badgzip", at_request=start + 2, times=4)  # page 2, and every retry of it
    hook = make_hook("emu")
    got: list[bytes] = []
    with pytest.raises(ContentEncodingError) as info:
        for raw in hook.iter_events(*EMU_WINDOW, page_size=100):
            got.append(raw)
    text = str(info.value)
    assert len(got) == 100 and api.request_count - start == 5  # page 1, then 4 tries of page 2
    for part in ("/insights/directory/v1/events", "page 2 of window", "[2025-12-31T12:00:00Z, 2025-12-31T12:10:00Z)",
                 "100 events fetched before it", "Content-Encoding 'gzip'", "4 attempts", "X-Request-Id "):
        assert part in text, part


def test_a_bad_gzip_body_once_is_asked_again(api, make_hook):
    api.faults.add("badgzip", at_request=api.request_count + 1)
    got = list(make_hook("emu").iter_events(*EMU_WINDOW, page_size=10_000))
    assert len(got) > 100 and api.faults_served["badgzip"] >= 1


# ----------------------------------------------------------------------------------- cursors
@pytest.mark.parametrize(
    ("first", "second", "problem"),
    [
        ('[1735704001000, "e2"]', '[1735704000999, "e9"]', "goes backwards"),
        ('[1735704001000, "e2"]', '[1735704001000, "e1"]', "goes backwards"),
        ('[1735704001000, "e2"]', '["1735704001000", "e2"]', "came back twice"),  # same values, a string now
        ('[1735704001000, "e2"]', '[1.735704001e12, "e2"]', "came back twice"),  # same number, other spelling
        ('[1735704001000,"e2"]', '[ 1735704001000 , "e2" ]', "came back twice"),
        ('["1735704001000", "e2"]', '[1735704000000, "e3"]', "goes backwards"),
        ('[1735704001000, "e2"]', '["e2", 1735704001000]', "cannot be ordered"),  # values re-ordered
        ('[1735704001000, "e2"]', '[1735704001000, "e2", 1]', "changed length"),
    ],
)
def test_a_cursor_that_does_not_advance_raises_at_once(make_hook, requests_mock, sleeps, first, second, problem):
    m = requests_mock.post(EVENTS_URL, [page([ev(1), ev(2)], limit=2, token=first, rid="r1"),
                                        page([ev(3), ev(4)], limit=2, token=second, rid="r2"),
                                        page([], limit=2)])
    got: list[bytes] = []
    with pytest.raises(CursorNotAdvancingError) as info:
        for raw in make_hook().iter_events(T0, T1, page_size=2):
            got.append(raw)
    assert isinstance(info.value, MalformedPageError)
    assert len(got) == 2 and m.call_count == 2 and sleeps == []  # page 2 is never yielded, nothing retried
    text = str(info.value)
    assert problem in text and "page 2" in text and "r2" in text


@pytest.mark.parametrize(
    ("first", "second"),
    [('[1, "a"]', '[1, "b"]'), ('[1, "z"]', '[2, "a"]'), ('["1", "b"]', '[2, "a"]'), ('[1.5e3, "a"]', '[1501, "a"]'),
     ('[5, "10"]', '[5, "9"]')],  # tie-breakers sort as text, as Elasticsearch keywords do
)
def test_cursors_that_advance_are_followed(make_hook, requests_mock, first, second):
    requests_mock.post(EVENTS_URL, [page([ev(1)], limit=1, token=first), page([ev(2)], limit=1, token=second),
                                    page([], limit=1)])
    assert len(list(make_hook().iter_events(T0, T1, page_size=1))) == 2
