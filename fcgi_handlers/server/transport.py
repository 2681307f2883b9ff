"""Transport: one socket married to one sans-IO ``ServerConnection``, and what a request thread hands the app.

A ``Connection`` has one owner at a time (nobody while it is armed in the worker's epoll, the request thread that took
its event while it serves, the worker's main thread while it settles it: ``pool.py``'s states), so reading and the
protocol state take no lock; only writes do, since the main thread may answer for a request past its timeout while
the request thread still holds it (``Connection.lock``). The rules that make it fast behind Apache (where flup stalls
on Nagle, ``docs/apache-facts.md`` §10): every write is one ``sendall`` of records already framed by the protocol
object, and the end of a request (the output still held back, the empty stream records and END_REQUEST) goes out in
one write, so Apache sees the whole answer in one segment. Reads take up to 64 KiB at a time: Apache sends stdin in 8 KB records, several per read.

The request body is pulled on demand: the handler starts when the params are complete, before any stdin arrived
(``docs/apache-facts.md`` §4), and reading the body drives the socket. ``CONTENT_LENGTH`` is only an upper bound; a
body streamed as chunked by the client arrives with ``HTTP_TRANSFER_ENCODING: chunked``, no length, and stdin already
de-chunked by Apache, so the body is whatever stdin carries up to its empty record, never interpreted.
"""

from __future__ import annotations

import _socket
import collections
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Deque, Final, List, Optional, Tuple

from ..protocol import (
    FCGI_AUTHORIZER,
    Event,
    ParamsReceived,
    ProtocolError,
    RequestAborted,
    RequestBegun,
    ServerConnection,
    StdinEnded,
    StdinReceived,
)
from .body import Body
from .errors import ClientGone

if TYPE_CHECKING:
    from .activity import Activity

log = logging.getLogger(__name__)

# What Apache gets when the app raised before writing anything: without a header block it would answer 200 with an
# empty body (docs/apache-facts.md §5). Normally the dispatch layer renders its own error page.
FALLBACK_RESPONSE = b"Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nInternal Server Error\n"
# FCGI_END_REQUEST's appStatus after an unhandled exception (Apache ignores it; a FastCGI client may not).
FAILED_APP_STATUS = 1

# Who owns a connection (pool.py): armed in the epoll for its next request, a thread's, armed while draining a
# half-closed socket, or the worker's main thread's (deciding whether to hand it over or close it while stopping).
IDLE: Final = "idle"
BUSY: Final = "busy"
LINGER: Final = "linger"
SETTLING: Final = "settling"

# Large enough for several of Apache's 8 KB stdin records per system call (its iobuffersize default).
RECV_SIZE = 65536


class Connection:
    """An accepted socket, its protocol state, and the events read but not yet consumed."""

    __slots__ = ("sock", "proto", "events", "fd", "broken", "state", "registered", "deadline", "_begun", "lock",
                 "taken")

    def __init__(self, sock: _socket.socket, proto: ServerConnection) -> None:
        self.sock = sock
        self.proto = proto
        self.events: Deque[Event] = collections.deque()
        self.fd = sock.fileno()
        self.broken = False
        self.state: str = BUSY  # changed only under the pool's lock
        self.registered = False  # in the pool's epoll
        self.deadline = 0.0  # when lingering ends
        self._begun: Optional[RequestBegun] = None
        # Writes are serialized with the worker's main thread, which answers for a request past request_timeout
        # (``activity.answer_timed_out``); after that ``taken`` is set and the request thread can no longer write.
        self.lock = threading.Lock()
        self.taken = False

    @property
    def idle(self) -> bool:
        """Between requests with nothing buffered: safe to park, close or hand to another process."""
        return self._begun is None and not self.events and self.proto.idle

    def receive(self) -> bool:
        """One ``recv`` fed to the protocol; False at end of stream. Raises ``ProtocolError``, or ``OSError``."""
        data = self.sock.recv(RECV_SIZE)
        if not data:
            return False
        self._feed(data)
        return True

    def receive_nowait(self) -> bool:
        """As ``receive``, but True without reading when nothing has arrived (the event was stale, or Apache has
        connected and not written yet)."""
        try:
            data = self.sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        if not data:
            return False
        self._feed(data)
        return True

    def _feed(self, data: bytes) -> None:
        self.events.extend(self.proto.receive_data(data))
        out = self.proto.data_to_send()
        if out:
            self.send(out)

    def send(self, data: bytes) -> None:
        """One ``sendall``; ``ClientGone`` if the peer has gone or the request was answered for."""
        try:
            with self.lock:
                if self.taken:
                    raise ClientGone("the worker answered this request already (request timeout)")
                self.sock.sendall(data)
        except ClientGone:
            raise
        except OSError as exc:
            self.broken = True
            raise ClientGone(exc.errno, f"connection lost while writing: {exc.strerror or exc}") from exc

    def next_request(self) -> Optional[Tuple[RequestBegun, ParamsReceived]]:
        """The request whose params are complete, consuming its start events; stdin events stay queued."""
        events = self.events
        while events:
            event = events[0]
            if isinstance(event, RequestBegun):
                self._begun = event
            elif isinstance(event, ParamsReceived) and self._begun is not None:
                events.popleft()
                begun, self._begun = self._begun, None
                return begun, event
            elif isinstance(event, RequestAborted) and self._begun is not None:
                # Aborted before its params were complete: it never reached the app, so end it right here.
                self.send(self.proto.end_request(event.request_id))
                self._begun = None
            else:
                return None  # stdin of the request being served (its body reads it); none is left between requests
            events.popleft()
        return None

    def discard_events(self, request_id: int) -> None:
        """Forget queued input of a finished request (stdin the app never read)."""
        if not self.events:
            return
        kept = [event for event in self.events if event.request_id != request_id]
        self.events.clear()
        self.events.extend(kept)

    def close(self) -> None:
        self.broken = True
        self.sock.close()


