"""A trivial app for the server tests: routes on SCRIPT_NAME, answers CGI-style, and reports what it saw.

Only the server layer is under test, so the app talks to ``FastCGIRequest`` directly (no request or dispatch
layer). ``app_factory`` fails on purpose while the file named by ``FCGI_TEST_BOOT_FAIL`` exists, which is how the
tests provoke boot failures, including in the middle of a reload.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import time
from typing import Callable, Dict

from fcgi_handlers.server import App, FastCGIRequest

BOOT_FAIL_ENV = "FCGI_TEST_BOOT_FAIL"
# A directory where each worker's atexit function leaves a file named after its pid (mod_python's child cleanups).
ATEXIT_DIR_ENV = "FCGI_TEST_ATEXIT_DIR"


def _respond(request: FastCGIRequest, body: bytes, status: bytes = b"200 OK") -> int:
    request.sink.stdout(b"Status: " + status + b"\r\nContent-Type: text/plain\r\n\r\n" + body)
    return 0


def hello(request: FastCGIRequest) -> int:
    return _respond(request, b"Hello World")


def pid(request: FastCGIRequest) -> int:
    return _respond(request, str(os.getpid()).encode())


def echo(request: FastCGIRequest) -> int:
    """The body's length and sha256, read in the way QUERY_STRING names (all, pieces of N bytes, lines)."""
    how = request.params.get(b"QUERY_STRING", b"all").decode()
    if how == "lines":
        data = b"".join(request.body.readlines())
    elif how.isdigit():
        pieces = []
        while True:
            piece = request.body.read(int(how))
            if not piece:
                break
            pieces.append(piece)
        data = b"".join(pieces)
    else:
        data = request.body.read()
    report = {"length": len(data), "sha256": hashlib.sha256(data).hexdigest(), "head": data[:64].decode("latin-1")}
    return _respond(request, json.dumps(report).encode())


def slow(request: FastCGIRequest) -> int:
    """Touch the file named by param MARKER (so a test knows the request is running), then sleep QUERY_STRING s."""
    marker = request.params.get(b"MARKER")
    if marker:
        with open(marker, "wb") as f:
            f.write(str(os.getpid()).encode())
    time.sleep(float(request.params.get(b"QUERY_STRING", b"1")))
    return _respond(request, b"slept in " + str(os.getpid()).encode())


def stderr(request: FastCGIRequest) -> int:
    request.sink.stderr(b"a log line\n", flush=False)
    return _respond(request, b"logged")


def fail(request: FastCGIRequest) -> int:
    raise RuntimeError("the app failed on purpose")


def after(request: FastCGIRequest) -> int:
    """Write the file named by param MARKER after END_REQUEST went out."""
    marker = request.params[b"MARKER"].decode()
    request.call_after_end(lambda: open(marker, "wb").close())
    return _respond(request, b"after")


def mark(request: FastCGIRequest) -> int:
    """Leave a file at the path in the MARK param: proof that a request ran."""
    touch(request.params[b"MARK"].decode())
    return _respond(request, b"marked")


ROUTES: Dict[bytes, Callable[[FastCGIRequest], int]] = {
    b"/hello": hello, b"/pid": pid, b"/echo": echo, b"/slow": slow, b"/stderr": stderr, b"/fail": fail,
    b"/after": after, b"/mark": mark,
}


def app(request: FastCGIRequest) -> int:
    route = ROUTES.get(request.params.get(b"SCRIPT_NAME", b""))
    if route is None:
        return _respond(request, b"no such route", b"404 Not Found")
    return route(request)


def touch(path: str) -> None:
    with open(path, "wb"):
        pass


def app_factory() -> App:
    flag = os.environ.get(BOOT_FAIL_ENV)
    if flag and os.path.exists(flag):
        raise RuntimeError(f"boot failure requested by the test ({flag} exists)")
    atexit_dir = os.environ.get(ATEXIT_DIR_ENV)
    if atexit_dir:
        atexit.register(touch, os.path.join(atexit_dir, f"worker-{os.getpid()}"))
    return app
