"""Run whole windows through fetch -> map -> load with the operators' ``execute`` and account for every event.

How a window is accounted for (the ledger printed at the end of the run):

* ``expected`` is the emulator's own count of events in the half-open window (``expected_count``).
* fetch must write ``expected`` raw lines, and mapping turns each line into exactly one staged line: a
  mapped document or an error document (``read == mapped + error_documents``). Error documents are
  documents: they are loaded like the others, so they are NOT added a second time.
* the load reads every staged line once and puts it in exactly one bucket: ``indexed`` (created now),
  ``already_present`` (409: an earlier or concurrent run created it) or ``dead_lettered``.
* ``accounted = indexed + already_present + dead_lettered`` of the final successful load; it must equal
  ``expected``. Independently, every expected event id must be found exactly once among the documents
  in the Elasticsearch double (ids recovered from ``event.original``) and the dead-letter file.
* ``duplicates`` = documents created more than once by the double (``items_created`` minus distinct
  ids) plus events found more than once across the double and the dead-letter file. It must be 0.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from airflow_provider_jumpcloud.emulator import EmulatorServer, expected_events
from airflow_provider_jumpcloud.hooks.jumpcloud import JumpCloudHook
from airflow_provider_jumpcloud.operators.fetch import JumpCloudToStorageOperator
from airflow_provider_jumpcloud.operators.load import JumpCloudEcsToElasticsearchOperator
from airflow_provider_jumpcloud.operators.mapping import JumpCloudEventsToEcsOperator
from airflow_provider_jumpcloud.staging import StagingLayout, iter_lines
from airflow_provider_jumpcloud.windows import Window
from tests.support.elasticsearch_double import ElasticsearchDouble

JC_CONN = "jc_rel"
ES_CONN = "es_rel"
STREAM = "logs-jumpcloud.events-default"
PAGE_SIZE = 100


def set_jumpcloud_conn(monkeypatch: Any, base_url: str, key: str, **extra: Any) -> None:
    """Point connection ``jc_rel`` at ``base_url`` with API key ``key`` and the given extras."""
    conn = {"conn_type": "jumpcloud", "host": base_url, "password": key, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{JC_CONN.upper()}", json.dumps(conn))


def set_es_conn(monkeypatch: Any, es: ElasticsearchDouble, **extra: Any) -> None:
    """Point connection ``es_rel`` at the double (credentials go in ``extra`` or login/password)."""
    login = extra.pop("login", None)
    password = extra.pop("password", None)
    conn: dict[str, Any] = {
        "conn_type": "elasticsearch", "host": "127.0.0.1", "port": int(es.url.rsplit(":", 1)[1]),
        "schema": "http", "extra": extra,
    }
    if login is not None:
        conn["login"], conn["password"] = login, password
    monkeypatch.setenv(f"AIRFLOW_CONN_{ES_CONN.upper()}", json.dumps(conn))
    monkeypatch.delenv("AIRFLOW__ELASTICSEARCH__ES_COMPAT_WITH", raising=False)


def fetch(root: Path, window: Window, sleeps: list[float] | None = None, **hook_kwargs: Any) -> dict[str, Any]:
    """Run the fetch operator with a hook that records its back-off sleeps instead of sleeping."""
    op = JumpCloudToStorageOperator(
        task_id="fetch", staging_root=str(root), window=window.as_dict(), jumpcloud_conn_id=JC_CONN,
        retention_days=9999, page_size=PAGE_SIZE,
    )
    record = sleeps.append if sleeps is not None else (lambda _s: None)
    hook_kwargs.setdefault("backoff_base", 0.01)
    op.__dict__["hook"] = JumpCloudHook(JC_CONN, sleep=record, **hook_kwargs)
    return op.execute({})


def map_window(root: Path, fetched: dict[str, Any]) -> dict[str, Any]:
    """Run the mapping operator (it keeps ``event.original``, so ids can be recovered from documents)."""
    return JumpCloudEventsToEcsOperator(task_id="map", manifest=fetched, staging_root=str(root)).execute({})


def load(root: Path, mapped: dict[str, Any], *, es: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Run the load operator into the double (``es_rel``) or the file sink, without back-off sleeps."""
    kwargs.setdefault("initial_backoff", 0)
    kwargs.setdefault("chunk_size", 100)
    if es:
        kwargs.setdefault("elasticsearch_conn_id", ES_CONN)
    op = JumpCloudEcsToElasticsearchOperator(task_id="load", manifest=mapped, staging_root=str(root), **kwargs)
    return op.execute({})


