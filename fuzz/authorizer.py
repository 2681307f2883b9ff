"""Fuzz target: the AUTHORIZER role's params (mod_authnz_fcgi's calls) through ``handle_authorizer``.

The fuzzer chooses ``FCGI_APACHE_ROLE``, the credentials (``REMOTE_USER``, ``REMOTE_PASSWD``, ``Authorization``),
``AUTH_TYPE``, the phase markers and the directives, as bytes decoded the daemon's way; the handlers are
well-behaved (they never raise), so the documented outcome is an answer mod_authnz_fcgi can read: a status line
first; 200 (allow) only with ``Variable-*`` headers and no body; 400 (a param with a NUL byte), 401, 403 or 500
otherwise. Nothing may escape ``handle_authorizer``, and a handler error would show as a traceback in the log,
which is a finding here.
"""

from __future__ import annotations

import os

import atheris

from _harness import Sink, instrumented, main, scratch_dir

with instrumented("fcgi_handlers.dispatch.authorizer", "fcgi_handlers.dispatch.trust",
                  "fcgi_handlers.dispatch.handler_request", "fcgi_handlers.request"):
    from fcgi_handlers.dispatch import runtime
    from fcgi_handlers.dispatch.authorizer import handle_authorizer
    from fcgi_handlers.dispatch.dispatcher import DispatchSettings, Dispatcher
    from fcgi_handlers.request import decode_params

HANDLERS = '''
from mod_python import apache

def authenhandler(req):
    password = req.get_basic_auth_pw()
    if req.user == "alice" and password == "secret":
        return apache.OK
    if req.user == "declined":
        return apache.DECLINED
    if req.user == "nouser":
        req.user = None
        return apache.OK
    return apache.HTTP_UNAUTHORIZED

def authzhandler(req):
    if req.user == "alice" or req.user == "bob":
        return apache.OK
    req.err_headers_out["X-Why"] = "refused"
    return apache.HTTP_FORBIDDEN
'''

SITE = os.path.realpath(scratch_dir("authorizer-site"))
with open(os.path.join(SITE, "auth.py"), "w") as handle:
    handle.write(HANDLERS)
DISPATCHER = Dispatcher(DispatchSettings(paths=[SITE]))
runtime.install(runtime.WorkerState(loader=DISPATCHER.loader))

_ROLES = ("AUTHENTICATOR", "AUTHORIZER", "ACCESS_CHECKER", None)
_AUTH_TYPES = ("Basic", "basic", "", "Digest")
_OPTIONAL = ("REMOTE_USER", "REMOTE_PASSWD", "HTTP_AUTHORIZATION", "FCGI_HANDLERS_RAN_AUTHENHANDLER",
             "AuthName", "PythonDebug", "PythonAuthzHandler")
DOCUMENTED_STATUS = frozenset({200, 400, 401, 403, 500})  # 400: a param holding a NUL byte


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    role = _ROLES[fdp.ConsumeIntInRange(0, 3)]
    raw = {b"REQUEST_METHOD": b"GET", b"SERVER_PROTOCOL": b"HTTP/1.1", b"REQUEST_URI": b"/auth/x",
           b"SCRIPT_NAME": b"/auth/x", b"FCGI_ROLE": b"AUTHORIZER", b"PythonAuthenHandler": b"auth",
           b"PythonAuthzHandler": b"auth", b"AUTH_TYPE": _AUTH_TYPES[fdp.ConsumeIntInRange(0, 3)].encode()}
    if role is not None:
        raw[b"FCGI_APACHE_ROLE"] = role.encode()
    mask = fdp.ConsumeIntInRange(0, 2 ** len(_OPTIONAL) - 1)
    for bit, name in enumerate(_OPTIONAL):
        if mask >> bit & 1:
            raw[name.encode()] = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 48))
    params = decode_params(raw)  # as the daemon decodes them (credentials as Latin-1)
    sink = Sink()
    handle_authorizer(DISPATCHER, params, sink)
    head, _, body = bytes(sink.out).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("Status: "), f"no status line in {bytes(sink.out)!r}"
    status = int(lines[0][8:11])
    log = sink.err.decode("utf-8", "replace")
    if params["PythonAuthzHandler"] == "auth":  # a fuzzed handler name may fail to import, as configured
        assert "Traceback" not in log, log
    assert status in DOCUMENTED_STATUS, f"status {status} for {params!r}\n{log}"
    if status == 200:
        assert not body and all(line.startswith("Variable-") for line in lines[1:]), f"allow answer {lines!r}"


def seeds() -> list[bytes]:
    return [b"\x00\x00\x03\x00\x05alice\x06secret", b"\x01\x00\x01\x00\x03bob", b"\x00\x00\x01\x00\x08declined",
            b"\x03\x01\x04\x00\x17Basic YWxpY2U6c2VjcmV0", b"\x00\x00\x08\x00\x011"]


if __name__ == "__main__":
    main(test_one_input, seeds)
