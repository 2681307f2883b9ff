"""Fuzz target: the publisher's URL-to-object resolution, through the dispatcher as the daemon runs it.

A site with a page of every kind of object the publisher must publish or refuse (functions, an instance and its
methods, private names, an imported module and function, a class, auth-protected objects) is served by a real
``Dispatcher``; the fuzzer chooses the method, the file Apache mapped, PATH_INFO, the query, the Authorization
header and the body. Documented outcome: an HTTP status from the publisher's table (200, 400, 401, 403, 404, 405,
411, 413, 501), or 500 for a request that maps to no file or lacks a field the published function requires (as in
mod_python); never another 500, which means something raised inside resolution (its log lines are printed).
Invariant: nothing the rules refuse runs (the page's private objects answer LEAKED, which must never be sent).
"""

from __future__ import annotations

import io
import os
import re

import atheris

from _harness import Sink, instrumented, main, scratch_dir

with instrumented("mod_python.publisher", "mod_python._publisher_auth", "mod_python._pages", "mod_python.util",
                  "fcgi_handlers.request.params", "fcgi_handlers.dispatch.trust"):
    import mod_python.publisher  # noqa: F401 - imported here so it is instrumented (the dispatcher finds it loaded)
    from fcgi_handlers.dispatch import runtime
    from fcgi_handlers.dispatch.dispatcher import DispatchSettings, Dispatcher

PAGE = '''
import os
from os.path import join
import secrets as imported_module

__auth_realm__ = "site"

class Thing:
    attr = "attr"
    def meth(self, req, a=None):
        return "meth"
    def _hidden(self, req):
        return "LEAKED"
    def __call__(self, req):
        return "called"

class Locked:
    __auth__ = {"user": "pass"}
    __access__ = ["user"]
    def inner(self, req):
        return "inner"

inst = Thing()
locked = Locked()
nested = Thing()
nested.deeper = Thing()
text = "plain string"
number = 42
data = {"key": "value"}

def index(req):
    return "index"

def form(req, a, b="b", *args, **kwargs):
    return "form " + str(a) + " " + str(b)

def html(req):
    return "<html></html>"

def gen(req):
    yield "x"

def _private(req):
    return "LEAKED"

def callback(req):
    return index
'''

SITE = os.path.realpath(scratch_dir("publisher-site"))
BACKEND = "proxy:fcgi://127.0.0.1:9000"
DOCUMENTED_STATUS = frozenset({200, 400, 401, 403, 404, 405, 411, 413, 501})
NO_FILE = "the request has no file"  # the publisher's 500 for a request that is not routed to a file
# mod_python calls a published function with the form's fields; one its signature requires is missing: a 500.
MISSING_ARGUMENT = re.compile(r"TypeError: \w+\(\) missing \d+ required positional argument")
_SCRIPTS = ("/index.py", "/", "/index", "/other.py", "/sub/", "/sub/page.py", "/missing.py", "/index.py/x")
_METHODS = ("GET", "POST", "HEAD", "PUT", "OPTIONS")

os.makedirs(os.path.join(SITE, "sub"), exist_ok=True)
for relative in ("index.py", "sub/page.py"):
    with open(os.path.join(SITE, relative), "w") as handle:
        handle.write(PAGE)
DISPATCHER = Dispatcher(DispatchSettings(paths=[SITE]))
runtime.install(runtime.WorkerState(loader=DISPATCHER.loader))


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    method = _METHODS[fdp.ConsumeIntInRange(0, len(_METHODS) - 1)]
    choice = fdp.ConsumeIntInRange(0, len(_SCRIPTS))
    script = _SCRIPTS[choice] if choice < len(_SCRIPTS) else "/" + fdp.ConsumeUnicodeNoSurrogates(24)
    path_info = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    query = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    auth = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
        "SCRIPT_NAME": script, "PATH_INFO": path_info, "QUERY_STRING": query,
        "REQUEST_URI": script + path_info + ("?" + query if query else ""),
        "SCRIPT_FILENAME": BACKEND + SITE + script, "DOCUMENT_ROOT": SITE, "CONTEXT_DOCUMENT_ROOT": SITE,
        "CONTEXT_PREFIX": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1", "PythonHandler": "mod_python.publisher",
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
    }
    if auth:
        params["HTTP_AUTHORIZATION"] = auth
    sink = Sink()
    DISPATCHER.handle(params, io.BytesIO(body), sink)
    head = bytes(sink.out[:64]).split(b"\r\n", 1)[0]
    assert head.startswith(b"Status: "), f"no status line: {bytes(sink.out[:200])!r}"
    status = int(head[8:11])
    log = sink.err.decode("utf-8", "replace")
    assert b"LEAKED" not in sink.out, f"a private object was published for {params!r}"
    if status == 500 and (NO_FILE in log or MISSING_ARGUMENT.search(log)):
        return  # routed like ProxyPass, or the page's own signature wants a field the form lacks: mod_python's 500
    assert status in DOCUMENTED_STATUS, f"status {status} for {params!r}\n{log}"


def seeds() -> list[bytes]:
    # method GET, script /index.py, then PATH_INFO, query, Authorization, body (each with a length byte first).
    def seed(script: int, path_info: str, query: str = "", auth: str = "", body: bytes = b"") -> bytes:
        out = bytearray([0, script])
        for text in (path_info, query, auth):
            out += bytes([len(text)]) + text.encode()
        return bytes(out) + body

    return [seed(0, "/inst/meth"), seed(0, "/form", "a=1&b=2"), seed(1, "/nested/deeper/meth"), seed(0, "/_private"),
            seed(0, "/locked/inner", auth="Basic dXNlcjpwYXNz"), seed(0, "/imported_module/token_hex"),
            seed(0, "/join"), seed(0, "/Thing"), seed(5, "/inst/"), seed(2, "/gen"), seed(0, "/data/keys")]


if __name__ == "__main__":
    main(test_one_input, seeds)
