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

from airflow_provider_jumpcloud.ecs.fingerprint import FingerprintError, event_id, fast_event_id, raw_id
from airflow_provider_jumpcloud.ecs.prune import prune_dict
from airflow_provider_jumpcloud.ecs.steps import StepFailed, apply_steps

if TYPE_CHECKING:
    from airflow_provider_jumpcloud.ecs.geoip import GeoIP

ECS_VERSION = "8.11.0"
PRESERVE_ORIGINAL_TAG = "preserve_original_event"
PRESERVE_DUPLICATES_TAG = "preserve_duplicate_custom_fields"
PIPELINE_ERROR = "pipeline_error"
MISSING_JSON_OBJECT = "missing json object in input document"

#: Status of a mapped document: clean, mapped with problems noted in error.message, or an error document.
MAPPED, MAPPED_WITH_ERRORS, ERROR_DOCUMENT = 0, 1, 2

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


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class EventMapper:
    """Map raw events to ECS documents with fixed tags and an optional :class:`GeoIP`.

    :param tags: tags of every document, as the Elastic agent adds them; ``preserve_original_event``
        keeps ``event.original``, ``preserve_duplicate_custom_fields`` keeps the copied ``jumpcloud.event``
        fields
    :param geoip: optional GeoIP lookups (see :mod:`airflow_provider_jumpcloud.ecs.geoip`)
    """

    __slots__ = ("geoip", "preserve_duplicates", "preserve_original", "remove_duplicates", "tags")

    def __init__(self, tags: Iterable[str] = (), geoip: GeoIP | None = None) -> None:
        if isinstance(tags, str):
            tags = (tags,)
        # Elastic's pruning script also walks ``tags``: empty strings are dropped.
        self.tags: tuple[str, ...] = tuple(t for t in tags if isinstance(t, str) and t)
        self.preserve_original = PRESERVE_ORIGINAL_TAG in self.tags
        self.preserve_duplicates = PRESERVE_DUPLICATES_TAG in self.tags
        self.remove_duplicates = not self.preserve_duplicates
        self.geoip = geoip

    def map(self, message: bytes | str) -> tuple[str, dict[str, Any], int]:
        """Return ``(_id, document, status)`` for one raw event; never raises."""
        raw = b""
        try:
            raw = message if type(message) is bytes else self._raw(message)
            doc: dict[str, Any] = {"ecs": {"version": ECS_VERSION}}  # step 1
            try:
                ev = _loads(raw)  # steps 2-3
            except _JSONDecodeError as exc:
                return self._unparsed(raw, doc, exc)
            # step 4 (pruning), then step 5: the input must be a non-empty JSON object
            if type(ev) is not dict or prune_dict(ev) or not ev:
                return self.error_document(raw, doc, None, [MISSING_JSON_OBJECT])
            doc["jumpcloud"] = {"event": ev}  # step 6
            event_id_value = ev.get("id")
            timestamp = ev.get("timestamp")
            try:
                doc_id = fast_event_id(event_id_value, timestamp) or event_id(event_id_value, timestamp)  # step 7
            except FingerprintError as exc:
                return self.error_document(raw, doc, None, [f"[fingerprint] fields [jumpcloud.event.id, "
                                                     f"jumpcloud.event.timestamp]: {exc}"])
            if doc_id is None:
                doc_id = raw_id(raw)
            errors: list[str] = []
            try:
                apply_steps(ev, doc, errors, event_id_value, timestamp, self.geoip, self.remove_duplicates)
            except StepFailed as exc:
                return self.error_document(raw, doc, doc_id, [*errors, str(exc)])
            if self.preserve_original:
                doc["event"]["original"] = raw.decode("utf-8")
            if self.tags:
                doc["tags"] = list(self.tags)
            if errors:
                doc["error"] = {"message": errors}
                return doc_id, doc, MAPPED_WITH_ERRORS
            return doc_id, doc, MAPPED
        except Exception as exc:  # the last guard: a document is always produced
            doc = {"ecs": {"version": ECS_VERSION}}
            return self.error_document(raw, doc, None, [f"[internal] {type(exc).__name__}: {exc}"])

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

    def _unparsed(self, raw: bytes, doc: dict[str, Any], exc: Exception) -> tuple[str, dict[str, Any], int]:
        """Error document for input that is not UTF-8 or not JSON (step 3 fails)."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return self.error_document(raw, doc, None, [
                f"[json] field [event.original] is not valid UTF-8 (byte {err.start}: {err.reason}); "
                "kept with U+FFFD replacement characters"
            ])
        if not text.strip(" \t\r\n"):
            return self.error_document(raw, doc, None, [MISSING_JSON_OBJECT], text)
        return self.error_document(raw, doc, None, [f"[json] field [event.original] is not valid JSON: {exc}"], text)

    def error_document(
        self,
        raw: bytes,
        doc: dict[str, Any],
        doc_id: str | None,
        messages: list[str],
        text: str | None = None,
    ) -> tuple[str, dict[str, Any], int]:
        """Return ``(_id, error document, ERROR_DOCUMENT)`` as Elastic's ``on_failure`` makes it.

        Sets ``event.original`` (``text``, else ``raw`` decoded with replacement characters),
        ``event.kind: pipeline_error``, tag ``preserve_original_event`` and ``error.message`` on ``doc``
        (the fields produced so far); without ``doc_id`` the ``_id`` is derived from ``raw``.
        """
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
