"""GeoIP from local MaxMind databases built by the test writer; nothing is downloaded."""

from __future__ import annotations

import ipaddress
import json

import orjson
import pytest

from airflow_provider_jumpcloud.ecs import GeoIP, map_event, open_geoip
from tests.conftest import FIXTURES
from tests.ecs.mmdb_writer import write_mmdb

ELASTIC = json.loads((FIXTURES / "elastic_sample_event.json").read_text())
# The GeoLite2 test-data record for 81.2.69.0/24, as Elastic's sample document shows it.
LONDON = {
    "city": {"geoname_id": 2643743, "names": {"en": "London", "de": "London"}},
    "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
    "country": {"geoname_id": 2635167, "iso_code": "GB", "names": {"en": "United Kingdom"}},
    "location": {"accuracy_radius": 10, "latitude": 51.5142, "longitude": -0.0931,
                 "time_zone": "Europe/London"},
    "registered_country": {"iso_code": "SE", "names": {"en": "Sweden"}},
    "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
}


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmdb")
    city = write_mmdb(d / "city.mmdb", {
        ipaddress.ip_network("81.2.69.0/24"): LONDON,
        ipaddress.ip_network("2001:db8::/32"): {
            "country": {"iso_code": "FR", "names": {"en": "France"}},
            "subdivisions": [{"iso_code": "IDF", "names": {"en": "Ile-de-France"}},
                             {"iso_code": "75", "names": {"en": "Paris"}}],
        },
        ipaddress.ip_network("192.0.2.0/24"): {"location": {"latitude": 1.0}},  # no usable property
    }, database_type="GeoLite2-City")
    asn = write_mmdb(d / "asn.mmdb", {
        ipaddress.ip_network("81.2.69.0/24"): {"autonomous_system_number": 20712,
                                               "autonomous_system_organization": "Andrews & Arnold Ltd"},
    }, database_type="GeoLite2-ASN")
    return city, asn


def test_client_geo_matches_elastic_sample(dbs):
    city, asn = dbs
    with GeoIP.open(city_db=city, asn_db=asn) as geoip:
        _, doc = map_event(ELASTIC["event"]["original"], geoip=geoip)
    assert doc["client"]["geo"] == ELASTIC["client"]["geo"]
    assert doc["client"]["as"] == {"number": 20712, "organization": {"name": "Andrews & Arnold Ltd"}}
    assert doc["client"]["ip"] == "81.2.69.144"


def test_source_geo_most_specific_subdivision_and_related(dbs):
    city, asn = dbs
    raw = orjson.dumps({"id": "1", "timestamp": "2023-01-01T00:00:00Z", "src_ip": "2001:db8::7"})
    with GeoIP.open(city_db=city, asn_db=asn) as geoip:
        _, doc = map_event(raw, geoip=geoip)
    assert doc["source"]["geo"] == {"country_iso_code": "FR", "country_name": "France",
                                    "region_iso_code": "FR-75", "region_name": "Paris"}
    assert "as" not in doc["source"]  # not in the ASN database
    assert doc["related"]["ip"] == ["2001:db8::7"]


def test_absent_database_or_address_gives_no_fields(dbs):
    city, asn = dbs
    raw = orjson.dumps({"id": "1", "client_ip": "81.2.69.144", "src_ip": "10.0.0.1"})
    with GeoIP.open(asn_db=asn) as only_asn:
        _, doc = map_event(raw, geoip=only_asn)
    assert "geo" not in doc["client"] and doc["client"]["as"]["number"] == 20712
    assert doc["source"] == {"ip": "10.0.0.1"}
    with GeoIP.open(city_db=city) as only_city:
        _, doc = map_event(raw, geoip=only_city)
        assert "as" not in doc["client"] and doc["client"]["geo"]["city_name"] == "London"
        _, doc = map_event(orjson.dumps({"id": "1", "client_ip": "192.0.2.1"}), geoip=only_city)
        assert doc["client"] == {"ip": "192.0.2.1"}
    assert open_geoip() is None
    assert "geo" not in map_event(raw)[1]["client"]


def test_ipv4_mapped_and_scoped_addresses_are_looked_up(dbs):
    city, _ = dbs
    with GeoIP.open(city_db=city) as geoip:
        _, doc = map_event(orjson.dumps({"id": "1", "client_ip": "::ffff:81.2.69.1"}), geoip=geoip)
        assert doc["client"]["geo"]["city_name"] == "London"
        _, doc = map_event(orjson.dumps({"id": "1", "client_ip": "2001:db8::1%en0"}), geoip=geoip)
        assert doc["client"]["geo"]["country_iso_code"] == "FR"


def test_geo_results_are_independent_copies(dbs):
    city, _ = dbs
    with GeoIP.open(city_db=city) as geoip:
        a = map_event(orjson.dumps({"id": "1", "client_ip": "81.2.69.1"}), geoip=geoip)[1]
        a["client"]["geo"]["location"]["lat"] = 0
        b = map_event(orjson.dumps({"id": "2", "client_ip": "81.2.69.1"}), geoip=geoip)[1]
        assert b["client"]["geo"]["location"]["lat"] == 51.5142
    assert "city=False" in repr(geoip)
