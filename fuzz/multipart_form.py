"""Fuzz target: a POST body through ``mod_python.util.FieldStorage``, multipart or urlencoded, with limits on.

The body arrives through the server's ``Body`` stream with a small spool threshold (so large bodies go to a
temporary file, as in the daemon), in fuzzed chunk sizes, and FieldStorage runs with both size options set
(``mod_python.field_storage.max_size`` and ``max_memory_size``). Documented outcome besides success:
``SERVER_RETURN`` with 400 (malformed body or query), 411 (no usable length), 413 (a limit) or 501 (another content
type). Invariants on success: every field reads back, and the text fields held in memory stay within the memory limit.
"""

from __future__ import annotations

import atheris

from _harness import Sink, instrumented, main

with instrumented("mod_python.util", "mod_python._form_input", "multipart", "fcgi_handlers.server.body"):
    from fcgi_handlers.request import SERVER_RETURN, Request, table
    from fcgi_handlers.server.body import Body
    from mod_python import util

MAX_SIZE = 64 * 1024
MAX_MEMORY = 4 * 1024
SPOOL_THRESHOLD = 1024
DOCUMENTED_STATUS = frozenset({400, 411, 413, 501})
BOUNDARY = "b0undary"
_TYPES = ("multipart/form-data; boundary=" + BOUNDARY, "application/x-www-form-urlencoded", None)


def _request(fdp: atheris.FuzzedDataProvider) -> Request:
    choice = fdp.ConsumeIntInRange(0, 3)
    ctype = _TYPES[choice] if choice < 3 else fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    length_mode = fdp.ConsumeIntInRange(0, 3)
    chunk = fdp.ConsumeIntInRange(1, 4096)
    query = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    params = {"REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "/form", "QUERY_STRING": query,
              "REQUEST_URI": "/form?" + query}
    if ctype is not None:
        params["CONTENT_TYPE"] = ctype
    if length_mode == 0:
        params["CONTENT_LENGTH"] = str(len(body))
    elif length_mode == 1:
        params["HTTP_TRANSFER_ENCODING"] = "chunked"  # Apache streaming a body it did not prefetch
    elif length_mode == 2:
        params["CONTENT_LENGTH"] = str(max(0, len(body) - chunk))  # declared shorter than sent
    else:
        params["CONTENT_LENGTH"] = str(len(body) + chunk)  # the client hung up early
    pieces = iter([body[i:i + chunk] for i in range(0, len(body), chunk)])
    declared = int(params["CONTENT_LENGTH"]) if "CONTENT_LENGTH" in params else None
    stream = Body(lambda: next(pieces, b""), declared, SPOOL_THRESHOLD)
    options = table({util.MAX_SIZE_OPTION: str(MAX_SIZE), util.MAX_MEMORY_OPTION: str(MAX_MEMORY)})
    return Request.from_sink(params, stream, Sink(), options=options)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    keep_blank, strict = fdp.ConsumeBool(), fdp.ConsumeBool()
    req = _request(fdp)
    try:
        form = util.FieldStorage(req, keep_blank_values=keep_blank, strict_parsing=strict)
    except SERVER_RETURN as exc:
        assert exc.args and exc.args[0] in DOCUMENTED_STATUS, f"undocumented status {exc.args!r}"
        return
    in_memory = 0
    for name, field in form.items():
        assert name is None or isinstance(name, str)
        if isinstance(field, util.StringField):
            in_memory += len(field.encode("utf-8", "surrogateescape")) if not field.filename else 0
        else:
            assert isinstance(field.value, bytes)
        field.file.close()
    # Text parts are decoded with replacement, so one input byte can grow to three; the limit counts input bytes.
    assert in_memory <= 3 * MAX_MEMORY + 3 * 40, f"{in_memory} bytes of text fields kept in memory"


def _multipart(*parts: bytes) -> bytes:
    return b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts) + \
        b"--" + BOUNDARY.encode() + b"--\r\n"


def seeds() -> list[bytes]:
    # Layout: 2 flags, a choice of type (0: multipart, 1: urlencoded), length mode 0, chunk size, query, body.
    head = b"\x00\x00"
    multipart = _multipart(
        b'Content-Disposition: form-data; name="a"\r\n\r\nvalue',
        b'Content-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\n' + b"x" * 2000,
        b'Content-Disposition: form-data; name="c"\r\nContent-Type: text/plain; charset=latin-1\r\n\r\n\xe9')
    return [head + b"\x00\x00\x00\x40\x00a=1" + multipart, head + b"\x01\x00\x00\x40\x00a=1&b=2;c=%41+d&e"]


if __name__ == "__main__":
    main(test_one_input, seeds)
