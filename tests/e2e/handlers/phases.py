"""Handlers for tests/e2e/test_phases*.py: every request phase, driven by the query string.

The same module is served by real mod_python and by the daemon, so every function must work unchanged under both.
`first` returns, in the phase named by a query key, the result its value names (`?fixup=FORBIDDEN`); `second` always
returns OK, so whether it ran shows the phase's chain rule. Every handler appends `<phase>:<name>` to `req.trace`;
`content` writes the trace. `log` and `cleanup` (and a registered cleanup) append to `<trace_dir>/<t>`, where
`trace_dir` is a PythonOption and `t` a query key, because they run after the response.
"""
import os
import time

from mod_python import apache, util

RESULTS = {"OK": apache.OK, "DECLINED": apache.DECLINED, "DONE": apache.DONE,
           "FORBIDDEN": apache.HTTP_FORBIDDEN, "NOTFOUND": apache.HTTP_NOT_FOUND,
           "UNAUTHORIZED": apache.HTTP_UNAUTHORIZED}


def _query(req):
    pairs = (item.split("=", 1) for item in (req.args or "").split("&") if "=" in item)
    return dict(pairs)


def _short(phase):
    name = phase[len("Python"):-len("Handler")].lower()
    return name or "content"


def _trace(req, name):
    trace = getattr(req, "trace", None)
    if trace is None:
        trace = req.trace = []
    trace.append("%s:%s" % (_short(req.phase), name))


def _record(req, text):
    """Append a line to this request's trace file (the phases after the response cannot answer the client)."""
    token = _query(req).get("t")
    folder = req.get_options().get("trace_dir")
    if token and folder:
        with open(os.path.join(folder, token), "a") as handle:
            handle.write(text + "\n")


def first(req):
    _trace(req, "first")
    mode = _query(req).get(_short(req.phase))
    if mode is None:
        return apache.OK
    if mode in RESULTS:
        return RESULTS[mode]
    if mode == "WDONE":
        req.content_type = "text/plain"
        req.write("written in %s\n" % req.phase)
        return apache.DONE
    if mode == "RAISE":
        raise RuntimeError("failed in %s" % req.phase)
    if mode == "REDIRECT":
        util.redirect(req, "/elsewhere/")
    if mode == "SRDONE":
        raise apache.SERVER_RETURN(apache.DONE)
    if mode == "SRSTATUS":
        raise apache.SERVER_RETURN(apache.DONE, apache.HTTP_ACCEPTED)
    if mode == "HANDLER":
        req.handler = "default-handler"
        return apache.OK
    if mode == "ADD":
        req.add_handler(req.phase, "phases::added")
        req.add_handler("PythonHandler", "phases::added")
        return apache.OK
    if mode == "IREDIRECT":
        req.internal_redirect("/ph/target?t=%s" % _query(req).get("t", ""))
        return apache.OK
    raise ValueError("unknown mode %r" % mode)


def second(req):
    _trace(req, "second")
    return apache.OK


def added(req):
    _trace(req, "added")
    return apache.OK


def content(req):
    _trace(req, "content")
    req.register_cleanup(lambda data: _record(req, "registered cleanup uri=%s" % data), req.uri)
    req.content_type = "text/plain"
    prev = req.prev.uri if req.prev is not None else None
    req.write("%s\nuri=%s prev=%s handler=%s\n" % (" ".join(req.trace), req.uri, prev, req.handler))
    return apache.OK


def log(req):
    _record(req, "log uri=%s status=%d next=%s" % (req.uri, req.status, req.next.uri if req.next else None))
    return apache.OK


def cleanup(req):
    _record(req, "cleanup uri=%s" % req.uri)
    return apache.OK


def slow_cleanup(req):
    """Takes two seconds: the client must not wait for it."""
    time.sleep(2)
    _record(req, "slow cleanup done")
    return apache.OK


def failing_log(req):
    raise RuntimeError("log handler failed")
