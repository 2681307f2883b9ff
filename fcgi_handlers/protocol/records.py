"""FastCGI record framing and name-value pairs: bytes in, values out, and back.

Everything that touches the wire layout lives here, so the connection objects deal in record types and bodies only.
Decoding never trusts a length field: each read checks that the bytes are there first and raises
``ProtocolError`` otherwise, which is why no ``struct.error`` or ``IndexError`` can escape (``struct`` only ever
reads bytes whose presence was checked). Names and values stay bytes; decoding them belongs to the request layer.
"""

from __future__ import annotations

import functools
import struct
from typing import Dict, Final, Iterable, List, NamedTuple, Optional, Tuple, Union

from .constants import (
    FCGI_END_REQUEST,
    FCGI_HEADER_LEN,
    FCGI_KEEP_CONN,
    FCGI_STDERR,
    FCGI_STDOUT,
    FCGI_VERSION_1,
    MAX_CONTENT_LENGTH,
    MAX_NAME_VALUE_LENGTH,
    MAX_RECORD_CHUNK,
    type_name,
)
from .errors import ProtocolError

Buffer = Union[bytes, bytearray, memoryview]

# Spec §8: version, type, requestId, contentLength, paddingLength, reserved.
HEADER: Final = struct.Struct("!BBHHBx")
# Spec §5.1 FCGI_BeginRequestBody: role, flags, 5 reserved bytes.
_BEGIN_BODY = struct.Struct("!HB5x")
# Spec §5.5 FCGI_EndRequestBody: appStatus, protocolStatus, 3 reserved bytes.
_END_BODY = struct.Struct("!IB3x")
# Spec §4.2 FCGI_UnknownTypeBody: type, 7 reserved bytes.
_UNKNOWN_TYPE_BODY = struct.Struct("!B7x")
_LONG_LENGTH = struct.Struct("!I")

_PADDING = bytes(7)


class RecordHeader(NamedTuple):
    """The fields of one record header."""

    version: int
    type: int
    request_id: int
    content_length: int
    padding_length: int

    @property
    def record_length(self) -> int:
        """Header, content and padding: the bytes this record occupies on the wire."""
        return FCGI_HEADER_LEN + self.content_length + self.padding_length


class Record(NamedTuple):
    """One complete record as received: its type, request id and content (padding already dropped)."""

    type: int
    request_id: int
    content: bytes


def unpack_header(data: Buffer, offset: int = 0) -> RecordHeader:
    """The header at ``offset``; ``ProtocolError`` if fewer than 8 bytes are there or the version is not 1."""
    if len(data) - offset < FCGI_HEADER_LEN:
        raise ProtocolError(f"truncated record header: {max(len(data) - offset, 0)} of {FCGI_HEADER_LEN} bytes")
    header = RecordHeader(*HEADER.unpack_from(data, offset))
    if header.version != FCGI_VERSION_1:
        raise bad_version(header.version)
    return header


def bad_version(version: int) -> ProtocolError:
    """The error for a header whose version byte is not 1 (shared with the connection's inlined header loop)."""
    return ProtocolError(f"unsupported FastCGI version {version} in a record header (only version 1 exists)")


def pack_header(record_type: int, request_id: int, content_length: int, padding_length: int) -> bytes:
    """Build one record header. Arguments out of range are a caller bug, hence ``ValueError``."""
    if not 0 <= content_length <= MAX_CONTENT_LENGTH:
        raise ValueError(f"record content of {content_length} bytes does not fit in 16 bits")
    if not 0 <= request_id <= 0xFFFF:
        raise ValueError(f"request id {request_id} does not fit in 16 bits")
    if not 0 <= record_type <= 0xFF or not 0 <= padding_length <= 0xFF:
        raise ValueError("record type and padding length are single bytes")
    return HEADER.pack(FCGI_VERSION_1, record_type, request_id, content_length, padding_length)


