"""Per-service event builders: template dicts plus small random variation, shaped like the real samples.

Each builder takes an :class:`Ctx` (the bucket's PRNG, reference pools, the event's second) and returns
the event dict without ``id``/``timestamp``/``service``, which :mod:`.events` adds.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_jumpcloud.emulator.pools import (
    PLACES,
    SOFTWARE,
    USERAGENTS,
    Person,
    Pools,
    hex24,
    uuid_text,
)

Event = dict[str, Any]


@dataclass
class Ctx:
    """What a builder needs: the PRNG, the pools and the event's whole second."""

    rng: random.Random
    pools: Pools
    second: int

    def pick(self, items: tuple[Any, ...] | list[Any]) -> Any:
        """Return one element, uniformly."""
        return items[int(self.rng.random() * len(items))]

    def chance(self, p: float) -> bool:
        """Return True with probability ``p``."""
        return self.rng.random() < p

    def place(self) -> tuple[int, dict[str, Any], str]:
        """Return (place index, geoip dict, client IP); rarely an IPv6 address or an empty string."""
        i = int(self.rng.random() * len(PLACES))
        r = self.rng.random()
        if r < 0.004:
            ip = ""
        elif r < 0.04:
            ip = f"2a01:e0a:{int(self.rng.random() * 65535):x}:{int(self.rng.random() * 65535):x}::1"
        else:
            a, b = PLACES[i][7]
            ip = f"{a}.{b}.{int(self.rng.random() * 256)}.{1 + int(self.rng.random() * 254)}"
        return i, self.pools.geoips[i], ip

    def common(self, event_type: str, initiated_by: dict[str, Any], *, ua: bool = True) -> Event:
        """Return the fields most events share (client IP, geoip, initiator, user agent, org)."""
        _, geoip, ip = self.place()
        event: Event = {
            "event_type": event_type,
            "organization": self.pools.organization,
            "@version": "1",
            "client_ip": ip,
            "geoip": geoip,
            "initiated_by": initiated_by,
        }
        if ua:
            event["useragent"] = self.pick(USERAGENTS)
        return event


def _user_ref(p: Person) -> dict[str, Any]:
    return {"id": p.id, "type": "user", "username": p.username}


def _admin_ref(p: Person, source: str | None = None) -> dict[str, Any]:
    ref = {"id": p.id, "type": "admin", "email": p.email}
    if source:
        ref["source"] = source
    return ref


# -- directory -------------------------------------------------------------------------------------
def admin_login(c: Ctx) -> Event:
    """Build an ``admin_login_attempt``."""
    admin = c.pick(c.pools.admins)
    ok = c.chance(0.9)
    e = c.common("admin_login_attempt", _admin_ref(admin))
    e.update(resource={"id": admin.id, "type": "admin", "email": admin.email}, success=ok, mfa=c.chance(0.7),
             provider=None, auth_method="password")
    if not ok:
        e["error_message"] = c.pick(("invalid credentials", "mfa required", "account locked"))
    return e


def user_login(c: Ctx) -> Event:
    """Build a ``user_login_attempt``."""
    user = c.pick(c.pools.users)
    ok = c.chance(0.93)
    e = c.common("user_login_attempt", _user_ref(user))
    e.update(resource={"id": user.id, "type": "user", "username": user.username}, success=ok,
             mfa=c.chance(0.5), mfa_meta={"type": c.pick(("totp", "webauthn", "push", "none"))},
             auth_method=c.pick(("password", "password", "session")), provider="")
    e["error_message"] = "" if ok else c.pick(("invalid credentials", "user locked out"))
    return e


def _change_value(c: Ctx) -> Any:
    """Return a ``changes[].to`` value: a string, a boolean, an object, a list or null."""
    r = c.rng.random()
    if r < 0.45:
        return c.pick(("Sales", "Marketing", "Engineering", "Paris", "France", "ACTIVATED", "SUSPENDED"))
    if r < 0.7:
        return c.chance(0.5)
    if r < 0.85:
        return {"name": "Division", "id": hex24(c.rng), "value": c.pick(("Sales", "R&D", "Legal"))}
    if r < 0.97:
        return [{"country": "FR", "locality": c.pick(("Paris", "Lyon", "")), "postalCode": "", "type": "work",
                 "id": hex24(c.rng), "_id": hex24(c.rng)}]
    return None


def user_update(c: Ctx) -> Event:
    """Build a ``user_update`` with a ``changes`` list (SCIM- or console-initiated)."""
    user = c.pick(c.pools.users)
    scim = c.chance(0.4)
    e = c.common("user_update", _admin_ref(c.pick(c.pools.admins), "scim" if scim else None))
    fields = ("company", "location", "department", "attributes", "addresses", "suspended", "state",
              "jobTitle")
    changes = []
    for name in sorted({c.pick(fields) for _ in range(1 + int(c.rng.random() * 3))}):
        change: dict[str, Any] = {"field": name, "to": _change_value(c)}
        if c.chance(0.8):
            change["from"] = _change_value(c)
        changes.append(change)
    e.update(resource={"id": user.id, "type": "user", "username": user.username}, changes=changes,
             auth_method="api key" if scim else "session", success=True, provider=None)
    if scim:
        e.update(correlation={}, message_chain={})
    return e


