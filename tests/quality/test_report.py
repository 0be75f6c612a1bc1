"""Reports: the log table, and the GX Data Docs opened in a real headless Chromium."""

from __future__ import annotations

import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_provider_jumpcloud.quality import check_window, gxrun
from tests.quality.factory import NAMESPACE, WINDOW, clean_doc, write_window

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def visible_text(dom: str) -> str:
    parser = _Text()
    parser.feed(dom)
    return " | ".join(parser.parts)


@pytest.fixture(scope="module")
def failing_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    docs = [clean_doc(i) for i in range(12)]
    docs[3][1]["jumpcloud"]["event"]["mfa"] = "definitely"
    docs[10][1]["client"]["ip"] = "300.300.1.1"
    docs[11][1]["@timestamp"] = "2023-01-14 08:59"
    path = write_window(root / "ecs.ndjson.gz", docs)
    with pytest.MonkeyPatch.context() as patch:
        # 5 distinct @timestamp values per chunk make it a per-chunk column; the rest is gathered per window
        patch.setattr(gxrun, "LOW_CARDINALITY", 4)
        summary = check_window(path, WINDOW, quality_dir=root / "q", namespace=NAMESPACE, chunk_size=5)
    return summary, root / "q"


def test_table_lists_failing_fields(failing_report):
    summary, qdir = failing_report
    table = summary["table"]
    assert table.splitlines()[0] == "Quality of [2023-01-14T08:00:00Z, 2023-01-14T09:00:00Z): FAIL"
    row = next(line for line in table.splitlines() if line.startswith("jumpcloud.event.mfa"))
    assert row.split() == ["jumpcloud.event.mfa", "boolean", "12", "1", '"definitely"']
    assert (qdir / "summary.txt").read_text().strip() == table


def test_data_docs_are_bounded(failing_report):
    summary, qdir = failing_report
    pages = sorted(p.relative_to(qdir / "docs").as_posix() for p in (qdir / "docs").rglob("*.html"))
    runs = {page.split("/")[2] for page in pages if page.startswith("validations/")}
    # chunk 0 (first) and chunk 2 (bad @timestamp) are kept, clean chunk 1 is dropped; the window's run
    # (mfa and client.ip fail there) is always kept
    assert runs == {f"{WINDOW.key}-chunk-0000", f"{WINDOW.key}-chunk-0002", f"{WINDOW.key}-window"}
    assert summary["data_docs"]["validations_kept"] == 3
    gx = summary["gx"]
    assert (gx["chunks"], gx["validations"], gx["failing_validations"]) == (3, 4, 2)
    assert not list((qdir / "docs").rglob("*.gif"))  # GX's large animations are not copied


def dump_dom(url: str) -> str:
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_data_docs_open_in_headless_chromium(failing_report):
    _, qdir = failing_report
    index = qdir / "docs" / "index.html"
    dom = dump_dom(index.as_uri())
    text = visible_text(dom)
    assert "JumpCloud ECS quality [2023-01-14T08:00:00Z, 2023-01-14T09:00:00Z): FAIL" in text
    assert "jumpcloud.event.mfa | boolean | 12 | 1" in text
    links = sorted(set(re.findall(r'href="(validations/[^"]+\.html)"', dom)))
    # one suite: its runs on chunks 0 and 2 (@timestamp is validated per chunk), then the window's run
    assert len(links) == 3
    mfa_page = next(link for link in links if "-window/" in link)
    page = visible_text(dump_dom((index.parent / mfa_page).as_uri()))
    assert "Failed" in page
    assert "jumpcloud.event.mfa" in page
    assert "each field's values must match its spec type" in page
    assert "boolean" in page
    assert "definitely" in page  # the unexpected value is shown
    assert "300.300.1.1" in page  # client.ip fails in the same window run
    assert "Unsuccessful Expectations | 1" in page  # the type check; required fields, ids and times pass
