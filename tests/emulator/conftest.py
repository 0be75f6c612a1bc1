"""Shared emulator fixtures: one generated tenant on loopback, a session with the right key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer

NOW = "2026-01-01T00:00:00Z"
KEY = "emu-test-key"


def make_config(**overrides: object) -> EmulatorConfig:
    """Return a small deterministic tenant: 200k events/day, 3 days ending at NOW."""
    settings: dict = {"seed": 11, "events_per_day": 200_000, "days": 3, "now": NOW, "api_key": KEY}
    settings.update(overrides)
    return EmulatorConfig(**settings)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(make_config()) as server:
        yield server


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["x-api-key"] = KEY
        yield s


def fetch_all(session: requests.Session, url: str, body: dict, max_pages: int = 10_000) -> tuple[list, list]:
    """Page through /events like the documented client loop; return (events, per-page responses)."""
    body = dict(body)
    events: list = []
    responses: list = []
    for _ in range(max_pages):
        r = session.post(url, json=body, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        responses.append(r)
        assert int(r.headers["X-Result-Count"]) == len(page)
        events.extend(page)
        if int(r.headers["X-Result-Count"]) < int(r.headers["X-Limit"]):
            return events, responses
        body["search_after"] = json.loads(r.headers["X-Search_after"])
    raise AssertionError("runaway pagination")
