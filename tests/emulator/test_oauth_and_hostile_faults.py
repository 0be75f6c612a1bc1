"""The emulator's service-account token endpoint, the request log's credential kinds, and the hostile faults."""

from __future__ import annotations

import base64
import gzip
import socket
import time
import zlib
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_jumpcloud.emulator import EmulatorServer, parse_fault
from airflow_provider_jumpcloud.emulator.__main__ import build_parser
from tests.emulator.conftest import KEY, make_config

pytestmark = pytest.mark.timeout(60)

CLIENT_ID, SECRET = "emu-client", "emu-client-secret-3c9d"
BODY = {"service": ["all"], "start_time": "2025-12-31T00:00:00Z", "end_time": "2025-12-31T00:05:00Z"}


class Clock:
    def __init__(self) -> None:
        self.ns = 1_767_312_000 * 10**9

    def __call__(self) -> int:
        return self.ns


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def sa(clock: Clock) -> Iterator[EmulatorServer]:
    config = make_config(client_id=CLIENT_ID, client_secret=SECRET, token_lifetime=60, clock_ns=clock, days=1)
    with EmulatorServer(config) as server:
        yield server


def basic(client_id: str = CLIENT_ID, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def get_token(server: EmulatorServer, authorization: str | None = None, form: str = "grant_type=client_credentials"
              "&scope=api") -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": authorization or basic()}
    return requests.post(server.base_url + "/oauth2/token", data=form, headers=headers, timeout=10)


def count(server: EmulatorServer, **headers: str) -> requests.Response:
    return requests.post(server.base_url + "/insights/directory/v1/events/count", json=BODY, headers=headers,
                         timeout=10)


def test_tokens_are_issued_accepted_and_expire(sa: EmulatorServer, clock: Clock) -> None:
    answer = get_token(sa)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    data = answer.json()
    assert data["expires_in"] == 60 and data["token_type"] == "bearer" and data["scope"] == "api"
    bearer = f"Bearer {data['access_token']}"
    assert count(sa, Authorization=bearer).status_code == 200
    clock.ns += 61 * 10**9
    expired = count(sa, Authorization=bearer)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    assert count(sa, Authorization="Bearer made-up").status_code == 401
    assert count(sa, **{"x-api-key": KEY}).status_code == 200  # the API key keeps working
    records = list(sa.requests)[-5:]
    assert [r.auth for r in records] == ["basic", "bearer", "bearer", "bearer", "api-key"]
    assert [r.token for r in records] == [None, records[1].token, records[1].token, None, None]
    assert SECRET not in repr(sa.config) and all(SECRET not in repr(r) for r in sa.requests)


@pytest.mark.parametrize(
    ("authorization", "form", "status", "error"),
    [(basic(secret="wrong"), "grant_type=client_credentials&scope=api", 401, "invalid_client"),
     (basic(client_id="other"), "grant_type=client_credentials&scope=api", 401, "invalid_client"),
     ("Basic !!!", "grant_type=client_credentials&scope=api", 401, "invalid_client"),
     ("Bearer x", "grant_type=client_credentials&scope=api", 401, "invalid_client"),
     (basic(), "grant_type=password&scope=api", 400, "unsupported_grant_type"),
     (basic(), "grant_type=client_credentials", 400, "invalid_scope")],
)
def test_token_requests_are_checked(sa: EmulatorServer, authorization, form, status, error) -> None:
    answer = get_token(sa, authorization, form)
    assert answer.status_code == status and answer.json()["error"] == error


def test_no_service_account_configured_means_no_token_endpoint(emu: EmulatorServer) -> None:
    assert get_token(emu).status_code == 404


def test_service_account_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="client_id and client_secret"):
        make_config(client_id="x")
    with pytest.raises(ValueError, match="token_lifetime"):
        make_config(client_id="x", client_secret="y", token_lifetime=0)


def test_cli_service_account_options() -> None:
    args = build_parser().parse_args(["--client-id", "c", "--client-secret", "s", "--token-lifetime", "5"])
    assert (args.client_id, args.client_secret, args.token_lifetime) == ("c", "s", 5.0)


# ------------------------------------------------------------------------------------- faults
@pytest.mark.parametrize(
    ("spec", "kind", "delay"), [("drip@3:0.25", "drip", 0.25), ("badgzip~0.5", "badgzip", 1.0),
                                ("echo@1*2", "echo", 1.0), ("echobody@4", "echobody", 1.0)],
)
def test_parse_the_hostile_faults(spec, kind, delay) -> None:
    fault = parse_fault(spec)
    assert (fault.kind, fault.delay) == (kind, delay)


def test_drip_sends_headers_at_once_and_the_body_slowly(emu: EmulatorServer) -> None:
    emu.faults.add("drip", at_request=emu.request_count + 1, delay=0.05)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        payload = b'{"service":["all"],"start_time":"2025-12-31T00:00:00Z","end_time":"2025-12-31T00:00:10Z"}'
        sock.sendall(b"POST /insights/directory/v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: " + KEY.encode()
                     + b"\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        first = sock.recv(65536)
        head_at = time.monotonic() - started
        data = first
        while len(data) - data.index(b"\r\n\r\n") - 4 < 64 * 4:
            data += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200") and head_at < 1.0
    assert time.monotonic() - started >= 0.15  # four 64-byte pieces took at least three delays


def test_badgzip_is_labelled_gzip_but_does_not_decode(emu: EmulatorServer, session) -> None:
    emu.faults.add("badgzip", at_request=emu.request_count + 1)
    answer = session.post(emu.base_url + "/insights/directory/v1/events", json=BODY, stream=True, timeout=10)
    raw = answer.raw.read(decode_content=False)
    assert answer.headers["Content-Encoding"] == "gzip" and raw[:2] == b"\x1f\x8b"
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(raw)


def test_echo_faults_repeat_the_credential(emu: EmulatorServer, session) -> None:
    emu.faults.add("echo", at_request=emu.request_count + 1)
    emu.faults.add("echobody", at_request=emu.request_count + 2)
    echoed = session.post(emu.base_url + "/insights/directory/v1/events/count", json=BODY, timeout=10)
    assert echoed.status_code == 200 and KEY in echoed.headers["X-Request-Id"] and "count" in echoed.json()
    body = session.post(emu.base_url + "/insights/directory/v1/events/count", json=BODY, timeout=10)
    assert body.status_code == 200 and KEY in body.text and KEY in body.headers["X-Request-Id"]
