from __future__ import annotations

import pytest
import requests

from airflow_provider_jumpcloud.emulator import EmulatorServer

from .conftest import KEY, make_config

START = "2025-12-31T10:00:00Z"
END = "2025-12-31T10:05:00Z"
OK = {"service": ["all"], "start_time": START, "end_time": END}


def post(emu, session, body=None, path="", **kwargs):
    if body is not None:
        kwargs["json"] = body
    return session.post(emu.events_url + path, timeout=10, **kwargs)


def test_missing_or_wrong_key_is_401_without_echoing_it(emu):
    r = requests.post(emu.events_url, json=OK, timeout=10)
    assert r.status_code == 401 and "message" in r.json()
    r = requests.post(emu.events_url, json=OK, headers={"x-api-key": "wrong-secret-value"}, timeout=10)
    assert r.status_code == 401 and "wrong-secret-value" not in r.text and KEY not in r.text
    assert requests.post(emu.events_url, json=OK, headers={"x-api-key": KEY}, timeout=10).status_code == 200


def test_org_id_is_checked_when_configured(session):
    with EmulatorServer(make_config(org_id="org-a")) as server:
        assert session.post(server.events_url, json=OK).status_code == 403
        r = session.post(server.events_url, json=OK, headers={"x-org-id": "org-b"})
        assert r.status_code == 403 and r.json()["message"]
        assert session.post(server.events_url, json=OK, headers={"x-org-id": "org-a"}).status_code == 200
        # Several organisations in one request (comma-joined repeated headers) include ours.
        both = session.post(server.events_url, json=OK, headers={"x-org-id": "org-b, org-a"})
        assert both.status_code == 200


def test_unknown_path_and_method(emu, session):
    assert session.post(emu.base_url + "/insights/directory/v1/nope", json=OK).status_code == 404
    assert session.get(emu.events_url).status_code == 405


BAD_BODIES = [
    pytest.param({"start_time": START}, "service", id="service-missing"),
    pytest.param({**OK, "service": []}, "service", id="service-empty"),
    pytest.param({**OK, "service": 5}, "service", id="service-not-a-list"),
    pytest.param({**OK, "service": ["directory", "nope"]}, "valid values are", id="service-unknown"),
    pytest.param({"service": ["all"]}, "start_time", id="start-missing"),
    pytest.param({**OK, "start_time": "yesterday"}, "start_time", id="start-not-rfc3339"),
    pytest.param({**OK, "start_time": 1767175200}, "start_time", id="start-number"),
    pytest.param({**OK, "end_time": "2025-13-01T00:00:00Z"}, "end_time", id="end-invalid"),
    pytest.param({**OK, "end_time": "2025-12-31T09:00:00Z"}, "Start Time not after End Time",
                 id="start-after-end"),
    pytest.param({**OK, "end_time": START}, "Start Time not after End Time", id="start-equals-end"),
    pytest.param({**OK, "start_time": "2026-01-01T00:00:01Z", "end_time": "2026-01-02T00:00:00Z"}, "future",
                 id="start-in-future"),
    pytest.param({**OK, "start_time": "2025-10-02T23:59:59Z"}, "retention", id="beyond-retention"),
    pytest.param({**OK, "search_after": "abc"}, "search_after", id="search-after-string"),
    pytest.param({**OK, "search_after": [1]}, "search_after", id="search-after-short"),
    pytest.param({**OK, "search_after": ["x", "y"]}, "search_after", id="search-after-not-number"),
    pytest.param({**OK, "search_after": [1, 2]}, "search_after", id="search-after-tiebreak-number"),
    pytest.param({**OK, "search_term": {"and": [{"success": False}]}}, "\"false\"", id="search-boolean"),
    pytest.param({**OK, "search_term": {"or": [{"service": "sso"}, {"and": [{"mfa": [True]}]}]}}, "string",
                 id="search-nested-boolean"),
    pytest.param({**OK, "search_term": {"and": [{"a": "1"}], "or": [{"b": "2"}]}}, "exactly one",
                 id="search-two-operators"),
    pytest.param({**OK, "search_term": {"xor": [{"a": "1"}]}}, "exactly one", id="search-unknown-operator"),
    pytest.param({**OK, "search_term": {"and": []}}, "non-empty", id="search-empty"),
    pytest.param({**OK, "search_term": {"and": [{"service": "sso"}, {"service": "ldap"}]}}, "repeats",
                 id="search-repeated-field"),
    pytest.param({**OK, "search_term": {"and": [{"service": {"x": 1}}]}}, "string", id="search-object"),
    pytest.param({**OK, "fields": []}, "fields", id="fields-empty"),
    pytest.param({**OK, "fields": ["nope", "also.nope"]}, "no known field", id="fields-unknown"),
    pytest.param({**OK, "fields": "event_type"}, "fields", id="fields-not-list"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_BODIES)
@pytest.mark.parametrize("path", ["", "/count"])
def test_bad_bodies_get_400_with_a_message(emu, session, body, needle, path):
    r = post(emu, session, body, path)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert "X-Request-Id" in r.headers


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
def test_malformed_or_non_object_json_is_400(emu, session, raw):
    r = session.post(emu.events_url, data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"]


def test_distinct_needs_a_field(emu, session):
    r = post(emu, session, OK, "/distinct")
    assert r.status_code == 400 and "field" in r.json()["message"]


def test_retention_boundary(session):
    with EmulatorServer(make_config(retention_days=15)) as server:
        inside = {**OK, "start_time": "2025-12-17T00:00:00Z", "end_time": "2025-12-17T00:10:00Z"}
        outside = {**OK, "start_time": "2025-12-16T23:59:59.999Z", "end_time": "2025-12-17T00:10:00Z"}
        assert session.post(server.events_url, json=inside).status_code == 200
        r = session.post(server.events_url, json=outside)
    assert r.status_code == 400 and "15 days" in r.json()["message"]
    assert "2025-12-17T00:00:00Z" in r.json()["message"]


def test_lenient_inputs_are_accepted(emu, session):
    for body in ({**OK, "start_time": "2025-12-31T10:00:00"},              # no time zone: UTC
                 {**OK, "start_time": "2025-12-31T11:00:00+01:00"},        # offset
                 {**OK, "service": "sso"},                                 # a bare string
                 {**OK, "search_after": ["1767175200000", ""]},            # PowerShell SDK string[] token
                 {"service": ["all"], "start_time": "2025-12-31T23:59:00Z"}):  # end_time defaults to now
        r = post(emu, session, body)
        assert r.status_code == 200, (body, r.text)


def test_count_and_events_agree_when_end_defaults_to_now(emu, session):
    body = {"service": ["all"], "start_time": "2025-12-31T23:50:00Z"}
    count = post(emu, session, body, "/count").json()["count"]
    events = post(emu, session, {**body, "limit": 10_000}).json()
    assert count == len(events) > 0
