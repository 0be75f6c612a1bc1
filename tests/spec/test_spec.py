"""spec/fields.json is exactly the exported-fields table; ecs_fields.json covers what the mapper emits."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from airflow_provider_jumpcloud.ecs import GeoIP, map_event
from airflow_provider_jumpcloud.spec import field_types, load_field_spec
from tests.conftest import FIXTURES, ROOT, load_sample_events
from tests.ecs.mmdb_writer import write_mmdb

SPEC_DIR = ROOT / "airflow_provider_jumpcloud" / "spec"
SCRIPT = ROOT / "scripts" / "build_field_spec.py"
# An independent reading of the markdown table: one regex per data row, cells taken verbatim.
ROW = re.compile(r"^\|\s*(?P<name>[@\w.]+)\s*\|(?P<description>[^|]*)\|\s*(?P<type>\w+)\s*\|\s*$")


def table_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in (SPEC_DIR / "exported_fields.md").read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m and m["name"] != "Field":
            rows.append((m["name"], m["description"].strip(), m["type"]))
    return rows


def test_fields_json_matches_the_table_row_by_row():
    rows = table_rows()
    fields = json.loads((SPEC_DIR / "fields.json").read_text(encoding="utf-8"))["fields"]
    assert [(f["name"], f["description"], f["type"]) for f in fields] == rows
    text = (SPEC_DIR / "exported_fields.md").read_text()
    table_lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert len(rows) == len(table_lines) - 1  # every row except the header was understood


def test_field_counts_and_fixed_fields():
    names = [name for name, _, _ in table_rows()]
    assert len(names) == len(set(names)) == 200
    assert sum(n.startswith("jumpcloud.event.") for n in names) == 195
    others = {n: t for n, _, t in table_rows() if not n.startswith("jumpcloud.event.")}
    assert others == {
        "@timestamp": "date",
        "data_stream.dataset": "constant_keyword",
        "data_stream.namespace": "constant_keyword",
        "data_stream.type": "constant_keyword",
        "input.type": "keyword",
    }
    assert {f.name for f in load_field_spec()} == set(names)


def test_script_regenerates_the_identical_file():
    spec = importlib.util.spec_from_file_location("build_field_spec", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (SPEC_DIR / "exported_fields.md").read_text(encoding="utf-8")
    assert module.render(text) == (SPEC_DIR / "fields.json").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_field_spec.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_script_check_notices_a_stale_file(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("build_field_spec", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "exported_fields.md").write_text((SPEC_DIR / "exported_fields.md").read_text())
    (tmp_path / "fields.json").write_text("{}\n")
    monkeypatch.setattr(module, "SPEC_DIR", tmp_path)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0


def _leaves(obj, prefix=""):
    """Dotted leaf paths; a {lat, lon} object is one geo_point leaf."""
    if isinstance(obj, dict) and obj and set(obj) != {"lat", "lon"}:
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1]


def _varied_events() -> list[bytes]:
    """Samples plus variants that exercise every mapping branch (IPv6, src_ip, host, user, process...)."""
    out = []
    samples = load_sample_events()
    elastic = json.loads((FIXTURES / "elastic_sample_event.json").read_text())["event"]["original"]
    samples.append(json.loads(elastic))
    for i, ev in enumerate(samples):
        out.append(orjson.dumps(ev))
        variant = dict(ev)
        variant.update(
            src_ip=["198.51.100.7", "2001:db8::1"][i % 2],
            client_ip=["2001:db8::2", "203.0.113.9"][i % 2],
            system={"id": f"sys{i}", "hostname": f"host{i}"},
            username=f"user{i}",
            process_name="jcagent",
            message="something happened",
            event_type=["user_unlocked", "ldap_bind", "mdm_command_result"][i % 3],
            initiated_by={"id": "x", "email": "a@b.c", "username": "alice"},
            useragent={"device": "Mac", "name": "Chrome", "version": "1", "os_name": "macOS",
                       "os_full": "macOS 14", "os_version": "14"},
        )
        out.append(orjson.dumps(variant))
    out += [b"not json", b"[1,2]", b'{"id": "1", "client_ip": "999.1.1.1", "timestamp": "yesterday"}']
    return out


@pytest.fixture(scope="module")
def geoip(tmp_path_factory):
    d = tmp_path_factory.mktemp("geo")
    city = {
        ipaddress.ip_network("198.51.100.0/24"): {
            "city": {"names": {"en": "Springfield"}}, "continent": {"names": {"en": "Europe"}},
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "location": {"latitude": 51.5, "longitude": -0.1},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
        },
        ipaddress.ip_network("2001:db8::/32"): {"country": {"iso_code": "DE", "names": {"en": "Germany"}}},
    }
    asn = {
        ipaddress.ip_network("203.0.113.0/24"): {"autonomous_system_number": 64500,
                                                 "autonomous_system_organization": "Example"},
        ipaddress.ip_network("2001:db8::/32"): {"autonomous_system_number": 64501,
                                                "autonomous_system_organization": "Doc"},
        ipaddress.ip_network("198.51.100.0/24"): {"autonomous_system_number": 64502},
    }
    write_mmdb(d / "city.mmdb", city, database_type="GeoLite2-City")
    write_mmdb(d / "asn.mmdb", asn, database_type="GeoLite2-ASN")
    with GeoIP.open(city_db=d / "city.mmdb", asn_db=d / "asn.mmdb") as g:
        yield g


def test_ecs_fields_cover_every_field_the_mapper_emits(geoip):
    emitted: set[str] = set()
    for tags in ((), ("preserve_original_event", "preserve_duplicate_custom_fields", "forwarded")):
        for line in _varied_events():
            _, doc = map_event(line, tags=tags, geoip=geoip)
            emitted.update(p for p in _leaves(doc) if not p.startswith("jumpcloud.event."))
    # The variety really reached the optional branches.
    assert {"source.geo.city_name", "source.as.number", "client.as.organization.name", "related.ip",
            "related.user", "host.hostname", "process.name", "message", "error.message", "event.kind",
            "user_agent.os.full", "event.category", "@timestamp"} <= emitted
    known = set(field_types(include_ecs=True))
    assert emitted - known == set()


def test_ecs_fields_json_is_well_formed():
    ecs = json.loads((SPEC_DIR / "ecs_fields.json").read_text())["fields"]
    names = [f["name"] for f in ecs]
    assert len(names) == len(set(names))
    assert all(f["type"] for f in ecs)
    assert field_types()["client.ip"] == "ip"
    assert Path(SPEC_DIR / "ecs_fields.json").exists()