class Sink:
    """Where the app's output goes: each flushing call is one ``sendall`` of framed records.

    ``flush=False`` keeps the framed bytes back until the next flushing call or the end of the request, which then
    goes out in the same single write as END_REQUEST (mod_python's ``req.write(s, 0)``; log lines on stderr).
    """

    __slots__ = ("_conn", "_request_id", "_pending", "wrote_stdout", "head", "stdout_bytes")

    def __init__(self, conn: Connection, request_id: int) -> None:
        self._conn = conn
        self._request_id = request_id
        self._pending: List[bytes] = []
        self.wrote_stdout = False
        self.head = b""  # the first stdout chunk: where the access log finds the status and the header block's end
        self.stdout_bytes = 0

    def stdout(self, data: bytes, flush: bool = True) -> None:
        """Send ``data`` as FCGI_STDOUT (nothing for b"": an empty record would end the stream)."""
        if data:
            if not self.wrote_stdout:
                self.wrote_stdout = True
                self.head = data if len(data) <= 4096 else bytes(data[:4096])
            self.stdout_bytes += len(data)
            self._out(self._conn.proto.send_stdout(self._request_id, data), flush)

    def stderr(self, data: bytes, flush: bool = True) -> None:
        """Send ``data`` as FCGI_STDERR, which Apache writes to its error log."""
        if data:
            self._out(self._conn.proto.send_stderr(self._request_id, data), flush)

    def _out(self, framed: bytes, flush: bool) -> None:
        if self._conn.broken or self._conn.taken:
            raise ClientGone("connection already lost")
        if not flush:
            self._pending.append(framed)
            return
        if self._pending:
            self._pending.append(framed)
            framed = b"".join(self._pending)
            self._pending.clear()
        self._conn.send(framed)

    def end(self, app_status: int) -> None:
        """Held-back output, end of streams and END_REQUEST, in one write."""
        data = self._conn.proto.end_request(self._request_id, app_status)
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending.clear()
        self._conn.send(data)


