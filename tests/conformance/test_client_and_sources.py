"""The runner's HTTP client against a canned loopback server, the workspace's blocks, and the corpus' handler
sources (each compiles, except the ones a scenario breaks on purpose)."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcgi_handlers.apache import Backend
from fcgi_handlers.conformance import corpus
from fcgi_handlers.conformance.client import Connection, request_bytes, send_concurrently
from fcgi_handlers.conformance.runner import Workspace, daemon_block
from fcgi_handlers.conformance.scenario import Scenario, show

REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
BROKEN_ON_PURPOSE = {"err_syntax_error_debug", "err_syntax_error_no_debug"}


def test_request_bytes_send_targets_and_headers_as_given() -> None:
    data = request_bytes("GET", "/caf\u00e9?q=1", 8080, [("X-Raw", b"caf\xe9")], None)
    assert data == (b"GET /caf\xc3\xa9?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Raw: caf\xe9\r\n"
                    b"Connection: close\r\n\r\n")


def test_request_bytes_frame_a_body_by_length_or_in_chunks() -> None:
    fixed = request_bytes("POST", "/", 1, [], b"abc")
    assert fixed.endswith(b"Content-Length: 3\r\n\r\nabc")
    chunked = request_bytes("POST", "/", 1, [], b"x" * 8200, chunked=True, keepalive=True)
    head, _, body = chunked.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert b"Connection: keep-alive" in head
    assert body == b"2000\r\n" + b"x" * 8192 + b"\r\n8\r\n" + b"x" * 8 + b"\r\n0\r\n\r\n"


@pytest.fixture
def canned_server() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server answering every request on every connection with REPLY; records what it received."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # the accept loop looks at `stop` this often
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            for _ in range(10):  # at most ten requests per connection
                data = conn.recv(65536)
                if not data:
                    return
                received.append(data)
                conn.sendall(REPLY)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    stop.set()
    thread.join(5)
    listener.close()


def test_a_keepalive_connection_reuses_its_socket(canned_server: tuple[int, list[bytes]]) -> None:
    port, received = canned_server
    conn = Connection(port, keepalive=True)
    try:
        first, second = conn.send("GET", "/a"), conn.send("GET", "/b")
    finally:
        conn.close()
    assert (first.status, first.body, second.body) == (200, b"abc", b"abc")
    assert [data.split(b" ")[1] for data in received] == [b"/a", b"/b"]


def test_concurrent_copies_all_answer(canned_server: tuple[int, list[bytes]]) -> None:
    port, received = canned_server
    answers = send_concurrently(port, 4, "GET", "/c", stagger=0.05)
    assert [a.body for a in answers] == [b"abc"] * 4 and len(received) == 4


def test_every_handler_source_compiles(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    for scenario in corpus():
        for name, text in workspace.sources(scenario).items():
            if scenario.name in BROKEN_ON_PURPOSE:
                continue
            compile(text, name, "exec")


def test_every_block_translates_for_the_daemon(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    for scenario in corpus():
        translated, error = daemon_block(workspace.block(scenario), Backend(port=9000))
        assert error is None and translated is not None, (scenario.name, error)
        assert "SetHandler mod_python" not in translated and "fcgi://127.0.0.1:9000" in translated


def test_show_takes_every_value_before_writing() -> None:
    source = show("req.uri", "1 / 0")
    namespace: dict[str, object] = {}
    exec(compile(source.replace("from mod_python import apache", "class apache:\n    OK = 0"), "s", "exec"),
         namespace)

    class Req:
        uri = "/u"
        content_type = None
        written: list[str] = []

        def write(self, text: str) -> None:
            self.written.append(text)

    req = Req()
    assert namespace["handler"](req) == 0  # type: ignore[operator]
    assert req.written == ["req.uri = '/u'\n1 / 0 = raised ZeroDivisionError: division by zero\n"]


def test_blocks_name_the_scenarios_location_or_directory(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    location = Scenario("loc", "a", "src")
    directory = Scenario("dir", "a", "src", container="Directory")
    assert workspace.block(location).splitlines()[0] == '<Location "/cf/loc/">'
    assert workspace.block(directory).splitlines()[0] == f'<Directory "{tmp_path}/htdocs/cf/dir">'
    assert "PythonHandler cf_loc" in workspace.block(location)
