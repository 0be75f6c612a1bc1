"""check_window end to end: every kind of violation injected into a window, exact counts reported."""

from __future__ import annotations

import orjson
import pytest

from airflow_provider_jumpcloud.ecs import EventMapper
from airflow_provider_jumpcloud.quality import QualityPolicy, check_window, gxrun
from airflow_provider_jumpcloud.spec import spec_version
from airflow_provider_jumpcloud.staging import read_json
from airflow_provider_jumpcloud.windows import Window
from tests.conftest import load_sample_events
from tests.quality.factory import NAMESPACE, WINDOW, clean_doc, drop_path, error_doc, set_path, write_window

CHUNK = 20  # small chunks so duplicates and failures straddle chunk boundaries

# (field, spec type, bad values): each bad value goes into its own document.
TYPE_VIOLATIONS = [
    ("jumpcloud.event.organization", "keyword", [12345, ["ok", 7]]),
    ("jumpcloud.event.error_code", "long", [True, "5", 1.5]),
    ("jumpcloud.event.geoip.latitude", "float", ["48.1", False]),
    ("jumpcloud.event.mfa", "boolean", ["true", 1]),
    ("@timestamp", "date", ["14/01/2023 08:00", 1673683200000]),
    ("client.ip", "ip", ["999.1.1.1"]),
    ("related.ip", "ip", [["81.2.69.144", "nope"]]),
    ("jumpcloud.event.changes", "flattened", ["text", [{"field": "a"}, "b"]]),
    ("data_stream.type", "constant_keyword", ["metrics"]),
    ("data_stream.dataset", "constant_keyword", ["jumpcloud.other"]),
    ("data_stream.namespace", "constant_keyword", ["other"]),
    ("client.geo.location", "geo_point", [{"lat": 200, "lon": 0}, "51.5,-0.09"]),
    ("message", "match_only_text", [5]),
]
MISSING_REQUIRED = {"event.action": 2, "event.id": 1}
UNKNOWN = {"jumpcloud.event.brand_new": ["x", "y", "x"], "foo.bar": [1]}
LATE, FUTURE = ["2023-01-14T07:59:59.999Z", "2023-01-13T08:00:00Z"], ["2023-01-14T09:00:00Z"]
PROFILE_GOOD = [{"payload_content": [{"payload_type": "a"}]}, {"payload_content": [{"payload_type": "b"}]}]
PROFILE_BAD = [{"payload_content": [{"payload_type": "a"}, {"payload_type": 7}]}, {"is_managed": "yes"}]
N_CLEAN = 25
N_ERRORS = 2
MISSING_EVENTS = 3


def build_violations() -> tuple[list, dict]:
    docs = [clean_doc(i) for i in range(N_CLEAN)]
    n = N_CLEAN
    for field, _type, values in TYPE_VIOLATIONS:
        for value in values:
            doc_id, doc = clean_doc(n)
            n += 1
            set_path(doc, field, value)
            docs.append((doc_id, doc))
    for field, count in MISSING_REQUIRED.items():
        for _ in range(count):
            doc_id, doc = clean_doc(n)
            n += 1
            drop_path(doc, field)
            docs.append((doc_id, doc))
    for field, values in UNKNOWN.items():
        for value in values:
            doc_id, doc = clean_doc(n)
            n += 1
            set_path(doc, field, value)
            docs.append((doc_id, doc))
    for ts in LATE + FUTURE:
        doc_id, doc = clean_doc(n)
        n += 1
        doc["@timestamp"] = ts
        docs.append((doc_id, doc))
    for profile in (PROFILE_GOOD, PROFILE_BAD):
        doc_id, doc = clean_doc(n)
        n += 1
        doc["jumpcloud"]["event"]["profile_list"] = profile
        docs.append((doc_id, doc))
    docs.extend(error_doc(i) for i in range(N_ERRORS))
    # duplicates: ids of documents 0 and 1 again, in later chunks (and 0 twice)
    docs.append(clean_doc(0))
    docs.insert(CHUNK * 3 + 2, clean_doc(1))
    docs.append(clean_doc(0))
    expected = {"documents": len(docs), "duplicates": 3, "duplicate_ids": 2}
    return docs, expected


@pytest.fixture(scope="module", params=["gathered", "per-chunk"])
def violations(request, tmp_path_factory):
    """The window checked twice: with the default bound every column is gathered over the window and
    validated once; with a bound of 2 distinct values most columns are validated chunk by chunk, some
    switching mid-window. Every count must come out the same."""
    root = tmp_path_factory.mktemp("violations")
    docs, expected = build_violations()
    path = write_window(root / "ecs.ndjson.gz", docs)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "per-chunk":
            patch.setattr(gxrun, "LOW_CARDINALITY", 2)
        summary = check_window(
            path, WINDOW, quality_dir=root / "quality", namespace=NAMESPACE,
            events_fetched=len(docs), api_count=len(docs) + MISSING_EVENTS, chunk_size=CHUNK,
        )
    summary["mode"] = request.param
    return summary, expected, root


