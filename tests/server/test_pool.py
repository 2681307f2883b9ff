"""The request threads' connection ownership (``pool.py``), driven in-process over socketpairs.

These pin the hand-over rules the SIGHUP tests rely on without their timing: a connection the main thread has taken
is never read by a thread that still holds an old event for it, a connection in a request is never taken, and a kept
connection goes back to the epoll (served again) or, while the worker stops, to the main thread or closed.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import pytest

from fcgi_handlers.protocol import FCGI_RESPONDER, ClientConnection, ServerConnection, StdoutReceived
from fcgi_handlers.server import FastCGIRequest
from fcgi_handlers.server.pool import RETIRING, RUNNING, STOPPING, EventPool, _Lane
from fcgi_handlers.server.transport import BUSY, SETTLING, Connection

Made = Tuple[EventPool, List[int]]


def request_bytes(path: str, keep_conn: bool = True) -> bytes:
    client = ClientConnection()
    return b"".join([client.begin_request(1, FCGI_RESPONDER, keep_conn), client.send_params(1, {"SCRIPT_NAME": path}),
                     client.send_stdin(1, b"", end=True)])


def read_answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The stdout of one answer (until END_REQUEST)."""
    client = ClientConnection()
    client.begin_request(1, FCGI_RESPONDER, True)
    sock.settimeout(timeout)
    out = []
    while True:
        data = sock.recv(65536)
        assert data, "closed before END_REQUEST"
        events = client.receive_data(data)
        out += [e.data for e in events if isinstance(e, StdoutReceived)]
        if not client.active_requests:
            return b"".join(out)


@pytest.fixture
def make_pool() -> Iterator[Callable[..., Made]]:
    """``make_pool(app, threads=0)``: a pool (its threads started when ``threads`` > 0) and its wake-up count."""
    pools: List[EventPool] = []

    def make(app: Callable[[FastCGIRequest], int], threads: int = 0) -> Made:
        wakes: List[int] = []
        pool = EventPool(app, max(threads, 1), 1 << 20, ServerConnection, lambda: wakes.append(1), 0)
        if threads:
            pool.start([])
        pools.append(pool)
        return pool, wakes

    yield make


def hello(request: FastCGIRequest) -> int:
    request.sink.stdout(b"Status: 200 OK\r\n\r\nhi")
    return 0


def state_of(conn: Connection) -> str:
    """The connection's state as read now: another thread changes it between two reads."""
    return conn.state


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


def test_a_stale_event_for_a_handed_over_connection_reads_nothing(make_pool: Callable[..., Made]) -> None:
    pool, _ = make_pool(hello)
    ours, apache = socket.socketpair()
    try:
        assert pool.adopt(ours) is None  # running: armed in the epoll
        conn = pool._conns[ours.fileno()]
        apache.sendall(request_bytes("/a"))  # the request arrives as the main thread decides to hand over
        taken = pool.set_mode(RETIRING)
        assert taken == [conn] and conn.state is SETTLING
        pool.detach(conn)
        pool._on_event(conn.fd, _Lane())  # a thread that had dequeued the event before the hand-over
        waiting = ours.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        assert waiting == request_bytes("/a")  # every byte stays in the kernel for the new owner
        apache.setblocking(False)
        with pytest.raises(BlockingIOError):
            apache.recv(1)  # and nothing was answered
    finally:
        ours.close()
        apache.close()


def test_kept_connection_is_served_again_and_handed_back_while_retiring(make_pool: Callable[..., Made]) -> None:
    release, running = threading.Event(), threading.Event()

    def app(request: FastCGIRequest) -> int:
        if request.params[b"SCRIPT_NAME"] == b"/wait":
            running.set()
            assert release.wait(5)
        return hello(request)

    pool, wakes = make_pool(app, threads=2)
    ours, apache = socket.socketpair()
    try:
        assert pool.adopt(ours) is None  # running: armed in the epoll
        conn = pool._conns[ours.fileno()]
        for _ in range(3):
            apache.sendall(request_bytes("/hello"))
            assert read_answer(apache).endswith(b"hi")
        apache.sendall(request_bytes("/wait"))
        assert running.wait(5) and conn.state is BUSY  # (BUSY alone may still be the previous request's thread)
        assert pool.set_mode(RETIRING) == []  # in a request: not the main thread's to take
        release.set()
        assert read_answer(apache).endswith(b"hi")
        settling: List[object] = []

        def settled() -> bool:
            settling.extend(pool.take_settling())
            return bool(settling)

        assert wait_until(settled)
        assert settling == [conn] and state_of(conn) is SETTLING and wakes  # after END_REQUEST, for the hand-over
        assert pool.served == 4
    finally:
        release.set()
        ours.close()
        apache.close()