def pack_record(record_type: int, request_id: int, content: Buffer = b"") -> bytes:
    """One record holding ``content`` (at most 65535 bytes), padded to a multiple of 8 bytes."""
    padding = -len(content) % 8
    header = pack_header(record_type, request_id, len(content), padding)
    if not padding:
        return header + content if content else header
    return b"".join((header, content, _PADDING[:padding]))


def pack_stream(record_type: int, request_id: int, data: Buffer) -> bytes:
    """``data`` cut into as many records as it needs, with no end-of-stream record; ``b""`` for empty data.

    An empty record would close the stream, so callers that mean "end" say so with ``pack_record`` explicitly.
    """
    if type(data) is bytes and len(data) <= MAX_RECORD_CHUNK:
        # A handler's write is usually one small bytes object: one record, no view, no generator.
        return pack_record(record_type, request_id, data) if data else b""
    view = memoryview(data).cast("B")
    return b"".join(
        pack_record(record_type, request_id, view[start : start + MAX_RECORD_CHUNK])
        for start in range(0, len(view), MAX_RECORD_CHUNK)
    )


@functools.lru_cache(maxsize=64)
def pack_end_records(request_id: int, app_status: int, protocol_status: int, stderr_sent: bool) -> bytes:
    """What ends a request: empty FCGI_STDOUT, empty FCGI_STDERR if that stream was opened, FCGI_END_REQUEST.

    Cached because nearly every request ends the same way (request 1, status 0, complete); an argument out of range
    raises ``ValueError``, which the cache never stores.
    """
    body = pack_end_request_body(app_status, protocol_status)
    stderr_end = pack_record(FCGI_STDERR, request_id) if stderr_sent else b""
    return pack_record(FCGI_STDOUT, request_id) + stderr_end + pack_record(FCGI_END_REQUEST, request_id, body)


def read_record(buffer: Buffer, offset: int = 0) -> Tuple[Optional[Record], int]:
    """Parse the record at ``offset``: ``(record, offset after it)``, or ``(None, offset)`` if it is not complete yet.

    The header is validated as soon as its 8 bytes are there, so a wrong version is reported without waiting for
    a content length that may never come.
    """
    if len(buffer) - offset < FCGI_HEADER_LEN:
        return None, offset
    header = unpack_header(buffer, offset)
    end = offset + header.record_length
    if len(buffer) < end:
        return None, offset
    content_start = offset + FCGI_HEADER_LEN
    # One copy through a view (slicing a bytearray would copy twice); the view is released before the caller
    # resizes its buffer, which a live view would forbid.
    with memoryview(buffer) as view:
        content = bytes(view[content_start : content_start + header.content_length])
    return Record(header.type, header.request_id, content), end


def encode_length(length: int) -> bytes:
    """A name or value length: one byte below 128, otherwise four bytes with the high bit set (spec §3.4)."""
    if not 0 <= length <= MAX_NAME_VALUE_LENGTH:
        raise ValueError(f"a name or value of {length} bytes cannot be encoded (0 to {MAX_NAME_VALUE_LENGTH})")
    if length < 0x80:
        return bytes((length,))
    return _LONG_LENGTH.pack(length | 0x80000000)


def encode_pairs(pairs: Iterable[Tuple[bytes, bytes]]) -> bytes:
    """Encode name-value pairs into one byte string (to be cut into records by ``pack_stream``)."""
    parts: List[bytes] = []
    for name, value in pairs:
        parts += (encode_length(len(name)), encode_length(len(value)), name, value)
    return b"".join(parts)


