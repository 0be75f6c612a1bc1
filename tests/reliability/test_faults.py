"""Fault injection on whole windows: API and Elasticsearch failures, kills and re-runs, concurrent runs.

Every scenario ends with the delivery invariant (see ``harness``): each event of the window is found
exactly once in the Elasticsearch double (or the file sink) or in the dead-letter file, and the load
counts add up to the emulator's count. Traffic stays on 127.0.0.1; back-off sleeps are recorded, not slept.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from airflow.sdk.exceptions import AirflowFailException
from elasticsearch import ApiError

from airflow_provider_jumpcloud.emulator import EmulatorConfig, EmulatorServer, expected_count
from airflow_provider_jumpcloud.exceptions import (
    JumpCloudAuthError,
    JumpCloudTransientError,
    MalformedPageError,
)
from airflow_provider_jumpcloud.sinks import elasticsearch as es_sink
from airflow_provider_jumpcloud.staging import StagingLayout, iter_lines
from airflow_provider_jumpcloud.timestamps import format_ns
from airflow_provider_jumpcloud.windows import Window
from tests.reliability import harness as h
from tests.support.elasticsearch_double import ElasticsearchDouble

pytestmark = pytest.mark.timeout(60)

NOW = "2026-01-01T00:00:00Z"
KEY = "reliability-jc-key-7d41c0"
BASE = Window.parse("2025-12-31T12:00:00Z", "2025-12-31T12:10:00Z")


def window(n: int) -> Window:
    """The n-th 10-minute window of the emulated day (each scenario gets its own data)."""
    return BASE.shifted(timedelta(minutes=10 * n))


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=23, events_per_day=100_000, days=1, now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def api(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The emulator with no planned faults and ``jc_rel`` pointing at it (0.5 s client timeout)."""
    emu.faults.clear()
    h.set_jumpcloud_conn(monkeypatch, emu.base_url, KEY, timeout=0.5)
    return emu


@pytest.fixture
def es(monkeypatch: pytest.MonkeyPatch):
    with ElasticsearchDouble() as double:
        h.set_es_conn(monkeypatch, double)
        yield double


def at(emu: EmulatorServer, k: int) -> int:
    """Request number of the k-th request from now (1 = the window's count request, 2 = page 1...)."""
    return emu.request_count + k


def finish(ledger: list, name: str, emu: EmulatorServer, win: Window, root: Path, mapped: dict, loaded: dict,
           es: ElasticsearchDouble | None) -> h.Account:
    account = h.reconcile(name, emu, win, root, mapped, loaded, es)
    ledger.append(account)
    account.check()
    assert h.staging_leftovers(root) == []
    if es is not None:
        assert es.count(h.STREAM) == account.expected - account.dead_lettered
    return account


# ----------------------------------------------------------------------------------------- API faults
def test_429_storm_honours_retry_after(api, es, tmp_path, ledger) -> None:
    win, sleeps = window(0), []
    api.faults.add(429, at_request=at(api, 1), times=3, retry_after=0.5)   # the count request
    api.faults.add(429, at_request=at(api, 5), times=4, retry_after=0.25)  # page 1 and then more
    _, mapped, loaded = h.run_window(tmp_path, win, sleeps=sleeps)
    assert api.faults_served["429"] == 7
    assert sleeps.count(0.5) == 3 and sleeps.count(0.25) == 4  # the server's Retry-After, not the back-off
    finish(ledger, "api 429 storm + Retry-After", api, win, tmp_path, mapped, loaded, es)


def test_5xx_bursts(api, es, tmp_path, ledger) -> None:
    win = window(1)
    api.faults.add(503, at_request=at(api, 3), times=5)
    api.faults.add(502, at_request=at(api, 10), times=2)
    api.faults.add(500, at_request=at(api, 14))
    _, mapped, loaded = h.run_window(tmp_path, win)
    assert api.faults_served["503"] == 5 and api.faults_served["502"] == 2 and api.faults_served["500"] == 1
    finish(ledger, "api 503/502/500 bursts", api, win, tmp_path, mapped, loaded, es)


def test_connection_resets_and_cut_bodies_mid_page(api, es, tmp_path, ledger) -> None:
    win = window(2)
    api.faults.add("reset", at_request=at(api, 3), times=2)
    api.faults.add("truncate", at_request=at(api, 7), fraction=0.3)
    api.faults.add("truncate", at_request=at(api, 9), fraction=0.9)
    _, mapped, loaded = h.run_window(tmp_path, win)
    assert api.faults_served["reset"] == 2 and api.faults_served["truncate"] == 2
    finish(ledger, "api resets + truncated bodies", api, win, tmp_path, mapped, loaded, es)


