"""accept() hands out a socket whose descriptor is really blocking (one accept4 call, no extra ioctl on Linux)."""
from __future__ import annotations

import _socket
import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Optional

import pytest

from fcgi_handlers.server.sockets import Listener, accept, bind


def _accept_one(listener: Listener) -> _socket.socket:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        conn = accept(listener)
        if conn is not None:
            return conn
        time.sleep(0.01)
    raise AssertionError("no connection accepted within 5 s")


@pytest.mark.parametrize("default_timeout", [None, 5.0])
@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_accepted_socket_descriptor_is_blocking(tmp_path: Path, kind: str, default_timeout: Optional[float]) -> None:
    listener = bind("127.0.0.1:0" if kind == "tcp" else f"unix:{tmp_path / 'a.sock'}", 16, 0o600)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(default_timeout)  # a handler may set one; accept() must still hand out blocking sockets
    try:
        assert listener.sock.gettimeout() == 0.0
        if kind == "tcp":
            client = socket.create_connection((listener.bound.host, listener.bound.port), timeout=5)
        else:
            client = socket.socket(socket.AF_UNIX)
            client.connect(listener.address.path)
        conn = _accept_one(listener)
        try:
            assert not fcntl.fcntl(conn.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
            assert conn.gettimeout() is None
            if kind == "tcp":
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            client.sendall(b"x")
            assert conn.recv(1) == b"x"  # a blocking recv that returns: no BlockingIOError
        finally:
            conn.close()
            client.close()
    finally:
        socket.setdefaulttimeout(previous)
        listener.close()
        listener.remove_path()
