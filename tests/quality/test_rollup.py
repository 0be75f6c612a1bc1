"""Quality roll-up over three days of real quality reports with known faults: every number exact."""

from __future__ import annotations

import copy
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest

from airflow_provider_jumpcloud.quality import rollup_state
from airflow_provider_jumpcloud.quality.datadocs import remote_assets
from airflow_provider_jumpcloud.quality.rollup import (
    build_rollup,
    daily_dir,
    day_before,
    main,
    range_dir,
    relative_link,
)
from airflow_provider_jumpcloud.quality.rollup_state import Rollup
from airflow_provider_jumpcloud.staging import StagingLayout, read_json
from airflow_provider_jumpcloud.windows import Window
from tests.quality import rollup_factory as rf

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
READABLE = [(i, w) for i, w in enumerate(rf.WINDOWS) if w not in (rf.GAP, rf.CORRUPT)]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> StagingLayout:
    return rf.build(tmp_path_factory.mktemp("rollup") / "staging")


@pytest.fixture(scope="module")
def result(staged: StagingLayout) -> dict:
    return build_rollup(staged.root, rf.SPAN, range_dir(staged, rf.SPAN))


def test_totals_are_exact(result: dict) -> None:
    t = result["totals"]
    docs = sum(rf.documents(i) for i, _ in READABLE)
    assert (t["windows"], t["documents"], t["events_fetched"]) == (len(READABLE), docs, docs)
    assert t["api_count"] == docs + sum(rf.MISSING_EVENTS.values())
    assert (t["missing"], t["incomplete_windows"], t["windows_without_count"]) == (5, 2, 0)
    assert t["completeness"] == docs / (docs + 5)
    # fail: the two incomplete windows on day 1 and every window from day 2 (mfa); pass: the rest of day 1
    fails = sum(1 for i, w in READABLE if rf.day(w) >= 2 or w in rf.MISSING_EVENTS)
    assert (t["pass"], t["warn"], t["fail"]) == (len(READABLE) - fails, 0, fails)
    assert (t["error_documents"], t["duplicates"], t["late"], t["future"]) == (0, 0, 0, 0)
    mfa_windows = [w for _, w in READABLE if rf.day(w) >= 2]
    assert t["mismatches"] == rf.MFA_BAD * len(mfa_windows)
    assert (t["failing_fields"], t["drift_fields"], t["windows_with_drift"]) == (1, 1, 2 + 1)
    assert (t["unreadable_reports"], t["gaps"], t["gap_seconds"]) == (1, 1, 6 * 3600)


def test_a_field_that_starts_failing_on_day_two(result: dict) -> None:
    assert result["failing_fields"] == ["jumpcloud.event.mfa"]
    mfa = result["fields"]["jumpcloud.event.mfa"]
    failing = [w for _, w in READABLE if rf.day(w) >= 2]
    assert mfa["type"] == "boolean"
    assert (mfa["failed"], mfa["checked"]) == (rf.MFA_BAD * len(failing), result["totals"]["documents"])
    assert (mfa["windows_failed"], mfa["windows"]) == (len(failing), len(READABLE))
    assert (mfa["first_failed"], mfa["last_failed"]) == (rf.WINDOWS[4].key, rf.WINDOWS[10].key)
    assert mfa["examples"] == ['"definitely"']
    assert mfa["first_failed_docs"] == f"../../{rf.WINDOWS[4].key}/docs/index.html"
    failed = np.asarray(mfa["timeline"]["failed"])
    starts = result["timeline"]["starts"]
    assert failed.sum() == mfa["failed"]
    assert {starts[i] for i in np.flatnonzero(failed)} == {w.as_dict()["start"] for w in failing}
    assert sum(mfa["timeline"]["checked"]) == mfa["checked"]
    clean = result["fields"]["event.action"]
    assert (clean["failed"], clean["first_failed"], "timeline" in clean) == (0, None, False)


def test_a_drift_field_that_appears_on_day_three(result: dict) -> None:
    assert list(result["drift"]) == [rf.DRIFT_FIELD]
    drift = result["drift"][rf.DRIFT_FIELD]
    seen = [w for _, w in READABLE if rf.day(w) == 3]
    assert (drift["first_seen"], drift["last_seen"]) == (rf.WINDOWS[8].key, rf.WINDOWS[10].key)
    assert (drift["windows"], drift["documents"]) == (len(seen), rf.DRIFT_DOCS * len(seen))
    assert drift["examples"] == ['"s2"', '"s3"', '"s4"']
    assert sum(drift["timeline"]) == drift["documents"]
    assert result["drift_overflow"]["occurrences"] == 0


