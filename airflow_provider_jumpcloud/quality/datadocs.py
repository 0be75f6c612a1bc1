"""Make GX Data Docs pages read right offline, and in documents.

GX 1.24 pages load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and its logo from CDNs; offline
they render unstyled, the status column (Font Awesome icons) is empty and the index's results table (built
by bootstrap-table's JavaScript) stays blank. Each page is rewritten as it is copied: remote scripts,
stylesheets and images are removed (so are inline scripts, which only drive those libraries), icons become
inline SVG with a word, a small inline stylesheet replaces Bootstrap, and GX's row wording ("unexpected
values found ... total rows", whose figures :mod:`docresults` restated in documents) says documents.
No Airflow, no GX import.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

_S = re.DOTALL | re.IGNORECASE
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", _S)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", _S)
_REMOTE_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>", _S)
_REMOTE_URL = re.compile(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)", _S)
_REMOTE_IMPORT = re.compile(r"@import\s+(?:url\()?\s*[\"']?(?:https?:)?//[^;]*;", _S)
_ICON = re.compile(r"<i\b[^>]*class=\"[^\"]*\bfa-([a-z-]+)[^\"]*\"[^>]*>\s*</i>", _S)
_EMPTY_JS_TABLE = re.compile(r"<table\b[^>]*data-toggle=\"table\"[^>]*>\s*</table>", _S)
_JS_TOOLBAR = re.compile(r"<div id=\"[^\"]*-table-toolbar\"[^>]*>.*?</div>", _S)
_UNEXPECTED = re.compile(
    r"([\d,]+) unexpected values found\. (≈?[\d.]+%) of ([\d,]+) total rows\.")
_COUNT_HEADER = re.compile(r"(<th\b[^>]*>\s*)Count(\s*</th>)", _S)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(r"<body\b[^>]*>", re.IGNORECASE)

#: Asset references that need the network (checked by the tests on every page).
REMOTE_ASSET = re.compile(
    r"<(?:script|img|source|iframe)\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//"
    r"|url\(\s*[\"']?(?:https?:)?//|@import\s+[^;]*(?:https?:)?//", _S)

_SVG_OK = ('<svg class="jc-icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">'
           '<circle cx="8" cy="8" r="8" fill="#1e7e34"/><path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" '
           'stroke-width="2" fill="none"/></svg>')
_SVG_FAIL = ('<svg class="jc-icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">'
             '<circle cx="8" cy="8" r="8" fill="#bd2130"/><path d="M5 5l6 6M11 5l-6 6" stroke="#fff" '
             'stroke-width="2"/></svg>')
PASSED = f'<span class="jc-status jc-ok">{_SVG_OK} passed</span>'
FAILED = f'<span class="jc-status jc-fail">{_SVG_FAIL} failed</span>'
_ICONS = {"check-circle": PASSED, "check": PASSED, "times": FAILED, "times-circle": FAILED,
          "comment": '<span class="jc-note">note</span>'}

#: Enough of Bootstrap's look for GX's markup: grid, tables, alerts, badges, text colours.
STYLE = """<style id="jumpcloud-offline-style">
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:14px;color:#212529;
margin:0;line-height:1.45;background:#fff}
a{color:#0062cc}.container,.container-fluid{padding:0 24px;box-sizing:border-box}
.row{display:flex;flex-wrap:wrap}.col-12,.col-md-10,.col-lg-10{flex:1 1 auto;min-width:0}
.col-lg-2,.col-md-2{flex:0 0 190px}.navbar{display:flex;align-items:center;padding:0 24px;
border-bottom:1px solid #dee2e6;height:auto!important;min-height:48px}.sticky-top{position:static}
.jc-brand{font-weight:600;font-size:18px}table{border-collapse:collapse;margin:6px 0;max-width:100%}
td,th{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f1f3f5}.table{width:100%}.alert{padding:8px 12px;border:1px solid #d6d8db;
background:#e2e3e5;border-radius:4px;margin:8px 0}.card{border:1px solid #dee2e6;border-radius:4px;
margin:8px 0;padding:8px}.badge{display:inline-block;padding:1px 6px;border-radius:8px;background:#e9ecef}
.text-danger,.jc-fail{color:#bd2130}.text-success,.jc-ok{color:#1e7e34}.text-info{color:#117a8b}
.jc-status{white-space:nowrap;font-weight:600}.jc-icon{vertical-align:-2px}
.jc-note{font-size:11px;color:#117a8b;border:1px solid #117a8b;border-radius:3px;padding:0 3px}
.collapse{display:block}.nav-tabs{display:none}.btn,.ge-newsletter,.d-none{display:none}
.show-scrollbars{overflow-x:auto}code{font-size:12px}
#jumpcloud-docs-note{background:#fff8e1;border:1px solid #f0c36d;border-radius:4px;padding:8px 12px;margin:12px 24px}
</style>"""


def _icon(match: re.Match[str]) -> str:
    return _ICONS.get(match.group(1), "")


def _unexpected(match: re.Match[str]) -> str:
    return (f"{match.group(1)} of {match.group(3)} values in documents do not meet it ({match.group(2)}; "
            "each document counts once per field)")


def offline_css(text: str) -> str:
    """Drop remote ``url(...)`` and ``@import`` references from a stylesheet."""
    return _REMOTE_URL.sub("none", _REMOTE_IMPORT.sub("", text))


def offline_page(text: str, banner: str | None = None) -> str:
    """Rewrite one Data Docs page so it needs no network and states documents; ``banner`` goes on top."""
    steps: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
        (_SCRIPT, ""), (_REMOTE_LINK, ""), (_REMOTE_IMG, '<span class="jc-brand">Great Expectations</span>'),
        (_ICON, _icon), (_EMPTY_JS_TABLE, ""), (_JS_TOOLBAR, ""), (_UNEXPECTED, _unexpected),
        (_COUNT_HEADER, r"\1Documents\2"),
    ]
    for pattern, replacement in steps:
        text = pattern.sub(replacement, text)
    text = offline_css(text)
    text = _HEAD_END.sub(lambda m: STYLE + m.group(0), text, count=1)
    if banner:
        text = _BODY_START.sub(lambda m: m.group(0) + banner, text, count=1)
    return text


def remote_assets(text: str) -> list[str]:
    """Return the remote asset references left in a page or stylesheet (empty when it is self-contained)."""
    return [match.group(0) for match in REMOTE_ASSET.finditer(text)]


def status_html(success: bool) -> str:
    """Return the status cell markup (inline SVG and a word) for a passed or failed run."""
    return PASSED if success else FAILED


def run_banner(run: dict[str, Any]) -> str:
    """Return the note on top of a validation page: what its counts mean and its failing fields in documents."""
    esc = html.escape
    parts = [f'<div id="jumpcloud-docs-note"><b>{esc(run["run_name"])}</b> {status_html(run["success"])}. '
             "Great Expectations validated a table of distinct values with their document counts; every "
             "count on this page is restated in documents."]
    if run.get("documents"):
        parts.append(f" Documents in this run: {run['documents']}.")
    fields = run.get("failed_fields") or []
    if fields:
        parts.append("<ul>")
        parts.extend(f"<li>{esc(column)} ({esc(kind)}): {failed} of {checked} documents fail</li>"
                     for column, kind, checked, failed in fields)
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)