def association_change(c: Ctx) -> Event:
    """Build an ``association_change`` between a system or group and a user."""
    user, system = c.pick(c.pools.users), c.pick(c.pools.systems)
    source = {"name": system.hostname, "type": "system", "object_id": system.id}
    if c.chance(0.3):
        gid, gname = c.pick(c.pools.groups)
        source = {"name": gname, "type": "user_group", "object_id": gid}
    e = c.common("association_change", _admin_ref(c.pick(c.pools.admins)))
    e.update(association={"op": c.pick(("add", "remove")), "action_source": c.pick(("manual", "bulk", "api")),
                          "connection": {"from": source, "to": {"name": user.username, "type": "user",
                                                                "object_id": user.id}},
                          "attributes": None},
             auth_method="session", success=True, provider=None)
    return e


def user_create(c: Ctx) -> Event:
    """Build a ``user_create``."""
    user = c.pick(c.pools.users)
    e = c.common("user_create", _admin_ref(c.pick(c.pools.admins), c.pick(("scim", None, None))))
    e.update(resource={"id": user.id, "type": "user", "username": user.username},
             changes=[{"field": "username", "to": user.username}, {"field": "email", "to": user.email},
                      {"field": "activated", "to": False}, {"field": "attributes", "to": []}],
             auth_method="api key", success=True, provider=None)
    return e


def organization_update(c: Ctx) -> Event:
    """Build an ``organization_update`` whose changes hold nested objects."""
    e = c.common("organization_update", _admin_ref(c.pick(c.pools.admins)))
    policy = {"minLength": c.pick((8, 10, 12)), "needsSymbolic": c.chance(0.5), "maxLoginAttempts": 6,
              "enableMaxLoginAttempts": True, "effectiveDate": "2025-06-22T14:27:14.338Z"}
    e.update(resource={"id": c.pools.organization, "type": "organization", "displayName": "Example Corp"},
             changes=[{"field": "settings.passwordPolicy", "from": dict(policy, minLength=8), "to": policy},
                      {"field": "settings.userPortal",
                       "to": {"idleSessionDurationMinutes": c.pick((30, 60))}},
                      {"field": "logoUrl", "to": None}],
             auth_method="session", success=True, provider=None)
    return e


def object_change(c: Ctx) -> Event:
    """Build one of the simpler directory object events (groups, systems, commands, policies, users)."""
    kind = c.pick(("group_update", "system_update", "command_run", "policy_update", "user_lockout",
                   "user_password_change", "user_suspended", "application_update", "user_delete"))
    e = c.common(kind, _admin_ref(c.pick(c.pools.admins)))
    if kind == "group_update":
        gid, gname = c.pick(c.pools.groups)
        e["resource"] = {"id": gid, "type": "user_group", "name": gname}
        e["changes"] = [{"field": "description", "from": "", "to": f"{gname} members"}]
    elif kind == "system_update":
        s = c.pick(c.pools.systems)
        e["resource"] = {"id": s.id, "type": "system", "hostname": s.hostname}
        e["changes"] = [{"field": "allowSshRootLogin", "from": False, "to": c.chance(0.5)}]
    elif kind in ("command_run", "policy_update", "application_update"):
        e["resource"] = {"id": hex24(c.rng), "type": kind.split("_")[0],
                         "name": c.pick(("Install Chrome", "Disk encryption", "Rotate logs", "Zoom"))}
    else:
        u = c.pick(c.pools.users)
        e["resource"] = {"id": u.id, "type": "user", "username": u.username, "email": u.email}
    e.update(auth_method=c.pick(("session", "api key")), success=c.chance(0.97), provider=None)
    return e


