"""The roll-up page: one self-contained HTML file (inline style, inline PNG charts, no script, no network).

Charts show the time buckets; tables list only what needs attention (failing fields, missing required
fields, drift fields, the worst and the most incomplete windows, gaps, unreadable reports), each window
linked (relative link) to its own Data Docs. Every figure comes from the roll-up dict (``rollup.json``).
"""

from __future__ import annotations

import html
import logging
from typing import Any

log = logging.getLogger(__name__)

TABLE_ROWS = 200
#: Failing fields and drift fields drawn on the charts (all of them are in the tables and rollup.json).
CHARTED = 12
STYLE = """<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:14px;color:#212529;
margin:24px;max-width:1240px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #dee2e6;padding-bottom:4px}.muted{color:#6c757d}.cards{display:flex;flex-wrap:wrap;
gap:10px;margin:14px 0}.card{border:1px solid #dee2e6;border-radius:6px;padding:8px 12px;min-width:130px}
.card b{display:block;font-size:19px}.card.bad b{color:#c92a2a}.card.warn b{color:#e67700}
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{border:1px solid #dee2e6;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f1f3f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#c92a2a;font-weight:600}.warn{color:#e67700;font-weight:600}.pass{color:#2f9e44;font-weight:600}
img.chart{max-width:100%;display:block;margin:8px 0}code{font-size:12px;word-break:break-all}
</style>"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else _esc(value)


def _pct(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{100.0 * value:.{digits}f}%"


def _window_link(key: str | None, link: str | None) -> str:
    if key is None:
        return "-"
    return f'<a href="{_esc(link)}">{_esc(key)}</a>' if link else _esc(key)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                   for i, c in enumerate(row)) + "</tr>" for row in rows[:TABLE_ROWS])
    more = f'<p class="muted">{len(rows) - TABLE_ROWS} more rows in rollup.json</p>' if len(rows) > TABLE_ROWS else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _cards(t: dict[str, Any]) -> str:
    cards = [
        ("windows", f"{t['windows']:,}", f"{t['pass']} pass, {t['warn']} warn, {t['fail']} fail",
         "bad" if t["fail"] else "warn" if t["warn"] else ""),
        ("documents", f"{t['documents']:,}", f"{t['error_documents']:,} error documents", ""),
        ("completeness", _pct(t["completeness"]), f"{t['missing']:,} events missing",
         "bad" if t["missing"] else ""),
        ("incomplete windows", f"{t['incomplete_windows']:,}", f"{t['windows_without_count']} without a count",
         "bad" if t["incomplete_windows"] else ""),
        ("failing fields", f"{t['failing_fields']:,}", f"{t['mismatches']:,} mismatching values",
         "bad" if t["failing_fields"] else ""),
        ("drift fields", f"{t['drift_fields']:,}", f"in {t['windows_with_drift']:,} windows",
         "warn" if t["drift_fields"] else ""),
        ("duplicates", f"{t['duplicates']:,}", f"late {t['late']:,}, future {t['future']:,}",
         "bad" if t["duplicates"] else ""),
        ("missing reports", f"{t['unreadable_reports'] + t['gaps']:,}",
         f"{t['unreadable_reports']} unreadable, {t['gaps']} gaps", "bad" if t["unreadable_reports"] else ""),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card {cls}"><span class="muted">{_esc(label)}</span><b>{_esc(value)}</b>'
        f'<span class="muted">{_esc(note)}</span></div>' for label, value, note, cls in cards) + "</div>"


def _charts(result: dict[str, Any]) -> dict[str, str]:
    """Render the charts; without matplotlib (the ``reports`` extra) the page has tables only."""
    try:
        from airflow_provider_jumpcloud.quality import rollup_charts
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'airflow-provider-jumpcloud[reports]'): "
                    "the roll-up page has no charts")
        return {}
    timeline = result["timeline"]
    charts = {"verdicts": rollup_charts.verdict_chart(timeline)}
    failing = result["failing_fields"][:CHARTED]
    if failing:
        charts["fields"] = rollup_charts.field_chart(timeline, result["fields"], failing)
    drift = sorted(result["drift"], key=lambda p: -result["drift"][p]["documents"])[:CHARTED]
    if drift:
        order = [p for p in result["drift"] if p in set(drift)]  # by first seen
        charts["drift"] = rollup_charts.drift_chart(timeline, result["drift"], order)
    return charts


def _img(charts: dict[str, str], name: str, alt: str) -> str:
    return f'<img class="chart" id="chart-{name}" alt="{_esc(alt)}" src="{charts[name]}">' if name in charts else ""


def render_page(result: dict[str, Any], *, charts: bool = True) -> str:
    """Return the roll-up page for a roll-up dict (``rollup.json``)."""
    span, t = result["range"], result["totals"]
    images = _charts(result) if charts and t["windows"] else {}
    bucket_hours = result["timeline"]["bucket_seconds"] / 3600
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>JumpCloud ECS quality {_esc(span['start'])} to {_esc(span['end'])}</title>{STYLE}</head><body>",
        f"<h1>JumpCloud ECS quality, [{_esc(span['start'])}, {_esc(span['end'])})</h1>",
        f'<p class="muted">Roll-up of {t["windows"]:,} window reports; charts in buckets of '
        f"{bucket_hours:g} hours; every count is documents. Numbers: rollup.json, one row per window: "
        "windows.ndjson.</p>",
        _cards(t),
        "<h2>Verdicts and completeness</h2>", _img(images, "verdicts", "windows per verdict and completeness"),
    ]
    fields = result["fields"]
    parts.append(f"<h2>Failing fields ({len(result['failing_fields'])})</h2>")
    parts.append(_img(images, "fields", "mismatch rate per failing field"))
    if result["failing_fields"]:
        parts.append(_table(
            ["field", "spec type", "failed", "checked", "rate", "windows failed", "first failing window",
             "last failing window", "examples"],
            [[_esc(n), _esc(f["type"]), _num(f["failed"]), _num(f["checked"]), _pct(f["rate"], 4),
              f"{f['windows_failed']:,} of {f['windows']:,}",
              _window_link(f["first_failed"], f["first_failed_docs"]),
              _window_link(f["last_failed"], f["last_failed_docs"]),
              "<code>" + _esc(" ".join(f["examples"])) + "</code>"]
             for n in result["failing_fields"] for f in [fields[n]]], numeric={2, 3, 4}))
    else:
        parts.append('<p class="pass">Every spec field matched its type in every window.</p>')
    missing = [(n, r) for n, r in result["required"].items() if r["missing"]]
    if missing:
        parts.append("<h2>Required fields missing</h2>")
        parts.append(_table(["field", "checked as", "missing", "checked", "windows", "first", "last"],
                            [[_esc(n), _esc(r["column"]), _num(r["missing"]), _num(r["checked"]),
                              _num(r["windows_missing"]), _esc(r["first_missing"]), _esc(r["last_missing"])]
                             for n, r in missing], numeric={2, 3, 4}))
    drift = result["drift"]
    parts.append(f"<h2>Fields outside the spec ({t['drift_fields']})</h2>")
    parts.append(_img(images, "drift", "drift fields on a timeline"))
    if drift:
        parts.append(_table(["field", "first seen", "last seen", "windows", "documents", "examples"],
                            [[_esc(p), _window_link(d["first_seen"], d["first_seen_docs"]),
                              _window_link(d["last_seen"], d.get("last_seen_docs")), _num(d["windows"]),
                              _num(d["documents"]), "<code>" + _esc(" ".join(d["examples"])) + "</code>"]
                             for p, d in drift.items()], numeric={3, 4}))
    over = result["drift_overflow"]
    if over["occurrences"]:
        parts.append(f'<p class="warn">{over["occurrences"]:,} more drift occurrences ({over["documents"]:,} '
                     f"documents) beyond the {len(drift)} fields tracked, e.g. "
                     f"{_esc(', '.join(over['example_paths']))}</p>")
    parts.append(_window_section("Worst windows", result["worst_windows"]))
    parts.append(_window_section(f"Incomplete windows ({t['incomplete_windows']:,}; the "
                                 f"{len(result['incomplete_windows'])} with most events missing, by time)",
                                 result["incomplete_windows"]))
    if result["gaps"]:
        parts.append(f"<h2>Time without a window report ({t['gaps']})</h2>")
        parts.append(_table(["from", "to"], [[_esc(g["start"]), _esc(g["end"])] for g in result["gaps"]]))
    if result["problems"]:
        parts.append(f"<h2>Unreadable reports ({t['unreadable_reports']})</h2>")
        parts.append(_table(["window", "file", "why"], [[_esc(p["window"]), f"<code>{_esc(p['path'])}</code>",
                                                         _esc(p["reason"])] for p in result["problems"]]))
    parts.append("</body></html>")
    return "\n".join(part for part in parts if part)


def _window_section(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    return f"<h2>{_esc(title)}</h2>" + _table(
        ["window", "verdict", "documents", "API count", "completeness", "missing", "mismatches",
         "required missing", "duplicates", "error documents", "late", "future", "unknown fields"],
        [[_window_link(r["window"], r["docs"]), f'<span class="{_esc(r["verdict"])}">{_esc(r["verdict"])}</span>',
          _num(r["documents"]), _num(r["api_count"]), _pct(r["completeness"]), _num(r["missing"]),
          _num(r["mismatches"]), _num(r["missing_required"]), _num(r["duplicates"]), _num(r["error_documents"]),
          _num(r["late"]), _num(r["future"]), _num(r["unknown_fields"])] for r in rows],
        numeric=set(range(2, 13)))
