"""Fuzz target: a FastCGI params block, from its name-value encoding to the request object and the directives.

The path the daemon takes for every request: ``decode_pairs`` (documented error: ``ProtocolError``), then
``decode_params``, the mod_python request built from the params with every attribute of its table read (uri,
filename, path_info, headers_in, parsed_uri, hostname...: none may raise), and ``parse_directives`` (documented
error: ``DirectiveError``, which the dispatcher answers with 500 and a log line).
"""

from __future__ import annotations

import io
import os
import tempfile

from _harness import Sink, expect, instrumented, main

with instrumented("fcgi_handlers.protocol.records", "fcgi_handlers.request", "fcgi_handlers.dispatch.directives",
                  "fcgi_handlers.dispatch.trust"):
    from fcgi_handlers.dispatch.directives import DirectiveError, parse_directives
    from fcgi_handlers.protocol import ProtocolError
    from fcgi_handlers.protocol.records import decode_pairs
    from fcgi_handlers.request import Request, decode_params
    from fcgi_handlers.request.attributes import attribute_table

_ROOTS = (os.path.realpath(tempfile.gettempdir()),)
_NAMES = [row.name for row in attribute_table(Request)]


def test_one_input(data: bytes) -> None:
    try:
        raw = decode_pairs(data)
    except ProtocolError:
        return
    params = decode_params(raw)
    req = Request.from_sink(params, io.BytesIO(b""), Sink())
    for name in _NAMES:
        getattr(req, name)
    for obj in (req.connection, req.server):
        for row in attribute_table(type(obj)):
            getattr(obj, row.name)
    req.subprocess_env.items()
    with expect(DirectiveError):
        parse_directives(params, _ROOTS)


def _pairs(*items: tuple[bytes, bytes]) -> bytes:
    out = bytearray()
    for name, value in items:
        for length in (len(name), len(value)):
            out += bytes([length]) if length < 0x80 else (length | 0x80000000).to_bytes(4, "big")
        out += name + value
    return bytes(out)


def seeds() -> list[bytes]:
    common = [(b"REQUEST_METHOD", b"GET"), (b"SERVER_PROTOCOL", b"HTTP/1.1"), (b"HTTP_HOST", b"example.com:8080"),
              (b"REMOTE_ADDR", b"192.0.2.1"), (b"REMOTE_PORT", b"40000"), (b"SERVER_PORT", b"80"),
              (b"HTTP_COOKIE", b"a=1; b=2"), (b"QUERY_STRING", b"x=1&y=%41"), (b"DOCUMENT_ROOT", b"/srv/www")]
    return [
        _pairs(*common, (b"SCRIPT_NAME", b"/app/x"), (b"REQUEST_URI", b"/app/x?x=1&y=%41"),
               (b"SCRIPT_FILENAME", b"proxy:fcgi://127.0.0.1:9000/app/x"), (b"PythonHandler", b"mod::fn | .py"),
               (b"PythonDebug", b"On"), (b"PythonOption.key", b"value")),
        _pairs(*common, (b"SCRIPT_NAME", b"/x.py"), (b"PATH_INFO", b"/a/b"), (b"CONTEXT_PREFIX", b""),
               (b"SCRIPT_FILENAME", b"/srv/www/x.py"), (b"CONTEXT_DOCUMENT_ROOT", b"/srv/www"),
               (b"PythonPath", b"sys.path + ['/tmp']"), (b"REMOTE_USER", b"\xe9t\xe9"), (b"AUTH_TYPE", b"Basic")),
    ]


if __name__ == "__main__":
    main(test_one_input, seeds)