def test_worst_and_incomplete_windows(result: dict) -> None:
    worst = result["worst_windows"]
    assert [w["window"] for w in worst[:2]] == [rf.WINDOWS[0].key, rf.WINDOWS[5].key]  # 4, then 1 missing
    assert len(worst) == result["totals"]["fail"]  # every failing window, nothing that passed
    first = worst[0]
    assert (first["documents"], first["api_count"], first["missing"], first["completeness"]) == (
        rf.documents(0), rf.documents(0) + 4, 4, rf.documents(0) / (rf.documents(0) + 4))
    assert first["docs"] == f"../../{rf.WINDOWS[0].key}/docs/index.html"
    assert [w["window"] for w in result["incomplete_windows"]] == [rf.WINDOWS[0].key, rf.WINDOWS[5].key]


def test_gaps_and_unreadable_reports_are_named(result: dict, staged: StagingLayout) -> None:
    assert result["gaps"] == [rf.GAP.as_dict()]
    (problem,) = result["problems"]
    path = str(staged.quality_dir(rf.CORRUPT) / "summary.json")
    assert problem["window"] == rf.CORRUPT.key and problem["path"] == path
    assert path in problem["reason"] and "not JSON" in problem["reason"]


def test_rows_are_streamed_one_per_window_in_time_order(result: dict) -> None:
    rows = [orjson.loads(line) for line in Path(result["reports"]["windows"]).read_bytes().splitlines()]
    expected = [w.key for w in rf.WINDOWS if w != rf.GAP]
    assert [r["window"] for r in rows] == expected
    assert "problem" in rows[-1] and sum(r.get("documents", 0) for r in rows) == result["totals"]["documents"]
    stored = read_json(Path(result["reports"]["rollup"]))
    assert stored["totals"] == result["totals"] and stored["fields"] == result["fields"]


def test_headline_for_the_task_log(result: dict) -> None:
    lines = result["headline"].splitlines()
    assert len(lines) == 6
    t = result["totals"]
    assert lines[0] == (f"Quality roll-up [2026-03-01T00:00:00Z, 2026-03-04T00:00:00Z): {t['windows']} windows "
                        f"({t['pass']} pass, 0 warn, {t['fail']} fail), {t['documents']} documents")
    assert "5 events missing in 2 windows" in lines[1] and "1 unreadable reports; 1 gaps" in lines[1]
    assert lines[3].startswith(f"failing fields 1: jumpcloud.event.mfa 14/{t['documents']} documents from "
                               f"{rf.WINDOWS[4].key}")
    assert lines[4].startswith(f"drift fields 1: {rf.DRIFT_FIELD} from {rf.WINDOWS[8].key} (9 documents)")
    assert lines[5].startswith(f"worst windows: {rf.WINDOWS[0].key} fail (missing 4")


def test_page_is_self_contained_and_links_each_windows_data_docs(result: dict) -> None:
    page_path = Path(result["reports"]["page"])
    page = page_path.read_text()
    assert remote_assets(page) == [] and "<script" not in page
    charts = len(re.findall(r'src="data:image/png;base64,', page))
    assert charts == (3 if HAVE_MATPLOTLIB else 0)  # verdicts, fields, drift; none without the reports extra
    links = set(re.findall(r'href="([^"]+)"', page))
    assert links and all((page_path.parent / link).resolve().is_file() for link in links)
    assert f"../../{rf.WINDOWS[0].key}/docs/index.html" in links
    assert page_path.stat().st_size < 400_000


#: Colours only the charts use: the completeness line, the failing field's line, the drift dots.
CHART_COLOURS = {"verdicts": (0x1C, 0x7E, 0xD6), "fields": (0x1F, 0x77, 0xB4), "drift": (0x70, 0x48, 0xE8)}


def _marks(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return (np.abs(image[..., :3] - np.asarray(colour) / 255.0) < 0.06).all(axis=-1)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_page_opens_in_headless_chromium_with_drawn_charts(result: dict, tmp_path: Path) -> None:
    mpimg = pytest.importorskip("matplotlib.image")

    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1280,2400", Path(result["reports"]["page"]).as_uri()],
                   capture_output=True, timeout=120, check=True)
    image = mpimg.imread(shot)
    assert image.shape[:2] == (2400, 1280)
    tops = {}
    for chart, colour in CHART_COLOURS.items():
        marks = _marks(image, colour)
        assert marks.sum() > 20, chart  # its lines or dots are drawn
        rows = np.flatnonzero(marks.any(axis=1))
        tops[chart] = rows.min()
        region = image[max(0, rows.min() - 60):rows.max() + 60, :, :3]
        assert region.std() > 0.03, chart  # not a blank area (a blank one is 0)
    assert tops["verdicts"] < tops["fields"] < tops["drift"]  # in the page's order


