"""Raw JumpCloud event -> ECS document, step by step like Elastic's ``jumpcloud`` ingest pipeline (1.22.0).

The steps and their order follow ``data_stream/events/elasticsearch/ingest_pipeline/default.yml``:
``ecs.version``; the text into ``event.original``; JSON parse; whole-document pruning of null / ``""`` /
empty containers; ``missing json object in input document`` unless an object; rename to
``jumpcloud.event``; MurmurHash3 fingerprint ``_id``; ``@timestamp``; ``client.ip`` / ``source.ip``;
categorization; field copies; ``@version`` rename; ``event.outcome``; GeoIP; ``related.*``; removal of the
copied ``jumpcloud.event.*`` fields unless tagged ``preserve_duplicate_custom_fields``. A failing step makes
an error document as Elastic's ``on_failure`` does: the fields produced so far, ``event.kind:
pipeline_error``, tag ``preserve_original_event`` and the reason in ``error.message``.

Deliberate differences from Elastic (see ``DIFFERENCES``): an invalid IP or an unparseable timestamp does
not turn the event into an error document; every document gets a deterministic ``_id``; input that is not
UTF-8 becomes an error document. Pure Python: nothing here imports Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_jumpcloud.ecs.categorize import categorize, outcome
from airflow_provider_jumpcloud.ecs.fingerprint import FingerprintError, event_id, raw_id
from airflow_provider_jumpcloud.ecs.ip import parse_ip, to_address
from airflow_provider_jumpcloud.ecs.render import java_string, java_type
from tests.ecs.reference.dates import DateParseError, es_timestamp
from tests.ecs.reference.prune import may_need_pruning, prune_dict

if TYPE_CHECKING:
    from airflow_provider_jumpcloud.ecs.geoip import GeoIP

ECS_VERSION = "8.11.0"
PRESERVE_ORIGINAL_TAG = "preserve_original_event"
PRESERVE_DUPLICATES_TAG = "preserve_duplicate_custom_fields"
PIPELINE_ERROR = "pipeline_error"
MISSING_JSON_OBJECT = "missing json object in input document"

#: Status of a mapped document: clean, mapped with problems noted in error.message, or an error document.
MAPPED, MAPPED_WITH_ERRORS, ERROR_DOCUMENT = 0, 1, 2

#: ``jumpcloud.event`` top-level keys removed unless tagged (step 56); nested ones are handled separately.
_REMOVED_TOP = ("version", "id", "message", "username", "useragent", "event_type", "service", "process_name")
_USER_AGENT = (
    ("device", "device"),
    ("name", "name"),
    ("version", "version"),
    ("os_name", "os"),
    ("os_full", "os"),
    ("os_version", "os"),
)

DIFFERENCES = (
    "Invalid client_ip/src_ip (or a non-string one): the event is still mapped, the value stays under "
    "jumpcloud.event even when duplicates are removed, and error.message explains it; Elastic makes the "
    "whole event a pipeline_error document.",
    "Unparseable timestamp: same treatment (no @timestamp, jumpcloud.event.timestamp kept, error.message); "
    "Elastic makes a pipeline_error document carrying the agent's read time as @timestamp.",
    "Every document has a deterministic _id: without id and timestamp (or when the input is not a JSON "
    "object) it is 'raw-' + MurmurHash3 of the original bytes; Elasticsearch would generate a random one.",
    "Input that is not valid UTF-8 becomes an error document; event.original holds it decoded with "
    "U+FFFD replacement characters.",
    "An empty input keeps event.original \"\" (Elastic's pruning would delete it).",
    "A list-valued source.ip / initiated_by.username is appended to related.* element by element, and a "
    "list-valued client.ip is not appended to itself (Elastic renders the list through Mustache).",
    "JSON is parsed by orjson: duplicate keys keep the last value (Elasticsearch rejects the event), "
    "comments and lone surrogate escapes are rejected (Elasticsearch accepts them), integers of 2**64 "
    "and more become floats (Elasticsearch keeps a BigInteger).",
)


class _StepFailed(Exception):
    """A pipeline step failed: the document becomes an error document with this message."""


def _append_rendered(target: list[str], value: Any) -> None:
    """``append`` with ``allow_duplicates: false`` of a triple-brace Mustache rendering of ``value``."""
    for item in value if type(value) is list else (value,):
        text = java_string(item)
        if text not in target:
            target.append(text)


def _convert_ip(value: Any) -> list[bytes] | str:
    """Validate like ``convert`` (type ip): packed addresses, or the reason the value is not an IP."""
    items = value if type(value) is list else (value,)
    packed = []
    for item in items:
        if type(item) is not str:
            return f"value of type [{java_type(item)}] cannot be converted to type [ip]"
        address = parse_ip(item)
        if address is None:
            return f"'{item}' is not an IP string literal."
        packed.append(address)
    return packed


class EventMapper:
    """Map raw events to ECS documents with fixed tags and an optional :class:`GeoIP`.

    :param tags: tags of every document, as the Elastic agent adds them; ``preserve_original_event``
        keeps ``event.original``, ``preserve_duplicate_custom_fields`` keeps the copied ``jumpcloud.event``
        fields
    :param geoip: optional GeoIP lookups (see :mod:`airflow_provider_jumpcloud.ecs.geoip`)
    """

    __slots__ = ("geoip", "preserve_duplicates", "preserve_original", "tags")

    def __init__(self, tags: Iterable[str] = (), geoip: GeoIP | None = None) -> None:
        if isinstance(tags, str):
            tags = (tags,)
        # Elastic's pruning script also walks ``tags``: empty strings are dropped.
        self.tags: tuple[str, ...] = tuple(t for t in tags if isinstance(t, str) and t)
        self.preserve_original = PRESERVE_ORIGINAL_TAG in self.tags
        self.preserve_duplicates = PRESERVE_DUPLICATES_TAG in self.tags
        self.geoip = geoip

    def map(self, message: bytes | str) -> tuple[str, dict[str, Any], int]:
        """Return ``(_id, document, status)`` for one raw event; never raises."""
        raw = b""
        try:
            raw = self._raw(message)
            return self._map(raw)
        except Exception as exc:  # the last guard: a document is always produced
            doc: dict[str, Any] = {"ecs": {"version": ECS_VERSION}}
            return self._failed(raw, doc, None, [f"[internal] {type(exc).__name__}: {exc}"])

    @staticmethod
    def _raw(message: Any) -> bytes:
        if type(message) is bytes:
            return message
        if isinstance(message, str):
            try:
                return message.encode("utf-8")
            except UnicodeEncodeError:
                return message.encode("utf-8", "surrogatepass")  # invalid UTF-8 -> error document
        if isinstance(message, bytearray | memoryview):
            return bytes(message)
        return str(message).encode("utf-8", "surrogatepass")

    def _map(self, raw: bytes) -> tuple[str, dict[str, Any], int]:
        doc: dict[str, Any] = {"ecs": {"version": ECS_VERSION}}  # step 1
        try:
            parsed = orjson.loads(raw)  # steps 2-3
        except orjson.JSONDecodeError as exc:
            return self._unparsed(raw, doc, exc)
        if type(parsed) is dict and may_need_pruning(raw):
            prune_dict(parsed)  # step 4
        if type(parsed) is not dict or not parsed:
            return self._failed(raw, doc, None, [MISSING_JSON_OBJECT])  # step 5
        ev: dict[str, Any] = parsed
        doc["jumpcloud"] = {"event": ev}  # step 6
        try:
            doc_id = event_id(ev.get("id"), ev.get("timestamp"))  # step 7
        except FingerprintError as exc:
            return self._failed(raw, doc, None, [f"[fingerprint] fields [jumpcloud.event.id, "
                                                 f"jumpcloud.event.timestamp]: {exc}"])
        if doc_id is None:
            doc_id = raw_id(raw)
        errors: list[str] = []
        try:
            self._fields(ev, doc, errors)
        except _StepFailed as exc:
            return self._failed(raw, doc, doc_id, [*errors, str(exc)])
        if self.preserve_original:
            doc["event"]["original"] = raw.decode("utf-8")
        if self.tags:
            doc["tags"] = list(self.tags)
        if errors:
            doc["error"] = {"message": errors}
            return doc_id, doc, MAPPED_WITH_ERRORS
        return doc_id, doc, MAPPED

    def _fields(self, ev: dict[str, Any], doc: dict[str, Any], errors: list[str]) -> None:
        """Steps 8-56 on a parsed, pruned event; raises :class:`_StepFailed` where Elastic would fail."""
        event: dict[str, Any] = {}
        doc["event"] = event
        keep_timestamp = keep_client_ip = keep_src_ip = False
        timestamp = ev.get("timestamp")
        if timestamp is not None:  # step 8
            try:
                doc["@timestamp"] = es_timestamp(timestamp)
            except DateParseError as exc:
                keep_timestamp = True
                errors.append(f"[date] field [jumpcloud.event.timestamp]: {exc}; value kept under "
                              "jumpcloud.event.timestamp, @timestamp not set")
        client_packed: list[bytes] = []
        source_packed: list[bytes] = []
        for key, side in (("client_ip", "client"), ("src_ip", "source")):  # steps 9-10
            value = ev.get(key)
            if value is None:
                continue
            result = _convert_ip(value)
            if type(result) is str:
                if key == "client_ip":
                    keep_client_ip = True
                else:
                    keep_src_ip = True
                errors.append(f"[convert] field [jumpcloud.event.{key}]: {result} Value kept under "
                              f"jumpcloud.event.{key}, {side}.ip not set")
                continue
            doc[side] = {"ip": value}
            if side == "client":
                client_packed = result  # type: ignore[assignment]
            else:
                source_packed = result  # type: ignore[assignment]
        category = categorize(ev.get("event_type"))  # steps 11-14
        if category is not None:
            event["category"], event["type"] = category
        value = ev.get("id")  # step 15
        if value is not None:
            event["id"] = value
        value = ev.get("message")  # step 16
        if value is not None:
            doc["message"] = value
        if "@version" in ev:  # step 17
            if "version" in ev:
                raise _StepFailed("[rename] field [jumpcloud.event.version] already exists")
            ev["version"] = ev.pop("@version")
        self._copies(ev, doc, event)  # steps 18-32
        event["outcome"] = outcome(ev)  # steps 33-37
        if self.geoip is not None:  # steps 38-45
            self._geo(doc, "source", source_packed)
            self._geo(doc, "client", client_packed)
        self._related(ev, doc)  # steps 46-54
        if not self.preserve_duplicates:  # step 56
            for key in _REMOVED_TOP:
                ev.pop(key, None)
            if not keep_timestamp:
                ev.pop("timestamp", None)
            if not keep_client_ip:
                ev.pop("client_ip", None)
            if not keep_src_ip:
                ev.pop("src_ip", None)
            system = ev.get("system")
            if type(system) is dict:
                system.pop("id", None)
                system.pop("hostname", None)
            initiated_by = ev.get("initiated_by")
            if type(initiated_by) is dict:
                initiated_by.pop("id", None)
                initiated_by.pop("email", None)
                initiated_by.pop("username", None)

    @staticmethod
    def _copies(ev: dict[str, Any], doc: dict[str, Any], event: dict[str, Any]) -> None:
        """Steps 18-32: ``set`` with ``copy_from`` (values are shared, never mutated afterwards)."""
        system = ev.get("system")
        if type(system) is dict:
            host = {k: system[k] for k in ("id", "hostname") if system.get(k) is not None}
            if host:
                doc["host"] = host
        initiated_by = ev.get("initiated_by")
        if type(initiated_by) is dict:
            user = {
                target: initiated_by[key]
                for key, target in (("id", "id"), ("email", "email"), ("username", "name"))
                if initiated_by.get(key) is not None
            }
            if user:
                doc.setdefault("source", {})["user"] = user
        value = ev.get("username")
        if value is not None:
            doc["user"] = {"name": value}
        useragent = ev.get("useragent")
        if type(useragent) is dict:
            agent: dict[str, Any] = {}
            for key, group in _USER_AGENT:
                value = useragent.get(key)
                if value is None:
                    continue
                if group == "device":
                    agent["device"] = {"name": value}
                elif group == "os":
                    agent.setdefault("os", {})[key[3:]] = value
                else:
                    agent[key] = value
            if agent:
                doc["user_agent"] = agent
        value = ev.get("event_type")
        if value is not None:
            event["action"] = value
        value = ev.get("service")
        if value is not None:
            event["module"] = value
        value = ev.get("process_name")
        if value is not None:
            doc["process"] = {"name": value}

    def _geo(self, doc: dict[str, Any], side: str, packed: list[bytes]) -> None:
        """Steps 38-45: first address with a City (resp. ASN) record, as ``first_only: true`` does."""
        geoip = self.geoip
        if not packed or geoip is None:
            return
        addresses = [to_address(p) for p in packed]
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

    @staticmethod
    def _related(ev: dict[str, Any], doc: dict[str, Any]) -> None:
        """Steps 46-54: ``related.ip`` from ``source.ip`` (and the top-level protect-device path),
        ``related.user`` from ``source.user.name``; the client-IP self-append is a no-op."""
        related_ip: list[str] = []
        related_user: list[str] = []
        device = ev.get("jumpcloud_protect_device")
        if device is not None:
            if type(device) is not dict:
                raise _StepFailed(
                    "[append] condition of related.ip: cannot read [ip] from "
                    f"jumpcloud.event.jumpcloud_protect_device of type [{java_type(device)}]"
                )
            if device.get("ip") is not None:
                _append_rendered(related_ip, device["ip"])
        source = doc.get("source")
        if source is not None:
            if "ip" in source:
                _append_rendered(related_ip, source["ip"])
            user = source.get("user")
            if user is not None and user.get("name") is not None:
                _append_rendered(related_user, user["name"])
        if related_ip or related_user:
            related: dict[str, Any] = {}
            if related_ip:
                related["ip"] = related_ip
            if related_user:
                related["user"] = related_user
            doc["related"] = related

    def _unparsed(self, raw: bytes, doc: dict[str, Any], exc: Exception) -> tuple[str, dict[str, Any], int]:
        """Error document for input that is not UTF-8 or not JSON (step 3 fails)."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return self._failed(raw, doc, None, [
                f"[json] field [event.original] is not valid UTF-8 (byte {err.start}: {err.reason}); "
                "kept with U+FFFD replacement characters"
            ])
        if not text.strip(" \t\r\n"):
            return self._failed(raw, doc, None, [MISSING_JSON_OBJECT], text)
        return self._failed(raw, doc, None, [f"[json] field [event.original] is not valid JSON: {exc}"], text)

    def _failed(
        self,
        raw: bytes,
        doc: dict[str, Any],
        doc_id: str | None,
        messages: list[str],
        text: str | None = None,
    ) -> tuple[str, dict[str, Any], int]:
        """Elastic's ``on_failure``: ``event.kind``, tag ``preserve_original_event``, ``error.message``."""
        event = doc.get("event")
        if type(event) is not dict:
            event = doc["event"] = {}
        event["original"] = text if text is not None else raw.decode("utf-8", "replace")
        event["kind"] = PIPELINE_ERROR
        tags = list(self.tags)
        if PRESERVE_ORIGINAL_TAG not in tags:
            tags.append(PRESERVE_ORIGINAL_TAG)
        doc["tags"] = tags
        doc["error"] = {"message": messages}
        return doc_id if doc_id is not None else raw_id(raw), doc, ERROR_DOCUMENT


def map_event(
    message: bytes | str, *, tags: Iterable[str] = (), geoip: GeoIP | None = None
) -> tuple[str, dict[str, Any]]:
    """Map one raw JumpCloud event (JSON text) to ``(document_id, ecs_document)``; never raises."""
    doc_id, doc, _ = EventMapper(tags, geoip).map(message)
    return doc_id, doc