def test_non_json_pages_are_asked_again(api, es, tmp_path, ledger) -> None:
    win = window(3)
    api.faults.add("nonjson", at_request=at(api, 2), times=3)  # page_retries is 3: the 4th try succeeds
    api.faults.add("nonjson", at_request=at(api, 8))
    _, mapped, loaded = h.run_window(tmp_path, win)
    assert api.faults_served["nonjson"] == 4
    finish(ledger, "api non-JSON pages", api, win, tmp_path, mapped, loaded, es)


def test_slow_answers_beyond_the_client_timeout(api, es, tmp_path, ledger) -> None:
    win = window(4)
    api.faults.add("slow", at_request=at(api, 3), delay=0.8)  # timeout extra is 0.5 s
    api.faults.add("slow", at_request=at(api, 6), delay=0.8)
    _, mapped, loaded = h.run_window(tmp_path, win)
    assert api.faults_served["slow"] == 2
    finish(ledger, "api slower than client timeout", api, win, tmp_path, mapped, loaded, es)


def test_random_mix_of_api_faults_into_the_file_sink(api, tmp_path, ledger) -> None:
    win = window(5)
    for kind, p in (("503", 0.12), ("429", 0.08), ("reset", 0.06), ("nonjson", 0.04)):
        api.faults.add(kind, probability=p, retry_after=0 if kind == "429" else None)
    _, mapped, loaded = h.run_window(tmp_path, win, es=False)
    assert sum(api.faults_served.values()) > 0 and loaded["sink"] == "file"
    finish(ledger, "api random fault mix -> file sink", api, win, tmp_path, mapped, loaded, None)


@pytest.mark.parametrize(
    ("kind", "error", "status"),
    [("503", JumpCloudTransientError, 503), ("nonjson", MalformedPageError, None),
     ("401", JumpCloudAuthError, 401)],
)
def test_api_failing_beyond_retries_fails_loudly_and_leaves_no_raw_file(
    api, es, tmp_path, ledger, kind, error, status
) -> None:
    win = window(6)
    api.faults.add(kind, probability=1.0, path="/events")  # count works, every page fails
    # a 401 cannot be fixed by retrying: the operator fails the task for good, the cause attached
    outer = AirflowFailException if issubclass(error, JumpCloudAuthError) else error
    with pytest.raises(outer) as raised:
        h.fetch(tmp_path, win, max_retries=3)
    cause = raised.value if outer is error else raised.value.__cause__
    assert isinstance(cause, error)
    text = str(raised.value)
    assert str(win) in text and "/insights/directory/v1/events" in text
    if status is not None:
        assert cause.status == status and f"{status}" in text
        assert cause.endpoint.endswith("/insights/directory/v1/events")
    layout = StagingLayout.at(tmp_path)
    assert not layout.raw(win).exists() and h.staging_leftovers(tmp_path) == []
    api.faults.clear()  # the outage ends; Airflow retries the task
    _, mapped, loaded = h.run_window(tmp_path, win)
    finish(ledger, f"api {kind} beyond retries, then retry", api, win, tmp_path, mapped, loaded, es)


def test_api_failing_mid_window_keeps_earlier_pages_out_of_staging(api, tmp_path) -> None:
    win = window(7)
    api.faults.add(503, at_request=at(api, 4), times=50)  # pages 1-2 succeed, page 3 never does
    with pytest.raises(JumpCloudTransientError, match="page 3 of window"):
        h.fetch(tmp_path, win, max_retries=2)
    assert not StagingLayout.at(tmp_path).raw(win).exists() and h.staging_leftovers(tmp_path) == []


# ------------------------------------------------------------------------------- Elasticsearch faults
def test_elasticsearch_whole_request_429_and_503(api, es, tmp_path, ledger) -> None:
    win = window(8)
    es.fail_bulk_requests.extend([429, 503, 502])  # max_retries=3: the 4th attempt succeeds
    _, mapped, loaded = h.run_window(tmp_path, win)
    assert es.stats["bulk_failed_429"] == es.stats["bulk_failed_503"] == es.stats["bulk_failed_502"] == 1
    finish(ledger, "es whole-request 429/503/502", api, win, tmp_path, mapped, loaded, es)


