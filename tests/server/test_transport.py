"""Transport in-process: a real socketpair, our ``Connection`` on one end, the protocol's client on the other.

The web-server side is ``fcgi_handlers.protocol.ClientConnection`` (the sans-IO client), so these tests check what
goes over the wire: which records, in how many writes, and what the app saw.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest

from fcgi_handlers.protocol import (
    FCGI_AUTHORIZER,
    FCGI_RESPONDER,
    ClientConnection,
    RequestEnded,
    ServerConnection,
    StderrReceived,
    StdoutReceived,
)
from fcgi_handlers.server import ClientGone, FastCGIRequest
from fcgi_handlers.server.transport import App, Connection, serve, stdin_outstanding


class CountingSocket(socket.socket):
    """A socket that records each ``sendall`` (the unit the server promises to coalesce into)."""

    writes: List[bytes]

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.writes.append(bytes(data))
        super().sendall(data, flags)


# Our end (a counting socket under a Connection), and the web server's end.
Pair = Tuple[Connection, CountingSocket, socket.socket]
SENDERS: List[threading.Thread] = []


@pytest.fixture
def pair() -> Iterator[Pair]:
    ours, theirs = socket.socketpair()
    counting = CountingSocket(ours.family, ours.type, fileno=ours.detach())
    counting.writes = []
    theirs.settimeout(5)
    conn = Connection(counting, ServerConnection())
    yield conn, counting, theirs
    counting.close()
    theirs.close()
    for sender in SENDERS:
        sender.join(5)  # the peer socket timed out or closed: bounded
    SENDERS.clear()


def start(conn: Connection, peer: socket.socket, params: dict[str, str], stdin: Optional[bytes] = b"",
          role: int = FCGI_RESPONDER, keep_conn: bool = True) -> ClientConnection:
    """Send a whole request from the peer (from a thread: it may exceed the socket buffer)."""
    client = ClientConnection()
    out = client.begin_request(1, role, keep_conn) + client.send_params(1, params)
    if stdin is not None:
        out += b"".join(client.send_stdin(1, stdin[i:i + 8192]) for i in range(0, len(stdin), 8192))
        out += client.send_stdin(1, b"", end=True)
    sender = threading.Thread(target=_send_quietly, args=(peer, out), daemon=True)
    sender.start()
    SENDERS.append(sender)
    return client


def _send_quietly(peer: socket.socket, data: bytes) -> None:
    try:
        peer.sendall(data)
    except OSError:
        pass  # a test closed the peer on purpose


def answer(client: ClientConnection, peer: socket.socket) -> Tuple[bytes, bytes, int]:
    stdout, stderr = [], []
    for _ in range(1000):
        for event in client.receive_data(peer.recv(65536)):
            if isinstance(event, StdoutReceived):
                stdout.append(event.data)
            elif isinstance(event, StderrReceived):
                stderr.append(event.data)
            elif isinstance(event, RequestEnded):
                return b"".join(stdout), b"".join(stderr), event.app_status
    raise AssertionError("no END_REQUEST")


def _reader(seen: List[bytes]) -> Callable[[FastCGIRequest], int]:
    """An app that reads the whole body into ``seen``."""
    def app(request: FastCGIRequest) -> int:
        seen.append(request.body.read())
        return 0
    return app


def run(conn: Connection, app: App, threshold: int = 1 << 20) -> FastCGIRequest:
    for _ in range(100):
        start_events = conn.next_request()
        if start_events is not None:
            return serve(conn, start_events[0], start_events[1], app, threshold)
        assert conn.receive()
    raise AssertionError("params never completed")


def test_held_output_and_end_request_go_out_in_one_write(pair: Pair) -> None:
    conn, counting, peer = pair
    client = start(conn, peer, {"SCRIPT_NAME": "/x"})

    def app(request: FastCGIRequest) -> int:
        request.sink.stdout(b"Status: 200 OK\r\n\r\n", flush=False)
        request.sink.stderr(b"log\n", flush=False)
        request.sink.stdout(b"body", flush=False)
        request.sink.stdout(b"")  # nothing to send: an empty record would end the stream
        return 7

    run(conn, app)
    assert len(counting.writes) == 1
    assert answer(client, peer) == (b"Status: 200 OK\r\n\r\nbody", b"log\n", 7)


def test_each_flushing_write_is_one_sendall(pair: Pair) -> None:
    conn, counting, peer = pair
    client = start(conn, peer, {})
    big = b"z" * 200_000  # several records, still one write

    def app(request: FastCGIRequest) -> int:
        request.sink.stdout(b"head\r\n\r\n")
        request.sink.stdout(big)
        return 0

    run(conn, app)
    assert len(counting.writes) == 3  # two writes, then the end of the request
    assert answer(client, peer)[0] == b"head\r\n\r\n" + big


def test_body_is_pulled_from_the_socket_and_bounded(pair: Pair) -> None:
    conn, _, peer = pair
    data = bytes(range(256)) * 1000
    client = start(conn, peer, {"CONTENT_LENGTH": str(len(data))}, data)
    seen: List[bytes] = []
    request = run(conn, _reader(seen))
    assert seen == [data]
    assert not stdin_outstanding(request)
    assert answer(client, peer)[2] == 0
    assert conn.idle


def test_authorizer_has_an_empty_body_without_waiting_for_stdin(pair: Pair) -> None:
    conn, _, peer = pair
    client = start(conn, peer, {"FCGI_ROLE": "AUTHORIZER"}, stdin=None, role=FCGI_AUTHORIZER)
    seen: List[bytes] = []
    run(conn, _reader(seen))  # would block forever if it waited for stdin
    assert seen == [b""]
    assert answer(client, peer)[2] == 0


def test_unread_body_is_outstanding_and_discarded(pair: Pair) -> None:
    conn, _, peer = pair
    client = start(conn, peer, {"CONTENT_LENGTH": "5"}, b"hello")
    request = run(conn, lambda request: 0)
    assert stdin_outstanding(request)
    answer(client, peer)
    assert not any(event.request_id == 1 for event in conn.events)


def test_app_exception_gives_a_500_and_a_stderr_line(pair: Pair) -> None:
    conn, _, peer = pair
    client = start(conn, peer, {"REQUEST_URI": "/boom"})

    def app(request: FastCGIRequest) -> int:
        raise ValueError("boom")

    run(conn, app)
    stdout, stderr, status = answer(client, peer)
    assert stdout.startswith(b"Status: 500 ") and b"ValueError" in stderr and status != 0


def test_exception_after_output_keeps_the_output(pair: Pair) -> None:
    conn, _, peer = pair
    client = start(conn, peer, {})

    def app(request: FastCGIRequest) -> int:
        request.sink.stdout(b"Status: 200 OK\r\n\r\npartial")
        raise SystemExit(3)  # even this must not escape into the pool thread

    run(conn, app)
    stdout, _, _ = answer(client, peer)
    assert stdout == b"Status: 200 OK\r\n\r\npartial"


def test_writing_to_a_closed_peer_raises_client_gone(pair: Pair) -> None:
    conn, counting, peer = pair
    start(conn, peer, {})
    raised: List[BaseException] = []

    def app(request: FastCGIRequest) -> int:
        peer.close()
        try:
            for _ in range(100):
                request.sink.stdout(b"x" * 65536)
        except ClientGone as exc:
            raised.append(exc)
            raise
        return 0

    run(conn, app)
    assert raised and isinstance(raised[0], OSError)
    assert conn.broken


def test_reading_stdin_after_the_peer_closed_raises_client_gone(pair: Pair) -> None:
    conn, _, peer = pair
    start(conn, peer, {"CONTENT_LENGTH": "100"}, stdin=None)  # params only, then Apache gives up
    SENDERS[-1].join(5)
    peer.shutdown(socket.SHUT_WR)
    raised: List[BaseException] = []

    def app(request: FastCGIRequest) -> int:
        try:
            request.body.read()
        except ClientGone as exc:
            raised.append(exc)
            raise
        return 0

    run(conn, app)
    assert raised and conn.broken