# -- sso, radius, systems, ldap ----------------------------------------------------------------------
def sso_auth(c: Ctx) -> Event:
    """Build an ``sso_auth`` with ``sso_token_success`` and an ``auth_context``."""
    user, system = c.pick(c.pools.users), c.pick(c.pools.systems)
    ok = c.chance(0.88)
    e = c.common("sso_auth", _user_ref(user))
    methods: dict[str, Any] = {}
    if c.chance(0.6):
        methods["password"] = {"success": True}
        if c.chance(0.5):
            methods[c.pick(("totp", "webauthn", "jumpcloud_protect", "duo"))] = {"success": ok}
    ctx: dict[str, Any] = {"system": {"id": system.id, "hostname": system.hostname,
                                      "displayName": system.display_name, "os": system.os,
                                      "version": system.version},
                           "auth_methods": methods}
    if c.chance(0.7):
        ctx["policies_applied"] = [{"id": "", "name": "Global Policy",
                                    "metadata": {"action": "ALLOW", "resource_type": "APPLICATION"}}]
    e.update(application=c.pick(c.pools.applications), auth_context=ctx, idp_initiated=c.chance(0.3),
             sso_token_success=ok, mfa=bool(methods.keys() - {"password"}), provider="",
             error_message="" if ok else c.pick(("not authorized", "application unreachable", "")))
    if c.chance(0.2):
        e["success"] = None
    if c.chance(0.01):
        e["jc_initiated_by_email"] = user.email  # seen in the wild, not in the exported-fields table
    return e


def radius_auth(c: Ctx) -> Event:
    """Build a ``radius_auth_attempt`` (upper-case UUID id, whole-second timestamp, ``outer``)."""
    user = c.pick(c.pools.users)
    ok = c.chance(0.85)
    eap = c.chance(0.8)
    e = c.common("radius_auth_attempt", {"type": "user", "username": user.username}, ua=False)
    e.update(username=user.username, success=ok, mfa=False, mfa_meta={"type": c.pick(("", "none"))},
             auth_type=c.pick(("eap", "EAP")) if eap else "pap", eap_type="MSCHAPv2" if eap else None,
             nas_mfa_state=c.pick(("DISABLED", "")),
             outer={"eap_type": "PEAP" if eap else None, "username": user.username,
                    "error_message": None if ok else "eap_peap: The users session was previously rejected"},
             auth_meta={"auth_idp": c.pick(("JUMPCLOUD", "")), "userid_type": "USERNAME",
                        "user_cert_enabled": False, "device_cert_enabled": False,
                        "user_password_enabled": True},
             error_message=None if ok else "mschap: MS-CHAP2-Response is incorrect")
    return e


def system_event(c: Ctx) -> Event:
    """Build a systems event (mostly ``login_attempt``) with ``system``, ``src_ip``, ``system_timestamp``."""
    system, user = c.pick(c.pools.systems), c.pick(c.pools.users)
    kind = c.pick(("login_attempt",) * 7 + ("user_password_change", "remote_session_start", "user_lockout"))
    _, geoip, ip = c.place()
    ok = c.chance(0.9)
    offset = c.pick((0, 1, -5, 9, 5.5))
    local = c.second + int(offset * 3600)
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(int(abs(offset) * 60), 60)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(local)) + f"{sign}{hours:02d}:{minutes:02d}"
    e: Event = {
        "event_type": kind, "organization": c.pools.organization, "@version": "1",
        "initiated_by": {"type": "systemuser", "username": user.username.split(".")[0]},
        "system": {"id": system.id, "hostname": system.hostname, "displayName": system.display_name},
        "system_timestamp": stamp, "username": user.username.split(".")[0], "success": ok,
        "src_ip": ip, "geoip": geoip, "client_ip": ip if c.chance(0.5) else "",
    }
    if system.os == "Windows":
        e.update(process_name="winlogon.exe", windows_meta={"elevated": c.chance(0.2), "logon_type": 2})
    else:
        e["process_name"] = "loginwindow" if system.os == "Mac OS X" else "sshd"
    e["message"] = ("Accepted password" if ok else "Failed password") + f" for {e['username']}"
    return e


def ldap_event(c: Ctx) -> Event:
    """Build an ``ldap_bind`` or ``ldap_search``."""
    user = c.pick(c.pools.users)
    org = c.pools.organization
    dn = f"uid={user.username},ou=Users,o={org},dc=jumpcloud,dc=com"
    e = c.common("ldap_bind" if c.chance(0.6) else "ldap_search", {"type": "user", "username": user.username},
                 ua=False)
    ok = c.chance(0.95)
    e.update(connection_id=str(int(c.rng.random() * 10**6)), operation_number=int(c.rng.random() * 20),
             dn=dn, username=user.username, auth_method="simple", mech="", start_tls=c.chance(0.5),
             tls_established=c.chance(0.9), error_code=0 if ok else 49, success=ok)
    if e["event_type"] == "ldap_search":
        e.update(base=f"ou=Users,o={org},dc=jumpcloud,dc=com", scope=c.pick((0, 1, 2)), deref=0,
                 filter=f"(&(objectClass=inetOrgPerson)(uid={user.username}))", attr="cn,mail,memberOf",
                 number_of_results=int(c.rng.random() * 3))
    return e


