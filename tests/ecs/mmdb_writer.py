"""A minimal MaxMind DB (.mmdb) writer for tests: IPv6 tree, 24-bit records, the documented encoding.

Format (MaxMind DB spec 2.0): a binary search tree of ``node_count`` nodes, each two 24-bit big-endian
records (bit 0 = left); a record < node_count points at a node, == node_count means "no data", and larger
values point into the data section at ``record - node_count - 16``. Then 16 zero bytes, the data section,
and the metadata map after ``\\xab\\xcd\\xefMaxMind.com``. IPv4 networks live under ``::/96``.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from pathlib import Path
from typing import Any

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


class U16(int):
    """An unsigned 16-bit value (libmaxminddb checks metadata types)."""


class U64(int):
    """An unsigned 64-bit value."""


def _control(type_: int, size: int) -> bytes:
    if size < 29:
        head, extra = size, b""
    elif size < 285:
        head, extra = 29, bytes([size - 29])
    elif size < 65821:
        head, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        head, extra = 31, (size - 65821).to_bytes(3, "big")
    if type_ <= 7:
        return bytes([(type_ << 5) | head]) + extra
    return bytes([head, type_ - 7]) + extra


def _uint(type_: int, value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return _control(type_, len(raw)) + raw


def encode(value: Any) -> bytes:
    """Encode one value of the data section."""
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _control(4, len(value)) + value
    if isinstance(value, U16):
        return _uint(5, value)
    if isinstance(value, U64):
        return _uint(9, value)
    if isinstance(value, int):
        if value < 0:
            return _control(8, 4) + struct.pack(">i", value)
        return _uint(6, value) if value < 1 << 32 else _uint(9, value)
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(str(k)) + encode(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _bits(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    if network.version == 4:
        return int(network.network_address), 96 + network.prefixlen
    return int(network.network_address), network.prefixlen


def write_mmdb(
    path: Path,
    records: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, dict[str, Any]],
    *,
    database_type: str = "Test",
) -> Path:
    """Write ``{network: record}`` (non-overlapping networks) as an IPv6 MaxMind DB file."""
    data = bytearray()
    root: list[Any] = [None, None]
    for network, record in records.items():
        offset = len(data)
        data += encode(record)
        address, prefix = _bits(network)
        node = root
        for depth in range(prefix):
            bit = (address >> (127 - depth)) & 1
            if depth == prefix - 1:
                node[bit] = ("data", offset)
            else:
                if node[bit] is None:
                    node[bit] = [None, None]
                node = node[bit]
    order: list[list[Any]] = []
    queue = [root]
    while queue:
        node = queue.pop(0)
        order.append(node)
        queue.extend(child for child in node if isinstance(child, list))
    index = {id(n): i for i, n in enumerate(order)}
    count = len(order)

    def record(child: Any) -> int:
        if child is None:
            return count
        if isinstance(child, list):
            return index[id(child)]
        return count + 16 + child[1]

    tree = b"".join(record(n[0]).to_bytes(3, "big") + record(n[1]).to_bytes(3, "big") for n in order)
    metadata = {
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(int(time.time())),
        "database_type": database_type,
        "description": {"en": "test database"},
        "ip_version": U16(6),
        "languages": ["en"],
        "node_count": count,
        "record_size": U16(24),
    }
    path.write_bytes(tree + bytes(16) + bytes(data) + METADATA_MARKER + encode(metadata))
    return path
