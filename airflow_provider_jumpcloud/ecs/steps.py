"""Steps 8-56 of Elastic's ``jumpcloud`` pipeline on a parsed, pruned event, in one pass.

``@timestamp``, ``client.ip`` / ``source.ip``, categorization, the ``set``/``copy_from`` copies, the
``@version`` rename, ``event.outcome``, GeoIP, ``related.*`` and the removal of the copied
``jumpcloud.event.*`` fields. Every field is read once into a local; since the event is pruned, a missing
key and a null value are the same thing (``get`` returns None for both). Document keys are added in the
pipeline's order so the staged JSON is stable.

:func:`py_apply_steps` is the whole of it in Python. When the optional C extension is built, the common
shapes of events (valid timestamp and IPs, no ``jumpcloud_protect_device``, no GeoIP; nothing to report) are
done by its ``fast_steps``, which builds the same document and leaves any other event to the Python steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_jumpcloud.ecs.categorize import CATEGORIES
from airflow_provider_jumpcloud.ecs.dates import DateParseError, es_timestamp
from airflow_provider_jumpcloud.ecs.ip import parse_ip, to_address
from airflow_provider_jumpcloud.ecs.render import java_string, java_type

if TYPE_CHECKING:
    from airflow_provider_jumpcloud.ecs.geoip import GeoIP


#: The top-level fields the steps read, fetched at once (only the ``@version`` rename mutates the event).
_READ = (
    "client_ip", "src_ip", "event_type", "message", "system", "initiated_by", "username", "useragent",
    "service", "process_name", "success", "jumpcloud_protect_device",
)

_USER_AGENT = ("device", "name", "version", "os_name", "os_full", "os_version")
_INITIATED_BY = ("id", "email", "username")


class StepFailed(Exception):
    """A pipeline step failed: the document becomes an error document with this message."""


def _append_rendered(target: list[str], value: Any) -> None:
    """``append`` with ``allow_duplicates: false`` of a triple-brace Mustache rendering of ``value``."""
    for item in value if type(value) is list else (value,):
        text = java_string(item)
        if text not in target:
            target.append(text)


def ip_error(value: Any) -> str | None:
    """Validate like ``convert`` (type ip): None when the value is IP strings only, else the reason."""
    for item in value if type(value) is list else (value,):
        if type(item) is not str:
            return f"value of type [{java_type(item)}] cannot be converted to type [ip]"
        if parse_ip(item) is None:
            return f"'{item}' is not an IP string literal."
    return None


def _user_agent(useragent: dict[str, Any]) -> dict[str, Any]:
    """Steps 24-29: ``user_agent.device.name``, ``.name``, ``.version`` and ``.os.{name,full,version}``."""
    device, name, version, os_name, os_full, os_version = map(useragent.get, _USER_AGENT)
    agent: dict[str, Any] = {}
    if device is not None:
        agent["device"] = {"name": device}
    if name is not None:
        agent["name"] = name
    if version is not None:
        agent["version"] = version
    if os_name is not None or os_full is not None or os_version is not None:
        os: dict[str, Any] = {}
        if os_name is not None:
            os["name"] = os_name
        if os_full is not None:
            os["full"] = os_full
        if os_version is not None:
            os["version"] = os_version
        agent["os"] = os
    return agent


def _geo(geoip: GeoIP, doc: dict[str, Any], side: str, value: Any) -> None:
    """Steps 38-45: first address with a City (resp. ASN) record, as ``first_only: true`` does."""
    addresses = [to_address(parse_ip(item)) for item in (value if type(value) is list else (value,))]
    for address in addresses:
        geo = geoip.city(address)
        if geo:
            doc[side]["geo"] = geo
            break
    for address in addresses:
        asn = geoip.asn(address)
        if asn:
            doc[side]["as"] = asn
            break


def py_apply_steps(
    ev: dict[str, Any],
    doc: dict[str, Any],
    errors: list[str],
    event_id_value: Any,
    timestamp: Any,
    geoip: GeoIP | None,
    remove_duplicates: bool,
) -> None:
    """Steps 8-56 on a parsed, pruned event; raises :class:`StepFailed` where Elastic would fail.

    ``event_id_value`` and ``timestamp`` are ``jumpcloud.event.id`` / ``.timestamp`` (already read for the
    fingerprint); problems Elastic would fail on but we tolerate are appended to ``errors``.
    """
    (client_ip, src_ip, event_type, message, system, initiated_by, username, useragent, service, process_name,
     success, device) = map(ev.get, _READ)
    event: dict[str, Any] = {}
    doc["event"] = event
    keep_timestamp = False
    if timestamp is not None:  # step 8
        try:
            doc["@timestamp"] = es_timestamp(timestamp)
        except DateParseError as exc:
            keep_timestamp = True
            errors.append(f"[date] field [jumpcloud.event.timestamp]: {exc}; value kept under "
                          "jumpcloud.event.timestamp, @timestamp not set")
    # Steps 9-10, ``convert`` to ip; the common case, one valid address, takes one (cached) parse.
    client_ok = source_ok = False
    if client_ip is not None:
        reason = None if type(client_ip) is str and parse_ip(client_ip) is not None else ip_error(client_ip)
        if reason is None:
            client_ok = True
            doc["client"] = {"ip": client_ip}
        else:
            errors.append(f"[convert] field [jumpcloud.event.client_ip]: {reason} Value kept under "
                          "jumpcloud.event.client_ip, client.ip not set")
    source: dict[str, Any] | None = None
    if src_ip is not None:
        reason = None if type(src_ip) is str and parse_ip(src_ip) is not None else ip_error(src_ip)
        if reason is None:
            source_ok = True
            source = doc["source"] = {"ip": src_ip}
        else:
            errors.append(f"[convert] field [jumpcloud.event.src_ip]: {reason} Value kept under "
                          "jumpcloud.event.src_ip, source.ip not set")
    if type(event_type) is str:
        category = CATEGORIES.get(event_type)
        if category is not None:
            event["category"] = [category[0]]
            event["type"] = [category[1]]
    if event_id_value is not None:  # step 15
        event["id"] = event_id_value
    if message is not None:
        doc["message"] = message
    if "@version" in ev:  # step 17
        if "version" in ev:
            raise StepFailed("[rename] field [jumpcloud.event.version] already exists")
        ev["version"] = ev.pop("@version")

    # Steps 18-32: ``set`` with ``copy_from`` (values are shared, never mutated afterwards).
    system_id = system_hostname = None
    if type(system) is dict:
        system_id = system.get("id")
        system_hostname = system.get("hostname")
        if system_id is not None:
            doc["host"] = {"id": system_id} if system_hostname is None else {
                "id": system_id, "hostname": system_hostname}
        elif system_hostname is not None:
            doc["host"] = {"hostname": system_hostname}
    else:
        system = None
    user_id = user_email = user_name = None
    if type(initiated_by) is dict:
        user_id, user_email, user_name = map(initiated_by.get, _INITIATED_BY)
        user: dict[str, Any] = {}
        if user_id is not None:
            user["id"] = user_id
        if user_email is not None:
            user["email"] = user_email
        if user_name is not None:
            user["name"] = user_name
        if user:
            if source is None:
                doc["source"] = {"user": user}
            else:
                source["user"] = user
    else:
        initiated_by = None
    if username is not None:
        doc["user"] = {"name": username}
    if type(useragent) is dict:
        agent = _user_agent(useragent)
        if agent:
            doc["user_agent"] = agent
    if event_type is not None:
        event["action"] = event_type
    if service is not None:
        event["module"] = service
    if process_name is not None:
        doc["process"] = {"name": process_name}

    # steps 33-37: success, when a boolean, wins over sso_token_success
    if success is True:
        event["outcome"] = "success"
    elif success is False:
        event["outcome"] = "failure"
    else:
        sso = ev.get("sso_token_success")
        event["outcome"] = "success" if sso is True else "failure" if sso is False else "unknown"
    if geoip is not None:  # steps 38-45
        if source_ok:
            _geo(geoip, doc, "source", src_ip)
        if client_ok:
            _geo(geoip, doc, "client", client_ip)

    # Steps 46-54: related.ip from the protect device and source.ip, related.user from source.user.name;
    # the client-IP self-append is a no-op.
    related_ip: list[str] | None = None
    if device is not None:
        if type(device) is not dict:
            raise StepFailed(
                "[append] condition of related.ip: cannot read [ip] from "
                f"jumpcloud.event.jumpcloud_protect_device of type [{java_type(device)}]"
            )
        device_ip = device.get("ip")
        if device_ip is not None:
            related_ip = []
            _append_rendered(related_ip, device_ip)
    if source_ok:
        if related_ip is None:
            if type(src_ip) is str:
                related_ip = [src_ip]
            else:
                related_ip = []
                _append_rendered(related_ip, src_ip)
        else:
            _append_rendered(related_ip, src_ip)
    if related_ip or user_name is not None:
        related: dict[str, Any] = {}
        if related_ip:
            related["ip"] = related_ip
        if user_name is not None:
            if type(user_name) is str:
                related["user"] = [user_name]
            else:
                related_user: list[str] = []
                _append_rendered(related_user, user_name)
                related["user"] = related_user
        doc["related"] = related

    if remove_duplicates:  # step 56; a pruned event holds no nulls, so "not None" means "present"
        pop = ev.pop
        pop("version", None)
        if event_id_value is not None:
            del ev["id"]
        if message is not None:
            del ev["message"]
        if username is not None:
            del ev["username"]
        if useragent is not None:
            del ev["useragent"]
        if event_type is not None:
            del ev["event_type"]
        if service is not None:
            del ev["service"]
        if process_name is not None:
            del ev["process_name"]
        if timestamp is not None and not keep_timestamp:
            del ev["timestamp"]
        if client_ok:
            del ev["client_ip"]
        if source_ok:
            del ev["src_ip"]
        if system is not None:
            if system_id is not None:
                del system["id"]
            if system_hostname is not None:
                del system["hostname"]
        if initiated_by is not None:
            if user_id is not None:
                del initiated_by["id"]
            if user_email is not None:
                del initiated_by["email"]
            if user_name is not None:
                del initiated_by["username"]


def _apply_steps_fast(
    ev: dict[str, Any],
    doc: dict[str, Any],
    errors: list[str],
    event_id_value: Any,
    timestamp: Any,
    geoip: GeoIP | None,
    remove_duplicates: bool,
) -> None:
    """:func:`py_apply_steps` with the common shapes of events (and no GeoIP) done by the C fast path."""
    if geoip is not None or not fast_steps(ev, doc, event_id_value, timestamp, remove_duplicates, CATEGORIES, parse_ip):
        py_apply_steps(ev, doc, errors, event_id_value, timestamp, geoip, remove_duplicates)


try:  # the C fast path from _speedups.c (optional extension); same documents
    from airflow_provider_jumpcloud.ecs._speedups import fast_steps

    apply_steps = _apply_steps_fast
except ImportError:  # pragma: no cover - no compiler where the package was installed
    apply_steps = py_apply_steps
