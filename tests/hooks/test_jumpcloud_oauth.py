"""Service accounts: OAuth 2.0 client credentials, Bearer tokens, expiry, a 401 refresh, org ids, masking."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from airflow_provider_jumpcloud.api_auth import TOKEN_URLS
from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_events
from airflow_provider_jumpcloud.exceptions import (
    JumpCloudAuthError,
    JumpCloudConfigError,
    JumpCloudTransientError,
)
from tests.hooks.fake_di import COUNT_URL, EVENTS_URL

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2025, 1, 1, 4, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=15)
CLIENT_ID = "sa-client-5b2e"
SECRET = "sa-SECRET-91f0c3d7e2a4"
TOKEN_URL = TOKEN_URLS["us"]
NOW = "2026-01-01T00:00:00Z"
EMU_KEY = "oauth-emulator-api-key-0a9b"


class Clock:
    """A monotonic clock tests move by hand (seconds), also readable as epoch ns for the emulator."""

    def __init__(self) -> None:
        self.now = 1_767_312_000.0  # 2026-01-02: the emulator shows events up to its clock

    def __call__(self) -> float:
        return self.now

    def ns(self) -> int:
        return int(self.now * 1e9)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token_answer(token: str, expires_in: object = 3600) -> dict:
    return {"json": {"access_token": token, "expires_in": expires_in, "token_type": "bearer", "scope": "api"}}


@pytest.fixture
def sa_conn(set_conn):
    set_conn("sa", login=CLIENT_ID, password=SECRET, extra={"org_id": "org-9"})


def test_token_request_and_bearer_requests(make_hook, sa_conn, requests_mock, masked):
    tokens = requests_mock.post(TOKEN_URL, **token_answer("tok-AAAA-1111"))
    count = requests_mock.post(COUNT_URL, json={"count": 7})
    hook = make_hook("sa")
    assert hook.uses_service_account and hook.count_events(T0, T1) == 7
    sent = tokens.last_request
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.text) == {"grant_type": ["client_credentials"], "scope": ["api"]}
    api = count.last_request
    assert api.headers["Authorization"] == "Bearer tok-AAAA-1111"
    assert "x-api-key" not in api.headers and api.headers.getlist("x-org-id") == ["org-9"]
    assert SECRET in masked and "tok-AAAA-1111" in masked  # both registered with Airflow's masker


@pytest.mark.parametrize(
    ("extra", "url"),
    [({}, TOKEN_URLS["us"]), ({"region": "eu"}, "https://admin-oauth.id.eu.jumpcloud.com/oauth2/token"),
     ({"region": "eu", "token_url": "https://sso.example/oauth2/token"}, "https://sso.example/oauth2/token")],
)
def test_token_url_by_region_or_extra(make_hook, set_conn, extra, url):
    set_conn("sa", login=CLIENT_ID, password=SECRET, extra=extra)
    assert make_hook("sa").token_url == url


@pytest.mark.parametrize(
    ("conn", "match"),
    [({"login": CLIENT_ID, "password": "", "extra": {}}, "client id \\(login\\) but no client secret"),
     ({"login": CLIENT_ID, "password": SECRET, "extra": {"region": "in"}}, "set the token_url extra"),
     ({"login": CLIENT_ID, "password": SECRET, "extra": {"token_url": "admin-oauth"}}, "must be an http")],
)
def test_service_account_config_errors_before_any_request(make_hook, set_conn, requests_mock, conn, match):
    set_conn("sa", **conn)
    with pytest.raises(JumpCloudConfigError, match=match):
        make_hook("sa").count_events(T0, T1)
    assert requests_mock.call_count == 0


def test_token_is_cached_then_fetched_again_after_expiry(make_hook, sa_conn, requests_mock):
    clock = Clock()
    tokens = requests_mock.post(TOKEN_URL, [token_answer("tok-1", 600), token_answer("tok-2", 600)])
    count = requests_mock.post(COUNT_URL, json={"count": 1})
    hook = make_hook("sa", clock=clock)
    for _ in range(3):
        hook.count_events(T0, T1)
    clock.advance(600 - 61)  # refreshed up to a minute (at most a tenth of the lifetime) before expiry
    hook.count_events(T0, T1)
    clock.advance(2)
    hook.count_events(T0, T1)
    assert tokens.call_count == 2
    used = [r.headers["Authorization"] for r in count.request_history]
    assert used == ["Bearer tok-1"] * 4 + ["Bearer tok-2"]


def test_a_refused_token_is_fetched_again_once(make_hook, sa_conn, requests_mock, sleeps):
    tokens = requests_mock.post(TOKEN_URL, [token_answer("tok-old"), token_answer("tok-new")])
    count = requests_mock.post(COUNT_URL, [{"status_code": 401, "json": {"message": "token expired"}},
                                           {"json": {"count": 4}}])
    assert make_hook("sa").count_events(T0, T1) == 4
    assert tokens.call_count == 2 and sleeps == [0.0]
    assert [r.headers["Authorization"] for r in count.request_history] == ["Bearer tok-old", "Bearer tok-new"]


def test_a_token_refused_twice_is_an_auth_error(make_hook, sa_conn, requests_mock):
    requests_mock.post(TOKEN_URL, [token_answer("tok-a"), token_answer("tok-b")])
    count = requests_mock.post(COUNT_URL, status_code=401, json={"message": "Unauthorized"})
    with pytest.raises(JumpCloudAuthError, match="service-account token was refused") as info:
        make_hook("sa").count_events(T0, T1)
    assert count.call_count == 2 and info.value.status == 401


def test_missing_org_id_is_named_at_the_first_4xx(make_hook, set_conn, requests_mock):
    set_conn("sa", login=CLIENT_ID, password=SECRET)
    requests_mock.post(TOKEN_URL, **token_answer("tok-x"))
    requests_mock.post(EVENTS_URL, status_code=400, json={"message": "missing organization"})
    with pytest.raises(JumpCloudConfigError, match=r"No organization ID is configured.*set the org_id extra"):
        list(make_hook("sa").iter_events(T0, T1))


@pytest.mark.parametrize("status", [400, 401])
def test_refused_client_credentials_fail_at_once_without_the_secret(make_hook, sa_conn, requests_mock, status):
    body = {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}
    tokens = requests_mock.post(TOKEN_URL, status_code=status, json=body)
    with pytest.raises(JumpCloudAuthError, match="client credentials were refused") as info:
        make_hook("sa").count_events(T0, T1)
    assert tokens.call_count == 1 and requests_mock.call_count == 1
    assert SECRET not in str(info.value) + info.value.server_message


def test_token_endpoint_outages_are_retried_in_the_same_budget(make_hook, sa_conn, requests_mock, sleeps):
    tokens = requests_mock.post(TOKEN_URL, [{"status_code": 503, "json": {"message": "busy"}},
                                            token_answer("tok-ok")])
    requests_mock.post(COUNT_URL, json={"count": 2})
    assert make_hook("sa").count_events(T0, T1) == 2
    assert tokens.call_count == 2 and len(sleeps) == 1
    requests_mock.post(TOKEN_URL, status_code=503, json={"message": "down"})
    with pytest.raises(JumpCloudTransientError, match="3 attempts"):
        make_hook("sa", max_retries=2).count_events(T0, T1)


def test_echoed_tokens_are_scrubbed(make_hook, sa_conn, requests_mock, caplog):
    requests_mock.post(TOKEN_URL, **token_answer("tok-ECHO-ME-42"))
    requests_mock.post(COUNT_URL, status_code=403, json={"message": "no: Bearer tok-ECHO-ME-42"},
                       headers={"X-Request-Id": "tok-ECHO-ME-42"})
    with pytest.raises(JumpCloudAuthError) as info:
        make_hook("sa").count_events(T0, T1)
    text = f"{info.value} {info.value.server_message} {info.value.request_id} {caplog.text}"
    assert "tok-ECHO-ME-42" not in text and SECRET not in text and "***" in text


def test_test_connection_in_both_modes(make_hook, sa_conn, set_conn, requests_mock):
    requests_mock.post(TOKEN_URL, **token_answer("tok-t"))
    requests_mock.post(COUNT_URL, json={"count": 3})
    ok, message = make_hook("sa").test_connection()
    assert ok and message == (
        "Connection successful: 3 events in the last minute at https://api.jumpcloud.com "
        f"(service account {CLIENT_ID}, token from {TOKEN_URL})"
    )
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "secret": SECRET})
    ok, message = make_hook("sa").test_connection()
    assert not ok and "client credentials were refused" in message and SECRET not in message
    set_conn("key", password="plain-api-key-123")
    ok, message = make_hook("key").test_connection()
    assert ok and message == "Connection successful: 3 events in the last minute at https://api.jumpcloud.com"


# ------------------------------------------------------------------------ against the emulator
def test_oauth_fetch_across_token_expiry_against_the_emulator(make_hook, set_conn):
    """Tokens expire mid-window on both clocks: the hook renews by itself, then after a 401; never an API key."""
    clock = Clock()
    config = EmulatorConfig(seed=13, events_per_day=50_000, days=1, now=NOW, api_key=EMU_KEY, late_fraction=0.0,
                            client_id=CLIENT_ID, client_secret=SECRET, token_lifetime=100, clock_ns=clock.ns,
                            org_id="org-e")
    start, end = "2025-12-31T12:00:00Z", "2025-12-31T12:10:00Z"
    with EmulatorServer(config) as emu:
        set_conn("sa_emu", login=CLIENT_ID, password=SECRET, host=emu.base_url,
                 extra={"org_id": "org-e", "token_url": emu.base_url + "/oauth2/token"})
        hook = make_hook("sa_emu", clock=clock)
        got = []
        for n, raw in enumerate(hook.iter_events(start, end, page_size=50), 1):
            got.append(raw)
            if n == 120:
                clock.advance(95)  # past the hook's refresh point (lifetime 100 s, margin 10 s)
            if n == 260:
                emu.api.tokens.revoke_all()  # the server forgets it early: a 401, then a new token
        records = list(emu.requests)
    expected = [e["id"] for e in expected_events(config, start, end)]
    assert [json.loads(r)["id"] for r in got] == expected and len(expected) > 300
    token_calls = [r for r in records if r.path == "/oauth2/token"]
    api_calls = [r for r in records if r.path != "/oauth2/token"]
    assert len(token_calls) == 3 and all(r.auth == "basic" and r.status == 200 for r in token_calls)
    assert all(r.auth == "bearer" for r in api_calls)  # no x-api-key was ever sent
    assert not any("api-key" in (r.auth or "") for r in records)
    assert all(r.org_ids == ("org-e",) for r in api_calls)
    assert [r.token for r in api_calls if r.status == 401] == [2]
    assert {r.token for r in api_calls if r.status == 200} == {1, 2, 3}
