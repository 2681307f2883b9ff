"""The web server's half of a FastCGI connection, without I/O: for tests, health checks and benchmarks.

``ClientConnection`` builds what a web server sends (begin, params, stdin, data, abort, get-values) and parses what
an application answers. It is deliberately strict about the answers: a record for a request it never began, a
record type only web servers send, or a malformed body raise ``ProtocolError``, so that a test driving our own
server through it catches our mistakes instead of papering over them. Empty FCGI_STDOUT/FCGI_STDERR records (stream
ends) produce no event: FCGI_END_REQUEST is what tells a caller the answer is complete.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Protocol, Set, Tuple, TypeVar, Union

from .constants import (
    FCGI_ABORT_REQUEST,
    FCGI_BEGIN_REQUEST,
    FCGI_DATA,
    FCGI_END_REQUEST,
    FCGI_GET_VALUES,
    FCGI_GET_VALUES_RESULT,
    FCGI_NULL_REQUEST_ID,
    FCGI_PARAMS,
    FCGI_RESPONDER,
    FCGI_STDERR,
    FCGI_STDIN,
    FCGI_STDOUT,
    FCGI_UNKNOWN_TYPE,
)
from .errors import ProtocolError
from .events import (
    ClientEvent,
    RequestEnded,
    StderrReceived,
    StdoutReceived,
    UnknownTypeReported,
    ValuesReceived,
)
from .records import (
    Buffer,
    Record,
    decode_pairs,
    describe,
    encode_pairs,
    pack_begin_request_body,
    pack_record,
    pack_stream,
    read_record,
    unpack_end_request_body,
    unpack_unknown_type_body,
)

StrOrBytes = Union[str, bytes]
_K = TypeVar("_K", covariant=True)
_V = TypeVar("_V", covariant=True)


class SupportsItems(Protocol[_K, _V]):
    """Anything with ``items()``: dicts whose keys are str, bytes or both all fit (``Mapping`` is invariant)."""

    def items(self) -> Iterable[Tuple[_K, _V]]: ...


ParamsArg = SupportsItems[StrOrBytes, StrOrBytes]


def to_bytes(value: StrOrBytes) -> bytes:
    """Names and values given as str are sent as UTF-8, as Apache sends a decoded non-ASCII path (for
    ``/caf%C3%A9`` the ``SCRIPT_NAME`` bytes are the UTF-8 of ``/café``); pass bytes to send anything else."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _pairs(params: ParamsArg) -> List[Tuple[bytes, bytes]]:
    return [(to_bytes(name), to_bytes(value)) for name, value in params.items()]


class ClientConnection:
    """The web server's half of one transport connection. Several requests may be active at once (ids > 0)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._active: Set[int] = set()

    @property
    def active_requests(self) -> frozenset[int]:
        """Ids of the requests begun and not yet answered with FCGI_END_REQUEST."""
        return frozenset(self._active)

    def begin_request(self, request_id: int = 1, role: int = FCGI_RESPONDER, keep_conn: bool = False) -> bytes:
        """FCGI_BEGIN_REQUEST for a new request (Apache always uses request id 1)."""
        if request_id == FCGI_NULL_REQUEST_ID or request_id in self._active:
            raise ProtocolError(f"request id {request_id} is reserved or already active", close=False)
        self._active.add(request_id)
        return pack_record(FCGI_BEGIN_REQUEST, request_id, pack_begin_request_body(role, keep_conn))

    def send_params(self, request_id: int, params: ParamsArg) -> bytes:
        """The whole FCGI_PARAMS stream: the encoded pairs in records of at most 65535 bytes, then the empty record."""
        return pack_stream(FCGI_PARAMS, request_id, encode_pairs(_pairs(params))) + pack_record(FCGI_PARAMS, request_id)

    def send_stdin(self, request_id: int, data: Buffer, end: bool = False) -> bytes:
        """FCGI_STDIN records for ``data``; with ``end`` the empty record that closes the body follows."""
        return self._stream(FCGI_STDIN, request_id, data, end)

    def send_data(self, request_id: int, data: Buffer, end: bool = False) -> bytes:
        """FCGI_DATA records (FILTER role); with ``end`` the closing empty record follows."""
        return self._stream(FCGI_DATA, request_id, data, end)

    def abort_request(self, request_id: int) -> bytes:
        """FCGI_ABORT_REQUEST (the request stays active until the application ends it)."""
        return pack_record(FCGI_ABORT_REQUEST, request_id)

    def get_values(self, names: Iterable[StrOrBytes]) -> bytes:
        """FCGI_GET_VALUES asking for ``names`` (spec §4.1: the values are sent empty)."""
        return pack_record(FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, encode_pairs((to_bytes(n), b"") for n in names))

    def send_management(self, record_type: int, content: bytes = b"") -> bytes:
        """Any record on request id 0, e.g. a type the application should answer with FCGI_UNKNOWN_TYPE."""
        return pack_record(record_type, FCGI_NULL_REQUEST_ID, content)

    def receive_data(self, data: Buffer) -> List[ClientEvent]:
        """Consume bytes from the application; return the events of every record they completed."""
        self._buffer += data
        events: List[ClientEvent] = []
        offset = 0
        try:
            while True:
                record, offset = read_record(self._buffer, offset)
                if record is None:
                    break
                event = self._handle_record(record)
                if event is not None:
                    events.append(event)
        finally:
            del self._buffer[:offset]
        return events

    def _stream(self, record_type: int, request_id: int, data: Buffer, end: bool) -> bytes:
        out = pack_stream(record_type, request_id, data)
        return out + pack_record(record_type, request_id) if end else out

    def _handle_record(self, record: Record) -> Optional[ClientEvent]:
        if record.request_id == FCGI_NULL_REQUEST_ID:
            if record.type == FCGI_GET_VALUES_RESULT:
                return ValuesReceived(decode_pairs(record.content))
            if record.type == FCGI_UNKNOWN_TYPE:
                return UnknownTypeReported(unpack_unknown_type_body(record.content))
        elif record.request_id not in self._active:
            raise ProtocolError(f"{describe(record.type, record.request_id)} for a request that is not active")
        elif record.type == FCGI_STDOUT:
            return StdoutReceived(record.request_id, record.content) if record.content else None
        elif record.type == FCGI_STDERR:
            return StderrReceived(record.request_id, record.content) if record.content else None
        elif record.type == FCGI_END_REQUEST:
            app_status, protocol_status = unpack_end_request_body(record.content)
            self._active.discard(record.request_id)
            return RequestEnded(record.request_id, app_status, protocol_status)
        raise ProtocolError(f"{describe(record.type, record.request_id)} is not a record an application sends")
