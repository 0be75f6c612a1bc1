"""Connection settings, argument checks before any request, headers and secret hygiene of JumpCloudHook."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pendulum
import pytest
import requests

from airflow_provider_jumpcloud.exceptions import (
    InvalidWindowError,
    JumpCloudAuthError,
    JumpCloudConfigError,
    JumpCloudTransientError,
)
from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
from tests.hooks.fake_di import EVENTS_URL

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
EMPTY = {"text": "[]", "headers": {"X-Result-Count": "0", "X-Limit": "10000"}}
LEAKY_KEY = "leak-check-key-7c1d0e9f2a6b"


def test_class_attributes_and_lazy_connection(monkeypatch):
    assert JumpCloudHook.conn_name_attr == "jumpcloud_conn_id"
    assert JumpCloudHook.default_conn_name == "jumpcloud_default"
    assert (JumpCloudHook.conn_type, JumpCloudHook.hook_name) == ("jumpcloud", "JumpCloud")
    hook = JumpCloudHook("not_defined_anywhere")  # no lookup at construction
    assert repr(hook) == "JumpCloudHook(jumpcloud_conn_id='not_defined_anywhere')"
    with pytest.raises(Exception, match="not_defined_anywhere"):
        hook.api_key  # noqa: B018


@pytest.mark.parametrize(
    ("extra", "url"),
    [
        ({}, "https://api.jumpcloud.com"),
        ({"region": "us"}, "https://api.jumpcloud.com"),
        ({"region": " EU "}, "https://api.eu.jumpcloud.com"),
        ({"region": "in"}, "https://api.in.jumpcloud.com"),
        ({"extra__jumpcloud__region": "eu"}, "https://api.eu.jumpcloud.com"),
        ({"region": ""}, "https://api.jumpcloud.com"),
    ],
)
def test_region_urls(make_hook, set_conn, extra, url):
    set_conn("jc", password="k" * 12, extra=extra)
    assert make_hook("jc").base_url == url


def test_host_overrides_region_and_is_used(make_hook, set_conn, requests_mock):
    set_conn("jc", password="k" * 12, host="http://127.0.0.1:8080/proxy/", extra={"region": "eu"})
    m = requests_mock.post("http://127.0.0.1:8080/proxy/insights/directory/v1/events", **EMPTY)
    hook = make_hook("jc")
    assert hook.base_url == "http://127.0.0.1:8080/proxy"
    assert list(hook.iter_events(T0, T1)) == [] and m.call_count == 1


@pytest.mark.parametrize(
    ("conn", "match"),
    [
        ({"password": "k" * 12, "extra": {"region": "ap"}}, "unknown region 'ap'.*us, eu, in"),
        ({"password": "k" * 12, "host": "api.jumpcloud.com"}, "must be an http\\(s\\) URL"),
        ({"password": "k" * 12, "host": "ftp://api.jumpcloud.com"}, "must be an http\\(s\\) URL"),
        ({"password": "k" * 12, "host": "https://"}, "must be an http\\(s\\) URL"),
        ({"password": ""}, "no API key"),
        ({"password": "   "}, "no API key"),
        ({}, "no API key"),
        ({"password": "k" * 12, "extra": {"timeout": "abc"}}, "timeout must be a positive"),
        ({"password": "k" * 12, "extra": {"timeout": 0}}, "timeout must be a positive"),
    ],
)
def test_bad_connections_fail_before_any_request(make_hook, set_conn, requests_mock, conn, match):
    set_conn("jc", **conn)
    hook = make_hook("jc")
    with pytest.raises(JumpCloudConfigError, match=match):
        list(hook.iter_events(T0, T1))
    with pytest.raises(JumpCloudConfigError, match=match):
        hook.count_events(T0, T1)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("start", "end", "kwargs", "error", "match"),
    [
        (datetime(2025, 1, 1, 4), T1, {}, InvalidWindowError, "naive"),
        (T0, datetime(2025, 1, 1, 5), {}, InvalidWindowError, "naive"),
        (T1, T0, {}, InvalidWindowError, "must be before"),
        (T0, T0, {}, InvalidWindowError, "must be before"),
        ("yesterday", T1, {}, InvalidWindowError, "RFC 3339"),
        (T0, T1, {"page_size": 0}, JumpCloudConfigError, "page_size"),
        (T0, T1, {"page_size": 10_001}, JumpCloudConfigError, "page_size"),
        (T0, T1, {"page_size": True}, JumpCloudConfigError, "page_size"),
        (T0, T1, {"page_size": 2.0}, JumpCloudConfigError, "page_size"),
        (T0, T1, {"page_size": "10"}, JumpCloudConfigError, "page_size"),
        (T0, T1, {"services": ["nope"]}, JumpCloudConfigError, "unknown JumpCloud service"),
        (T0, T1, {"services": []}, JumpCloudConfigError, "at least one service"),
    ],
)
def test_bad_arguments_fail_at_call_before_any_request(
    make_hook, requests_mock, start, end, kwargs, error, match
):
    hook = make_hook()
    with pytest.raises(error, match=match):
        hook.iter_events(start, end, **kwargs)  # raises at call time, not at the first next()
    assert requests_mock.call_count == 0


def test_pendulum_and_string_bounds_are_accepted(make_hook, requests_mock):
    m = requests_mock.post(EVENTS_URL, **EMPTY)
    hook = make_hook()
    list(hook.iter_events(pendulum.datetime(2025, 1, 1, 5, tz="Europe/Paris"), "2025-01-01T04:15:00.5+00:00"))
    body = m.last_request.json()
    assert body["start_time"] == "2025-01-01T04:00:00Z" and body["end_time"] == "2025-01-01T04:15:00.500000Z"


@pytest.mark.parametrize(
    ("org_id", "expected"),
    [
        ("org-1", ["org-1"]),
        ("org-1, org-2,,org-3 ", ["org-1", "org-2", "org-3"]),
        (["org-1", " org-2"], ["org-1", "org-2"]),
        ("", []),
        (None, []),
    ],
)
def test_org_ids_are_repeated_headers(make_hook, set_conn, requests_mock, org_id, expected):
    set_conn("jc", password="k" * 12, extra={"org_id": org_id})
    m = requests_mock.post(EVENTS_URL, **EMPTY)
    hook = make_hook("jc")
    assert hook.org_ids == expected
    list(hook.iter_events(T0, T1))
    assert m.last_request.headers.getlist("x-org-id") == expected


def test_legacy_extra_names_and_provider_id(make_hook, set_conn, requests_mock):
    set_conn("jc", password="k" * 12, extra={"extra__jumpcloud__org_id": "o1", "provider_id": " prov-9 "})
    m = requests_mock.post(EVENTS_URL, **EMPTY)
    hook = make_hook("jc")
    list(hook.iter_events(T0, T1))
    assert hook.org_ids == ["o1"] and hook.provider_id == "prov-9"
    assert m.last_request.headers["x-provider-id"] == "prov-9"


def test_repeated_x_org_id_on_the_wire(set_conn):
    """A real loopback server sees two separate x-org-id header lines."""
    seen: dict = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["org"] = self.headers.get_all("x-org-id")
            seen["key"] = self.headers.get("x-api-key")
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"count": 5}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        set_conn("wire", password="wire-key-123456", host=f"http://127.0.0.1:{server.server_port}",
                 extra={"org_id": "org-a,org-b"})
        with JumpCloudHook("wire", timeout=5) as hook:
            assert hook.count_events(T0, T1) == 5
    finally:
        server.shutdown()
        server.server_close()
    assert seen == {"org": ["org-a", "org-b"], "key": "wire-key-123456"}


def test_timeout_and_verify_are_passed(make_hook, set_conn, requests_mock, caplog):
    set_conn("jc", password="k" * 12, extra={"timeout": "30", "verify": "false"})
    m = requests_mock.post(EVENTS_URL, **EMPTY)
    hook = make_hook("jc")
    list(hook.iter_events(T0, T1))
    list(hook.iter_events(T0, T1))
    assert m.last_request.timeout == 30.0 and m.last_request.verify is False
    warnings = [r for r in caplog.records if "verification is OFF" in r.getMessage()]
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert len(warnings) == 1
    assert make_hook("jc", timeout=7).timeout == 7.0


@pytest.mark.parametrize(
    ("verify", "expected"),
    [
        (None, True), (True, True), (False, False), ("true", True), ("0", False),
        ("/etc/ca.pem", "/etc/ca.pem"),
    ],
)
def test_verify_values(make_hook, set_conn, verify, expected):
    set_conn("jc", password="k" * 12, extra={"verify": verify})
    assert make_hook("jc").verify == expected


def test_default_timeout(make_hook):
    assert make_hook().timeout == 60.0


# ------------------------------------------------------------------ secrets
@pytest.fixture
def leaky(set_conn, masked):
    set_conn("leaky", password=LEAKY_KEY, extra={"org_id": "org-1"})
    return masked


def test_key_is_registered_with_the_masker(make_hook, leaky):
    assert make_hook("leaky").api_key == LEAKY_KEY
    assert leaky == [LEAKY_KEY]


def test_key_never_in_logs_or_errors_on_retries(make_hook, leaky, requests_mock, caplog):
    requests_mock.post(EVENTS_URL, status_code=503, json={"message": f"overloaded for key {LEAKY_KEY}"})
    hook = make_hook("leaky", max_retries=2)
    with pytest.raises(JumpCloudTransientError) as info:
        list(hook.iter_events(T0, T1))
    assert caplog.records  # retries were logged ...
    assert LEAKY_KEY not in caplog.text  # ... without the key, even though the server echoed it
    assert LEAKY_KEY not in str(info.value) + repr(info.value) + repr(hook)


def test_key_never_in_auth_errors(make_hook, leaky, requests_mock, caplog):
    requests_mock.post(EVENTS_URL, status_code=401, json={"message": f"invalid key {LEAKY_KEY}"})
    with pytest.raises(JumpCloudAuthError) as info:
        list(make_hook("leaky").iter_events(T0, T1))
    assert "***" in str(info.value)
    assert LEAKY_KEY not in str(info.value) + info.value.server_message + caplog.text


def test_key_never_in_connection_errors(make_hook, leaky, requests_mock, caplog):
    leak = requests.ConnectionError(f"reset while sending x-api-key: {LEAKY_KEY}")
    requests_mock.post(EVENTS_URL, exc=leak)
    hook = make_hook("leaky", max_retries=1)
    with pytest.raises(JumpCloudTransientError) as info:
        list(hook.iter_events(T0, T1))
    ok, message = hook.test_connection()
    assert ok is False
    assert LEAKY_KEY not in str(info.value) + caplog.text + message
    assert "reset while sending" in caplog.text


def test_page_logs_carry_no_headers_or_bodies(make_hook, leaky, requests_mock, caplog):
    event = {"id": "secret-body-marker", "timestamp": "2025-01-01T04:00:01Z"}
    requests_mock.post(EVENTS_URL, text=json.dumps([event]), headers={"X-Result-Count": "1", "X-Limit": "10"})
    assert len(list(make_hook("leaky").iter_events(T0, T1, page_size=10))) == 1
    assert "page 1" in caplog.text and "1 in window" in caplog.text
    for secret in ("secret-body-marker", "org-1", LEAKY_KEY):
        assert secret not in caplog.text
