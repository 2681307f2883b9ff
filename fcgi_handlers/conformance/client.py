"""The HTTP client of the conformance runner: requests written byte for byte, responses parsed by http.client.

The request line and headers are built here rather than by `http.client.HTTPConnection`, which refuses what some
scenarios must send: raw UTF-8 in the request target and non-ASCII bytes in header values. The response side uses
`http.client.HTTPResponse`, which de-chunks and knows HEAD has no body. A `Connection` object keeps one socket
across calls when the scenario asks for keep-alive (so one prefork child of mod_python's Apache answers them all).
"""
from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Optional, Sequence, Union

from fcgi_handlers.apache.runner import REQUEST_TIMEOUT, Response

CHUNK = 8192   # bytes per chunk of a chunked request body


def _as_bytes(value: Union[str, bytes]) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def request_bytes(method: str, target: Union[str, bytes], port: int, headers: Sequence[tuple[str, Union[str, bytes]]],
                  body: Optional[bytes], *, chunked: bool = False, keepalive: bool = False) -> bytes:
    """The bytes of one HTTP/1.1 request; a str target or header value is sent as UTF-8."""
    names = {name.lower() for name, _ in headers}
    lines = [method.encode("ascii") + b" " + _as_bytes(target) + b" HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: 127.0.0.1:{port}".encode("ascii"))
    lines += [name.encode("ascii") + b": " + _as_bytes(value) for name, value in headers]
    if "connection" not in names:
        lines.append(b"Connection: keep-alive" if keepalive else b"Connection: close")
    if body is not None and chunked:
        lines.append(b"Transfer-Encoding: chunked")
    elif body is not None and "content-length" not in names:
        lines.append(b"Content-Length: %d" % len(body))
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    if body is None:
        return head
    if not chunked:
        return head + body
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + CHUNK]), body[i:i + CHUNK]) for i in range(0, len(body), CHUNK)]
    return head + b"".join(parts) + b"0\r\n\r\n"


class Connection:
    """One client connection to 127.0.0.1:`port`, reopened when the server closed it."""

    def __init__(self, port: int, *, keepalive: bool = False, timeout: float = REQUEST_TIMEOUT) -> None:
        self.port, self.keepalive, self.timeout = port, keepalive, timeout
        self._sock: Optional[socket.socket] = None

    def send(self, method: str, target: Union[str, bytes], headers: Sequence[tuple[str, Union[str, bytes]]] = (),
             body: Optional[bytes] = None, *, chunked: bool = False) -> Response:
        data = request_bytes(method, target, self.port, headers, body, chunked=chunked, keepalive=self.keepalive)
        sock = self._sock or socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self._sock = None
        try:
            sock.sendall(data)
            reply = http.client.HTTPResponse(sock, method=method)
            reply.begin()
            response = Response(reply.status, reply.reason, reply.getheaders(), reply.read())
        except BaseException:
            sock.close()
            raise
        if self.keepalive and not reply.will_close:
            self._sock = sock
        else:
            sock.close()
        return response

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def send_concurrently(port: int, count: int, method: str, target: Union[str, bytes],
                      headers: Sequence[tuple[str, Union[str, bytes]]] = (), body: Optional[bytes] = None,
                      timeout: float = REQUEST_TIMEOUT, stagger: float = 0.0) -> list[Response]:
    """`count` copies of one request, each on its own connection: the first at once, the others together `stagger`
    seconds later (while the first is still being answered); answers in sending order."""
    results: list[Union[Response, BaseException, None]] = [None] * count
    barrier = threading.Barrier(count)

    def one(index: int) -> None:
        try:
            barrier.wait(timeout)
            if index and stagger:
                time.sleep(stagger)
            results[index] = Connection(port, timeout=timeout).send(method, target, headers, body)
        except BaseException as exc:  # reported to the caller below
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    answers: list[Response] = []
    for result in results:
        if not isinstance(result, Response):
            raise ConnectionError(f"a concurrent request failed: {result!r}")
        answers.append(result)
    return answers
