"""Roll up the quality reports of every window in a range: trends, failing fields, drift, worst windows.

Reads each window's ``quality/<window>/summary.json`` (written by :func:`check_window`; nothing is
validated again) and folds it into :class:`rollup_state.Rollup` as it goes, in memory bounded by the range,
not by the number of windows: per-window rows are streamed to ``windows.ndjson``; the aggregate keeps fixed
time buckets, capped per-field and drift state and heaps of the worst windows. The one list that grows with
the range is the sorted list of window keys (a few dozen bytes each). Writes ``rollup.json``, ``windows.ndjson``
and a self-contained ``index.html`` into the output folder. No Airflow import::

    python -m airflow_provider_jumpcloud.quality.rollup --staging-root ROOT --from T1 --to T2 --out DIR
"""

from __future__ import annotations

import argparse
import logging
import os
import posixpath
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from airflow_provider_jumpcloud.exceptions import InvalidWindowError, StagingFileError
from airflow_provider_jumpcloud.quality.rollup_state import Rollup, RollupInputError
from airflow_provider_jumpcloud.staging import StagingLayout, atomic_writer, path_str, read_json, write_json
from airflow_provider_jumpcloud.windows import Window, to_utc

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1000


def quality_folder(layout: StagingLayout, window: Window) -> Any:
    """The folder holding every window's quality report (the parent of the layout's ``quality_dir``)."""
    return layout.quality_dir(window).parent


def daily_dir(layout: StagingLayout, day: date) -> Any:
    """Where the daily report of ``day`` goes: ``quality/daily/<YYYY-MM-DD>/``."""
    start = Window.parse(f"{day.isoformat()}T00:00:00Z", f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z")
    return quality_folder(layout, start) / "daily" / day.isoformat()


def range_dir(layout: StagingLayout, window: Window) -> Any:
    """Where the roll-up of a range goes: ``quality/ranges/<start>--<end>/`` (compact UTC times)."""
    return quality_folder(layout, window) / "ranges" / "--".join(window.key.split("-"))


def day_before(instant: Any) -> Window:
    """The whole UTC day before the day of ``instant`` ends: ``[midnight - 1 day, midnight)``.

    A daily run at (or after) midnight reports the day that just ended.
    """
    end = to_utc(instant, name="report time").replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(end - timedelta(days=1), end)


def iter_window_reports(layout: StagingLayout, span: Window) -> Iterator[tuple[Window, Any]]:
    """Yield ``(window, summary.json path)`` of every window folder whose window starts in ``span``, by start.

    Folders that are not window keys (``daily``, ``ranges``, temporary names) are skipped.
    """
    folder = quality_folder(layout, span)
    if not folder.exists():
        return
    windows = []
    for path in folder.iterdir():
        try:
            window = Window.from_key(path.name)
        except InvalidWindowError:
            continue
        if span.start <= window.start < span.end:
            windows.append(window)
    windows.sort()
    for window in windows:
        yield window, layout.quality_summary(window)


def relative_link(base: Any, target: Any) -> str:
    """A link from folder ``base`` to ``target``: relative when both are on the same file system or bucket."""
    if isinstance(base, Path) and isinstance(target, Path):
        return Path(os.path.relpath(target, base)).as_posix()
    base_text, target_text = str(base), str(target)
    if "://" in base_text and "://" in target_text:
        (b_scheme, b_rest), (t_scheme, t_rest) = base_text.split("://", 1), target_text.split("://", 1)
        b_host, _, b_path = b_rest.partition("/")
        t_host, _, t_path = t_rest.partition("/")
        if b_scheme == t_scheme and b_host == t_host:
            return posixpath.relpath("/" + t_path, "/" + b_path)
    return target_text


def _read_summary(path: Any) -> dict[str, Any]:
    try:
        summary = read_json(path)
    except FileNotFoundError:
        raise RollupInputError("no summary.json: the window's quality task has not finished or failed before "
                               "writing its report") from None
    except StagingFileError as err:
        raise RollupInputError(str(err)) from None
    except orjson.JSONDecodeError as err:
        raise RollupInputError(f"summary.json is not JSON ({err})") from None
    if not isinstance(summary, dict):
        raise RollupInputError("summary.json does not hold a JSON object")
    return summary


def build_rollup(
    staging_root: Any,
    span: Window,
    out_dir: Any,
    *,
    progress: Callable[[int], None] | None = None,
    charts: bool = True,
) -> dict[str, Any]:
    """Roll up every window report of ``span`` under ``staging_root`` into ``out_dir``; return the roll-up.

    Writes ``windows.ndjson`` (one row per window, streamed), ``rollup.json`` and ``index.html``; the
    returned dict is ``rollup.json``'s content plus ``reports`` (the paths) and ``headline`` (for logs).
    ``progress`` is called with the number of windows read so far after each window.
    """
    started = time.monotonic()
    layout = StagingLayout.at(staging_root)
    out = StagingLayout.at(out_dir).root
    rollup = Rollup(span)
    rows_path = out / "windows.ndjson"
    read = 0
    with atomic_writer(rows_path, compress=False) as (rows, _):
        for window, path in iter_window_reports(layout, span):
            read += 1
            try:
                summary = _read_summary(path)
                reports = summary.get("reports") or {}
                link = (relative_link(out, layout.quality_docs_index(window))
                        if isinstance(reports, dict) and reports.get("data_docs") else None)
                row = rollup.add(window, summary, link)
            except RollupInputError as err:
                reason = str(err) if path_str(path) in str(err) else f"{path_str(path)}: {err}"
                rollup.add_problem(window, path, reason)
                log.warning("Quality report of %s unreadable: %s", window, reason)
                row = {"window": window.key, **window.as_dict(), "problem": str(err)}
            rows.write(orjson.dumps(row) + b"\n")
            if progress is not None:
                progress(read)
            if read % PROGRESS_EVERY == 0:
                log.info("quality roll-up: %d window reports read", read)
    result = rollup.result()
    result["seconds_aggregating"] = round(time.monotonic() - started, 3)
    paths = {"rollup": path_str(out / "rollup.json"), "windows": path_str(rows_path),
             "page": path_str(out / "index.html")}
    write_json(out / "rollup.json", result)
    from airflow_provider_jumpcloud.quality.rollup_html import render_page  # imports matplotlib

    page = render_page(result, charts=charts)
    with atomic_writer(out / "index.html", compress=False) as (f, _):
        f.write(page.encode("utf-8"))
    result["reports"] = paths
    result["headline"] = render_headline(result)
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.3f}%" if whole else "-"