def event_id_of(doc: dict[str, Any]) -> str | None:
    """The JumpCloud event id of a document, read back from ``event.original`` (error documents too)."""
    original = (doc.get("event") or {}).get("original")
    try:
        raw = orjson.loads(original) if isinstance(original, str) else None
    except orjson.JSONDecodeError:
        return None
    return raw.get("id") if isinstance(raw, dict) else None


def staging_leftovers(root: Path) -> list[str]:
    """Temporary files an interrupted atomic write would leave (there must be none)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".tmp-" in p.name)


@dataclass
class Account:
    """The reconciliation of one scenario (see the module docstring)."""

    scenario: str
    expected: int
    fetched: int = 0
    mapped: int = 0
    error_documents: int = 0
    indexed: int = 0
    already_present: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        """Staged documents loaded, found already present or dead-lettered by the final load."""
        return self.indexed + self.already_present + self.dead_lettered

    def check(self) -> None:
        """Assert the delivery invariant."""
        assert self.fetched == self.expected, f"{self.scenario}: fetched {self.fetched} != {self.expected}"
        assert self.mapped + self.error_documents == self.fetched, self
        assert self.accounted == self.expected, f"{self.scenario}: accounted {self.accounted} != {self.expected}"
        assert self.duplicates == 0, f"{self.scenario}: {self.duplicates} duplicates"
        assert not self.missing and not self.unexpected, (self.missing[:5], self.unexpected[:5])


def reconcile(
    scenario: str,
    emu: EmulatorServer,
    window: Window,
    root: Path,
    mapped: dict[str, Any],
    loaded: dict[str, Any],
    es: ElasticsearchDouble | None,
) -> Account:
    """Build the account of a finished scenario from manifests, the double and the staging files."""
    wanted = [e["id"] for e in expected_events(emu.config, window.start, window.end)]
    counts = loaded["counts"]
    account = Account(
        scenario, expected=len(wanted), fetched=mapped["counts"]["fetched"], mapped=mapped["counts"]["mapped"],
        error_documents=mapped["counts"]["error_documents"], indexed=counts["indexed"],
        already_present=counts["already_present"], dead_lettered=counts["dead_lettered"],
    )
    seen: Counter[str | None] = Counter()
    if es is not None:
        docs = es.documents(STREAM)
        account.duplicates += es.stats["items_created"] - len(docs)
        seen.update(event_id_of(doc) for doc in docs.values())
    else:
        bulk = StagingLayout.at(root).bulk(window)
        lines = list(iter_lines(bulk))
        ids = [orjson.loads(a)["create"]["_id"] for a in lines[0::2]]
        account.duplicates += len(ids) - len(set(ids))
        seen.update(event_id_of(orjson.loads(src)) for src in lines[1::2])
    dead = StagingLayout.at(root).dead_letter(window)
    if dead.exists():
        seen.update(event_id_of(orjson.loads(line)["document"]) for line in iter_lines(dead))
    account.duplicates += sum(n - 1 for n in seen.values() if n > 1)
    wanted_set = set(wanted)
    account.missing = sorted(wanted_set - set(seen))
    account.unexpected = sorted(str(k) for k in set(seen) - wanted_set)
    return account


def run_window(
    root: Path, window: Window, *, sleeps: list[float] | None = None, hook_kwargs: dict[str, Any] | None = None,
    es: bool = True, load_kwargs: dict[str, Any] | None = None,
    before_load: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """fetch -> map -> load one window; return the three manifests."""
    fetched = fetch(root, window, sleeps, **(hook_kwargs or {}))
    mapped = map_window(root, fetched)
    if before_load is not None:
        before_load()
    loaded = load(root, mapped, es=es, **(load_kwargs or {}))
    return fetched, mapped, loaded