@pytest.mark.parametrize(("field", "spec_type", "values"), TYPE_VIOLATIONS, ids=[v[0] for v in TYPE_VIOLATIONS])
def test_type_mismatch_counts(violations, field, spec_type, values):
    summary, _expected, _ = violations
    stat = summary["fields"][field]
    assert stat["type"] == spec_type
    assert stat["failed"] == len(values)
    # every non-error document except those lacking the field was checked
    assert stat["examples"] == [orjson.dumps(v).decode() for v in values][:5]


def test_checked_counts_are_documents_with_the_field(violations):
    summary, expected, _ = violations
    docs = expected["documents"]
    # event.original is in every document, error documents included
    assert summary["fields"]["event.original"]["checked"] == docs
    # client.ip is in every non-error document
    assert summary["fields"]["client.ip"]["checked"] == docs - N_ERRORS
    assert summary["fields"]["jumpcloud.event.mfa"]["checked"] == docs - N_ERRORS
    # event.action is missing in two documents besides the error documents
    assert summary["fields"]["event.action"]["checked"] == docs - N_ERRORS - 2


def test_arrays_of_objects_apply_the_spec_to_every_element(violations):
    summary, _, _ = violations
    payload = summary["fields"]["jumpcloud.event.profile_list.payload_content.payload_type"]
    assert (payload["checked"], payload["failed"]) == (2, 1)
    assert payload["examples"] == ['["a",7]']
    managed = summary["fields"]["jumpcloud.event.profile_list.is_managed"]
    assert (managed["checked"], managed["failed"]) == (1, 1)


def test_only_the_injected_fields_fail(violations):
    summary, _, _ = violations
    expected = {field for field, _, _ in TYPE_VIOLATIONS} | {
        "jumpcloud.event.profile_list.payload_content.payload_type",
        "jumpcloud.event.profile_list.is_managed",
    }
    assert set(summary["fields_failed"]) == expected


def test_missing_required_fields_exclude_error_documents(violations):
    summary, expected, _ = violations
    non_error = expected["documents"] - N_ERRORS
    req = summary["required"]
    assert req["event.action"] == {"column": "event.action", "checked": non_error, "missing": 2}
    assert req["event.id"]["missing"] == 1
    assert req["jumpcloud.event.id"] == {"column": "event.id", "checked": non_error, "missing": 1}
    assert req["@timestamp"]["missing"] == 0
    assert req["jumpcloud.event.timestamp"]["column"] == "@timestamp"


def test_duplicates_across_chunks(violations):
    summary, expected, _ = violations
    dup = summary["duplicates"]
    assert dup["documents"] == expected["duplicates"]
    assert dup["ids"] == expected["duplicate_ids"]
    assert sorted(dup["examples"]) == sorted([clean_doc(0)[0], clean_doc(1)[0]])


def test_late_and_future_timestamps(violations):
    summary, expected, _ = violations
    times = summary["timestamps"]
    assert times["late"] == len(LATE)
    assert times["future"] == len(FUTURE)
    assert times["late_examples"] == LATE
    # unparseable @timestamp (2 docs) and error documents have no in-window time
    assert times["in_window"] == expected["documents"] - N_ERRORS - 2 - len(LATE) - len(FUTURE)


def test_unknown_fields_are_listed_with_counts(violations):
    summary, _, _ = violations
    unknown = summary["unknown_fields"]
    assert unknown["jumpcloud.event.brand_new"] == {"documents": 3, "examples": ['"x"', '"y"']}
    assert unknown["foo.bar"] == {"documents": 1, "examples": ["1"]}
    assert summary["unknown_fields_total"] == 2
    assert summary["unknown_jumpcloud_fields"] == 1


def test_completeness_and_error_documents(violations):
    summary, expected, _ = violations
    assert summary["documents"] == expected["documents"]
    assert summary["error_documents"] == N_ERRORS
    comp = summary["completeness"]
    assert comp == {"documents": expected["documents"], "events_fetched": expected["documents"],
                    "api_count": expected["documents"] + MISSING_EVENTS}


def test_verdict_and_reasons(violations):
    summary, _, _ = violations
    assert summary["verdict"] == "fail"
    by_check: dict[str, set[str]] = {}
    for reason in summary["reasons"]:
        by_check.setdefault(reason["check"], set()).add(reason["level"])
    assert by_check == {
        "type": {"fail"}, "required": {"fail"}, "completeness": {"fail"}, "duplicates": {"fail"},
        "late": {"warn"}, "future": {"warn"}, "drift": {"warn"}, "error_documents": {"warn"},
    }
    assert any(f"{MISSING_EVENTS} of " in r["message"] for r in summary["reasons"] if r["check"] == "completeness")


