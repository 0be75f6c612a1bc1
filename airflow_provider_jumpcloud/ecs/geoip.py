"""Optional GeoIP enrichment from user-supplied MaxMind databases (steps 38-45 of Elastic's pipeline).

Nothing is downloaded: the user points at a City and/or an ASN ``.mmdb`` file (GeoLite2 or GeoIP2). The
output reproduces Elasticsearch's ``geoip`` processor with its default City properties (``continent_name``,
``country_iso_code``, ``country_name``, ``region_iso_code``, ``region_name``, ``city_name``, ``location``;
English names, the most specific subdivision) and the ASN properties ``asn`` / ``organization_name``,
which Elastic's pipeline renames to ``as.number`` / ``as.organization.name``. A missing database, an
address that is not in it, or an empty record gives no fields, as in Elasticsearch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import maxminddb

_CACHE_LIMIT = 65_536
Address = IPv4Address | IPv6Address


def _english(record: Any) -> str | None:
    if isinstance(record, dict):
        names = record.get("names")
        if isinstance(names, dict):
            name = names.get("en")
            return name if isinstance(name, str) else None
    return None


def city_fields(record: Any) -> dict[str, Any] | None:
    """Turn a MaxMind City record into the ECS ``*.geo`` object Elasticsearch builds (None when empty)."""
    if not isinstance(record, dict):
        return None
    geo: dict[str, Any] = {}
    continent = _english(record.get("continent"))
    if continent is not None:
        geo["continent_name"] = continent
    country = record.get("country") if isinstance(record.get("country"), dict) else {}
    country_iso = country.get("iso_code")
    if isinstance(country_iso, str):
        geo["country_iso_code"] = country_iso
    country_name = _english(country)
    if country_name is not None:
        geo["country_name"] = country_name
    subdivisions = record.get("subdivisions")
    subdivision = subdivisions[-1] if isinstance(subdivisions, list) and subdivisions else {}
    if isinstance(subdivision, dict):
        sub_iso = subdivision.get("iso_code")
        if isinstance(country_iso, str) and isinstance(sub_iso, str):
            geo["region_iso_code"] = f"{country_iso}-{sub_iso}"
        region_name = _english(subdivision)
        if region_name is not None:
            geo["region_name"] = region_name
    city_name = _english(record.get("city"))
    if city_name is not None:
        geo["city_name"] = city_name
    location = record.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            geo["location"] = {"lat": lat, "lon": lon}
    return geo or None


def asn_fields(record: Any) -> dict[str, Any] | None:
    """Turn a MaxMind ASN record into ECS ``*.as`` (``number``, ``organization.name``), None when empty."""
    if not isinstance(record, dict):
        return None
    out: dict[str, Any] = {}
    number = record.get("autonomous_system_number")
    if isinstance(number, int):
        out["number"] = number
    organization = record.get("autonomous_system_organization")
    if isinstance(organization, str):
        out["organization"] = {"name": organization}
    return out or None


class GeoIP:
    """City and ASN lookups over local MaxMind databases, with a bounded per-address cache.

    :param city: an open ``maxminddb`` reader of a City database, or None
    :param asn: an open ``maxminddb`` reader of an ASN database, or None
    """

    def __init__(self, city: Any = None, asn: Any = None) -> None:
        self._city_reader = city
        self._asn_reader = asn
        self._city_cache: dict[Address, dict[str, Any] | None] = {}
        self._asn_cache: dict[Address, dict[str, Any] | None] = {}

    @classmethod
    def open(
        cls, *, city_db: str | os.PathLike[str] | None = None, asn_db: str | os.PathLike[str] | None = None
    ) -> GeoIP:
        """Open the given ``.mmdb`` files (either may be None); raises when a given file cannot be read."""
        city = maxminddb.open_database(os.fspath(city_db)) if city_db else None
        try:
            asn = maxminddb.open_database(os.fspath(asn_db)) if asn_db else None
        except Exception:
            if city is not None:
                city.close()
            raise
        return cls(city, asn)

    @property
    def has_city(self) -> bool:
        """Whether a City database is configured."""
        return self._city_reader is not None

    @property
    def has_asn(self) -> bool:
        """Whether an ASN database is configured."""
        return self._asn_reader is not None

    @staticmethod
    def _lookup(
        reader: Any,
        cache: dict[Address, dict[str, Any] | None],
        convert: Callable[[Any], dict[str, Any] | None],
        address: Address,
    ) -> dict[str, Any] | None:
        if reader is None:
            return None
        try:
            return cache[address]
        except KeyError:
            pass
        try:
            result = convert(reader.get(address))
        except ValueError:
            result = None  # e.g. an IPv6 address against an IPv4-only database
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[address] = result
        return result

    def city(self, address: Address) -> dict[str, Any] | None:
        """Return the ECS geo object for ``address`` (a fresh dict), or None."""
        found = self._lookup(self._city_reader, self._city_cache, city_fields, address)
        if found is None:
            return None
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in found.items()}

    def asn(self, address: Address) -> dict[str, Any] | None:
        """Return the ECS ``as`` object for ``address`` (a fresh dict), or None."""
        found = self._lookup(self._asn_reader, self._asn_cache, asn_fields, address)
        if found is None:
            return None
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in found.items()}

    def close(self) -> None:
        """Close the database readers."""
        for reader in (self._city_reader, self._asn_reader):
            if reader is not None:
                reader.close()
        self._city_reader = self._asn_reader = None

    def __enter__(self) -> GeoIP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GeoIP(city={self.has_city}, asn={self.has_asn})"


def open_geoip(
    *, city_db: str | os.PathLike[str] | None = None, asn_db: str | os.PathLike[str] | None = None
) -> GeoIP | None:
    """Return a :class:`GeoIP` for the configured databases, or None when neither path is set."""
    if not city_db and not asn_db:
        return None
    return GeoIP.open(city_db=city_db, asn_db=asn_db)
