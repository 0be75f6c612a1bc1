"""Malformed pages and exact raw bytes through JumpCloudHook.iter_events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_jumpcloud.exceptions import MalformedPageError
from tests.hooks.fake_di import EVENTS_URL

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
TS = "2025-01-01T04:00:01Z"


def page(events: list, *, count: int | None = None, limit: int = 10000, token: str | None = None, rid="r-1"):
    headers = {"X-Result-Count": str(len(events) if count is None else count), "X-Limit": str(limit)}
    if token is not None:
        headers["X-Search_after"] = token
    headers["X-Request-Id"] = rid
    return {"text": json.dumps(events), "headers": headers}


def ev(i: int) -> dict:
    return {"id": f"e{i}", "timestamp": TS}


@pytest.mark.parametrize(
    "body",
    [
        b'[{"id": "a", "timestamp": "2025-01-01T04:00:01Z"}, {"id": "b"',  # truncated mid-element
        b'[{"id": "a"},',  # truncated after a comma
        b'[{"id": "a"}',  # missing closing bracket
        b"<html>Bad gateway</html>",  # not JSON
        b"",  # empty
        b'[{"id": "a"}] trailing',  # garbage after the array
        b'[{"id": "\xff"}]',  # not UTF-8
        b'[{"id": "a"} {"id": "b"}]',  # missing comma
    ],
)
def test_undecodable_pages_are_retried_then_raise(make_hook, requests_mock, sleeps, body):
    m = requests_mock.post(EVENTS_URL, content=body, headers={"X-Result-Count": "1", "X-Request-Id": "rid-7"})
    with pytest.raises(MalformedPageError) as info:
        list(make_hook().iter_events(T0, T1))
    assert m.call_count == 4 and len(sleeps) == 3  # page_retries = 3
    text = str(info.value)
    for part in ("/insights/directory/v1/events", "page 1", "2025-01-01T04:00:00Z", "rid-7", "4 attempts"):
        assert part in text


def test_truncated_page_then_good_page(make_hook, requests_mock, sleeps):
    good = page([ev(1)])
    m = requests_mock.post(EVENTS_URL, [{"text": '[{"id": "e1", "timest', "headers": good["headers"]}, good])
    assert [json.loads(r)["id"] for r in make_hook().iter_events(T0, T1)] == ["e1"]
    assert m.call_count == 2 and len(sleeps) == 1


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        ({"json": {"events": []}, "headers": {"X-Result-Count": "0"}}, "not an array"),
        ({"json": "text", "headers": {}}, "not an array"),
        (page([ev(1), ev(2)], count=3), "X-Result-Count is 3 but the body holds 2"),
        (page([ev(1), ev(2)], limit=2), "no X-Search_after"),
        (page([ev(1), ev(2)], limit=2, token="  "), "no X-Search_after"),
        (page([ev(1), ev(2)], limit=2, token="[1, 'a']"), "X-Search_after is not JSON"),
        (page([ev(1), ev(2)], limit=2, token='{"a": 1}'), "not a non-empty JSON array"),
        (page([ev(1), ev(2), ev(3)], limit=2), "does not fit X-Limit"),
        ({"text": "[]", "headers": {"X-Result-Count": "zero"}}, "not an integer"),
    ],
)
def test_inconsistent_pages_fail_at_once(make_hook, requests_mock, sleeps, response, problem):
    m = requests_mock.post(EVENTS_URL, **response)
    with pytest.raises(MalformedPageError, match="page 1") as info:
        list(make_hook().iter_events(T0, T1, page_size=2))
    assert problem in str(info.value)
    assert m.call_count == 1 and sleeps == []


def collect(iterator) -> tuple[list[str], Exception | None]:
    got: list[str] = []
    try:
        for raw in iterator:
            got.append(json.loads(raw)["id"])
    except MalformedPageError as exc:
        return got, exc
    return got, None


def test_repeated_token_stops_before_yielding_the_page(make_hook, requests_mock):
    requests_mock.post(
        EVENTS_URL,
        [
            page([ev(1), ev(2)], limit=2, token='[1735704001000, "e2"]', rid="r1"),
            page([ev(3), ev(4)], limit=2, token='[1735704001000,"e4"]', rid="r2"),
            page([ev(3), ev(4)], limit=2, token='[1735704001000,"e4"]', rid="r3"),
        ],
    )
    got, exc = collect(make_hook().iter_events(T0, T1, page_size=2))
    assert got == ["e1", "e2", "e3", "e4"]
    assert exc is not None and "came back twice" in str(exc) and "page 3" in str(exc) and "r3" in str(exc)


def test_page_after_good_pages_is_checked_whole(make_hook, requests_mock):
    requests_mock.post(
        EVENTS_URL,
        [
            page([ev(1), ev(2)], limit=2, token='[1, "e2"]'),
            page([ev(3), ev(4)], count=3, limit=2, token='[2, "x"]'),
        ],
    )
    got, exc = collect(make_hook().iter_events(T0, T1, page_size=2))
    assert got == ["e1", "e2"] and exc is not None and "page 2" in str(exc)


def test_too_many_pages(make_hook, requests_mock):
    requests_mock.post(
        EVENTS_URL, [page([ev(2 * i), ev(2 * i + 1)], limit=2, token=f'[{i}, "t"]') for i in range(10)]
    )
    hook = make_hook()
    hook.max_pages = 3
    got, exc = collect(hook.iter_events(T0, T1, page_size=2))
    assert got == ["e0", "e1", "e2", "e3"]
    assert exc is not None and "more than 3 pages" in str(exc)
    assert requests_mock.call_count == 3


def test_token_is_sent_back_verbatim(make_hook, requests_mock):
    token = '[1576181718000, "DZrPyW8BNsa9iKWoOm7h", 1.50e3, 12345678901234567890123]'
    m = requests_mock.post(EVENTS_URL, [page([ev(1)], limit=1, token=token), page([], limit=1)])
    list(make_hook().iter_events(T0, T1, page_size=1))
    second = m.request_history[1].body
    assert b'"search_after":' + token.encode() in second
    assert json.loads(second)["search_after"][0] == 1576181718000  # a number, not a string


def test_header_names_are_case_insensitive(make_hook, requests_mock):
    headers = {"x-result-count": "1", "x-limit": "1", "X-SEARCH_AFTER": '[5, "a"]'}
    m = requests_mock.post(EVENTS_URL, [{"text": json.dumps([ev(1)]), "headers": headers}, page([], limit=1)])
    got = [json.loads(r)["id"] for r in make_hook().iter_events(T0, T1, page_size=1)]
    assert got == ["e1"] and m.request_history[1].json()["search_after"] == [5, "a"]


def test_raw_bytes_are_exact(make_hook, requests_mock):
    one = '{"id" :"a",  "timestamp":"2025-01-01T04:00:01.123456789Z","u":"café — ☃ 𝄞","n":1.0e2}'
    two = '{ "id":"b" ,"timestamp" : "2025-01-01T04:00:02Z", "esc":"\\u00e9\\n\\"q\\"\\/\\ud834\\udd1e" }'
    three = '[1,\n 2]'
    four = '{"id":"c","timestamp":"2025-01-01T04:00:03+00:00","big":123456789012345678901234567890,"e":{}}'
    body = "\n [ " + one + " ,\n\t" + two + "," + three + "  ,  " + four + " ]\r\n"
    requests_mock.post(EVENTS_URL, content=body.encode("utf-8"), headers={"X-Result-Count": "4"})
    got = list(make_hook().iter_events(T0, T1))
    assert got == [one.encode("utf-8"), two.encode("utf-8"), three.encode("utf-8"), four.encode("utf-8")]


def test_raw_bytes_are_exact_for_ascii_bodies(make_hook, requests_mock):
    pieces = ['{"id":"x","timestamp":"2025-01-01T04:00:01Z","s":"\\u2603"}', "null", '"str"', "[]", "{}"]
    body = "[" + " , ".join(pieces) + "]"
    requests_mock.post(EVENTS_URL, text=body, headers={"X-Result-Count": "5"})
    assert list(make_hook().iter_events(T0, T1)) == [p.encode() for p in pieces]


def test_empty_array_forms(make_hook, requests_mock):
    requests_mock.post(EVENTS_URL, text="  [ \n ]  ", headers={"X-Result-Count": "0", "X-Limit": "10000"})
    assert list(make_hook().iter_events(T0, T1)) == []
