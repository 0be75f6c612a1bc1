"""Shared, seed-derived reference data for generated events: org, users, admins, systems, apps, places."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from typing import Any

FIRST = ("jane", "john", "maurice", "roy", "jen", "douglas", "richmond", "siri", "alex", "sam", "li", "ana",
         "omar", "fatima", "kenji", "olga", "pierre", "chloe", "noah", "mia", "luca", "emma", "ivan", "zoe")
LAST = ("doe", "moss", "trenneman", "barnes", "reynholm", "avenal", "oaklander", "wick", "martin", "garcia",
        "nguyen", "kim", "dubois", "rossi", "schmidt", "tanaka", "silva", "novak", "smith", "lee")
DOMAINS = ("example.com", "corp.example.org", "sekoia.io", "acme.test")

#: (country, region code, region name, continent, timezone, latitude, longitude, first IPv4 octets)
PLACES: tuple[tuple[str, str, str, str, str, float, float, tuple[int, int]], ...] = (
    ("FR", "75", "Paris", "EU", "Europe/Paris", 48.8323, 2.4075, (81, 2)),
    ("FR", "94", "Val-de-Marne", "EU", "Europe/Paris", 48.8138, 2.3873, (176, 161)),
    ("US", "MA", "Massachusetts", "NA", "America/New_York", 42.3797, -71.1034, (73, 203)),
    ("US", "CA", "California", "NA", "America/Los_Angeles", 37.7797, -122.4159, (23, 118)),
    ("US", "CO", "Colorado", "NA", "America/Denver", 39.7392, -104.9903, (67, 43)),
    ("IE", "L", "Leinster", "EU", "Europe/Dublin", 53.3379, -6.2591, (89, 101)),
    ("GB", "ENG", "England", "EU", "Europe/London", 51.5142, -0.0931, (81, 2)),
    ("DE", "BE", "Land Berlin", "EU", "Europe/Berlin", 52.5196, 13.4069, (91, 64)),
    ("JP", "13", "Tokyo", "AS", "Asia/Tokyo", 35.6893, 139.6899, (126, 10)),
    ("BR", "SP", "Sao Paulo", "SA", "America/Sao_Paulo", -23.5475, -46.6361, (177, 36)),
    ("IN", "KA", "Karnataka", "AS", "Asia/Kolkata", 12.9634, 77.5855, (49, 205)),
    ("AU", "NSW", "New South Wales", "OC", "Australia/Sydney", -33.8688, 151.2093, (1, 128)),
)
#: Offsets (hours) matching PLACES, for device-local ``system_timestamp`` values.
PLACE_OFFSETS = (1, 1, -5, -8, -7, 0, 0, 1, 9, -3, 5.5, 11)

USERAGENTS: tuple[dict[str, Any], ...] = (
    {"name": "Chrome", "version": "114.0.0.0", "major": "114", "minor": "0", "patch": "0", "os": "Mac OS X",
     "os_name": "Mac OS X", "os_full": "Mac OS X 10.15.7", "os_version": "10.15.7", "os_major": "10",
     "os_minor": "15", "os_patch": "7", "device": "Mac"},
    {"name": "Chrome", "version": "110.0.0.0", "major": "110", "minor": "0", "patch": "0", "os": "Windows",
     "os_name": "Windows", "os_full": "Windows 10", "os_version": "10", "os_major": "10", "device": "Other"},
    {"name": "Firefox", "version": "114.0", "major": "114", "minor": "0", "os": "Mac OS X",
     "os_name": "Mac OS X", "os_full": "Mac OS X 10.15", "os_version": "10.15", "os_major": "10",
     "os_minor": "15", "device": "Mac"},
    {"name": "curl", "version": "7.68.0", "major": "7", "minor": "68", "patch": "0", "os": "Other",
     "os_name": "Other", "os_full": "Other", "device": "Other"},
    {"name": "Other", "os": "Other", "os_name": "Other", "os_full": "Other", "device": "Other"},
    {"name": "Mobile Safari", "version": "17.1", "major": "17", "minor": "1", "os": "iOS", "os_name": "iOS",
     "os_full": "iOS 17.1.2", "os_version": "17.1.2", "os_major": "17", "os_minor": "1", "os_patch": "2",
     "device": "iPhone"},
    {"name": "Edge", "version": "120.0.2210.91", "major": "120", "minor": "0", "patch": "2210",
     "os": "Windows", "os_name": "Windows", "os_full": "Windows 11", "os_version": "11", "os_major": "11",
     "device": "Other"},
    {"name": "Chrome", "major": "81", "minor": "0", "patch": "4044", "os": "Mac OS X", "os_name": "Mac OS X",
     "os_major": "10", "os_minor": "15", "build": "", "device": "Other"},
)

#: (connector name, display label, sso type)
APPLICATIONS = (
    ("zoom", "Zoom", "saml"), ("google", "Google Workspace", "saml"), ("salesforce", "Salesforce", "saml"),
    ("slack", "Slack", "saml"), ("github", "GitHub", "saml"), ("aws", "AWS IAM Identity Center", "saml"),
    ("atlassian", "Atlassian Cloud", "saml"), ("oidc", "Internal Wiki", "oidc"), ("", "", "saml"),
)
SOFTWARE = (
    ("Google Chrome", "120.0.6099.129", "/Applications/Google Chrome.app", "Google LLC"),
    ("Slack", "4.36.140", "/Applications/Slack.app", "Slack Technologies"),
    ("Zoom", "5.17.5", "C:\\Program Files\\Zoom\\bin\\Zoom.exe", "Zoom Video Communications, Inc."),
    ("1Password", "8.10.23", "/Applications/1Password.app", "AgileBits Inc."),
    ("Visual Studio Code", "1.85.1", "/usr/share/code", "Microsoft Corporation"),
)


@dataclass(frozen=True)
class Person:
    """A user or admin of the emulated organisation."""

    id: str
    username: str
    email: str
    uuid: str


@dataclass(frozen=True)
class Machine:
    """A managed device of the emulated organisation."""

    id: str
    hostname: str
    display_name: str
    os: str
    version: str
    mdm_device_id: str


@dataclass(frozen=True)
class Pools:
    """Everything generated events pick from; built once per seed."""

    organization: str
    users: tuple[Person, ...]
    admins: tuple[Person, ...]
    systems: tuple[Machine, ...]
    applications: tuple[dict[str, Any], ...]
    geoips: tuple[dict[str, Any], ...]
    certificates: tuple[str, ...]
    groups: tuple[tuple[str, str], ...]
    mdm_manager_id: str


def hex24(rng: random.Random, epoch_seconds: int | None = None) -> str:
    """Return a 24-hex ObjectId; with ``epoch_seconds`` its first 8 digits are that time, as in MongoDB."""
    if epoch_seconds is None:
        return f"{rng.getrandbits(96):024x}"
    return f"{epoch_seconds & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


def uuid_text(rng: random.Random, *, upper: bool = False) -> str:
    """Return a random (version 4 shaped) UUID string."""
    h = f"{rng.getrandbits(128):032x}"
    text = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"
    return text.upper() if upper else text


def build_pools(seed: int) -> Pools:
    """Return the reference data of the emulated organisation for ``seed``."""
    rng = random.Random(f"jumpcloud-emulator-pools-{seed}")
    users = []
    for n in range(240):
        username = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{n if n >= len(FIRST) else ''}"
        users.append(Person(hex24(rng), username, f"{username}@{rng.choice(DOMAINS)}", uuid_text(rng)))
    admins = tuple(
        Person(hex24(rng), f"admin{n}", f"{rng.choice(FIRST)}.{rng.choice(LAST)}.admin@{DOMAINS[0]}",
               uuid_text(rng))
        for n in range(12)
    )
    systems = []
    for n in range(160):
        os_name, version = rng.choice((("Mac OS X", "14.2"), ("Windows", "11 Pro"), ("Ubuntu", "22.04"),
                                       ("Mac OS X", "13.4"), ("Windows", "10 Enterprise")))
        host = f"{rng.choice(FIRST).upper()}-{rng.choice(('LAPTOP', 'DESKTOP', 'MAC', 'WS'))}-{n:03d}"
        systems.append(Machine(hex24(rng), host, host if rng.random() < 0.9 else host.lower(), os_name,
                               version, hex24(rng)))
    applications = tuple(
        {"id": hex24(rng) if name else "", "name": name, "display_label": label,
         "sso_url": f"https://sso.jumpcloud.com/{sso_type}2/{name or 'google'}", "sso_type": sso_type}
        for name, label, sso_type in APPLICATIONS
    )
    geoips = tuple(
        {"country_code": c, "region_code": rc, "region_name": rn, "continent_code": cc, "timezone": tz,
         "latitude": lat, "longitude": lon}
        for c, rc, rn, cc, tz, lat, lon, _ in PLACES
    )
    certificates = tuple(base64.b64encode(rng.randbytes(rng.randint(900, 1400))).decode() for _ in range(12))
    groups = tuple((hex24(rng), f"{word}-group") for word in ("engineering", "sales", "support", "finance",
                                                               "wifi-users", "vpn", "contractors"))
    return Pools(hex24(rng), tuple(users), admins, tuple(systems), applications, geoips, certificates, groups,
                 hex24(rng))
