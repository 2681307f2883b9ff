"""Fuzz target: session ids from the ``Cookie`` header through ``mod_python.Session`` (memory and file sessions).

A client chooses the session cookie, and a file session turns the id into a path: the id must be a 32-digit hex
string before it is used, a forged one starts a new session. Documented error: ``ValueError`` only for an invalid
id passed by the handler itself (``Session(req, sid=...)``), never for one from the cookie. Invariants: the session
id is 32 lowercase hex digits; a file session writes only below its own directory; the session cookie sent back
is one header line.
"""

from __future__ import annotations

import os
import random
import re

import atheris

from _harness import Sink, instrumented, main, scratch_dir

with instrumented("mod_python.Session", "mod_python.Cookie", "mod_python._session_locks"):
    from fcgi_handlers.request import Request, table
    from mod_python import Session

SECRET = "fuzz-secret"
SESSION_DIR = os.path.realpath(scratch_dir("sessions"))
_SID = re.compile(r"[0-9a-f]{32}")
_CLASSES = (Session.MemorySession, Session.FileSession)


def test_one_input(data: bytes) -> None:
    random.seed(len(data))  # the sessions' occasional cleanup pass: the same input takes the same path
    fdp = atheris.FuzzedDataProvider(data)
    cls = _CLASSES[fdp.ConsumeIntInRange(0, 1)]
    secret = SECRET if fdp.ConsumeBool() else None
    explicit = fdp.ConsumeBool()
    cookie = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
    params = {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "/s", "REQUEST_URI": "/s",
              "HTTP_COOKIE": cookie}
    req = Request.from_sink(params, None, Sink(), options=table({"session_directory": SESSION_DIR}))
    try:
        sess = cls(req, sid=cookie if explicit else None, secret=secret)
    except ValueError:
        assert explicit, "a cookie's session id raised instead of starting a new session"
        return
    try:
        assert _SID.fullmatch(sess.id()), f"session id {sess.id()!r}"
        sess["k"] = cookie[:16]
        sess.save()
        if isinstance(sess, Session.FileSession):
            path = os.path.realpath(sess._filename())
            assert path.startswith(SESSION_DIR + os.sep) and os.path.exists(path), f"session file {path!r}"
        for value in req.headers_out.get_all("Set-Cookie"):
            assert "\n" not in value and "\r" not in value, f"Set-Cookie {value!r}"
        sess.delete()
    finally:
        for callback, arg in reversed(req.fcgi_cleanups):
            callback(arg)
        req.fcgi_cleanups.clear()


def seeds() -> list[bytes]:
    sid = b"0123456789abcdef0123456789abcdef"
    return [b"\x00\x00\x00pysid=" + sid, b"\x01\x00\x00pysid=" + sid + b"; other=1", b"\x01\x01\x00pysid=../../etc",
            b"\x00\x00\x01" + sid, b"\x01\x01\x00pysid=" + b"f" * 64 + sid]


if __name__ == "__main__":
    main(test_one_input, seeds)
