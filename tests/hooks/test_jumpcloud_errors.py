"""Error statuses, retries, Retry-After, connection failures and test_connection of JumpCloudHook."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from airflow_provider_jumpcloud.exceptions import (
    JumpCloudAPIError,
    JumpCloudAuthError,
    JumpCloudBadRequestError,
    JumpCloudPlanError,
    JumpCloudTransientError,
)
from tests.conftest import TEST_API_KEY
from tests.hooks.fake_di import COUNT_URL, EVENTS_URL

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
EMPTY = {"text": "[]", "headers": {"X-Result-Count": "0", "X-Limit": "10000"}}


def error(status: int, message: str = "boom", **headers: str) -> dict:
    return {"status_code": status, "json": {"message": message}, "headers": headers}


def fetch(hook) -> list[bytes]:
    return list(hook.iter_events(T0, T1))


@pytest.mark.parametrize(
    ("status", "exc_type", "advice"),
    [
        (400, JumpCloudBadRequestError, "check the services"),
        (401, JumpCloudAuthError, "check the password field of connection 'jumpcloud_default'"),
        (402, JumpCloudPlanError, "not enabled for this organisation's plan"),
        (403, JumpCloudAuthError, "set org_id"),
        (404, JumpCloudAPIError, "unexpected response status"),
    ],
)
def test_client_errors_are_not_retried(make_hook, requests_mock, sleeps, status, exc_type, advice):
    m = requests_mock.post(EVENTS_URL, **error(status, "server says no", **{"X-Request-Id": "rid-9"}))
    with pytest.raises(exc_type) as info:
        fetch(make_hook())
    exc = info.value
    assert type(exc) is exc_type
    assert m.call_count == 1 and sleeps == []
    assert exc.status == status and exc.server_message == "server says no" and exc.request_id == "rid-9"
    text = str(exc)
    for part in (f"HTTP {status}", "server says no", "/insights/directory/v1/events", advice, "rid-9"):
        assert part in text
    assert TEST_API_KEY not in text + repr(exc) + repr(exc.args)


@pytest.mark.parametrize(
    ("message", "advice"),
    [
        ("start_time is older than the retention period (90 days)", "older than the plan's retention"),
        ("Invalid start time", "older than the plan's retention"),
        ("Start Time not after End Time 2026-01-26T09:13:52Z > 2026-01-26T09:11:52Z", "start must be before"),
        ('unknown service "foo"; valid: all, directory', "check the services"),
    ],
)
def test_bad_request_advice(make_hook, requests_mock, message, advice):
    requests_mock.post(EVENTS_URL, **error(400, message))
    with pytest.raises(JumpCloudBadRequestError, match="HTTP 400") as info:
        fetch(make_hook())
    assert advice in str(info.value) and message in str(info.value)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_raise(make_hook, requests_mock, sleeps, caplog, status):
    m = requests_mock.post(EVENTS_URL, **error(status, "try later"))
    with pytest.raises(JumpCloudTransientError) as info:
        fetch(make_hook(max_retries=3, backoff_base=1.0, backoff_cap=60.0))
    exc = info.value
    assert m.call_count == 4 and exc.attempts == 4 and exc.status == status
    assert "/insights/directory/v1/events" in exc.endpoint and "4 attempts" in str(exc)
    assert f"HTTP {status}" in str(exc) and "try later" in str(exc)
    # full jitter under a doubling ceiling: 1, 2, 4
    assert len(sleeps) == 3 and all(0 <= s <= 2 ** k for k, s in enumerate(sleeps))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and "retry 1/3" in warnings[0].getMessage()


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_then_success(make_hook, requests_mock, sleeps, status):
    m = requests_mock.post(EVENTS_URL, [error(status), EMPTY])
    assert fetch(make_hook()) == []
    assert m.call_count == 2 and len(sleeps) == 1


def test_backoff_is_capped(make_hook, requests_mock, sleeps):
    requests_mock.post(EVENTS_URL, **error(503))
    with pytest.raises(JumpCloudTransientError):
        fetch(make_hook(max_retries=12, backoff_base=1.0, backoff_cap=2.5))
    assert len(sleeps) == 12 and max(sleeps) <= 2.5 and min(sleeps) >= 0
    assert len(set(sleeps)) > 1  # jittered, not a constant


def test_retry_after_seconds(make_hook, requests_mock, sleeps):
    requests_mock.post(EVENTS_URL, [error(429, "slow down", **{"Retry-After": "12"}), EMPTY])
    assert fetch(make_hook(backoff_cap=1.0)) == []
    assert sleeps == [12.0]


def test_retry_after_http_date(make_hook, requests_mock, sleeps):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    requests_mock.post(EVENTS_URL, [error(503, **{"Retry-After": when}), EMPTY])
    assert fetch(make_hook()) == []
    assert len(sleeps) == 1 and 100 <= sleeps[0] <= 121


def test_retry_after_in_the_past_or_garbage(make_hook, requests_mock, sleeps):
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    requests_mock.post(
        EVENTS_URL, [error(429, **{"Retry-After": past}), error(429, **{"Retry-After": "soon"}), EMPTY]
    )
    assert fetch(make_hook(backoff_base=0.25)) == []
    assert sleeps[0] == 0.0 and 0 <= sleeps[1] <= 0.5  # garbage falls back to the jittered back-off


@pytest.mark.parametrize(
    "exc",
    [requests.ConnectionError("Connection reset by peer"), requests.exceptions.ReadTimeout("read timed out")],
)
def test_connection_reset_or_timeout_then_success(make_hook, requests_mock, sleeps, caplog, exc):
    m = requests_mock.post(EVENTS_URL, [{"exc": exc}, EMPTY])
    assert fetch(make_hook()) == []
    assert m.call_count == 2 and len(sleeps) == 1
    assert any(type(exc).__name__ in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_connection_errors_exhaust_retries(make_hook, requests_mock, sleeps):
    m = requests_mock.post(EVENTS_URL, exc=requests.ConnectionError("Connection reset by peer"))
    with pytest.raises(JumpCloudTransientError, match="Connection reset by peer") as info:
        fetch(make_hook(max_retries=2))
    assert m.call_count == 3 and info.value.attempts == 3 and info.value.status is None
    assert len(sleeps) == 2


def test_redirects_are_not_followed(make_hook, requests_mock):
    m = requests_mock.post(EVENTS_URL, status_code=302, headers={"Location": "https://elsewhere.example/"})
    other = requests_mock.post("https://elsewhere.example/", text="[]")
    with pytest.raises(JumpCloudAPIError, match="HTTP 302"):
        fetch(make_hook())
    assert m.call_count == 1 and other.call_count == 0


def test_long_error_body_is_cut(make_hook, requests_mock):
    requests_mock.post(EVENTS_URL, status_code=404, text="<html>" + "x" * 5000)
    with pytest.raises(JumpCloudAPIError) as info:
        fetch(make_hook())
    assert len(info.value.server_message) <= 510 and "[cut]" in str(info.value)
    assert len(str(info.value)) < 1000


def test_count_events(make_hook, requests_mock):
    m = requests_mock.post(COUNT_URL, json={"count": 42})
    assert make_hook().count_events(T0, T1, services=["sso"]) == 42
    assert m.last_request.json() == {
        "service": ["sso"], "start_time": "2025-01-01T04:00:00Z", "end_time": "2025-01-01T04:15:00Z",
    }


@pytest.mark.parametrize(
    "body", ['{"count": "42"}', '{"total": 1}', "[]", "nope", '{"count": -1}', '{"count": true}']
)
def test_count_events_rejects_bad_bodies(make_hook, requests_mock, body):
    from airflow_provider_jumpcloud.exceptions import MalformedPageError

    requests_mock.post(COUNT_URL, text=body)
    with pytest.raises(MalformedPageError, match="count"):
        make_hook().count_events(T0, T1)


def test_count_events_errors_are_typed(make_hook, requests_mock):
    requests_mock.post(COUNT_URL, **error(402, "Directory Insights disabled"))
    with pytest.raises(JumpCloudPlanError, match="events/count"):
        make_hook().count_events(T0, T1)


def test_test_connection_success(make_hook, requests_mock):
    m = requests_mock.post(COUNT_URL, json={"count": 3})
    ok, message = make_hook().test_connection()
    assert ok is True
    assert message == "Connection successful: 3 events in the last minute at https://api.jumpcloud.com"
    body = m.last_request.json()
    span = datetime.fromisoformat(body["end_time"]) - datetime.fromisoformat(body["start_time"])
    assert span == timedelta(minutes=1) and body["service"] == ["all"]


def test_test_connection_failure_hides_the_key(make_hook, requests_mock):
    requests_mock.post(COUNT_URL, **error(401, f"bad key {TEST_API_KEY}"))
    ok, message = make_hook().test_connection()
    assert ok is False
    assert "HTTP 401" in message and "password field" in message and TEST_API_KEY not in message


def test_test_connection_reports_config_errors(make_hook, set_conn):
    set_conn("nokey", password="")
    ok, message = make_hook("nokey").test_connection()
    assert ok is False and "no API key" in message


def test_context_manager_closes_the_session(make_hook, requests_mock):
    requests_mock.post(EVENTS_URL, **EMPTY)
    with make_hook() as hook:
        fetch(hook)
        session = hook.get_conn()
        assert hook.get_conn() is session
        closed: list[bool] = []
        real_close = session.close
        session.close = lambda: (closed.append(True), real_close())
    assert closed == [True] and hook._session is None
    with hook:  # a closed hook opens a fresh session
        fetch(hook)
        assert hook.get_conn() is not session


def test_json_error_body_without_message(make_hook, requests_mock):
    requests_mock.post(EVENTS_URL, status_code=400, text=json.dumps({"error": "bad"}))
    with pytest.raises(JumpCloudBadRequestError, match="bad"):
        fetch(make_hook())
