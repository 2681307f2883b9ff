"""Shared by the util/Cookie/Session tests: requests built from params with a list sink (no daemon), a body stream fed
by a generator, a multipart body writer independent of the parser under test, and a parser for the bytes sent."""

from __future__ import annotations

import io
from typing import Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Union

from fcgi_handlers.request import Request, table
from fcgi_handlers.request.request import BodyStream
from fcgi_handlers.server.body import Body

BOUNDARY = "----formboundary7MA4YWxkTrZu0gW"


class ListSink:
    """The server's sink reduced to a list of the byte strings given to it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def stdout(self, data: bytes) -> None:
        self.chunks.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def base_params(method: str = "GET", query: Optional[str] = None, uri: str = "/app/form") -> dict[str, str]:
    """What mod_proxy_fcgi sends for `method uri?query` (ProxyPass form), trimmed to what the helpers read."""
    params = {
        "REQUEST_METHOD": method, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "www.example.com",
        "SERVER_PORT": "80", "REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "40000", "DOCUMENT_ROOT": "/srv/www",
        "SCRIPT_NAME": uri, "REQUEST_URI": uri + (f"?{query}" if query is not None else ""),
        "HTTP_HOST": "www.example.com",
    }
    if query is not None:
        params["QUERY_STRING"] = query
    return params


def make_request(params: Optional[Mapping[str, str]] = None, body: Union[bytes, BodyStream] = b"",
                 options: Optional[Mapping[str, str]] = None, sink: Optional[ListSink] = None) -> Request:
    """A Request as the dispatcher builds it; `body` is bytes or any stream with read()/readline()."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    return Request.from_sink(dict(params if params is not None else base_params()), stream,
                             sink or ListSink(), options=table(dict(options or {})))


def post_request(body: bytes, content_type: Optional[str], query: Optional[str] = None,
                 options: Optional[Mapping[str, str]] = None, length: Optional[int] = -1,
                 extra: Optional[Mapping[str, str]] = None) -> Request:
    """A POST with `body`; CONTENT_LENGTH is its length unless `length` is given (None: not sent)."""
    params = base_params("POST", query)
    if content_type is not None:
        params["CONTENT_TYPE"] = content_type
    if length is not None:
        params["CONTENT_LENGTH"] = str(len(body) if length == -1 else length)
    params.update(extra or {})
    return make_request(params, body, options)


def run_cleanups(req: Request) -> None:
    """What the dispatcher does when the request ends: registered cleanups, newest first."""
    for callback, data in reversed(req.fcgi_cleanups):
        callback(data)
    req.fcgi_cleanups.clear()


Part = Tuple[str, Optional[str], Optional[str], bytes]  # (name, filename, content type, data)


def multipart_body(parts: Sequence[Part], boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body as RFC 7578 lays it out, written by hand (not by the parser under test)."""
    out = bytearray()
    for name, filename, ctype, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode("utf-8") + b"\r\n"
        if ctype is not None:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def multipart_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/form-data; boundary={boundary}"


def streamed_body(chunks: Iterable[bytes], length: Optional[int]) -> Body:
    """The server layer's body stream, pulling from a generator as it would pull FCGI_STDIN records."""
    iterator: Iterator[bytes] = iter(chunks)
    return Body(lambda: next(iterator, b""), content_length=length, spool_threshold=64 * 1024)


def response_headers(sink: ListSink) -> Tuple[str, list[Tuple[str, str]], bytes]:
    """(status line, header pairs, body) of the CGI-style response in `sink`, parsed independently of the writer."""
    head, _, body = sink.data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    pairs = [(name, value.lstrip()) for name, _, value in (line.partition(":") for line in lines)]
    status = next(value for name, value in pairs if name == "Status")
    return status, [pair for pair in pairs if pair[0] != "Status"], body
