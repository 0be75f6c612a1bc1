"""A staging root of quality reports over three days with known faults, built by the real quality check.

Twelve 6-hour windows from 2026-03-01: one window never checked (a gap), one with a corrupt summary.json;
two incomplete windows; ``jumpcloud.event.mfa`` mistyped in 2 documents of every window from day 2; an
unknown field ``jumpcloud.event.new_signal`` in 3 documents of every window from day 3.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow_provider_jumpcloud.quality import check_window
from airflow_provider_jumpcloud.staging import StagingLayout
from airflow_provider_jumpcloud.timestamps import format_ns
from airflow_provider_jumpcloud.windows import Window
from tests.quality.factory import NAMESPACE, clean_doc, write_window

SPAN = Window.parse("2026-03-01T00:00:00Z", "2026-03-04T00:00:00Z")
STEP = timedelta(hours=6)
WINDOWS = [Window(SPAN.start + i * STEP, SPAN.start + (i + 1) * STEP) for i in range(12)]
GAP = WINDOWS[2]  # 2026-03-01 12:00-18:00: no report at all
CORRUPT = WINDOWS[11]  # 2026-03-03 18:00-24:00: summary.json cut short
MISSING_EVENTS = {WINDOWS[0]: 4, WINDOWS[5]: 1}  # api_count above the documents
MFA_BAD = 2  # from day 2 on
DRIFT_DOCS = 3  # from day 3 on
DRIFT_FIELD = "jumpcloud.event.new_signal"


def documents(index: int) -> int:
    """Documents of window ``index``."""
    return 10 + index


def day(window: Window) -> int:
    """Day number of a window in the span (1, 2 or 3)."""
    return (window.start - SPAN.start).days + 1


def window_docs(index: int) -> list[tuple[str, dict[str, Any]]]:
    """The documents of window ``index`` with its faults."""
    window = WINDOWS[index]
    docs = []
    for i in range(documents(index)):
        doc_id, doc = clean_doc(i)
        doc = copy.deepcopy(doc)
        ts = format_ns(window.start_ns + i * 60 * 10**9, 3)
        doc["@timestamp"] = ts
        doc["jumpcloud"]["event"]["timestamp"] = ts
        if day(window) >= 2 and i < MFA_BAD:
            doc["jumpcloud"]["event"]["mfa"] = "definitely"
        if day(window) >= 3 and MFA_BAD <= i < MFA_BAD + DRIFT_DOCS:
            doc["jumpcloud"]["event"]["new_signal"] = f"s{i}"
        docs.append((doc_id, doc))
    return docs


def build(root: Path) -> StagingLayout:
    """Write the ECS windows and run the quality check on each (but the gap); corrupt one summary."""
    layout = StagingLayout.at(root)
    for index, window in enumerate(WINDOWS):
        if window == GAP:
            continue
        path = layout.ecs(window)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_window(path, window_docs(index))
        n = documents(index)
        check_window(path, window, quality_dir=layout.quality_dir(window), namespace=NAMESPACE,
                     events_fetched=n, api_count=n + MISSING_EVENTS.get(window, 0))
    summary = layout.quality_dir(CORRUPT) / "summary.json"
    summary.write_bytes(summary.read_bytes()[:200])
    return layout


def one_report(root: Path, n: int = 8) -> Path:
    """Run the quality check on ``n`` clean documents of the factory's WINDOW; return its summary.json."""
    from tests.quality.factory import WINDOW

    path = write_window(root / "ecs.ndjson.gz", [clean_doc(i) for i in range(n)])
    check_window(path, WINDOW, quality_dir=root / "q", namespace=NAMESPACE, events_fetched=n, api_count=n)
    return root / "q" / "summary.json"