@dataclass(eq=False)
class FastCGIRequest:
    """One request as the app sees it: what Apache sent, the body to pull, the sink to write to."""

    request_id: int
    role: int
    keep_conn: bool
    params: dict[bytes, bytes]
    body: Body
    sink: Sink
    after_end: List[Callable[[], None]] = field(default_factory=list, repr=False)
    # Where the dispatcher writes the phase and handler now running (status page, slow log); None when untracked.
    note: Optional[HandlerNote] = field(default=None, repr=False)

    def call_after_end(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once END_REQUEST is written (logging, cleanup); its exceptions are logged, never sent."""
        self.after_end.append(fn)

class HandlerNote:
    """The phase and handler a request is in, written by the dispatcher. It holds nothing else, so the request object
    that keeps it (a reference cycle the garbage collector frees later) keeps no request data alive."""

    __slots__ = ("phase", "handler")

    def __init__(self) -> None:
        self.phase = ""
        self.handler = ""


App = Callable[[FastCGIRequest], int]


def build_request(
    conn: Connection, begun: RequestBegun, params: ParamsReceived, spool_threshold: int
) -> FastCGIRequest:
    """The request object for a connection whose params just completed."""
    request_id = begun.request_id
    # mod_authnz_fcgi sends no FCGI_STDIN at all (docs/apache-facts.md §8): waiting for it would hang for 30 s.
    no_body = begun.role == FCGI_AUTHORIZER
    body = Body(
        _StdinSource(conn, request_id),
        content_length=None if no_body else _content_length(params.params),
        spool_threshold=spool_threshold,
        empty=no_body,
    )
    return FastCGIRequest(request_id, begun.role, begun.keep_conn, params.params, body, Sink(conn, request_id))


def _content_length(params: dict[bytes, bytes]) -> Optional[int]:
    """CONTENT_LENGTH as an upper bound, or None when absent or not a plain number (read stdin to its end)."""
    raw = params.get(b"CONTENT_LENGTH", b"").strip()
    return int(raw) if raw.isdigit() else None


class _StdinSource:
    """Feeds a ``Body`` with one request's stdin, reading the socket when no event is queued."""

    __slots__ = ("_conn", "_request_id")

    def __init__(self, conn: Connection, request_id: int) -> None:
        self._conn = conn
        self._request_id = request_id

    def __call__(self) -> bytes:
        """The next stdin chunk, b"" at its end; ``ClientGone`` if the connection ends first."""
        conn = self._conn
        while True:
            while conn.events:
                event = conn.events.popleft()
                if event.request_id != self._request_id:
                    continue
                if isinstance(event, StdinReceived):
                    return event.data
                if isinstance(event, StdinEnded):
                    return b""
                if isinstance(event, RequestAborted):
                    raise ClientGone("the web server aborted the request")
            if conn.broken:
                raise ClientGone("connection already lost")
            try:
                alive = conn.receive()
            except ProtocolError as error:
                conn.broken = True
                raise ClientGone(f"protocol error while reading stdin: {error}") from error
            except OSError as exc:
                conn.broken = True
                raise ClientGone(exc.errno, f"connection lost while reading stdin: {exc.strerror or exc}") from exc
            if not alive:
                conn.broken = True
                raise ClientGone("the web server closed the connection before the request body ended")


def serve(
    conn: Connection, begun: RequestBegun, params: ParamsReceived, app: App, spool_threshold: int,
    activity: Optional[Activity] = None,
) -> FastCGIRequest:
    """Run one request through ``app`` and end it; afterwards ``conn.broken`` tells whether the socket is usable.

    Whatever the app raises is logged and never escapes (a pool thread must survive its app). If it raised before
    writing, Apache gets a bare 500 instead of an empty 200.
    """
    request = build_request(conn, begun, params, spool_threshold)
    if activity is not None:
        activity.request_id, activity.sink = request.request_id, request.sink
        request.note = activity.note
    try:
        status = _app_status(app(request))
    except ClientGone as gone:
        log.info("request %s abandoned: %s", _uri(request), gone)
        conn.broken = True
        return request
    except BaseException as exc:  # even SystemExit from handler code: it must not end the pool thread
        status = _fail(request, exc)
    if not request.keep_conn and not request.body.complete and not stdin_outstanding(request):
        # No body, but Apache still writes the empty FCGI_STDIN right after the params; closing before it arrived
        # fails that write (EPIPE on a unix socket: Apache answers 503) or resets the connection (TCP). It is
        # nearly always in our buffer already (then it is dropped with the other queued events below), so taking it
        # costs no wait.
        try:
            if not _stdin_end_queued(conn, request.request_id):
                request.body.read()
        except ClientGone as exc:
            log.info("request %s: stdin not ended: %s", _uri(request), exc)
            conn.broken = True
    if not conn.broken:
        try:
            request.sink.end(status)
        except ClientGone as exc:
            log.info("request %s: END_REQUEST not delivered: %s", _uri(request), exc)
    conn.discard_events(request.request_id)
    return request


def _stdin_end_queued(conn: Connection, request_id: int) -> bool:
    """Whether the empty FCGI_STDIN of ``request_id`` is among the events already read."""
    return any(type(event) is StdinEnded and event.request_id == request_id for event in conn.events)


def stdin_outstanding(request: FastCGIRequest) -> bool:
    """True when Apache may still be sending body bytes the app did not read (a length or chunked body remains)."""
    if request.body.complete:
        return False
    return b"CONTENT_LENGTH" in request.params or b"HTTP_TRANSFER_ENCODING" in request.params


def _app_status(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and 0 <= value <= 0xFFFFFFFF:
        return value
    log.warning("app returned %r, not a FastCGI app status (0..2**32-1); sending 0", value)
    return 0


def _fail(request: FastCGIRequest, exc: BaseException) -> int:
    log.error("unhandled exception in app for %s", _uri(request), exc_info=exc)
    sink = request.sink
    try:
        if not sink.wrote_stdout:
            sink.stdout(FALLBACK_RESPONSE, flush=False)
        sink.stderr(f"fcgi_handlers: unhandled {type(exc).__name__} in app: {exc}\n".encode("utf-8", "replace"), False)
    except (ClientGone, ProtocolError):
        pass
    return FAILED_APP_STATUS


def _uri(request: FastCGIRequest) -> str:
    return request.params.get(b"REQUEST_URI", request.params.get(b"SCRIPT_NAME", b"?")).decode("latin-1")
