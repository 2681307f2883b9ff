"""The handler of tests/e2e/test_mod_python_api.py's module test: every module of mod_python 3.5's package.

It starts as mod_python's own test handlers do; the same module is served by real mod_python and by the daemon.
"""
from mod_python.python22 import *  # noqa: F401,F403 - the first line of mod_python's test/htdocs/tests.py
from mod_python import apache


def _text(req, text):
    req.content_type = "text/plain"
    req.write(text)
    return apache.OK


MODULES = ("apache", "cache", "cgihandler", "Cookie", "httpdconf", "psp", "publisher", "python22", "Session",
           "testhandler", "util", "version", "wsgi")


def modules(req):
    """Every module of the package imports, with public names code uses."""
    lines = []
    for name in MODULES:
        try:
            __import__("mod_python." + name)
            lines.append("%s ok" % name)
        except Exception as exc:  # report, do not fail: the test compares the lists
            lines.append("%s %s" % (name, type(exc).__name__))
    from mod_python import cache, httpdconf, version
    conf = httpdconf.Container(
        httpdconf.Comment("made by httpdconf"),
        httpdconf.Location("/x", httpdconf.SetHandler("mod_python"), httpdconf.PythonHandler("mod::fn"),
                           httpdconf.PythonOption("a b")),
        httpdconf.Container(httpdconf.Listen("1"), only_if="mod_python.version.HTTPD_VERSION[0:3] == '1.0'"))
    lines.append(str(conf))
    calls = []
    square = cache.FunctionCache(lambda x: calls.append(x) or x * x, max_size=2)
    lines.append("cache %s %s %s calls=%s" % (square(3), square(3), square(4), calls))
    lines.append("mp_version %s" % (version.version.split()[0] == __import__("mod_python").mp_version.split()[0]))
    return _text(req, "\n".join(lines) + "\n")
