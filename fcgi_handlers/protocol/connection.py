"""The application side of one FastCGI connection, without I/O: feed it bytes, get events; ask it for bytes to send.

``ServerConnection`` serves one request at a time, which is all Apache ever asks for (request id 1, no multiplexing,
``docs/apache-facts.md`` §3). It answers what the spec says the application answers on its own (management records,
refused requests) by queueing bytes for ``data_to_send()``, so the caller only handles requests. It is not
thread-safe: one owner at a time, which matches the server, where a connection belongs to the one request thread that
took its epoll event until it re-arms it. Once it has raised a ``ProtocolError`` with ``close=True`` it refuses
further input, because the byte stream can no longer be framed.

``receive_data`` is on every request's path, so it reads all complete records of a buffer in one pass: headers
unpacked in place, no per-record objects, the common record (the next one of the active request's open stream)
checked first. Every error still goes through the same checks and messages as the general path.
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import Collection, List, Mapping, Optional

from .constants import (
    DEFAULT_MAX_CONNS,
    DEFAULT_MAX_PARAMS_SIZE,
    DEFAULT_MAX_REQS,
    FCGI_ABORT_REQUEST,
    FCGI_AUTHORIZER,
    FCGI_BEGIN_REQUEST,
    FCGI_CANT_MPX_CONN,
    FCGI_END_REQUEST,
    FCGI_GET_VALUES,
    FCGI_GET_VALUES_RESULT,
    FCGI_HEADER_LEN,
    FCGI_MAX_CONNS,
    FCGI_MAX_REQS,
    FCGI_MPXS_CONNS,
    FCGI_NULL_REQUEST_ID,
    FCGI_PARAMS,
    FCGI_REQUEST_COMPLETE,
    FCGI_RESPONDER,
    FCGI_STDERR,
    FCGI_STDIN,
    FCGI_STDOUT,
    FCGI_UNKNOWN_ROLE,
    FCGI_UNKNOWN_TYPE,
    FCGI_VERSION_1,
    role_name,
)
from .errors import ProtocolError
from .events import (
    DataEnded,
    DataReceived,
    Event,
    ParamsReceived,
    RequestAborted,
    RequestBegun,
    StdinEnded,
    StdinReceived,
)
from .records import (
    HEADER,
    Buffer,
    bad_version,
    decode_pairs,
    describe,
    encode_pairs,
    pack_end_records,
    pack_end_request_body,
    pack_record,
    pack_stream,
    pack_unknown_type_body,
    unpack_begin_request_body,
    unpack_header,
)
from .state import INPUT_STREAMS, ROLE_RULES, RequestState

DEFAULT_ROLES = frozenset({FCGI_RESPONDER, FCGI_AUTHORIZER})
_KNOWN_ROLES = frozenset(ROLE_RULES)


@functools.lru_cache(maxsize=64)
def _management_values(max_conns: int, max_reqs: int) -> Mapping[bytes, bytes]:
    """The variables FCGI_GET_VALUES can ask for (spec §4.1); read-only. We never multiplex: FCGI_MPXS_CONNS is 0."""
    return MappingProxyType({
        FCGI_MAX_CONNS: str(max_conns).encode("ascii"),
        FCGI_MAX_REQS: str(max_reqs).encode("ascii"),
        FCGI_MPXS_CONNS: b"0",
    })


class ServerConnection:
    """The FastCGI application's half of one transport connection.

    ``keep_conn`` is a property: the FCGI_KEEP_CONN flag of the active request, or of the last one once
    ``end_request`` finished it. When it is False after ``end_request``, the caller closes the connection once the
    returned bytes are written (spec §5.1).
    """

    def __init__(
        self,
        roles: Collection[int] = DEFAULT_ROLES,
        max_params_size: int = DEFAULT_MAX_PARAMS_SIZE,
        max_conns: int = DEFAULT_MAX_CONNS,
        max_reqs: int = DEFAULT_MAX_REQS,
    ) -> None:
        # One of these is made per connection (per request without FCGI_KEEP_CONN): the checks are set operations
        # and the FCGI_GET_VALUES answers are shared between connections of the same settings.
        self.roles: frozenset[int] = frozenset(roles)
        if not self.roles <= _KNOWN_ROLES:
            unknown = sorted(self.roles - _KNOWN_ROLES)
            raise ValueError(f"unknown FastCGI roles {unknown}; known: {sorted(ROLE_RULES)}")
        if max_params_size < 0 or max_conns < 0 or max_reqs < 0:
            raise ValueError("max_params_size, max_conns and max_reqs cannot be negative")
        self.max_params_size: int = max_params_size
        self._values: Mapping[bytes, bytes] = _management_values(max_conns, max_reqs)
        self._buffer = bytearray()
        self._outgoing: List[bytes] = []
        self._request: Optional[RequestState] = None
        self._keep_conn = False
        self._error: Optional[ProtocolError] = None

    @property
    def keep_conn(self) -> bool:
        """FCGI_KEEP_CONN of the active request, or of the last one after it ended; False before any request."""
        return self._keep_conn

    @property
    def request_id(self) -> Optional[int]:
        """The id of the active request, or None between requests."""
        return None if self._request is None else self._request.request_id

    @property
    def idle(self) -> bool:
        """True with no active request, no partial record buffered and nothing queued to send.

        Only an idle connection can be handed to another process or parked: nothing of it lives in this object.
        """
        return self._request is None and not self._buffer and not self._outgoing

    def receive_data(self, data: Buffer) -> List[Event]:
        """Consume bytes from the web server (any chunking); return the events of every record they completed.

        Answers to management records and refusals are queued for ``data_to_send()``, which the caller should drain
        after each call. Raises ``ProtocolError`` (``close=True``) for anything malformed or out of order.
        """
        if self._error is not None:
            raise ProtocolError(f"connection already failed: {self._error.message}")
        if self._buffer:
            # The rest of a record started in an earlier call. Nothing is copied until a whole record is there, so
            # a peer trickling a 64 KB record byte by byte costs linear time, not quadratic.
            self._buffer += data
            if not self._record_complete():
                return []
            data = bytes(self._buffer)
            self._buffer.clear()
        elif type(data) is not bytes:
            data = bytes(data)
        events: List[Event] = []
        offset = 0
        try:
            offset = self._read_records(data, events)
        except ProtocolError as exc:
            self._error = exc
            raise
        if offset < len(data):
            with memoryview(data) as view:
                self._buffer += view[offset:]
        return events

    def _record_complete(self) -> bool:
        """Whether the buffer holds a whole record; a header with a wrong version is reported as soon as it is there."""
        if len(self._buffer) < FCGI_HEADER_LEN:
            return False
        header = unpack_header(self._buffer)
        return len(self._buffer) >= header.record_length

    def _read_records(self, data: bytes, events: List[Event]) -> int:
        """Handle every complete record in ``data``, in order; return the offset of the first incomplete one.

        Headers are unpacked in place and each content is one slice of ``data``: no record object, no buffer
        re-slicing. The header is validated as soon as its 8 bytes are there, so a wrong version is reported without
        waiting for a content length that may never come.
        """
        size = len(data)
        offset = 0
        unpack = HEADER.unpack_from
        while size - offset >= FCGI_HEADER_LEN:
            version, record_type, request_id, content_length, padding_length = unpack(data, offset)
            if version != FCGI_VERSION_1:
                raise bad_version(version)
            start = offset + FCGI_HEADER_LEN
            end = start + content_length + padding_length
            if end > size:
                break
            offset = end
            content = data[start : start + content_length]
            request = self._request
            if (
                request is not None
                and request_id == request.request_id
                and record_type in INPUT_STREAMS
            ):
                # The hot path: the next record of the active request's input.
                self._handle_input(request, record_type, content, events)
            else:
                self._handle_record(record_type, request_id, content, events)
        return offset

    def data_to_send(self) -> bytes:
        """The bytes this object queued on its own (management answers, refused requests), then forgets them."""
        out = b"".join(self._outgoing)
        self._outgoing.clear()
        return out

    def send_stdout(self, request_id: int, data: Buffer) -> bytes:
        """FCGI_STDOUT records carrying ``data`` (at most 65535 bytes each), as one byte string; b"" for no data."""
        self._active(request_id, "send FCGI_STDOUT")
        return pack_stream(FCGI_STDOUT, request_id, data)

    def send_stderr(self, request_id: int, data: Buffer) -> bytes:
        """FCGI_STDERR records carrying ``data``, as one byte string; b"" for no data."""
        request = self._active(request_id, "send FCGI_STDERR")
        if len(data):
            request.stderr_sent = True
        return pack_stream(FCGI_STDERR, request_id, data)

    def end_request(
        self, request_id: int, app_status: int = 0, protocol_status: int = FCGI_REQUEST_COMPLETE
    ) -> bytes:
        """Close the output streams and finish the request: empty FCGI_STDOUT, empty FCGI_STDERR if stderr was
        written, then FCGI_END_REQUEST. Records of this request that still arrive afterwards are ignored."""
        request = self._active(request_id, "end")
        out = pack_end_records(request_id, app_status, protocol_status, request.stderr_sent)
        self._request = None
        return out

    def _active(self, request_id: int, action: str) -> RequestState:
        request = self._request
        if request is None or request.request_id != request_id:
            raise ProtocolError(f"cannot {action} request {request_id}: it is not active", close=False)
        return request

    def _handle_record(self, record_type: int, request_id: int, content: bytes, events: List[Event]) -> None:
        if request_id == FCGI_NULL_REQUEST_ID:
            self._handle_management(record_type, content)
        elif record_type == FCGI_BEGIN_REQUEST:
            self._handle_begin(request_id, content, events)
        elif self._request is None or self._request.request_id != request_id:
            # Spec §3.3: records of inactive requests are ignored. This is also what absorbs the FCGI_STDIN that
            # Apache still had in flight when we ended a request before reading its whole body.
            return
        elif record_type == FCGI_ABORT_REQUEST:
            if not self._request.aborted:
                self._request.aborted = True
                events.append(RequestAborted(request_id))
        elif record_type in INPUT_STREAMS:
            self._handle_input(self._request, record_type, content, events)
        else:
            raise ProtocolError(f"{describe(record_type, request_id)} is not a record a web server sends")

    def _handle_management(self, record_type: int, content: bytes) -> None:
        """Spec §4: answer FCGI_GET_VALUES with the variables asked for that we know; anything else is unknown."""
        if record_type == FCGI_GET_VALUES:
            asked = decode_pairs(content)
            answer = [(name, self._values[name]) for name in asked if name in self._values]
            self._outgoing.append(pack_record(FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, encode_pairs(answer)))
        else:
            body = pack_unknown_type_body(record_type)
            self._outgoing.append(pack_record(FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, body))

    def _handle_begin(self, request_id: int, content: bytes, events: List[Event]) -> None:
        role, keep_conn = unpack_begin_request_body(content)
        active = self._request
        if active is not None:
            if active.request_id == request_id:
                raise ProtocolError(f"FCGI_BEGIN_REQUEST for request {request_id}, which is already active")
            self._refuse(request_id, FCGI_CANT_MPX_CONN)
        elif role not in self.roles:
            self._refuse(request_id, FCGI_UNKNOWN_ROLE)
        else:
            self._request = RequestState(request_id, role, keep_conn)
            self._keep_conn = keep_conn
            events.append(RequestBegun(request_id, role, keep_conn))

    def _refuse(self, request_id: int, protocol_status: int) -> None:
        # Spec §5.5: a refused request gets FCGI_END_REQUEST alone; it never became active.
        body = pack_end_request_body(0, protocol_status)
        self._outgoing.append(pack_record(FCGI_END_REQUEST, request_id, body))

    def _handle_input(self, request: RequestState, record_type: int, content: bytes, events: List[Event]) -> None:
        if not request.accept(record_type, not content):
            return
        if record_type == FCGI_PARAMS:
            self._handle_params(request, content, events)
        elif record_type == FCGI_STDIN:
            events.append(StdinReceived(request.request_id, content) if content else StdinEnded(request.request_id))
        else:
            events.append(DataReceived(request.request_id, content) if content else DataEnded(request.request_id))

    def _handle_params(self, request: RequestState, content: bytes, events: List[Event]) -> None:
        if content:
            request.params.append(content)
            request.params_size += len(content)
            if request.params_size > self.max_params_size:
                raise ProtocolError(
                    f"FCGI_PARAMS of request {request.request_id} exceed max_params_size "
                    f"({self.max_params_size} bytes, {role_name(request.role)})"
                )
            return
        # Apache sends the whole stream in one record, which then needs no join.
        chunks = request.params
        params = decode_pairs(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        request.params = []
        events.append(ParamsReceived(request.request_id, params))
