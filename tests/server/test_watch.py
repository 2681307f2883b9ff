"""The slow log, the request timeout and the access log line, with the clock passed in (no sleeping)."""
from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from fcgi_handlers.protocol import ServerConnection
from fcgi_handlers.server.accesslog import body_bytes, format_line, response_status
from fcgi_handlers.server.activity import Activity, send_and_shut
from fcgi_handlers.server.transport import Connection
from fcgi_handlers.server.watch import RequestWatch

PARAMS = {b"REQUEST_METHOD": b"POST", b"REQUEST_URI": b"/app/x?y=1", b"REMOTE_ADDR": b"10.1.2.3",
          b"SERVER_PROTOCOL": b"HTTP/1.1", b"HTTP_USER_AGENT": b'ua "quoted"', b"REMOTE_USER": b"alice"}


@pytest.fixture
def activity() -> Iterator[Activity]:
    ours, theirs = socket.socketpair()
    made = Activity(Connection(ours, ServerConnection()), dict(PARAMS), threading.get_ident())
    made.started = 1000.0
    made.note.phase, made.note.handler = "PythonHandler", "mod::handler"
    yield made
    ours.close()
    theirs.close()


def test_slow_request_is_logged_once_with_this_threads_stack(activity: Activity,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    watch = RequestWatch(slowlog_timeout=0.5, request_timeout=0)
    assert watch.check([activity], 1000.4) == ([], 1000.5)
    assert not caplog.records
    for now in (1000.6, 1001.0, 1010.0):
        assert watch.check([activity], now) == ([], None)
    assert watch.slow == 1
    [record] = caplog.records
    text = record.getMessage()
    assert text.startswith("slow request (slowlog_timeout 0.5 s) in worker ")
    assert ": POST /app/x?y=1 phase=PythonHandler handler=mod::handler remote=10.1.2.3 running 0.6 s\n" in text
    # The stack of the activity's thread: this test, which called check().
    assert "in test_slow_request_is_logged_once_with_this_threads_stack\n" in text


def test_slow_log_file_gets_whole_entries(activity: Activity, tmp_path: Path) -> None:
    watch = RequestWatch(slowlog_timeout=1, request_timeout=0, slowlog_path=str(tmp_path / "slow.log"))
    watch.check([activity], 1001.5)
    watch.close()
    text = (tmp_path / "slow.log").read_text()
    assert text.startswith("[") and "POST /app/x?y=1" in text and text.endswith("\n\n")


def test_timed_out_request_is_returned_once(activity: Activity, caplog: pytest.LogCaptureFixture) -> None:
    watch = RequestWatch(slowlog_timeout=0.5, request_timeout=2)
    assert watch.check([activity], 1000.1) == ([], 1000.5)
    assert watch.check([activity], 1001.0) == ([], 1002.0)  # logged as slow; the timeout is next
    assert watch.check([activity], 1002.0) == ([activity], None)
    assert watch.check([activity], 1003.0) == ([], None)
    assert (watch.slow, watch.timed_out) == (1, 1) and activity.timed_out
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_access_log_fields() -> None:
    head = b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope"
    assert response_status(head, True) == 404 and body_bytes(head, len(head) + 10) == 14
    assert response_status(b"Content-Type: text/plain\r\n\r\nok", True) == 200
    assert response_status(b"", False) == 500
    line = format_line(PARAMS, 404, 14, 0.0, 0.25, 4242)
    assert line.startswith("10.1.2.3 - alice [")
    assert line.endswith('] "POST /app/x?y=1 HTTP/1.1" 404 14 "-" "ua \\"quoted\\"" 0.250000 4242')


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_send_and_shut_delivers_the_data_then_the_end(family: str) -> None:
    if family == "tcp":
        server = socket.create_server(("127.0.0.1", 0))
        peer = socket.create_connection(server.getsockname())
        ours, _ = server.accept()
        server.close()
    else:
        ours, peer = socket.socketpair()
    try:
        send_and_shut(ours, b"x" * 100 + b"END", 1.0)
        peer.settimeout(5)
        received = b""
        while not received.endswith(b"END") or len(received) < 103:
            chunk = peer.recv(4096)
            assert chunk, received
            received += chunk
        assert received == b"x" * 100 + b"END" and peer.recv(10) == b""
        with pytest.raises(OSError):
            send_and_shut(ours, b"more", 1.0)  # shut: nothing more goes out
    finally:
        ours.close()
        peer.close()
