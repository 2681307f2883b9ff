"""fcgi_handlers.client against a tiny in-test FastCGI server (ServerConnection over real sockets).

The server thread handles one connection at a time, records every byte it received, and answers with whatever the
test's ``answer`` function returns. Every loop is bounded by a socket timeout and a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

from fcgi_handlers.client import FCGIResult, fcgi_request, get_values, parse_address
from fcgi_handlers.protocol import (
    FCGI_AUTHORIZER,
    FCGI_FILTER,
    FCGI_MAX_CONNS,
    FCGI_MAX_REQS,
    FCGI_MPXS_CONNS,
    FCGI_RESPONDER,
    FCGI_UNKNOWN_ROLE,
    DataEnded,
    DataReceived,
    ParamsReceived,
    RequestBegun,
    ServerConnection,
    StdinEnded,
    StdinReceived,
)

from .wire import STDIN, parse

Answer = Tuple[bytes, bytes, int]


class Request:
    """What the tiny server saw of one request."""

    def __init__(self) -> None:
        self.begun: Optional[RequestBegun] = None
        self.params: dict[bytes, bytes] = {}
        self.stdin = b""
        self.data = b""


class TinyServer:
    """Serves connections one after another on a thread; ``answer(request)`` gives stdout, stderr, app_status.

    ``early`` answers right after the params and then drains the rest, as an application may (spec §6.2).
    ``mute`` reads but never answers; ``hang_up`` shuts its side right after the params without answering.
    """

    def __init__(self, listener: socket.socket, answer: Callable[[Request], Answer], mode: str = "normal") -> None:
        self.listener, self.answer, self.mode = listener, answer, mode
        self.requests: List[Request] = []
        self.raw: List[bytes] = []
        self.stop = threading.Event()
        listener.settimeout(0.05)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            with sock:
                sock.settimeout(5)
                self._serve(sock)

    def _serve(self, sock: socket.socket) -> None:
        conn = ServerConnection(roles={FCGI_RESPONDER, FCGI_AUTHORIZER, FCGI_FILTER}, max_conns=2, max_reqs=8)
        raw = bytearray()
        request = Request()
        answered = False
        for _ in range(100_000):
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            raw += chunk
            for event in conn.receive_data(chunk):
                if isinstance(event, RequestBegun):
                    request = Request()
                    request.begun = event
                elif isinstance(event, ParamsReceived):
                    request.params = event.params
                elif isinstance(event, StdinReceived):
                    request.stdin += event.data
                elif isinstance(event, DataReceived):
                    request.data += event.data
                if not answered and self._complete(event, request):
                    answered = True
                    if self.mode == "hang_up":
                        sock.shutdown(socket.SHUT_WR)  # a clean EOF before any answer; keep draining
                    elif self.mode != "mute":
                        sock.sendall(self._respond(conn, request))
            queued = conn.data_to_send()
            if queued:
                sock.sendall(queued)
        self.raw.append(bytes(raw))

    def _complete(self, event: object, request: Request) -> bool:
        role = request.begun.role if request.begun else 0
        if self.mode in ("early", "hang_up"):
            return isinstance(event, ParamsReceived)
        if role == FCGI_AUTHORIZER:
            return isinstance(event, ParamsReceived)
        return isinstance(event, DataEnded if role == FCGI_FILTER else StdinEnded)

    def _respond(self, conn: ServerConnection, request: Request) -> bytes:
        assert request.begun is not None
        self.requests.append(request)
        stdout, stderr, status = self.answer(request)
        rid = request.begun.request_id
        return conn.send_stdout(rid, stdout) + conn.send_stderr(rid, stderr) + conn.end_request(rid, status)

    def connection_bytes(self, index: int) -> bytes:
        """Every byte connection ``index`` carried, once the client closed it (waits at most 5 s)."""
        deadline = time.monotonic() + 5
        while len(self.raw) <= index and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.raw[index]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def echo(request: Request) -> Answer:
    method = request.params.get(b"REQUEST_METHOD", b"?")
    return b"Status: 200 OK\r\n\r\n" + method + b" " + request.stdin, b"log line", 3


@pytest.fixture
def unix_listener(tmp_path: Path) -> Iterator[Tuple[socket.socket, str]]:
    path = str(tmp_path / "fcgi.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(4)
        yield listener, "unix:" + path


@pytest.fixture
def tcp_listener() -> Iterator[Tuple[socket.socket, Tuple[str, int]]]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener, listener.getsockname()


@pytest.fixture
def serve(unix_listener: Tuple[socket.socket, str]) -> Iterator[Callable[..., Tuple[TinyServer, str]]]:
    servers: List[TinyServer] = []

    def start(answer: Callable[[Request], Answer] = echo, mode: str = "normal") -> Tuple[TinyServer, str]:
        servers.append(TinyServer(unix_listener[0], answer, mode))
        return servers[-1], unix_listener[1]

    yield start
    for server in servers:
        server.close()


def test_request_over_a_unix_socket(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    server, address = serve()
    body = bytes(range(256)) * 100
    result = fcgi_request(address, {"REQUEST_METHOD": "POST", b"CONTENT_LENGTH": b"25600"}, stdin=body)
    assert result == FCGIResult(b"Status: 200 OK\r\n\r\nPOST " + body, b"log line", 3, 0)
    (request,) = server.requests
    assert request.params == {b"REQUEST_METHOD": b"POST", b"CONTENT_LENGTH": b"25600"}
    assert request.begun == RequestBegun(1, FCGI_RESPONDER, False)
    stdin_sizes = [len(content) for rtype, _rid, content, _pad in parse(server.connection_bytes(0)) if rtype == STDIN]
    assert stdin_sizes == [8192, 8192, 8192, 1024, 0]  # Apache's record size, then the end of the body


def test_request_over_tcp(tcp_listener: Tuple[socket.socket, Tuple[str, int]]) -> None:
    listener, (host, port) = tcp_listener
    server = TinyServer(listener, echo)
    try:
        assert fcgi_request((host, port), {"REQUEST_METHOD": "GET"}, keep_conn=True).stdout.endswith(b"GET ")
        assert fcgi_request(f"{host}:{port}", {"REQUEST_METHOD": "HEAD"}).stdout.endswith(b"HEAD ")
        assert [r.begun.keep_conn for r in server.requests if r.begun] == [True, False]
    finally:
        server.close()


def test_authorizer_sends_no_stdin(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    server, address = serve(lambda request: (b"Status: 200 OK\r\nVariable-X: 1\r\n\r\n", b"", 0))
    result = fcgi_request(address, {"REMOTE_USER": "alice"}, role=FCGI_AUTHORIZER)
    assert result.stdout == b"Status: 200 OK\r\nVariable-X: 1\r\n\r\n"
    # BEGIN, PARAMS, empty PARAMS, and nothing more.
    assert [rtype for rtype, *_ in parse(server.connection_bytes(0))] == [1, 4, 4]
    with pytest.raises(ValueError, match="no body"):
        fcgi_request(address, {}, stdin=b"x", role=FCGI_AUTHORIZER)


def test_filter_sends_data_after_stdin(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    server, address = serve(lambda request: (request.stdin + b"|" + request.data, b"", 0))
    assert fcgi_request(address, {}, stdin=b"in", role=FCGI_FILTER, data=b"file").stdout == b"in|file"


def test_unknown_role_is_reported(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    _server, address = serve()
    assert fcgi_request(address, {}, role=9) == FCGIResult(b"", b"", 0, FCGI_UNKNOWN_ROLE)


def test_early_answer_while_a_large_body_is_still_being_sent(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    # Both sides write megabytes at once: a client that wrote everything before reading would deadlock.
    big = b"r" * 3_000_000
    server, address = serve(lambda request: (big, b"", 0), mode="early")
    started = time.monotonic()
    result = fcgi_request(address, {}, stdin=b"s" * 3_000_000, timeout=20)
    assert result.stdout == big and time.monotonic() - started < 20


def test_get_values(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    _server, address = serve()
    values = get_values(address, [FCGI_MAX_CONNS, "FCGI_MAX_REQS", FCGI_MPXS_CONNS, "OTHER"])
    assert values == {FCGI_MAX_CONNS: b"2", FCGI_MAX_REQS: b"8", FCGI_MPXS_CONNS: b"0"}


def test_timeout(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    _server, address = serve(mode="mute")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fcgi_request(address, {}, timeout=0.3)
    assert time.monotonic() - started < 3


def test_server_closing_before_the_end_is_a_connection_error(serve: Callable[..., Tuple[TinyServer, str]]) -> None:
    _server, address = serve(mode="hang_up")
    with pytest.raises(ConnectionError, match="before its FastCGI answer was complete"):
        fcgi_request(address, {}, timeout=5)


def test_nothing_listening(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        fcgi_request("unix:" + str(tmp_path / "absent.sock"), {}, timeout=1)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("unix:/run/app.sock", (socket.AF_UNIX, "/run/app.sock")),
        (("127.0.0.1", 9000), (socket.AF_INET, ("127.0.0.1", 9000))),
        ("localhost:9000", (socket.AF_INET, ("localhost", 9000))),
        ("[::1]:9000", (socket.AF_INET6, ("::1", 9000))),
    ],
)
def test_parse_address(address: str | Tuple[str, int], expected: object) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["unix:", "9000", "host:", "host:port"])
def test_parse_address_rejects(address: str) -> None:
    with pytest.raises(ValueError):
        parse_address(address)
