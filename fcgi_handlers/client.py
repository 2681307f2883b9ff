"""A blocking FastCGI client: one request, or one FCGI_GET_VALUES, per connection.

It backs ``fcgi-handlers ping`` and the server tests, so it behaves like the web servers we serve: params in one
stream, stdin in records of Apache's 8 KB ``iobuffersize``, no stdin at all for an AUTHORIZER (mod_authnz_fcgi),
``TCP_NODELAY`` on TCP. Sending and receiving share one selector loop, because an application may answer before it
has read the whole body (Apache interleaves the same way); a client that wrote everything first could deadlock
against a server that writes a large answer first. One deadline bounds the whole exchange.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from fcgi_handlers.protocol import (
    FCGI_AUTHORIZER,
    FCGI_FILTER,
    FCGI_RESPONDER,
    ClientConnection,
    ClientEvent,
    ProtocolError,
    RequestEnded,
    StderrReceived,
    StdoutReceived,
    UnknownTypeReported,
    ValuesReceived,
)
from fcgi_handlers.protocol.client import ParamsArg, StrOrBytes

Address = Union[str, Tuple[str, int]]

# mod_proxy_fcgi sends the body in records of at most its iobuffersize, 8 KB by default (docs/apache-facts.md §4).
STDIN_RECORD_SIZE = 8192
_RECV_SIZE = 65536
# The request id Apache always uses (mod_proxy_fcgi never multiplexes).
_REQUEST_ID = 1


@dataclass(frozen=True)
class FCGIResult:
    """What the application answered: its stdout and stderr streams and the FCGI_END_REQUEST statuses."""

    stdout: bytes
    stderr: bytes
    app_status: int
    protocol_status: int


def parse_address(address: Address) -> Tuple[int, Union[str, Tuple[str, int]]]:
    """``(address family, socket address)`` for ``"unix:/path"``, ``("host", port)`` or ``"host:port"``."""
    if isinstance(address, tuple):
        return socket.AF_INET6 if ":" in address[0] else socket.AF_INET, (address[0], int(address[1]))
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        if not path:
            raise ValueError(f"no socket path in {address!r}")
        return socket.AF_UNIX, path
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {address!r} is neither 'unix:/path' nor 'host:port'")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return socket.AF_INET6 if ":" in host else socket.AF_INET, (host, int(port))


def connect(address: Address, timeout: float) -> socket.socket:
    """A connected socket to ``address``, with TCP_NODELAY on TCP (each record should leave at once)."""
    family, sockaddr = parse_address(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def fcgi_request(
    address: Address,
    params: ParamsArg,
    stdin: bytes = b"",
    role: int = FCGI_RESPONDER,
    keep_conn: bool = False,
    timeout: float = 10.0,
    *,
    data: bytes = b"",
) -> FCGIResult:
    """Run one request and return the answer. ``data`` is the FILTER role's FCGI_DATA stream.

    Raises ``TimeoutError`` past ``timeout`` seconds, ``ConnectionError`` if the application closes before
    FCGI_END_REQUEST, ``ProtocolError`` if it answers malformed records. ``keep_conn`` only sets the flag: the
    connection is closed after the answer either way.
    """
    if role == FCGI_AUTHORIZER and stdin:
        raise ValueError("an AUTHORIZER request has no body (mod_authnz_fcgi sends no FCGI_STDIN)")
    conn = ClientConnection()
    parts = [conn.begin_request(_REQUEST_ID, role, keep_conn), conn.send_params(_REQUEST_ID, params)]
    if role != FCGI_AUTHORIZER:
        for start in range(0, len(stdin), STDIN_RECORD_SIZE):
            parts.append(conn.send_stdin(_REQUEST_ID, stdin[start : start + STDIN_RECORD_SIZE]))
        parts.append(conn.send_stdin(_REQUEST_ID, b"", end=True))
    if role == FCGI_FILTER:
        parts.append(conn.send_data(_REQUEST_ID, data, end=True))
    events = _exchange(address, conn, b"".join(parts), lambda event: isinstance(event, RequestEnded), timeout)
    result = Answer().feed(events)
    if result is None:
        raise ProtocolError("no FCGI_END_REQUEST in the answer")  # not reached: _exchange stops at FCGI_END_REQUEST
    return result


class Answer:
    """One request's answer gathered from client events: ``feed()`` returns it once FCGI_END_REQUEST came."""

    def __init__(self) -> None:
        self._stdout: List[bytes] = []
        self._stderr: List[bytes] = []

    def feed(self, events: Iterable[ClientEvent]) -> Optional[FCGIResult]:
        """Take ``events`` up to FCGI_END_REQUEST (the answer, leaving the rest unread); None if it has not come."""
        for event in events:
            if isinstance(event, StdoutReceived):
                self._stdout.append(event.data)
            elif isinstance(event, StderrReceived):
                self._stderr.append(event.data)
            elif isinstance(event, RequestEnded):
                return FCGIResult(b"".join(self._stdout), b"".join(self._stderr), event.app_status,
                                  event.protocol_status)
        return None


def get_values(address: Address, names: Iterable[StrOrBytes], timeout: float = 10.0) -> Dict[bytes, bytes]:
    """Ask FCGI_GET_VALUES for ``names``; return the variables the application answered (spec §4.1)."""
    conn = ClientConnection()

    def answered(event: ClientEvent) -> bool:
        return isinstance(event, (ValuesReceived, UnknownTypeReported))

    last = _exchange(address, conn, conn.get_values(names), answered, timeout)[-1]
    if not isinstance(last, ValuesReceived):
        raise ProtocolError("the application does not understand FCGI_GET_VALUES")
    return last.values


def _exchange(
    address: Address, conn: ClientConnection, out: bytes, done: Callable[[ClientEvent], bool], timeout: float
) -> List[ClientEvent]:
    """Send ``out`` while collecting events, until ``done`` accepts one; return the events up to that one."""
    deadline = time.monotonic() + timeout
    events: List[ClientEvent] = []
    with connect(address, timeout) as sock, selectors.DefaultSelector() as selector:
        sock.setblocking(False)
        pending = memoryview(out)
        selector.register(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete FastCGI answer from {address!r} within {timeout} s")
            for _key, mask in selector.select(remaining):
                if mask & selectors.EVENT_WRITE:
                    pending = _send_some(sock, pending)
                    if not pending:
                        selector.modify(sock, selectors.EVENT_READ)
                if mask & selectors.EVENT_READ:
                    for event in _receive_some(sock, conn, address):
                        events.append(event)
                        if done(event):
                            return events


def _send_some(sock: socket.socket, pending: memoryview) -> memoryview:
    try:
        sent = sock.send(pending)
    except BlockingIOError:
        return pending
    except (BrokenPipeError, ConnectionResetError):
        # The application answered and closed without reading the rest (allowed); its answer is still readable.
        return pending[:0]
    return pending[sent:]


def _receive_some(sock: socket.socket, conn: ClientConnection, address: Address) -> List[ClientEvent]:
    try:
        chunk = sock.recv(_RECV_SIZE)
    except BlockingIOError:
        return []
    if not chunk:
        raise ConnectionError(f"{address!r} closed the connection before its FastCGI answer was complete")
    return conn.receive_data(chunk)
