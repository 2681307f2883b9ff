"""The Apache configuration fcgi_handlers.apache generates, run in a real Apache against a stand-in responder.

The stand-in is a minimal FastCGI responder written here from the spec (independent of the project's protocol
layer): it records each request's BEGIN_REQUEST flags, its params and which connection carried it, so the tests can
see whether Apache pooled connections (FCGI_KEEP_CONN) and what the generated SetEnv lines delivered.
"""
from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Callable, Iterator, Optional

import pytest

from e2e.harness import ApacheServer
from fcgi_handlers.apache import Backend, include_snippet

pytestmark = pytest.mark.e2e

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6
FCGI_KEEP_CONN = 1
HEADER = struct.Struct(">BBHHBx")
REQUESTS = 20   # sequential requests; more than the event MPM's ServerLimit (16), so reuse must show


class StandinResponder:
    """Serves every request with 200 and a JSON body of its params; records (connection, flags, params)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.requests: list[tuple[int, int, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        index = 0
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            index += 1
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(10)
        with conn:
            while not self._stop.is_set():
                flags = self._serve_one(conn, index)
                if flags is None or not flags & FCGI_KEEP_CONN:
                    return

    def _serve_one(self, conn: socket.socket, index: int) -> Optional[int]:
        flags, params_data, stdin_done = None, b"", False
        while not stdin_done:
            record = _read_record(conn)
            if record is None:
                return None
            kind, request_id, content = record
            if kind == FCGI_BEGIN_REQUEST:
                flags = content[2]
            elif kind == FCGI_PARAMS:
                params_data += content
            elif kind == FCGI_STDIN and not content:
                stdin_done = True
        params = _decode_pairs(params_data)
        self.requests.append((index, flags or 0, params))
        body = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n" + json.dumps(params).encode()
        conn.sendall(_record(FCGI_STDOUT, request_id, body) + _record(FCGI_STDOUT, request_id, b"")
                     + _record(FCGI_END_REQUEST, request_id, bytes(8)))
        return flags


def _read_exact(conn: socket.socket, size: int) -> Optional[bytes]:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_record(conn: socket.socket) -> Optional[tuple[int, int, bytes]]:
    header = _read_exact(conn, HEADER.size)
    if header is None:
        return None
    _, kind, request_id, length, padding = HEADER.unpack(header)
    content = _read_exact(conn, length + padding) if length + padding else b""
    return None if content is None else (kind, request_id, content[:length])


def _record(kind: int, request_id: int, content: bytes) -> bytes:
    return HEADER.pack(1, kind, request_id, len(content), 0) + content


def _decode_pairs(data: bytes) -> dict[str, str]:
    def length(at: int) -> tuple[int, int]:
        if data[at] < 0x80:
            return data[at], at + 1
        return struct.unpack(">I", data[at:at + 4])[0] & 0x7FFFFFFF, at + 4
    pairs, at = {}, 0
    while at < len(data):
        name_len, at = length(at)
        value_len, at = length(at)
        name, value = data[at:at + name_len], data[at + name_len:at + name_len + value_len]
        pairs[name.decode("latin-1")] = value.decode("latin-1")
        at += name_len + value_len
    return pairs


@pytest.fixture
def responder() -> Iterator[StandinResponder]:
    standin = StandinResponder()
    yield standin
    standin.close()


def _fetch_all(server: ApacheServer, path: str, responder: StandinResponder) -> list[tuple[int, int, dict[str, str]]]:
    for _ in range(REQUESTS):
        response = server.get(path)
        assert response.status == 200, response.text
    return responder.requests


def test_include_snippet_loads_modules_and_pools_connections(start_apache: Callable[..., ApacheServer],
                                                             responder: StandinResponder) -> None:
    backend = Backend(port=responder.port)
    snippet = include_snippet(backend, location="/app/", handler="hello", directory="@DOCROOT@/py")
    # Only what any Apache loads: the snippet's IfModule guards must load proxy, proxy_fcgi and env themselves.
    server = start_apache([snippet], name="snippet", base_modules=("authz_core", "mime", "dir"),
                          static_files={"py/script.py": b""})
    requests = _fetch_all(server, "/app/x", responder)
    assert all(flags & FCGI_KEEP_CONN for _, flags, _ in requests)
    assert len({index for index, _, _ in requests}) < len(requests)
    params = requests[-1][2]
    assert (params["PythonHandler"], params["PythonDebug"]) == ("hello", "On")
    assert "HTTP_AUTHORIZATION" in json.loads(server.get("/app/x", {"Authorization": "Basic Zm9vOmJhcg=="}).body)


def test_include_snippet_sethandler_form_maps_file_and_path_info(start_apache: Callable[..., ApacheServer],
                                                                 responder: StandinResponder) -> None:
    snippet = include_snippet(Backend(port=responder.port), directory="@DOCROOT@/py")
    server = start_apache([snippet], name="snippet", static_files={"py/script.py": b""})
    requests = _fetch_all(server, "/py/script.py/extra/info", responder)
    assert all(flags & FCGI_KEEP_CONN for _, flags, _ in requests)
    params = requests[-1][2]
    assert params["SCRIPT_FILENAME"] == str(server.run_dir / "htdocs" / "py" / "script.py")
    assert (params["SCRIPT_NAME"], params["PATH_INFO"]) == ("/py/script.py", "/extra/info")
    assert params["PythonHandler"] == "hello" and "PythonDebug" not in params


def test_worker_without_reuse_opens_a_connection_per_request(start_apache: Callable[..., ApacheServer],
                                                             responder: StandinResponder) -> None:
    backend = Backend(port=responder.port)
    block = f'<Location "/plain/">\n    ProxyPass "{backend.worker_url()}"\n</Location>'
    server = start_apache([block], name="noreuse", backend=backend, reuse=False)
    requests = _fetch_all(server, "/plain/x", responder)
    assert not any(flags & FCGI_KEEP_CONN for _, flags, _ in requests)
    assert len({index for index, _, _ in requests}) == len(requests)