# -- mdm, software, password manager, alerts ------------------------------------------------------
def mdm_event(c: Ctx) -> Event:
    """Build an ``mdm_command_result``; ProfileList results carry several kB of base64 certificates."""
    system = c.pick(c.pools.systems)
    kind = c.pick(("ProfileList", "InstallProfile", "DeviceInformation", "InstallProfile"))
    e: Event = {"event_type": "mdm_command_result", "organization": c.pools.organization, "@version": "1",
                "command_uuid": uuid_text(c.rng), "mdm_device_id": system.mdm_device_id,
                "mdm_device_manager_id": c.pools.mdm_manager_id, "mdm_type": "apple", "request_type": kind,
                "status": c.pick(("Acknowledged",) * 8 + ("Error", "NotNow")), "error_chain": None,
                "initiated_by": {"type": "system"}}
    if kind == "ProfileList":
        profiles = []
        for n in range(2 + int(c.rng.random() * 5)):
            certs = [c.pick(c.pools.certificates) for _ in range(1 + int(c.rng.random() * 3))]
            profiles.append({
                "payload_identifier": f"com.jumpcloud.profile.{n}", "payload_display_name": f"Profile {n}",
                "payload_uuid": uuid_text(c.rng, upper=True), "payload_version": 1, "is_managed": True,
                "is_encrypted": False, "has_removal_passcode": False, "signer_certificates": certs,
                "payload_content": None if c.chance(0.1) else [{"payload_type": "com.apple.security.pkcs1",
                                                                "payload_version": 1}],
            })
        e.update(command={"request_type": kind}, profile_list=profiles)
    elif kind == "InstallProfile":
        body = ("<plist><dict><key>ExtensionInstallForcelist</key>"
                f"<string>{hex24(c.rng)}</string></dict></plist>")
        e["command"] = {"request_type": kind, "payload": base64.b64encode(body.encode() * 8).decode()}
    else:
        e.update(command={"request_type": kind, "queries": ["DeviceName", "OSVersion"]},
                 query_responses={"device_name": system.hostname, "os_version": system.version,
                                  "model_name": "MacBook Pro", "is_supervised": c.chance(0.5)})
    return e


def software_event(c: Ctx) -> Event:
    """Build a ``software_add``/``software_remove``/``software_change``."""
    system = c.pick(c.pools.systems)
    name, version, path, publisher = c.pick(SOFTWARE)
    e: Event = {"event_type": c.pick(("software_add", "software_remove", "software_change")),
                "organization": c.pools.organization, "@version": "1", "initiated_by": {"type": "system"},
                "system": {"id": system.id, "type": "system"},
                "application": {"name": name, "version": version, "path": path, "publisher": publisher,
                                "uninstall_string": "" if c.chance(0.5) else f"{path} --uninstall"}}
    if e["event_type"] == "software_change":
        e["changes"] = [{"field": "version", "from": "1.0.0", "to": version}]
    return e


def password_manager_event(c: Ctx) -> Event:
    """Build a ``passwordmanager_*`` event (note: ``user_agent`` rather than ``useragent``)."""
    user = c.pick(c.pools.users)
    kind = c.pick(("passwordmanager_item_reveal", "passwordmanager_item_copy", "passwordmanager_app_unlock",
                   "passwordmanager_item_autofill", "passwordmanager_user_login"))
    e = c.common(kind, _user_ref(user), ua=False)
    e.update(user_agent=c.pick(USERAGENTS), success=c.chance(0.97),
             resource={"id": uuid_text(c.rng), "type": "item"})
    return e


def alert_event(c: Ctx) -> Event:
    """Build an alerts event."""
    e = c.common(c.pick(("alert_created", "alert_status_updated", "rule_created")),
                 {"type": "system", "id": ""}, ua=False)
    name = c.pick(("Impossible travel", "MFA fatigue"))
    e.update(resource={"id": hex24(c.rng), "type": "alert", "name": name},
             status=c.pick(("open", "acknowledged", "resolved")), provider=None)
    return e


Builder = Callable[[Ctx], Event]
#: service -> (timestamp style, id style, [(weight, builder)]); styles are read by :mod:`.events`.
SERVICE_BUILDERS: dict[str, tuple[str, str, list[tuple[float, Builder]]]] = {
    "directory": ("ms", "hex", [(0.12, admin_login), (0.24, user_login), (0.16, user_update),
                                (0.12, association_change), (0.05, user_create), (0.02, organization_update),
                                (0.29, object_change)]),
    "sso": ("ns", "hex", [(1.0, sso_auth)]),
    "radius": ("s", "UUID", [(1.0, radius_auth)]),
    "systems": ("ns", "uuid", [(1.0, system_event)]),
    "ldap": ("us", "hex", [(1.0, ldap_event)]),
    "mdm": ("ns", "hex", [(1.0, mdm_event)]),
    "software": ("ms", "hex", [(1.0, software_event)]),
    "password_manager": ("ms", "uuid", [(1.0, password_manager_event)]),
    "alerts": ("us", "hex", [(1.0, alert_event)]),
}
