from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_jumpcloud.emulator import EmulatorServer, parse_fault

from .conftest import KEY, make_config

BODY = {"service": ["all"], "start_time": "2025-12-31T10:00:00Z", "end_time": "2025-12-31T10:30:00Z"}
HEADERS = {"x-api-key": KEY}


@pytest.fixture
def server():
    sleeps: list[float] = []
    with EmulatorServer(make_config(), sleep=sleeps.append) as emu:
        emu.sleeps = sleeps
        yield emu


def call(emu, timeout: float = 10):
    return requests.post(emu.events_url, json=BODY, headers=HEADERS, timeout=timeout)


def test_429_with_retry_after_on_the_chosen_request_only(server):
    server.faults.add("429", at_request=2, retry_after=3)
    assert call(server).status_code == 200
    r = call(server)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and r.json()["message"]
    assert call(server).status_code == 200
    assert server.faults_served == {"429": 1}
    assert [rec.fault for rec in server.requests] == [None, "429", None]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 401, 402])
def test_status_faults(server, status):
    server.faults.add(status, at_request=1, times=2)
    assert [call(server).status_code for _ in range(3)] == [status, status, 200]
    assert server.faults_served[str(status)] == 2


def test_slow_answers_after_the_delay(server):
    server.faults.add("slow", at_request=1, delay=2.5)
    r = call(server)
    assert r.status_code == 200 and r.json() and server.sleeps == [2.5]


def test_slow_answer_makes_a_client_time_out():
    with EmulatorServer(make_config()) as emu:  # real sleep, kept short
        emu.faults.add("slow", at_request=1, delay=0.6)
        with pytest.raises(requests.exceptions.ReadTimeout):
            call(emu, timeout=0.15)
        assert emu.faults_served["slow"] == 1


def test_truncate_sends_a_prefix_of_the_real_page_then_closes(server):
    full = call(server).content
    server.faults.add("truncate", at_request=2, fraction=0.4)
    url = urlsplit(server.events_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    headers = {**HEADERS, "Content-Type": "application/json"}
    conn.request("POST", url.path, body=json.dumps(BODY), headers=headers)
    response = conn.getresponse()
    assert response.status == 200 and int(response.headers["Content-Length"]) == len(full)
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    conn.close()
    assert caught.value.partial == full[: int(len(full) * 0.4)]
    server.faults.add("truncate", at_request=3)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        call(server)


def test_reset_closes_without_an_answer(server):
    server.faults.add("reset", at_request=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        call(server)
    assert call(server).status_code == 200
    assert server.faults_served == {"reset": 1}


def test_nonjson_is_a_200_html_page_without_paging_headers(server):
    server.faults.add("nonjson", at_request=1)
    r = call(server)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"
    assert "X-Result-Count" not in r.headers
    with pytest.raises(ValueError):
        r.json()


def test_path_restricted_fault(server):
    server.faults.add("500", at_request=1, times=5, path="/events/count")
    assert call(server).status_code == 200
    r = requests.post(server.events_url + "/count", json=BODY, headers=HEADERS, timeout=10)
    assert r.status_code == 500


def test_probability_faults_are_reproducible_for_a_seed():
    runs = []
    for _ in range(2):
        with EmulatorServer(make_config(faults=("503~0.3",))) as emu:
            runs.append([call(emu).status_code for _ in range(30)])
            assert emu.faults_served["503"] == runs[-1].count(503)
    assert runs[0] == runs[1]
    assert 3 <= runs[0].count(503) <= 18 and 200 in runs[0]


def test_faults_from_config_specs():
    with EmulatorServer(make_config(faults=("429@1:2", "nonjson@2"))) as emu:
        first, second, third = call(emu), call(emu), call(emu)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert second.headers["Content-Type"] == "text/html" and third.status_code == 200


@pytest.mark.parametrize(("spec", "expected"), [
    ("429@3", {"kind": "429", "at_request": 3, "times": 1, "retry_after": 1}),
    ("503@5*2:1.5", {"kind": "503", "at_request": 5, "times": 2, "retry_after": 1.5}),
    ("slow@7:2.5", {"kind": "slow", "at_request": 7, "delay": 2.5}),
    ("truncate@9", {"kind": "truncate", "at_request": 9, "fraction": 0.5}),
    ("reset@11", {"kind": "reset", "at_request": 11}),
    ("NONJSON@13", {"kind": "nonjson", "at_request": 13}),
    ("500~0.25", {"kind": "500", "probability": 0.25, "at_request": None}),
])
def test_parse_fault(spec, expected):
    fault = parse_fault(spec)
    assert {k: getattr(fault, k) for k in expected} == expected


@pytest.mark.parametrize("spec", ["429", "boom@3", "200@1", "503@0", "500~1.5", "slow@x", "truncate@1:1.5"])
def test_parse_fault_rejects_bad_specs(spec):
    with pytest.raises(ValueError):
        parse_fault(spec)
