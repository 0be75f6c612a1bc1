"""Charts of a quality roll-up as inline PNG data URIs (matplotlib, headless Agg backend).

Each chart draws the roll-up's time buckets (at most a few hundred), never one mark per window, so a page
covering 90 days of 15-minute windows stays small. Matplotlib is imported here only (the ``reports`` extra).
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from airflow_provider_jumpcloud.timestamps import parse_ns

WIDTH, DPI = 11.0, 90
COLORS = {"pass": "#2f9e44", "warn": "#f08c00", "fail": "#c92a2a"}


def _bucket_days(timeline: dict[str, Any]) -> float:
    return timeline["bucket_seconds"] / 86_400.0


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _time_axis(ax: Any) -> None:
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(axis="y", alpha=0.3)


def verdict_chart(timeline: dict[str, Any]) -> str:
    """Windows per verdict per bucket (stacked bars) and the bucket's lowest completeness (line)."""
    x = _utc_times(timeline)
    width = _bucket_days(timeline)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 4.6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    bottom_of = np.zeros(len(x))
    for verdict in ("pass", "warn", "fail"):
        values = np.asarray(timeline[verdict], dtype=float)
        top.bar(x, values, width=width, bottom=bottom_of, color=COLORS[verdict], label=verdict, align="edge",
                linewidth=0)
        bottom_of += values
    top.set_ylabel("windows")
    top.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=8, frameon=False)
    top.set_title("Windows per verdict", fontsize=10, loc="left")
    completeness = np.array([np.nan if v is None else 100.0 * v for v in timeline["min_completeness"]])
    bottom.step(x, completeness, where="post", color="#1c7ed6", marker=".", markersize=3,
                label="lowest window completeness")
    expected = np.asarray(timeline["expected"], dtype=float)
    ratio = np.divide(expected - np.asarray(timeline["missing"], dtype=float), expected,
                      out=np.full(len(x), np.nan), where=expected > 0) * 100.0
    bottom.step(x, ratio, where="post", color="#495057", alpha=0.6, label="bucket completeness")
    bottom.set_ylabel("% of API count")
    low = np.nanmin(completeness) if np.isfinite(completeness).any() else 100.0
    bottom.set_ylim(min(99.0, low - 1.0), 100.5)
    bottom.legend(loc="lower left", fontsize=8, frameon=False)
    _time_axis(top)
    _time_axis(bottom)
    return _png(fig)


def _utc_times(timeline: dict[str, Any]) -> np.ndarray:
    """Bucket starts (UTC) as matplotlib dates."""
    return np.array([mdates.date2num(datetime.fromtimestamp((parse_ns(s) or 0) / 1e9, tz=UTC))
                     for s in timeline["starts"]])


def field_chart(timeline: dict[str, Any], fields: dict[str, Any], names: list[str]) -> str:
    """Mismatch rate per bucket (failed / checked documents) of each failing field."""
    x = _utc_times(timeline)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    for name in names:
        trend = fields[name]["timeline"]
        checked = np.asarray(trend["checked"], dtype=float)
        failed = np.asarray(trend["failed"], dtype=float)
        rate = np.divide(failed, checked, out=np.full(len(x), np.nan), where=checked > 0) * 100.0
        ax.step(x, rate, where="post", marker=".", markersize=3, linewidth=1.2, label=name)
    ax.set_ylabel("% of checked documents")
    ax.set_title("Type mismatch rate per failing field", fontsize=10, loc="left")
    ax.legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
    ax.set_xlim(x[0], x[-1] + _bucket_days(timeline))
    _time_axis(ax)
    return _png(fig)


def drift_chart(timeline: dict[str, Any], drift: dict[str, Any], paths: list[str]) -> str:
    """Each unknown field on a timeline: a dot per bucket it appears in (size grows with its documents)."""
    x = _utc_times(timeline)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.8 + 0.32 * len(paths)))
    for row, path in enumerate(paths):
        docs = np.asarray(drift[path]["timeline"], dtype=float)
        seen = docs > 0
        ax.hlines(row, x[seen].min(), x[seen].max() + _bucket_days(timeline), color="#adb5bd", linewidth=1)
        ax.scatter(x[seen], np.full(seen.sum(), row), s=8 + 6 * np.log10(docs[seen] + 1), color="#7048e8")
    ax.set_yticks(range(len(paths)))
    ax.set_yticklabels([p if len(p) <= 60 else p[:59] + "\u2026" for p in paths], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(x[0], x[-1] + _bucket_days(timeline))
    ax.set_title("Fields outside the spec (drift): when they appear", fontsize=10, loc="left")
    _time_axis(ax)
    return _png(fig)