def render_headline(result: dict[str, Any]) -> str:
    """The few lines a task log shows: windows, documents, completeness, failing and drift fields, worst."""
    t, span = result["totals"], result["range"]
    lines = [
        f"Quality roll-up [{span['start']}, {span['end']}): {t['windows']} windows "
        f"({t['pass']} pass, {t['warn']} warn, {t['fail']} fail), {t['documents']} documents",
        f"completeness {_pct(t['expected_documents'], t['expected']) if t['expected'] else '-'} "
        f"({t['missing']} events missing in {t['incomplete_windows']} windows; {t['windows_without_count']} "
        f"without a count; {t['unreadable_reports']} unreadable reports; {t['gaps']} gaps without reports)",
        f"error documents {t['error_documents']}, duplicates {t['duplicates']}, late {t['late']}, "
        f"future {t['future']}",
    ]
    failing = result["failing_fields"]
    fields = result["fields"]
    lines.append(f"failing fields {len(failing)}" + (": " if failing else "") + "; ".join(
        f"{n} {fields[n]['failed']}/{fields[n]['checked']} documents from {fields[n]['first_failed']}"
        for n in failing[:3]) + (" ..." if len(failing) > 3 else ""))
    drift = result["drift"]
    lines.append(f"drift fields {result['totals']['drift_fields']}" + (": " if drift else "") + "; ".join(
        f"{p} from {d['first_seen']} ({d['documents']} documents)" for p, d in list(drift.items())[:3])
        + (" ..." if len(drift) > 3 else ""))
    worst = result["worst_windows"]
    lines.append("worst windows: " + ("; ".join(
        f"{w['window']} {w['verdict']} (missing {w['missing']}, mismatches {w['mismatches']})"
        for w in worst[:3]) if worst else "none"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: roll up the quality reports of ``[--from, --to)`` into ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_jumpcloud.quality.rollup",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--staging-root", required=True, help="staging root (path or object-storage URL)")
    parser.add_argument("--from", dest="start", required=True, help="range start, ISO 8601 UTC (inclusive)")
    parser.add_argument("--to", dest="end", required=True, help="range end, ISO 8601 UTC (exclusive)")
    parser.add_argument("--out", required=True, help="output folder for index.html, rollup.json, windows.ndjson")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        span = Window.parse(args.start, args.end)
    except InvalidWindowError as err:
        parser.error(str(err))
    result = build_rollup(args.staging_root, span, args.out)
    print(result["headline"])
    print(f"report: {result['reports']['page']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
