"""Bind addresses and listening sockets, in-process: parsing, unix socket safety, TCP_NODELAY on accept."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from fcgi_handlers.server.sockets import Address, BindError, accept, bind, parse_address


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:9000", Address(host="127.0.0.1", port=9000)),
    ("[::1]:9001", Address(host="::1", port=9001)),
    (":9002", Address(host="0.0.0.0", port=9002)),
    ("unix:/run/x.sock", Address(path="/run/x.sock")),
    ("unix:///run/y.sock", Address(path="/run/y.sock")),
])
def test_parse_address(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["localhost", "127.0.0.1:http", "127.0.0.1:70000", "unix:"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(BindError):
        parse_address(text)


def test_tcp_listener_reports_its_port_and_accepts_with_nodelay() -> None:
    listener = bind("127.0.0.1:0", 16, 0o660)
    try:
        bound = listener.bound
        assert bound.host == "127.0.0.1" and bound.port > 0
        assert listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert accept(listener) is None  # nothing queued: non-blocking, no error
        client = socket.create_connection((bound.host, bound.port), timeout=5)
        conn = None
        for _ in range(100):
            conn = accept(listener)
            if conn is not None:
                break
            socket.socket().close()
        assert conn is not None
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert conn.gettimeout() is None  # blocking: a request thread owns it
        conn.close()
        client.close()
    finally:
        listener.close()


def test_unix_listener_mode_and_path_cleanup(tmp_path: Path) -> None:
    path = tmp_path / "a.sock"
    listener = bind(f"unix:{path}", 16, 0o640)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    listener.close()
    listener.remove_path()
    assert not path.exists()


def test_live_unix_socket_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "live.sock"
    live = socket.socket(socket.AF_UNIX)
    live.bind(str(path))
    live.listen(1)
    try:
        with pytest.raises(BindError, match="running instance"):
            bind(f"unix:{path}", 16, 0o660)
        assert path.exists()
    finally:
        live.close()


def test_stale_unix_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    listener = bind(f"unix:{path}", 16, 0o660)
    try:
        probe = socket.socket(socket.AF_UNIX)
        probe.connect(str(path))  # the new listener answers on the path
        probe.close()
    finally:
        listener.close()
        listener.remove_path()


def test_regular_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "precious.txt"
    path.write_text("keep me")
    with pytest.raises(BindError, match="not a socket"):
        bind(f"unix:{path}", 16, 0o660)
    assert path.read_text() == "keep me"


def test_remove_path_leaves_a_successor_socket_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    first = bind(f"unix:{path}", 16, 0o660)
    first.close()
    os.unlink(path)
    second = bind(f"unix:{path}", 16, 0o660)  # another instance took the path over
    try:
        first.remove_path()
        assert path.exists()
    finally:
        second.close()
        second.remove_path()


def test_an_inherited_listening_socket_by_descriptor() -> None:
    """`fd:N`: a socket a web server passed in (FastCGI's FCGI_LISTENSOCK_FILENO is 0); not ours to unlink."""
    given = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    given.bind(("127.0.0.1", 0))
    given.listen(4)
    listener = bind(f"fd:{given.fileno()}", 4, 0o660)
    assert str(listener.bound) == f"fd:{given.fileno()}"
    # An inherited TCP socket gets a TCP bind's client filter: loopback only on loopback, or the configured list.
    assert listener.clients is not None and listener.clients.allows("127.0.0.1")
    assert not listener.clients.allows("192.0.2.1")
    listed = bind(f"fd:{given.fileno()}", 4, 0o660, allowed_clients=["192.0.2.1"])
    assert listed.clients is not None and listed.clients.allows("192.0.2.1")
    assert not listed.clients.allows("127.0.0.1")
    listed.sock.detach()
    client = socket.create_connection(given.getsockname())
    conn = None
    for _ in range(100):
        conn = accept(listener)
        if conn is not None:
            break
    assert conn is not None
    for sock in (conn, client, given):
        sock.close()
    listener.sock.detach()
    not_listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(BindError, match="not a listening stream socket"):
        bind(f"fd:{not_listening.fileno()}", 4, 0o660)
    assert not_listening.fileno() >= 0   # left open: the descriptor was not ours
    not_listening.close()
    with pytest.raises(BindError, match="file descriptor number"):
        parse_address("fd:x")
