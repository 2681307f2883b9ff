"""An independent FastCGI encoder and parser for the tests, written byte by byte from the spec.

Expected bytes are built here, never with ``fcgi_handlers.protocol.records``: a test that encodes its expectation
with the encoder under test cannot catch that encoder's mistakes. Also here: the three ways every stream is fed
(whole, byte by byte, random chunks from a seeded generator).
"""

from __future__ import annotations

import random
from typing import Callable, List, Tuple, TypeVar

T = TypeVar("T")

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA = 1, 2, 3, 4, 5, 6, 7, 8
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3


def u16(value: int) -> bytes:
    return bytes((value >> 8 & 0xFF, value & 0xFF))


def u32(value: int) -> bytes:
    return bytes((value >> 24 & 0xFF, value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF))


def record(rtype: int, request_id: int, content: bytes = b"", padding: int = 0, version: int = 1) -> bytes:
    """One record exactly as given (no padding unless asked)."""
    header = bytes((version, rtype)) + u16(request_id) + u16(len(content)) + bytes((padding, 0))
    return header + content + bytes(padding)


def aligned(rtype: int, request_id: int, content: bytes = b"") -> bytes:
    """A record padded to a multiple of 8 bytes: the form the package under test writes."""
    return record(rtype, request_id, content, padding=(8 - len(content) % 8) % 8)


def nv_length(length: int) -> bytes:
    return bytes((length,)) if length < 128 else u32(length | 0x80000000)


def pairs(*items: Tuple[bytes, bytes]) -> bytes:
    return b"".join(nv_length(len(n)) + nv_length(len(v)) + n + v for n, v in items)


def begin(request_id: int = 1, role: int = RESPONDER, flags: int = 0) -> bytes:
    return record(BEGIN_REQUEST, request_id, u16(role) + bytes((flags,)) + bytes(5))


def end_request(request_id: int, app_status: int = 0, protocol_status: int = REQUEST_COMPLETE) -> bytes:
    return aligned(END_REQUEST, request_id, u32(app_status) + bytes((protocol_status,)) + bytes(3))


def unknown_type(rtype: int) -> bytes:
    return aligned(UNKNOWN_TYPE, 0, bytes((rtype,)) + bytes(7))


def stream(rtype: int, request_id: int, data: bytes, size: int, end: bool = True) -> bytes:
    """``data`` in unpadded records of ``size`` bytes (Apache's way), then the empty record if ``end``."""
    out = b"".join(record(rtype, request_id, data[i : i + size]) for i in range(0, len(data), size))
    return out + record(rtype, request_id) if end else out


def parse(data: bytes) -> List[Tuple[int, int, bytes, int]]:
    """Split complete records into ``(type, request_id, content, padding)``; asserts the bytes frame exactly."""
    out = []
    offset = 0
    while offset < len(data):
        assert data[offset] == 1, f"version byte {data[offset]} at {offset}"
        rtype = data[offset + 1]
        request_id = data[offset + 2] << 8 | data[offset + 3]
        length = data[offset + 4] << 8 | data[offset + 5]
        padding = data[offset + 6]
        content = data[offset + 8 : offset + 8 + length]
        assert len(content) == length, "record cut short"
        out.append((rtype, request_id, content, padding))
        offset += 8 + length + padding
    assert offset == len(data), "trailing bytes after the last record"
    return out


FEED_MODES = ("whole", "bytewise", "random-1", "random-2", "random-3")


def chunk(data: bytes, mode: str) -> List[bytes]:
    """``data`` cut the way ``mode`` says: whole, byte by byte, or random 1-300 byte chunks from a seeded generator."""
    if mode == "whole":
        return [data]
    if mode == "bytewise":
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(int(mode.rpartition("-")[2]))
    chunks = []
    offset = 0
    while offset < len(data):
        size = rng.randint(1, 300)
        chunks.append(data[offset : offset + size])
        offset += size
    return chunks


def feed_all(receive: Callable[[bytes], List[T]], chunks: List[bytes]) -> List[T]:
    """Feed ``chunks`` in order and concatenate the events."""
    events: List[T] = []
    for chunk in chunks:
        events += receive(chunk)
    return events
