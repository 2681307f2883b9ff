"""The WSGI gateway below the server layer: params in, the CGI response bytes and stderr lines out (a fake sink)."""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import pytest
from fake_sink import FakeSink

from fcgi_handlers.protocol.constants import FCGI_AUTHORIZER, FCGI_RESPONDER
from fcgi_handlers.wsgi.environ import MOUNT_PARAM, build_environ, native, split_script
from fcgi_handlers.wsgi.gateway import run_app

Start = Callable[..., Any]


@dataclass
class FakeRequest:
    params: dict[bytes, bytes]
    body: io.BytesIO = field(default_factory=io.BytesIO)
    role: int = FCGI_RESPONDER
    sink: FakeSink = field(default_factory=FakeSink)


def params(**extra: bytes) -> dict[bytes, bytes]:
    base = {b"REQUEST_METHOD": b"GET", b"SERVER_NAME": b"localhost", b"SERVER_PORT": b"80",
            b"SERVER_PROTOCOL": b"HTTP/1.1", b"QUERY_STRING": b"", b"REQUEST_URI": b"/app/x",
            b"SCRIPT_NAME": b"/app/x", b"SCRIPT_FILENAME": b"proxy:fcgi://127.0.0.1:9000/app/x"}
    base.update({name.encode(): value for name, value in extra.items()})
    return base


def serve(app: Any, request: Optional[FakeRequest] = None, debug: bool = False) -> FakeRequest:
    request = request or FakeRequest(params())
    assert run_app(app, request, multithread=True, multiprocess=False, debug=debug) == 0
    return request


def test_proxypass_path_is_path_info_under_the_root_or_the_mount() -> None:
    assert split_script({"SCRIPT_NAME": "/app/x"}) == ("", "/app/x")
    assert split_script({"SCRIPT_NAME": "/app/x", MOUNT_PARAM: "/app/"}) == ("/app", "/x")
    assert split_script({"SCRIPT_NAME": "/app", MOUNT_PARAM: "/app"}) == ("/app", "")
    assert split_script({"SCRIPT_NAME": "/application", MOUNT_PARAM: "/app"}) == ("", "/application")
    # <Directory> + SetHandler: Apache split them already.
    assert split_script({"SCRIPT_NAME": "/d/s.py", "PATH_INFO": "/a b"}) == ("/d/s.py", "/a b")


def test_environ_holds_native_strings_and_no_daemon_params() -> None:
    raw = params(SCRIPT_NAME=b"/caf\xc3\xa9", HTTPS=b"on", PythonHandler=b"h", FCGI_HANDLERS_WSGI_MOUNT=b"/",
                 HTTP_X_A=b"\xff")
    environ = build_environ(native(raw), input=None, errors=None, multithread=False, multiprocess=True,
                            extra={"app.key": 1})
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/caf\u00e9"
    assert environ["HTTP_X_A"] == "\xff"
    assert "PythonHandler" not in environ and MOUNT_PARAM not in environ
    assert environ["wsgi.url_scheme"] == "https" and environ["wsgi.version"] == (1, 0)
    assert (environ["wsgi.multithread"], environ["wsgi.multiprocess"], environ["wsgi.run_once"]) == (False, True,
                                                                                                      False)
    assert environ["app.key"] == 1 and environ["SCRIPT_NAME"] == ""


def test_one_chunk_gets_a_content_length_and_one_write() -> None:
    def app(environ: dict[str, Any], start: Start) -> list[bytes]:
        start("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]
    sink = serve(app).sink
    assert sink.out == [b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"]


def test_generator_streams_headers_with_the_first_chunk_and_closes() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b""
            yield b"a"
            yield b"b"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start: Start) -> Body:
        start("201 Created", [("X-A", "1")])
        return Body()
    sink = serve(app).sink
    assert sink.out == [b"Status: 201 Created\r\nX-A: 1\r\n\r\na", b"b"] and closed == [True]


def test_body_input_and_errors_stream() -> None:
    def app(environ: dict[str, Any], start: Start) -> list[bytes]:
        environ["wsgi.errors"].write("note from the app\n")
        data = environ["wsgi.input"].read()
        start("200 OK", [])
        return [data.upper()]
    request = FakeRequest(params(REQUEST_METHOD=b"POST", CONTENT_LENGTH=b"3"), io.BytesIO(b"abc"))
    sink = serve(app, request).sink
    assert sink.data.endswith(b"\r\n\r\nABC") and sink.log == ["note from the app"]


def test_write_callable_and_empty_body_without_a_made_up_length() -> None:
    def app(environ: dict[str, Any], start: Start) -> list[bytes]:
        write = start("200 OK", [("Content-Type", "text/plain")])
        write(b"early ")
        return [b"", b"late"]
    assert serve(app).sink.data == b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nearly late"

    def empty(environ: dict[str, Any], start: Start) -> list[bytes]:
        start("204 No Content", [])
        return []
    assert serve(empty).sink.data == b"Status: 204 No Content\r\n\r\n"


@pytest.mark.parametrize("status, headers, body, logged", [
    ("200", [], [b"x"], "three digits"),
    ("200 OK", [("Bad Name", "v")], [b"x"], "not allowed"),
    ("200 OK", [("Connection", "close")], [b"x"], "hop-by-hop"),
    ("200 OK", [("X", "a\r\nInjected: 1")], [b"x"], "line break"),
    ("200 OK", [("X", "\u20ac")], [b"x"], "not Latin-1"),
    ("200 OK", [], ["text"], "must yield bytes"),
])
def test_contract_violations_are_a_500_with_one_line_cause(status: str, headers: list[tuple[str, str]],
                                                           body: list[Any], logged: str) -> None:
    def app(environ: dict[str, Any], start: Start) -> list[Any]:
        start(status, headers)
        return body
    sink = serve(app).sink
    assert sink.data.startswith(b"Status: 500 Internal Server Error\r\n")
    assert sink.log[0].startswith("fcgi_handlers: WSGI application failed on /app/x: WSGIError") and logged in \
        sink.log[0]


def test_a_failure_after_output_cuts_the_response_and_logs() -> None:
    def app(environ: dict[str, Any], start: Start) -> Iterator[bytes]:
        start("200 OK", [])
        yield b"part"
        raise RuntimeError("boom")
    sink = serve(app).sink
    assert sink.out == [b"Status: 200 OK\r\n\r\npart"]
    assert "RuntimeError: boom" in sink.log[0]


def test_exc_info_replaces_headers_before_output_and_debug_shows_the_traceback() -> None:
    def app(environ: dict[str, Any], start: Start) -> list[bytes]:
        start("200 OK", [("X-A", "1")])
        try:
            raise KeyError("k")
        except KeyError:
            start("503 Unavailable", [("Retry-After", "5")], sys.exc_info())
        return [b"later"]
    assert serve(app).sink.data.startswith(b"Status: 503 Unavailable\r\nRetry-After: 5\r\n")

    def fails(environ: dict[str, Any], start: Start) -> list[bytes]:
        raise ValueError("shown")
    debug = serve(fails, debug=True).sink.data
    assert b"text/plain" in debug and b"ValueError: shown" in debug
    assert b"ValueError" not in serve(fails).sink.data


def test_other_roles_get_a_500() -> None:
    request = serve(lambda e, s: [b""], FakeRequest(params(), role=FCGI_AUTHORIZER))
    assert request.sink.data.startswith(b"Status: 500") and "RESPONDER role only" in request.sink.log[0]
