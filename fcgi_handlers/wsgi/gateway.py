"""Run one FastCGI request through a WSGI application (PEP 3333), without the mod_python layer.

Rule: the application's status and headers are checked when it passes them to `start_response` and are sent, as
the CGI header block FastCGI responders write, together with the first non-empty body chunk (or at the end for an
empty body, with no Content-Length made up: a HEAD answer must not say 0), so an application that fails before
producing output still gets a clean 500. After that, a failure can only be logged and the response cut short.
Every failure writes one line with its cause to FastCGI stderr (Apache's error log); the traceback goes there too,
and into the 500 page only with `debug`. The iterable's `close()` is always called (PEP 3333). A body of exactly one
chunk without Content-Length gets one, as flup gives it.
"""
from __future__ import annotations

import io
import traceback
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Protocol

from fcgi_handlers.protocol.constants import FCGI_RESPONDER

from .environ import build_environ, native


__all__ = ["ErrorStream", "Input", "Output", "Request", "Response", "WSGIApp", "WSGIError", "run_app"]

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication as WSGIApp  # noqa: F401  # PEP 3333 application, typeshed spelling
else:
    WSGIApp = Callable[..., Iterable[bytes]]

# RFC 9110 §5.6.2 token characters: what a header name may hold.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Hop-by-hop headers belong to the connection Apache holds (PEP 3333 "Other HTTP Features").
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                         "transfer-encoding", "upgrade"})
ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head><body>\n"
              b"<h1>Internal Server Error</h1>\n<p>The application failed; the server's error log says why.</p>\n"
              b"</body></html>\n")


class Output(Protocol):
    """Where a response goes: the server layer's Sink (or a test's fake)."""

    def stdout(self, data: bytes) -> None: ...

    def stderr(self, data: bytes) -> None: ...


class Input(Protocol):
    """`wsgi.input`: the server layer's Body (read, readline, readlines, iteration)."""

    def read(self, size: Optional[int] = -1) -> bytes: ...

    def readline(self, size: Optional[int] = -1) -> bytes: ...


class Request(Protocol):
    """What the gateway reads of a FastCGI request (the server layer's FastCGIRequest)."""

    @property
    def role(self) -> int: ...

    @property
    def params(self) -> Mapping[bytes, bytes]: ...

    @property
    def body(self) -> Input: ...

    @property
    def sink(self) -> Output: ...


class WSGIError(ValueError):
    """The application broke the WSGI contract (status, headers, call order)."""


class ErrorStream(io.TextIOBase):
    """`wsgi.errors`: text lines to FastCGI stderr, which Apache writes to its error log."""

    def __init__(self, sink: Output) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        self._sink.stderr(text.encode("utf-8", errors="replace"))
        return len(text)

    def writable(self) -> bool:
        return True


def _check_status(status: object) -> bytes:
    if not isinstance(status, str):
        raise WSGIError(f"status must be a str like '200 OK', not {type(status).__name__}")
    code, _, _ = status.partition(" ")
    if len(code) != 3 or not code.isdigit() or len(status) < 4 or status[3] != " " or "\r" in status or "\n" in status:
        raise WSGIError(f"status must be three digits, a space and a reason: {status!r}")
    return status.encode("latin-1")


def _check_headers(headers: object) -> list[bytes]:
    if not isinstance(headers, list):
        raise WSGIError(f"headers must be a list of (name, value) tuples, not {type(headers).__name__}")
    lines = []
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise WSGIError(f"each header must be a (str, str) tuple: {item!r}")
        name, value = item
        if not name or not set(name) <= _TOKEN or name.lower() in _HOP_BY_HOP:
            raise WSGIError(f"header name {name!r} is not allowed (hop-by-hop or not a token)")
        if "\r" in value or "\n" in value:
            raise WSGIError(f"header {name} has a line break in its value")
        try:
            lines.append(f"{name}: {value}".encode("latin-1"))
        except UnicodeEncodeError:
            raise WSGIError(f"header {name} is not Latin-1 (PEP 3333 asks for native strings)") from None
    return lines


class Response:
    """start_response and write for one request; holds the header block until the first body bytes."""

    def __init__(self, sink: Output) -> None:
        self._sink = sink
        self.head: Optional[list[bytes]] = None   # [status line, header lines...] once start_response was called
        self.sent = False
        self._has_length = False

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Optional[Any] = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None   # no reference cycle through the frame (PEP 3333)
        elif self.head is not None:
            raise WSGIError("start_response called twice without exc_info")
        self.head = [b"Status: " + _check_status(status), *_check_headers(headers)]
        self._has_length = any(name.lower() == "content-length" for name, _ in headers)
        return self.write

    def write(self, data: bytes, *, only_chunk: bool = False) -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise WSGIError(f"the application must yield bytes, not {type(data).__name__}")
        if self.head is None:
            raise WSGIError("body data before start_response")
        if self.sent:
            if data:
                self._sink.stdout(bytes(data))
            return
        head = self.head
        if only_chunk and not self._has_length:
            head = [*head, b"Content-Length: %d" % len(data)]
        self.sent = True
        self._sink.stdout(b"\r\n".join(head) + b"\r\n\r\n" + bytes(data))


def run_app(app: WSGIApp, request: Request, *, multithread: bool, multiprocess: bool, debug: bool = False,
            extra: Optional[Mapping[str, Any]] = None) -> int:
    """Serve `request` with `app`; returns the FastCGI app status (0)."""
    sink = request.sink
    if request.role != FCGI_RESPONDER:
        sink.stdout(b"Status: 500 Internal Server Error\r\n\r\n")
        sink.stderr(b"fcgi_handlers: a WSGI application serves the RESPONDER role only\n")
        return 0
    errors = ErrorStream(sink)
    environ = build_environ(native(request.params), input=request.body, errors=errors, multithread=multithread,
                            multiprocess=multiprocess, extra=extra)
    response = Response(sink)
    try:
        _iterate(app, environ, response)
    except Exception as exc:
        where = environ.get("REQUEST_URI") or environ["PATH_INFO"]
        sink.stderr(f"fcgi_handlers: WSGI application failed on {where}: {type(exc).__name__}: {exc}\n".encode(
            "utf-8", errors="replace") + traceback.format_exc().encode("utf-8", errors="replace"))
        if not response.sent:
            body = traceback.format_exc().encode("utf-8", errors="replace") if debug else ERROR_PAGE
            kind = b"text/plain; charset=utf-8" if debug else b"text/html; charset=utf-8"
            sink.stdout(b"Status: 500 Internal Server Error\r\nContent-Type: " + kind + b"\r\n\r\n" + body)
    return 0


def _iterate(app: WSGIApp, environ: dict[str, Any], response: Response) -> None:
    result = app(environ, response.start_response)
    try:
        if isinstance(result, (list, tuple)) and len(result) == 1:
            response.write(result[0], only_chunk=True)
            return
        for chunk in result:
            if chunk:
                response.write(chunk)
            elif not isinstance(chunk, (bytes, bytearray)):
                raise WSGIError(f"the application must yield bytes, not {type(chunk).__name__}")
        if not response.sent:
            response.write(b"")
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