def decode_pairs(data: Buffer) -> Dict[bytes, bytes]:
    """Decode a complete name-value stream. A repeated name keeps its last value, as flup and PHP-FPM do.

    One loop with the lengths read inline: this runs for every request, and nearly all of Apache's pairs have
    one-byte lengths, so the common case is an index and a comparison, not a function call per length
    (benchmarks/README.md). Working on ``bytes`` makes each slice the one copy a name or value needs.
    """
    if type(data) is not bytes:
        data = bytes(data)
    pairs: Dict[bytes, bytes] = {}
    size = len(data)
    offset = 0
    while offset < size:
        name_length = data[offset]
        if name_length < 0x80:
            offset += 1
        else:
            name_length = _read_long_length(data, offset)
            offset += 4
        if offset >= size:
            raise ProtocolError("name-value pairs end inside a length field")
        value_length = data[offset]
        if value_length < 0x80:
            offset += 1
        else:
            value_length = _read_long_length(data, offset)
            offset += 4
        start = offset + name_length
        end = start + value_length
        if end > size:
            raise ProtocolError(
                f"a name-value pair announces {name_length}+{value_length} bytes but only "
                f"{size - offset} remain"
            )
        pairs[data[offset:start]] = data[start:end]
        offset = end
    return pairs


def _read_long_length(data: bytes, offset: int) -> int:
    """The four-byte length at ``offset`` (its first byte has the high bit set), checked to be all there."""
    if len(data) - offset < 4:
        raise ProtocolError("name-value pairs end inside a four-byte length field")
    (length,) = _LONG_LENGTH.unpack_from(data, offset)
    return int(length) & MAX_NAME_VALUE_LENGTH


def pack_begin_request_body(role: int, keep_conn: bool) -> bytes:
    """FCGI_BeginRequestBody for ``role``, with FCGI_KEEP_CONN set when asked."""
    return _BEGIN_BODY.pack(role, FCGI_KEEP_CONN if keep_conn else 0)


def unpack_begin_request_body(content: bytes) -> Tuple[int, bool]:
    """Role and keep-conn flag of an FCGI_BeginRequestBody; the spec fixes its size at 8 bytes."""
    _check_body_length(content, _BEGIN_BODY.size, "FCGI_BEGIN_REQUEST")
    role, flags = _BEGIN_BODY.unpack(content)
    return role, bool(flags & FCGI_KEEP_CONN)


def pack_end_request_body(app_status: int, protocol_status: int) -> bytes:
    """FCGI_EndRequestBody. ``app_status`` is an unsigned 32-bit exit status, ``protocol_status`` one byte."""
    if not 0 <= app_status <= 0xFFFFFFFF:
        raise ValueError(f"app_status {app_status} does not fit in an unsigned 32-bit field")
    if not 0 <= protocol_status <= 0xFF:
        raise ValueError(f"protocol_status {protocol_status} does not fit in one byte")
    return _END_BODY.pack(app_status, protocol_status)


def unpack_end_request_body(content: bytes) -> Tuple[int, int]:
    """``(app_status, protocol_status)`` of an FCGI_EndRequestBody."""
    _check_body_length(content, _END_BODY.size, "FCGI_END_REQUEST")
    app_status, protocol_status = _END_BODY.unpack(content)
    return int(app_status), int(protocol_status)


def pack_unknown_type_body(record_type: int) -> bytes:
    """FCGI_UnknownTypeBody naming the record type we did not understand."""
    return _UNKNOWN_TYPE_BODY.pack(record_type)


def unpack_unknown_type_body(content: bytes) -> int:
    """The record type an FCGI_UNKNOWN_TYPE record reports."""
    _check_body_length(content, _UNKNOWN_TYPE_BODY.size, "FCGI_UNKNOWN_TYPE")
    (record_type,) = _UNKNOWN_TYPE_BODY.unpack(content)
    return int(record_type)


def _check_body_length(content: bytes, expected: int, what: str) -> None:
    if len(content) != expected:
        raise ProtocolError(f"{what} body is {len(content)} bytes; the spec fixes it at {expected}")


def describe(record_type: int, request_id: int) -> str:
    """``FCGI_STDIN (request 1)``: how error messages name a record."""
    return f"{type_name(record_type)} (request {request_id})"

