"""Document ``_id``: Elasticsearch's ``fingerprint`` processor with ``method: MurmurHash3``, bit for bit.

Encoding (from ``FingerprintProcessor`` in ``modules/ingest-common`` of elastic/elasticsearch): the field
names are sorted, missing fields are skipped (``ignore_missing``), no salt. Values are walked depth first;
every scalar is fed as one ``0x00`` byte followed by its bytes:

* string: UTF-8; boolean: ``0x01`` (true) or ``0x02`` (false); null: nothing;
* integer: little-endian two's complement, 4 bytes when it fits a Java ``int`` and 8 bytes when it fits a
  ``long`` (Jackson parses JSON integers to ``Integer`` or ``Long``); larger integers are ``BigInteger``,
  which the processor rejects (``cannot convert object of type [java.math.BigInteger] to bytes``);
* floating point number: the 8 little-endian bytes of the IEEE 754 double;
* list: its elements in order; map: its entries sorted by key (Java ``String`` order, i.e. UTF-16 code
  units), each entry fed as ``0x00`` + the UTF-8 key, then its value.

The hash is MurmurHash3 x64 128-bit with seed 0; the digest is ``h1`` then ``h2``, each big-endian, and the
``_id`` is its standard Base64 text (24 characters). Known answer: ``foo="foo", bar="bar"`` hashes
``b"\\x00bar\\x00foo"`` to ``yjfaOoy2UQ3EHZRAzFK9sw==``.

Documents without either field get no ``_id`` from Elastic (Elasticsearch generates a random one). Loading
must be idempotent here, so :func:`raw_id` derives one from the original bytes instead, with a ``raw-``
prefix that no fingerprint can have.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Mapping
from typing import Any

import mmh3

_DELIMITER = b"\x00"
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_pack_i = struct.Struct("<i").pack
_pack_q = struct.Struct("<q").pack
_pack_d = struct.Struct("<d").pack
_pack_h1h2 = struct.Struct(">QQ").pack
_b2a_base64 = binascii.b2a_base64
_unpack_le = struct.Struct("<QQ").unpack


def _x64_128_compat(data: bytes, seed: int) -> tuple[int, int]:
    """``(h1, h2)`` with the mmh3 4.x API (``hash_bytes`` gives h1 then h2, each little-endian)."""
    return _unpack_le(mmh3.hash_bytes(data, seed, True))


# (h1, h2) of MurmurHash3 x64 128 as unsigned 64-bit integers (mmh3 >= 5 has it in C).
_x64_128 = getattr(mmh3, "mmh3_x64_128_utupledigest", _x64_128_compat)
RAW_ID_PREFIX = "raw-"


class FingerprintError(ValueError):
    """A value the fingerprint processor cannot convert to bytes."""


def _java_key(key: str) -> bytes:
    """Sort key reproducing Java's ``String.compareTo`` (UTF-16 code unit order)."""
    return key.encode("utf-16-be", "surrogatepass")


def _feed(value: Any, out: list[bytes]) -> None:
    t = type(value)
    if t is str:
        out.append(_DELIMITER)
        out.append(value.encode("utf-8", "surrogatepass"))
    elif t is bool:
        out.append(b"\x00\x01" if value else b"\x00\x02")
    elif t is int:
        out.append(_DELIMITER)
        if _INT32_MIN <= value <= _INT32_MAX:
            out.append(_pack_i(value))
        elif _INT64_MIN <= value <= _INT64_MAX:
            out.append(_pack_q(value))
        else:
            raise FingerprintError("cannot convert object of type [java.math.BigInteger] to bytes")
    elif t is float:
        out.append(_DELIMITER)
        out.append(_pack_d(value))
    elif value is None:
        out.append(_DELIMITER)
    elif t is list or t is tuple:
        for item in value:
            _feed(item, out)
    elif isinstance(value, Mapping):
        for key in sorted(value, key=_java_key):
            out.append(_DELIMITER)
            out.append(str(key).encode("utf-8", "surrogatepass"))
            _feed(value[key], out)
    else:
        raise FingerprintError(f"cannot convert object of type [{type(value).__name__}] to bytes")


def murmur3_base64(data: bytes) -> str:
    """MurmurHash3 x64 128 (seed 0) of ``data`` as Elasticsearch prints it: h1, h2 big-endian, Base64."""
    return _b2a_base64(_pack_h1h2(*_x64_128(data, 0)), newline=False).decode("ascii")


def fingerprint_bytes(fields: Mapping[str, Any]) -> bytes:
    """Return the byte stream the processor hashes for ``{field name: value}`` (None values are skipped)."""
    out: list[bytes] = []
    for name in sorted(fields, key=_java_key):
        value = fields[name]
        if value is not None:
            _feed(value, out)
    return b"".join(out)


def fingerprint(fields: Mapping[str, Any]) -> str | None:
    """Return the ``_id`` the processor sets for these fields, or None when all of them are missing."""
    if all(v is None for v in fields.values()):
        return None
    return murmur3_base64(fingerprint_bytes(fields))


def py_fast_event_id(event_id_value: Any, timestamp: Any) -> str | None:
    """:func:`event_id` when both fields are strings, else None (pure Python; the C twin may also say None)."""
    # "jumpcloud.event.id" < "jumpcloud.event.timestamp", so id comes first.
    if type(event_id_value) is str and type(timestamp) is str:
        data = f"\x00{event_id_value}\x00{timestamp}".encode()
        return _b2a_base64(_pack_h1h2(*_x64_128(data, 0)), newline=False).decode("ascii")
    return None


def event_id(event_id_value: Any, timestamp: Any) -> str | None:
    """``_id`` of a JumpCloud event from ``jumpcloud.event.id`` and ``jumpcloud.event.timestamp``.

    The mapper tries ``fast_event_id`` (the C twin of :func:`py_fast_event_id`, when built) first.
    """
    return py_fast_event_id(event_id_value, timestamp) or fingerprint(
        {"jumpcloud.event.id": event_id_value, "jumpcloud.event.timestamp": timestamp}
    )


def raw_id(original: bytes) -> str:
    """Deterministic ``_id`` for a document without id and timestamp: ``raw-`` + MurmurHash3 of its bytes."""
    return RAW_ID_PREFIX + murmur3_base64(original)


try:  # the string case in C, from _speedups.c (optional extension, hashing with mmh3); same results or None
    from airflow_provider_jumpcloud.ecs._speedups import fast_event_id
except ImportError:  # pragma: no cover - no compiler where the package was installed
    fast_event_id = py_fast_event_id
