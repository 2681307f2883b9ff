"""Handlers for tests/e2e/test_mod_python_api.py: mod_python 3.5's request API (the package's modules: mp_modules).

The same module is served by real mod_python and by the daemon, so every function must run under both; where one
of them cannot answer a call, the test says which and why.
"""
import sys

from mod_python import apache


def _text(req, text):
    req.content_type = "text/plain"
    req.write(text)
    return apache.OK


def version_text(req):
    from mod_python import version
    return _text(req, version.version)


def interp(req):
    return _text(req, "interpreter=%s" % req.interpreter)


def section(req):
    return _text(req, "is_location=%r directory=%r hostname=%r interpreter=%r" % (
        req.hlist.is_location, req.hlist.directory, req.server.server_hostname, req.interpreter))


def etag(req):
    req.set_etag()
    return _text(req, "etag=%s" % req.headers_out.get("ETag"))


def requires(req):
    return _text(req, "requires=%r" % (req.requires(),))


def output_filter(req):
    req.add_output_filter("DEFLATE")
    return _text(req, "filter added")


def register_filter(req):
    req.register_output_filter("MYFILTER", "api_surface::output_filter")
    return _text(req, "filter registered")


def connection_read(req):
    data = req.connection.read(10)
    return _text(req, "read %r" % (data,))


def config_tree(req):
    return _text(req, "tree %d" % len(apache.config_tree()))


def argv(req):
    with open("/proc/self/cmdline", "rb") as handle:
        cmdline = handle.read().split(b"\0")
    return _text(req, "argv=%r\nprocess=%s\n" % (sys.argv, b" ".join(cmdline).decode("utf-8", "replace")))


def redirector(req):
    req.internal_redirect(req.uri.rsplit("/", 1)[0] + "/end.int")
    return apache.OK


def target(req):
    req.content_type = "text/plain"
    req.prev.write("from the original: ")  # mod_python's own test of internal_redirect writes through req.prev
    return _text(req, "target ran extension=%r uri=%s\n" % (req.extension, req.uri))


def text_app(environ, start_response):
    """A WSGI application written for mod_python: it yields str."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return ["caf\u00e9 ", "str chunks ", "from %s" % environ["SCRIPT_NAME"]]
