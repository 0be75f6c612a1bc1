"""Per-window Data Docs read right offline: no remote assets, a visible status column, counts in documents."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from airflow_provider_jumpcloud.quality import check_window
from airflow_provider_jumpcloud.quality.datadocs import offline_css, offline_page, remote_assets
from airflow_provider_jumpcloud.quality.docresults import restate
from tests.quality.factory import NAMESPACE, WINDOW, clean_doc, write_window
from tests.quality.test_report import CHROMIUM, dump_dom, visible_text

N_DOCS, N_BAD = 168, 3


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datadocs")
    docs = [clean_doc(i) for i in range(N_DOCS)]
    for i in (3, 50, 90):
        docs[i][1]["jumpcloud"]["event"]["mfa"] = "definitely"
    path = write_window(root / "ecs.ndjson.gz", docs)
    check_window(path, WINDOW, quality_dir=root / "q", namespace=NAMESPACE, chunk_size=100)
    return root / "q" / "docs"


def _validation_page(docs_dir: Path) -> Path:
    (page,) = [p for p in (docs_dir / "validations").rglob("*.html") if "-window/" in p.as_posix()]
    return page


def test_no_remote_asset_is_left(docs_dir: Path) -> None:
    files = [p for p in docs_dir.rglob("*") if p.suffix in (".html", ".css")]
    assert len(files) >= 4  # index, expectation suite, validation page, stylesheets
    for path in files:
        text = path.read_text()
        assert remote_assets(text) == [], path
        assert "<script" not in text, path
        assert not re.search(r"""(?:src|href)\s*=\s*["']?https?://[^"']*\.(?:js|css|png|woff2?|ttf)""", text), path


def test_counts_are_documents_not_distinct_values(docs_dir: Path) -> None:
    text = visible_text(_validation_page(docs_dir).read_text())
    assert f"jumpcloud.event.mfa (type): {N_BAD} of {N_DOCS} documents fail" in text
    assert f"Documents in this run: {N_DOCS}." in text
    assert "total rows" not in text and "unexpected values found" not in text
    statement = re.search(r"(\d+) of (\d+) values in documents do not meet it", text)
    assert statement and int(statement.group(1)) == N_BAD  # GX's own figure, restated: 3 documents
    assert "Unexpected Value | Documents | {'field': 'jumpcloud.event.mfa', 'spec_type': 'boolean', " \
           f"'value': 'definitely'}} | {N_BAD}" in text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_status_column_shows_in_headless_chromium(docs_dir: Path) -> None:
    text = visible_text(dump_dom(_validation_page(docs_dir).as_uri()))
    assert "Status | Expectation | Observed Value | failed | each field's values must match its spec type" in text
    assert text.count("| passed |") == 3  # copies, ns, required: each row's status is visible text
    index = visible_text(dump_dom((docs_dir / "index.html").as_uri()))
    assert f"status | run | failing checks | pages | failed | {WINDOW.key}-window" in index


def test_offline_page_strips_every_kind_of_remote_reference() -> None:
    page = ("<html><head><link rel='stylesheet' href='https://cdn.example/x.css'>"
            '<link href="//cdn.example/y.css" rel="stylesheet"><script src="https://cdn.example/x.js"></script>'
            "<script>$(function(){})</script><style>@import url('https://fonts.example/f.css');"
            ".a{background:url(https://img.example/a.png)}</style></head><body>"
            '<img src="https://img.example/logo.png" alt="logo"><i class="fas fa-check-circle text-success" ></i>'
            '<i class="fas fa-times text-danger" aria-hidden="true"></i><a href="https://example.org">site</a>'
            "</body></html>")
    out = offline_page(page, banner="<p>note</p>")
    assert remote_assets(out) == [] and "<script" not in out and "fa-" not in out
    assert out.count("jc-status jc-ok") == 1 and out.count("jc-status jc-fail") == 1
    assert '<a href="https://example.org">site</a>' in out  # an ordinary link is no asset
    assert "<body><p>note</p>" in out
    assert offline_css("b{background:url('http://x/y.png')}") == "b{background:none}"


def test_restate_sums_documents() -> None:
    documents = np.array([5, 1, 7, 2, 100])
    considered = np.array([True, True, True, True, False])
    fields = restate(considered, np.array([1, 3]), documents, ["a", "a"])
    assert (fields["element_count"], fields["unexpected_count"]) == (15, 3)
    assert fields["unexpected_percent"] == pytest.approx(20.0)
    assert fields["partial_unexpected_counts"] == [{"value": "a", "count": 3}]
    assert fields["unexpected_index_list"] is None