def test_summary_json_written_and_bounded(violations):
    summary, _, root = violations
    qdir = root / "quality"
    on_disk = read_json(qdir / "summary.json")
    assert on_disk["verdict"] == "fail"
    assert on_disk["fields"] == summary["fields"]
    assert (qdir / "summary.txt").read_text().startswith("Quality of [2023-01-14T08:00:00Z")
    assert (qdir / "docs" / "index.html").exists()
    pages = list((qdir / "docs" / "validations").rglob("*.html"))
    runs = {page.parent.parent.name for page in pages}
    gx = summary["gx"]
    assert on_disk["spec_version"] == spec_version()  # the suite is the spec's: named after its content
    assert pages and all(f"jumpcloud_ecs_spec_{spec_version()}" in str(page) for page in pages)
    assert gx["chunks"] == -(-summary["documents"] // CHUNK)
    if summary["mode"] == "gathered":
        # 63 documents in chunks of 20 never pass LOW_CARDINALITY distinct values in a column: every value
        # is gathered over the window and validated in one run of the suite, with the required patterns and ids
        assert (summary["documents"], gx["chunks"], gx["validations"], gx["failing_validations"]) == (63, 4, 1, 1)
        assert runs == {f"{WINDOW.key}-window"} and summary["data_docs"]["validations_kept"] == 1
        assert len(pages) == 1  # one suite for every check: one page per run
    else:
        # per-chunk runs (one page per chunk, all its high-cardinality columns in one table), kept for the
        # first chunk and failing chunks (at most five), plus the window's run of what stayed under the bound
        assert summary["documents"] == 63 and gx["chunks"] == 4 and gx["validations"] == 5
        kept = {f"{WINDOW.key}-chunk-{n:04d}" for n in range(4)} | {f"{WINDOW.key}-window"}
        assert runs <= kept and f"{WINDOW.key}-window" in runs and f"{WINDOW.key}-chunk-0000" in runs
        assert len(runs) == summary["data_docs"]["validations_kept"] <= 5
    for example_list in (s["examples"] for s in on_disk["fields"].values()):
        assert all(len(e) <= 200 for e in example_list)


def test_clean_window_passes_with_zero_findings(tmp_path):
    docs = [clean_doc(i) for i in range(30)]
    path = write_window(tmp_path / "ecs.ndjson.gz", docs)
    summary = check_window(path, WINDOW, quality_dir=tmp_path / "q", namespace=NAMESPACE,
                           events_fetched=30, api_count=30, chunk_size=10)
    assert summary["verdict"] == "pass"
    assert summary["reasons"] == []
    assert summary["fields_failed"] == []
    assert all(s["failed"] == 0 for s in summary["fields"].values())
    assert summary["fields"]["@timestamp"]["checked"] == 30
    assert summary["duplicates"]["documents"] == 0
    assert summary["timestamps"] == {"in_window": 30, "late": 0, "future": 0,
                                     "late_examples": [], "future_examples": []}
    assert summary["unknown_fields_total"] == 0
    assert summary["gx"]["chunks"] == 3
    assert summary["gx"]["failing_validations"] == 0


def test_chunks_end_early_when_distinct_values_pile_up(tmp_path):
    docs = [clean_doc(i) for i in range(3000)]  # a distinct @timestamp per document
    path = write_window(tmp_path / "ecs.ndjson.gz", docs)
    summary = check_window(path, WINDOW, quality_dir=tmp_path / "q", namespace=NAMESPACE, events_fetched=3000,
                           chunk_size=100_000, max_distinct_values=1000)
    assert summary["gx"]["chunks"] == 3  # 1024 + 1024 + 952: the bound is checked every 1024 documents
    assert summary["documents"] == 3000
    timestamps = summary["fields"]["@timestamp"]
    assert (timestamps["type"], timestamps["checked"], timestamps["failed"]) == ("date", 3000, 0)
    assert summary["timestamps"]["in_window"] == 3000


def test_long_text_examples_are_truncated(tmp_path):
    doc_id, doc = clean_doc(0)
    doc["jumpcloud"]["event"]["organization"] = {"secret": "s" * 5000}
    path = write_window(tmp_path / "ecs.ndjson.gz", [(doc_id, doc)])
    summary = check_window(path, WINDOW, quality_dir=tmp_path / "q", namespace=NAMESPACE,
                           policy=QualityPolicy(drift="ignore"))
    (example,) = summary["fields"]["jumpcloud.event.organization"]["examples"]
    assert len(example) == 200 and example.endswith("\u2026")
    assert "s" * 500 not in (tmp_path / "q" / "summary.json").read_text()


def test_mapper_output_matches_the_spec(tmp_path):
    """Documents the real mapper writes from the sample events pass every type and required check."""
    mapper = EventMapper(tags=["preserve_original_event", "preserve_duplicate_custom_fields"])
    docs = []
    events = load_sample_events()
    without_type = sum(1 for e in events if not e.get("event_type"))  # event.action comes from it
    for event in events:
        doc_id, doc, _status = mapper.map(orjson.dumps(event))
        docs.append((doc_id, doc))
    path = write_window(tmp_path / "ecs.ndjson.gz", docs)
    wide = Window.parse("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
    summary = check_window(path, wide, quality_dir=tmp_path / "q", events_fetched=len(docs))
    assert summary["fields_failed"] == [], summary["table"]
    missing = {name: r["missing"] for name, r in summary["required"].items() if r["missing"]}
    assert missing == ({"event.action": without_type} if without_type else {}), summary["table"]
    assert summary["documents"] == len(docs)