def test_elasticsearch_down_beyond_retries_then_task_retry(api, es, tmp_path, ledger) -> None:
    win = window(9)
    fetched = h.fetch(tmp_path, win)
    mapped = h.map_window(tmp_path, fetched)
    es.fail_bulk_requests.extend([503] * 30)
    with pytest.raises(ApiError) as info:
        h.load(tmp_path, mapped, max_retries=2)
    assert info.value.status_code == 503
    assert not StagingLayout.at(tmp_path).load_summary(win).exists()  # no summary claims a finished load
    es.fail_bulk_requests.clear()
    loaded = h.load(tmp_path, mapped)
    finish(ledger, "es 503 beyond retries, then retry", api, win, tmp_path, mapped, loaded, es)


def test_per_document_429_are_retried(api, es, tmp_path, ledger) -> None:
    win = window(10)
    es.reject_items_429 = 250
    _, mapped, loaded = h.run_window(tmp_path, win)
    assert es.stats["items_429"] == 250 and loaded["counts"]["dead_lettered"] == 0
    finish(ledger, "es per-document 429 (retried)", api, win, tmp_path, mapped, loaded, es)


def test_per_document_429_beyond_retries_then_replayed_by_a_rerun(api, es, tmp_path, ledger) -> None:
    win = window(11)
    es.reject_items_429 = 10**9
    fetched = h.fetch(tmp_path, win)
    mapped = h.map_window(tmp_path, fetched)
    first = h.load(tmp_path, mapped, max_retries=1, max_dead_letters=10**6)
    dead = StagingLayout.at(tmp_path).dead_letter(win)
    assert first["counts"]["dead_lettered"] == fetched["counts"]["fetched"] and dead.exists()
    finish(ledger, "es 429 exhausted -> dead letters", api, win, tmp_path, mapped, first, es)
    es.reject_items_429 = 0  # the cluster recovers; re-running the load replays every document
    again = h.load(tmp_path, mapped)
    assert again["counts"]["dead_lettered"] == 0 and not dead.exists()  # the stale dead letters are gone
    finish(ledger, "  ... rerun after recovery", api, win, tmp_path, mapped, again, es)


def _reject_every_seventh(_index: str, doc: dict[str, Any]) -> str | None:
    event_id = h.event_id_of(doc) or ""
    return "injected: field [x] of type [long] cannot parse" if sum(map(ord, event_id)) % 7 == 0 else None


def test_per_document_400_become_dead_letters(api, es, tmp_path, ledger) -> None:
    win = window(12)
    es.reject = _reject_every_seventh
    _, mapped, loaded = h.run_window(tmp_path, win, load_kwargs={"max_dead_letters": 10**6})
    dead_path = StagingLayout.at(tmp_path).dead_letter(win)
    lines = [__import__("orjson").loads(x) for x in iter_lines(dead_path)]
    assert len(lines) == loaded["counts"]["dead_lettered"] > 0
    assert all(x["status"] == 400 and "injected" in x["error"]["reason"] for x in lines)
    assert all(_reject_every_seventh("", x["document"]) for x in lines)  # exactly the rejected ones
    assert all(x["document"]["event"]["original"] for x in lines)  # the whole document, replayable
    finish(ledger, "es per-document 400 -> dead letters", api, win, tmp_path, mapped, loaded, es)


def test_dead_letters_over_threshold_fail_but_are_counted(api, es, tmp_path, ledger) -> None:
    win = window(13)
    es.reject = _reject_every_seventh
    fetched = h.fetch(tmp_path, win)
    mapped = h.map_window(tmp_path, fetched)
    with pytest.raises(AirflowFailException, match=r"document\(s\) of .* were rejected"):
        h.load(tmp_path, mapped)
    summary = __import__("json").loads(StagingLayout.at(tmp_path).load_summary(win).read_text())
    loaded = {"counts": summary["counts"]}
    finish(ledger, "es 400 over threshold (task fails)", api, win, tmp_path, mapped, loaded, es)


# ------------------------------------------------------------------------------ kills and re-runs
class Killed(BaseException):
    """Stands for the worker being killed (not an Exception: nothing may swallow it)."""


def _killing_bulk(after: int):
    real = es_sink.streaming_bulk
    seen = [0]  # results over the whole load: the loader calls streaming_bulk once per chunk

    def wrapper(*args: Any, **kwargs: Any):
        for item in real(*args, **kwargs):
            if seen[0] == after:
                raise Killed(f"killed after {after} results")
            seen[0] += 1
            yield item
        if after < 0:
            raise Killed("killed")

    return wrapper


