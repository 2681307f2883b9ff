"""A FastCGI connection kept open across requests, as Apache's ``enablereuse=on`` pool uses one.

``fcgi_handlers.client.fcgi_request`` opens one connection per request; the server tests also need the other shape:
several requests, one after the other, on one socket that stays open and idle in between. Every wait is bounded by
the socket timeout and a per-request deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Mapping, Optional

from fcgi_handlers.client import STDIN_RECORD_SIZE, Answer, FCGIResult, connect
from fcgi_handlers.protocol import FCGI_RESPONDER, ClientConnection


class KeptConnection:
    """One socket, many sequential requests (request id 1 each time, like Apache)."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self.address = address
        self.timeout = timeout
        self.sock: Optional[socket.socket] = connect(address, timeout)
        self._proto = ClientConnection()
        self.requests = 0

    def request(self, params: Mapping[str, str], stdin: bytes = b"", keep_conn: bool = True,
                role: int = FCGI_RESPONDER, close: bool = True) -> FCGIResult:
        """Send one whole request and read its answer; ``ConnectionError`` if the daemon closes first.

        The request is sent from a thread, so a daemon that answers before reading the whole body (allowed) does
        not deadlock us. Without ``keep_conn`` the socket is closed afterwards unless ``close`` is False.
        """
        sock = self._socket()
        proto = self._proto
        parts = [proto.begin_request(1, role, keep_conn), proto.send_params(1, params)]
        for start in range(0, len(stdin), STDIN_RECORD_SIZE):
            parts.append(proto.send_stdin(1, stdin[start:start + STDIN_RECORD_SIZE]))
        parts.append(proto.send_stdin(1, b"", end=True))
        out = b"".join(parts)
        if len(out) < 65536:
            sock.sendall(out)
            sender = None
        else:
            sender = threading.Thread(target=self._send_quietly, args=(sock, out), daemon=True)
            sender.start()
        try:
            result = self.read_answer()
        finally:
            if sender is not None:
                sender.join(self.timeout)
        self.requests += 1
        if not keep_conn and close:
            self.close()
        return result

    @staticmethod
    def _send_quietly(sock: socket.socket, data: bytes) -> None:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the daemon may close without reading it all; the answer says what happened

    def read_answer(self) -> FCGIResult:
        sock = self._socket()
        deadline = time.monotonic() + self.timeout
        answer = Answer()
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the kept connection before END_REQUEST")
            result = answer.feed(self._proto.receive_data(chunk))
            if result is not None:
                return result
        raise TimeoutError(f"no answer within {self.timeout} s")

    def at_eof(self, timeout: float, reset_ok: bool = True) -> bool:
        """True if the daemon closes this connection within ``timeout`` seconds (nothing else may arrive);
        with ``reset_ok`` False, only a clean end of stream counts, not a reset."""
        sock = self._socket()
        sock.settimeout(timeout)
        try:
            return sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return reset_ok
        finally:
            sock.settimeout(self.timeout)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _socket(self) -> socket.socket:
        if self.sock is None:
            raise ConnectionError("connection already closed")
        return self.sock


def body_of(result: FCGIResult) -> bytes:
    """The response body after the CGI header block."""
    head, sep, body = result.stdout.partition(b"\r\n\r\n")
    assert sep, f"no header block in {result.stdout[:200]!r}"
    return body


def status_of(result: FCGIResult) -> int:
    first = result.stdout.split(b"\r\n", 1)[0]
    assert first.startswith(b"Status: "), first
    return int(first.split()[1])
