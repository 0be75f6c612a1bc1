"""Quality reports of a window: ``summary.json``, a text table for the task log, and the GX Data Docs.

Reports hold counts and truncated examples (200 characters at most), never whole events. Data Docs are
rendered by GX into a local temporary folder and copied into ``<quality_dir>/docs/`` (the staging root
may be object storage); only the HTML pages and the small static files they use are copied, each page
rewritten to need no network (:mod:`datadocs`). ``summary.json`` is written last, so its presence marks a
complete report.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
from pathlib import Path
from typing import Any

from airflow_provider_jumpcloud.quality.datadocs import offline_css, offline_page, run_banner, status_html
from airflow_provider_jumpcloud.staging import QUALITY_DOCS, QUALITY_SUMMARY, atomic_writer, path_str, write_json

MAX_UNKNOWN_LISTED = 200
TABLE_ROWS = 15
_STATIC_KEEP = ("static/styles/", "static/images/favicon.ico")


def _remove_tree(path: Any) -> None:
    """Delete a folder tree on a local path or an fsspec-backed path (missing is fine)."""
    if isinstance(path, Path):
        shutil.rmtree(path, ignore_errors=True)
        return
    with contextlib.suppress(FileNotFoundError, NotImplementedError, AttributeError):
        if path.exists():
            path.fs.rm(path.path, recursive=True)


def render_overview(summary: dict[str, Any], pages: list[str]) -> str:
    """Return a plain-HTML overview for the top of ``index.html`` (GX's own index table needs CDN scripts)."""
    esc = html.escape
    window = summary["window"]
    parts = [
        '<div class="container" id="jumpcloud-quality-overview" style="padding-top:70px">',
        f"<h2>JumpCloud ECS quality [{esc(window['start'])}, {esc(window['end'])}): "
        f"{esc(summary['verdict'].upper())}</h2>",
        f"<p>{summary['documents']} documents, {summary['error_documents']} error documents, "
        f"{summary['duplicates']['documents']} duplicate _id, {summary['timestamps']['late']} late, "
        f"{summary['timestamps']['future']} future, {summary['unknown_fields_total']} unknown fields.</p>",
    ]
    if summary["reasons"]:
        parts.append("<ul>")
        parts.extend(f"<li><b>{esc(r['level'])}</b> {esc(r['check'])}: {esc(r['message'])}</li>"
                     for r in summary["reasons"][:50])
        parts.append("</ul>")
    failing = [(name, stat) for name, stat in summary["fields"].items() if stat["failed"]]
    if failing:
        parts.append('<table class="table table-sm"><tr><th>field</th><th>spec type</th><th>checked</th>'
                     "<th>failed</th><th>examples</th></tr>")
        parts.extend(
            f"<tr><td>{esc(name)}</td><td>{esc(stat['type'])}</td><td>{stat['checked']}</td>"
            f"<td>{stat['failed']}</td><td>{esc(' '.join(stat['examples']))}</td></tr>"
            for name, stat in failing[:100]
        )
        parts.append("</table>")
    parts.append("<h3>Validation results kept (the window's gathered values, the first chunk and failing chunks)"
                 '</h3><table class="table table-sm" id="jumpcloud-validation-runs"><tr><th>status</th>'
                 "<th>run</th><th>failing checks</th><th>pages</th></tr>")
    for run in summary.get("data_docs", {}).get("validations", []):
        links = " ".join(f'<a href="{esc(page)}">{esc(page.split("/")[1])}</a>'
                         for page in pages if f"/{run['run_name']}/" in page)
        parts.append(f"<tr><td>{status_html(run['success'])}</td><td>{esc(run['run_name'])}</td>"
                     f"<td>{esc(', '.join(run['failing'][:20]))}</td><td>{links}</td></tr>")
    parts.append("</table></div>")
    return "\n".join(parts)


def _page_text(rel: str, text: str, summary: dict[str, Any] | None, pages: list[str]) -> str:
    """Rewrite one copied Data Docs file for offline reading (and put the overview on the index)."""
    if rel.endswith(".css"):
        return offline_css(text)
    banner = None
    if summary is not None:
        if rel == "index.html":
            banner = render_overview(summary, pages)
        for run in summary.get("data_docs", {}).get("validations", []):
            if rel.startswith("validations/") and f"/{run['run_name']}/" in rel:
                banner = run_banner(run)
    return offline_page(text, banner)


def copy_data_docs(src_dir: str, dest: Any, summary: dict[str, Any] | None = None) -> int:
    """Copy the Data Docs pages (and their styles) from a local folder to ``dest``; return the file count.

    Pages and stylesheets are rewritten to need no network. With ``summary``, a plain-HTML overview linking
    the validation pages is put at the top of ``index.html`` (copied last, so a reader never sees an index
    pointing at missing pages) and each validation page gets a note with its failing fields in documents.
    """
    _remove_tree(dest)
    files = []
    for root, _dirs, names in os.walk(src_dir):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), src_dir).replace(os.sep, "/")
            if rel.endswith(".html") or rel.startswith(_STATIC_KEEP):
                files.append(rel)
    files.sort(key=lambda rel: (rel == "index.html", rel))
    pages = [rel for rel in files if rel.startswith("validations/")]
    for rel in files:
        target = dest
        for part in rel.split("/"):
            target = target / part
        with open(os.path.join(src_dir, rel), "rb") as f_in, atomic_writer(target, compress=False) as (f, _):
            if rel.endswith((".html", ".css")):
                f.write(_page_text(rel, f_in.read().decode("utf-8"), summary, pages).encode("utf-8"))
            else:
                shutil.copyfileobj(f_in, f, 1 << 20)
    return len(files)