def test_stopping_closes_a_kept_connection_right_after_its_request(make_pool: Callable[..., Made]) -> None:
    release = threading.Event()

    def app(request: FastCGIRequest) -> int:
        assert release.wait(5)
        return hello(request)

    pool, _ = make_pool(app, threads=2)
    ours, apache = socket.socketpair()
    try:
        assert pool.adopt(ours) is None  # running: armed in the epoll
        conn = pool._conns[ours.fileno()]
        apache.sendall(request_bytes("/wait"))
        assert wait_until(lambda: conn.state is BUSY)
        assert pool.mode is RUNNING
        assert pool.set_mode(STOPPING) == []
        release.set()
        assert read_answer(apache).endswith(b"hi")
        apache.settimeout(5)
        assert apache.recv(1) == b""  # closed after END_REQUEST, not kept for a next request
        assert wait_until(pool.drained)
    finally:
        release.set()
        apache.close()


def test_a_long_request_hands_the_epoll_to_another_thread(make_pool: Callable[..., Made]) -> None:
    """Only the leading thread polls; while its request blocks, the watchdog (main thread) lets a follower lead."""
    release = threading.Event()

    def app(request: FastCGIRequest) -> int:
        if request.params[b"SCRIPT_NAME"] == b"/wait":
            assert release.wait(5)
        return hello(request)

    pool, _ = make_pool(app, threads=2)
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        for ours, _ in pairs:
            pool.adopt(ours)
        pairs[0][1].sendall(request_bytes("/wait"))
        assert wait_until(pool.busy)
        pairs[1][1].sendall(request_bytes("/hello"))
        pairs[1][1].settimeout(0.3)
        with pytest.raises(socket.timeout):
            pairs[1][1].recv(1)  # the only poller is blocked in the first request
        assert pool.watch() and pool.watch()  # two ticks on the same event: a follower leads now
        assert read_answer(pairs[1][1]).endswith(b"hi")
        release.set()
        assert read_answer(pairs[0][1]).endswith(b"hi")
    finally:
        release.set()
        for ours, apache in pairs:
            ours.close()
            apache.close()


def test_a_listener_event_accepts_a_bounded_burst(make_pool: Callable[..., Made], tmp_path: Path) -> None:
    """Without enablereuse every request is a new connection: the leader accepts the waiting ones in a row, but at
    most ACCEPT_BURST after the first, so a kept connection's request is not left behind a whole backlog."""
    from fcgi_handlers.server.pool import ACCEPT_BURST
    from fcgi_handlers.server.sockets import bind

    served: List[str] = []
    first_running, release = threading.Event(), threading.Event()

    def app(request: FastCGIRequest) -> int:
        path = request.params[b"SCRIPT_NAME"].decode()
        served.append(path)
        if path == "/first":
            first_running.set()
            assert release.wait(5)
        return hello(request)

    backlog = 4 * (ACCEPT_BURST + 1)
    listener = bind(f"unix:{tmp_path / 'l.sock'}", backlog + 8, 0o600)
    clients: List[socket.socket] = []
    ours, apache = socket.socketpair()
    pool, _ = make_pool(app)
    try:
        for index in range(backlog + 1):
            client = socket.socket(socket.AF_UNIX)
            client.connect(listener.address.path)
            client.sendall(request_bytes("/first" if index == 0 else f"/new{index}", keep_conn=False))
            clients.append(client)
        pool.start([listener])
        assert first_running.wait(5)
        apache.sendall(request_bytes("/kept"))
        assert pool.adopt(ours) is None  # armed, with its request waiting, while the leader is in its first burst
        release.set()
        assert read_answer(apache).endswith(b"hi")
        for client in clients:
            assert read_answer(client).endswith(b"hi")
        assert len(served) == backlog + 2
        # The first burst (the rest of it) and at most one more before the kept connection's turn; an unbounded
        # burst would serve the whole backlog first.
        assert served.index("/kept") <= 2 * (ACCEPT_BURST + 1) + 1 < backlog, served
    finally:
        release.set()
        for client in clients:
            client.close()
        ours.close()
        apache.close()
        listener.close()
