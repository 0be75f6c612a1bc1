"""IP literal validation with the rules of Elasticsearch's ``InetAddresses`` (convert processor, type ``ip``).

Elasticsearch's ``convert`` processor with ``type: ip`` only *validates* the text and keeps the original
string, so the ECS ``client.ip`` / ``source.ip`` values are the JumpCloud strings unchanged (the ``ip`` field
type normalises only in the index, not in ``_source``). This module reproduces the accept/reject rules of
``org.elasticsearch.common.network.InetAddresses`` (Elasticsearch 9.x): ASCII only, an optional non-empty
scope id after ``%`` is ignored, dotted quads without leading zeros, IPv6 with at most one ``::`` and an
optional trailing dotted quad. It returns the packed address, which the GeoIP lookup uses.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

_INT32 = 1 << 32
_HEX = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}
_DIGITS = {c: int(c) for c in "0123456789"}


def _wrap_int32(value: int) -> int:
    """Reproduce Java ``int`` overflow of the octet/hextet accumulators."""
    value %= _INT32
    return value - _INT32 if value >= 1 << 31 else value


def _v4(text: str) -> bytes | None:
    out = bytearray()
    digits = 0
    current = 0
    for c in text:
        if c == ".":
            if len(out) >= 3 or digits == 0 or current > 255:
                return None
            out.append(current & 0xFF)
            current = 0
            digits = 0
        elif c in _DIGITS:
            if digits != 0 and current == 0:
                return None  # leading zero
            current = _wrap_int32(current * 10 + _DIGITS[c])
            digits += 1
        else:
            return None
    if len(out) != 3 or digits == 0 or current > 255:
        return None
    out.append(current & 0xFF)
    return bytes(out)


def _v6(text: str) -> bytes | None:
    n = len(text)
    if n < 2:
        return None
    if text[0] == ":" and text[1] != ":":
        return None
    if text[-1] == ":" and text[-2] != ":":
        return None
    out = bytearray()
    compressed = -1
    index = 0
    start = 0
    current = 0
    for i, c in enumerate(text):
        if c == ":":
            if start == i:
                if compressed >= 0 and i != 1:
                    return None  # a second "::"
                compressed = index
            else:
                if len(out) >= 16 or current > 0xFFFF:
                    return None
                out += (current & 0xFFFF).to_bytes(2, "big")
                current = 0
                index += 1
            start = i + 1
        elif c in _HEX:
            current = _wrap_int32(current * 16 + _HEX[c])
        else:
            return None
    if start < n:
        if len(out) >= 16 or current > 0xFFFF:
            return None
        out += (current & 0xFFFF).to_bytes(2, "big")
        index += 1
    if compressed >= 0:
        if index >= 8:
            return None
        cut = 2 * compressed
        return bytes(out[:cut]) + bytes(2 * (8 - index)) + bytes(out[cut:])
    if index != 8:
        return None
    return bytes(out)


@lru_cache(maxsize=8192)
def parse_ip(text: str) -> bytes | None:
    """Return the packed address (4 or 16 bytes) when Elasticsearch accepts ``text`` as an IP, else None."""
    try:
        # Whatever glibc accepts as a dotted quad (4 decimal parts, no leading zeros, <= 255), so does ES.
        return socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        pass
    pct = text.find("%")
    if pct >= 0:
        if pct == len(text) - 1:
            return None  # empty scope id
        text = text[:pct]
    if not text.isascii():
        return None
    last_colon = text.rfind(":")
    first_dot = text.find(".")
    if last_colon >= 0:
        if first_dot >= 0:
            if first_dot < last_colon:
                return None  # colons must not appear after dots
            quad = _v4(text[last_colon + 1 :])
            if quad is None:
                return None
            text = f"{text[: last_colon + 1]}{quad[0]:02x}{quad[1]:02x}:{quad[2]:02x}{quad[3]:02x}"
        return _v6(text)
    if first_dot >= 0:
        return _v4(text)
    return None


def is_valid_ip(value: object) -> bool:
    """Return True when ``value`` is a string Elasticsearch's ``ip`` conversion accepts."""
    return type(value) is str and parse_ip(value) is not None


def to_address(packed: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return the address Java would look up: IPv4-mapped IPv6 becomes IPv4 (``InetAddress.getByAddress``)."""
    if len(packed) == 4:
        return ipaddress.IPv4Address(packed)
    address = ipaddress.IPv6Address(packed)
    mapped = address.ipv4_mapped
    return mapped if mapped is not None else address