def write_reports(quality_dir: Any, summary: dict[str, Any], docs_src: str | None) -> dict[str, str]:
    """Write Data Docs, ``summary.txt`` and ``summary.json`` under ``quality_dir``; return their paths."""
    paths: dict[str, str] = {}
    if docs_src is not None:
        docs = quality_dir / QUALITY_DOCS
        copy_data_docs(docs_src, docs, summary)
        paths["data_docs"] = path_str(docs / "index.html")
    text_path = quality_dir / "summary.txt"
    with atomic_writer(text_path, compress=False) as (f, _):
        f.write(render_table(summary).encode() + b"\n")
    paths["table"] = path_str(text_path)
    summary_path = quality_dir / QUALITY_SUMMARY
    paths["summary"] = path_str(summary_path)
    write_json(summary_path, {**summary, "reports": paths})
    return paths


def _cell(text: Any, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def render_table(summary: dict[str, Any]) -> str:
    """Return a short fixed-width table of the findings for the task log."""
    window = summary["window"]
    comp = summary["completeness"]
    times = summary["timestamps"]
    dup = summary["duplicates"]
    lines = [
        f"Quality of [{window['start']}, {window['end']}): {summary['verdict'].upper()}",
        f"documents {summary['documents']}  error documents {summary['error_documents']}  "
        f"fetched {comp['events_fetched'] if comp['events_fetched'] is not None else '-'}  "
        f"API count {comp['api_count'] if comp['api_count'] is not None else '-'}  "
        f"duplicates {dup['documents']}  late {times['late']}  future {times['future']}  "
        f"unknown fields {summary['unknown_fields_total']}",
    ]
    failing = [(n, s) for n, s in summary["fields"].items() if s["failed"]]
    missing = [(n, s) for n, s in summary["required"].items() if s["missing"]]
    if failing or missing:
        lines.append(f"{'field':<58} {'type':<16} {'checked':>9} {'failed':>9}  example")
        for name, stat in failing[:TABLE_ROWS]:
            example = stat["examples"][0] if stat["examples"] else ""
            lines.append(f"{_cell(name, 58):<58} {_cell(stat['type'], 16):<16} {stat['checked']:>9} "
                         f"{stat['failed']:>9}  {_cell(example, 40)}")
        for name, stat in missing[:TABLE_ROWS]:
            lines.append(f"{_cell(name, 58):<58} {'required':<16} {stat['checked']:>9} {stat['missing']:>9}")
        hidden = max(0, len(failing) - TABLE_ROWS) + max(0, len(missing) - TABLE_ROWS)
        if hidden:
            lines.append(f"... {hidden} more rows in summary.json")
    lines.extend(f"{reason['level'].upper():<5} {reason['check']}: {reason['message']}"
                 for reason in summary["reasons"][:TABLE_ROWS])
    if len(summary["reasons"]) > TABLE_ROWS:
        lines.append(f"... {len(summary['reasons']) - TABLE_ROWS} more reasons in summary.json")
    return "\n".join(lines)