def test_cli_writes_the_same_rollup(staged: StagingLayout, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "report"
    assert main(["--staging-root", str(staged.root), "--from", "2026-03-02T00:00:00Z",
                 "--to", "2026-03-03T00:00:00Z", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    day2 = read_json(out / "rollup.json")
    assert day2["totals"]["windows"] == 4 and day2["totals"]["fail"] == 4 and day2["totals"]["gaps"] == 0
    assert day2["fields"]["jumpcloud.event.mfa"]["failed"] == 4 * rf.MFA_BAD
    assert printed.splitlines()[0].startswith("Quality roll-up [2026-03-02T00:00:00Z, 2026-03-03T00:00:00Z): 4")
    assert printed.splitlines()[-1] == f"report: {out / 'index.html'}"
    links = re.findall(r'href="([^"]+)"', (out / "index.html").read_text())
    assert links and all((out / link).resolve().is_file() for link in links)


def test_cli_refuses_a_bad_range(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--staging-root", "x", "--from", "2026-03-02T00:00:00Z", "--to", "yesterday", "--out", "y"])
    assert info.value.code == 2
    assert "'yesterday' is not an RFC 3339 timestamp" in capsys.readouterr().err


def test_state_stays_bounded(staged: StagingLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many windows with a new drift field each and many failures: tracked state and heaps keep their caps."""
    monkeypatch.setattr(rollup_state, "MAX_DRIFT_FIELDS", 10)
    monkeypatch.setattr(rollup_state, "WORST_WINDOWS", 7)
    monkeypatch.setattr(rollup_state, "INCOMPLETE_LISTED", 5)
    base = read_json(staged.quality_dir(rf.WINDOWS[8]) / "summary.json")
    span = Window.parse("2026-04-01T00:00:00Z", "2026-04-08T00:00:00Z")
    agg = Rollup(span)
    for i in range(300):
        window = Window(span.start + i * rf.STEP / 12, span.start + (i + 1) * rf.STEP / 12)
        summary = copy.deepcopy(base)
        summary["unknown_fields"] = {f"jumpcloud.event.x{i}": {"documents": 2, "examples": ['"v"']}}
        summary["completeness"]["api_count"] = summary["documents"] + i % 3
        agg.add(window, summary)
    out = agg.result()
    assert len(out["drift"]) == 10 and out["drift_overflow"]["occurrences"] == 290
    assert out["drift_overflow"]["documents"] == 580 and len(out["drift_overflow"]["example_paths"]) == 10
    assert len(out["worst_windows"]) == 7 and len(out["incomplete_windows"]) == 5
    assert out["totals"]["incomplete_windows"] == 200 and out["totals"]["missing"] == 100 + 200
    assert len(out["timeline"]["starts"]) <= rollup_state.MAX_BUCKETS and sum(out["timeline"]["windows"]) == 300


def test_a_summary_of_the_wrong_shape_is_a_named_problem(staged: StagingLayout, tmp_path: Path) -> None:
    root = tmp_path / "staging"
    shutil.copytree(staged.quality_dir(rf.WINDOWS[0]), StagingLayout.at(root).quality_dir(rf.WINDOWS[0]))
    bad = StagingLayout.at(root).quality_dir(rf.WINDOWS[1]) / "summary.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(orjson.dumps({"documents": "many"}))
    out = build_rollup(root, Window(rf.WINDOWS[0].start, rf.WINDOWS[1].end), tmp_path / "out", charts=False)
    assert out["totals"]["windows"] == 1
    (problem,) = out["problems"]
    assert problem["window"] == rf.WINDOWS[1].key and "not a quality summary" in problem["reason"]


def test_layout_helpers(staged: StagingLayout) -> None:
    assert day_before("2026-03-02T00:10:00+00:00") == Window.parse("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    assert daily_dir(staged, day_before("2026-03-02T00:00:00Z").start.date()) == (
        staged.root / "quality" / "daily" / "2026-03-01")
    assert range_dir(staged, rf.SPAN).name == "20260301T000000Z--20260304T000000Z"
    assert relative_link("s3://bucket/q/daily/d", "s3://bucket/q/w/docs/index.html") == "../../w/docs/index.html"
    assert relative_link("s3://a/q", "s3://b/q/index.html") == "s3://b/q/index.html"