@pytest.mark.parametrize(("n", "after"), [(14, 0), (15, 150), (16, 399)])
def test_killed_inside_load_then_rerun(api, es, tmp_path, ledger, monkeypatch, n, after) -> None:
    win = window(n)
    fetched = h.fetch(tmp_path, win)
    mapped = h.map_window(tmp_path, fetched)
    with monkeypatch.context() as m:
        m.setattr(es_sink, "streaming_bulk", _killing_bulk(after))
        with pytest.raises(Killed):
            h.load(tmp_path, mapped)
    layout = StagingLayout.at(tmp_path)
    assert not layout.load_summary(win).exists() and h.staging_leftovers(tmp_path) == []
    partial = es.count(h.STREAM)
    assert partial >= after  # whole chunks reached Elasticsearch before the kill
    loaded = h.load(tmp_path, mapped)
    assert loaded["counts"]["already_present"] == partial
    finish(ledger, f"killed in load after {after}, rerun", api, win, tmp_path, mapped, loaded, es)


def test_killed_between_staging_and_load_then_whole_rerun(api, es, tmp_path, ledger) -> None:
    win = window(17)
    h.fetch(tmp_path, win)  # staged, then the worker dies before mapping's result is used
    _, mapped, loaded = h.run_window(tmp_path, win)  # the retry fetches and maps again, overwriting
    finish(ledger, "killed before load, whole rerun", api, win, tmp_path, mapped, loaded, es)


def test_same_window_twice_concurrently(api, es, tmp_path, ledger) -> None:
    win = window(18)
    results: list[tuple] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(h.run_window(tmp_path, win))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(45)
    assert not errors, errors
    assert len(results) == 2
    for n, (_, mapped, loaded) in enumerate(results):
        finish(ledger, f"same window concurrently, run {n + 1}", api, win, tmp_path, mapped, loaded, es)
    assert sum(r[2]["counts"]["indexed"] for r in results) == expected_count(api.config, win.start, win.end)


# --------------------------------------------------------------------- error documents end to end
def _hostile_events(win: Window, count: int) -> list[dict[str, Any] | str]:
    """Mostly ordinary events, with some the mapper must turn into error documents or flag."""
    step = (win.end_ns - win.start_ns) // count
    events: list[dict[str, Any] | str] = []
    for i in range(count):
        ts = format_ns(win.start_ns + i * step)
        event: dict[str, Any] = {"id": f"evt-{i:05d}", "timestamp": ts, "service": "directory",
                                 "event_type": "user_login_attempt", "success": i % 2 == 0}
        kind = i % 10
        if kind == 1:
            event.update({"@version": "1", "version": "1"})  # rename fails: error document
        elif kind == 2:
            event["jumpcloud_protect_device"] = "not-an-object"  # related.ip step fails: error document
        elif kind == 3:
            event["client_ip"] = "999.1.1.1"  # mapped, error.message explains
        elif kind == 4:
            event["message"] = "\N{SNOWMAN}" * 5000 + "\N{GRINNING FACE}"
        elif kind == 5:
            text = orjson.dumps(event).decode()
            events.append(text[:-1] + ',"deep":' + '{"a":' * 300 + "1" + "}" * 300 + "}")  # too deep to encode
            continue
        events.append(event)
    return events


def test_error_documents_are_loaded_once_and_counted_once(monkeypatch, es, tmp_path, ledger) -> None:
    win = window(19)
    config = EmulatorConfig(events=_hostile_events(win, 400), now=NOW, api_key=KEY, late_fraction=0.0)
    with EmulatorServer(config) as server:
        h.set_jumpcloud_conn(monkeypatch, server.base_url, KEY, timeout=2)
        server.faults.add(503, at_request=3, times=2)
        _, mapped, loaded = h.run_window(tmp_path, win)
        account = finish(ledger, "error documents + API 503s", server, win, tmp_path, mapped, loaded, es)
    assert account.error_documents == 3 * 400 // 10  # kinds 1, 2 and 5
    docs = {h.event_id_of(doc): doc for doc in es.documents(h.STREAM).values()}
    errors = {int(i[4:]) % 10 for i, d in docs.items() if d["event"].get("kind") == "pipeline_error"}
    assert errors == {1, 2, 5}
    assert all("cannot be encoded" in docs[f"evt-{i:05d}"]["error"]["message"][0] for i in range(5, 400, 10))
    flagged = {int(i[4:]) % 10 for i, d in docs.items() if "error" in d and d["event"].get("kind") is None}
    assert flagged == {3}  # the invalid IP is mapped, with error.message
