"""mod_python's own per-request tests of its helper modules: publisher, psp, cgihandler, wsgi, Cookie, Session and
util's multipart parser, plus sys.argv and the memory test.

As in `upstream_request`: one scenario per upstream test, the pages and handlers written here, upstream's assertion
on the answer. Publisher pages live in the scenario's directory as `tests.py` (upstream publishes its tests.py) and
`index.py`; their answers name `req.interpreter`, which is the virtual host's name in both implementations
(`localhost` here). Debian's publisher decodes Basic credentials with `base64.decodestring`, gone since Python 3.9,
so upstream's nested `__auth__` tests fail there: intended differences, the daemon asserting upstream's answer.
"""
from __future__ import annotations

from typing import Optional

from ..scenario import Call, Expect, Mask, Reason, Scenario, handler, mod_python_bug
from .upstream_common import READ_BLOCK_SIZE, TEST_OK, basic, random_bytes, up, upload_call

PUBLISHED = b'''import re

_SECRET_PASSWORD = "root"
__ANSWER = 42


def index(req):
    return "test ok, interpreter=%s" % req.interpreter


def test_publisher(req):
    return "test ok, interpreter=%s" % req.interpreter


def pipe_ext(req):
    return "pipe ext"


def test_publisher_auth_nested(req):
    def __auth__(req, user, password):
        req.notes["auth_called"] = "1"
        return (user, password) == ("spam", "eggs")

    def __access__(req, user):
        req.notes["access_called"] = "1"
        return 1

    if not (req.notes.get("auth_called") and req.notes.get("access_called")):
        raise RuntimeError("the nested __auth__ or __access__ was not called")
    return "test ok, interpreter=%s" % req.interpreter


class _MethodHolder:
    def method(self, req):
        def __auth__(req, user, password):
            req.notes["auth_called"] = "1"
            return (user, password) == ("spam", "eggs")

        def __access__(req, user):
            req.notes["access_called"] = "1"
            return 1

        if not (req.notes.get("auth_called") and req.notes.get("access_called")):
            raise RuntimeError("the nested __auth__ or __access__ was not called")
        return "test ok, interpreter=%s" % req.interpreter


test_publisher_auth_method_nested = _MethodHolder()


class OldStyleClassTest:
    def __call__(self, req):
        return "test callable old-style instance ok"

    def traverse(self, req):
        return "test traversable old-style instance ok"


old_instance = OldStyleClassTest()


class InstanceTest(object):
    def __call__(self, req):
        return "test callable instance ok"

    def traverse(self, req):
        return "test traversable instance ok"


instance = InstanceTest()
test_dict = {1: 1, 2: 2, 3: 3}
test_dict_keys = test_dict.keys


class Node(object):
    def __init__(self, name):
        self.name = name

    def __call__(self, req):
        return "Called %s" % self.name


hierarchy_root = Node("root")
hierarchy_root.page1 = Node("page1")
hierarchy_root.page1.subpage1 = Node("subpage1")
hierarchy_root.page2 = Node("page2")


class Bare:
    pass


hierarchy_root_2 = Bare()
hierarchy_root_2.__call__ = index
hierarchy_root_2.page1 = index
hierarchy_root_2.page2 = index
'''
INDEX_PAGE = b'''def index(req):
    return "test 1 ok, interpreter=%s" % req.interpreter


def foobar(req):
    return "test 2 ok, interpreter=%s" % req.interpreter
'''
PAGES = {"tests.py": PUBLISHED, "index.py": INDEX_PAGE}
PUBLISHER = ("SetHandler mod_python", "PythonHandler mod_python.publisher", "PythonDebug On")
PUBLISHER_SOURCE = "# the published pages live in the scenario's directory\n"
OK_LOCALHOST = Expect(body=b"test ok, interpreter=localhost")
AUTH_BUG = mod_python_bug("Debian's publisher.py decodes Basic credentials with base64.decodestring, removed in "
                          "Python 3.9, so a request with credentials to a page with __auth__ fails with 400")


def pub(test: str, *calls: Call, intended: Optional[Reason] = None, note: str = "", known: str = "") -> Scenario:
    return up(test, PUBLISHER_SOURCE, *calls, directives=PUBLISHER, files=PAGES, intended=intended, note=note,
              known=known)



PSP_PAGES = {
    "psptest.psp": b"<%-- a comment the parser drops --%>\n<%\nif True:\n    req.write('t')\n%>est<%= ' ' + 'ok' %>\n",
    "psp_parser.psp": b"""<%-- each test line: test:<expected, with - for a backslash>:<what the parser left>$ --%>
test:-n:\\n$
test:-r:\\r$
test:-t:\\t$
test:-r-n:\\r\\n$
<%
req.write("test:-n:\\\\n$")
%>
<%
test_str = 'single_quotes'
%>
test:'single_quotes':'<%= test_str %>'$
<%
test_str = 'double_quotes'
%>
test:"double_quotes":"<%= test_str %>"$
""",
    "psptest_main.psp": b"okay\n<%\npsp.set_error_page('psptest_fail.psp')\nsession['dummy'] = 1\n"
                        b"raise ValueError('fail')\n%>\n",
    "psptest_fail.psp": b"fail\n",
}
PARSER_LINES = [rb"test:-n:\n$", rb"test:-r:\r$", rb"test:-t:\t$", rb"test:-r-n:\r\n$",
                b"test:'single_quotes':'single_quotes'$", b'test:"double_quotes":"double_quotes"$']
WSGI_CHECKS = '''import sys


def _checks(env, script_name, path_info):
    return [
        ("wsgi.input is the request", type(env["wsgi.input"]).__name__ == "mp_request"),
        ("wsgi.errors is sys.stderr", env["wsgi.errors"] == sys.stderr),
        ("wsgi.version", env["wsgi.version"] == (1, 0)),
        ("wsgi.multithread", env["wsgi.multithread"] in (True, False)),
        ("wsgi.multiprocess", env["wsgi.multiprocess"] in (True, False)),
        ("wsgi.url_scheme", env["wsgi.url_scheme"] == "http"),
        ("SCRIPT_NAME %r" % env["SCRIPT_NAME"], env["SCRIPT_NAME"] == script_name),
        ("PATH_INFO %r" % env["PATH_INFO"], env["PATH_INFO"] == path_info),
    ]


def _answer(env, start_response, checks):
    failed = [name for name, ok in checks if not ok]
    output = "test ok\\n" if not failed else "test fail: %s\\n" % ", ".join(failed)
    start_response("200 OK", [("Content-type", "text/plain"), ("Content-Length", str(len(output)))])
    return [output]   # a str, as upstream's application returns


def application(env, start_response):
    checks = _checks(env, "", "{url}tests.py")
    env["wsgi.errors"].write("written_from_wsgi_test\\n")
    env["wsgi.errors"].flush()
    return _answer(env, start_response, checks)


def base_uri(env, start_response):
    return _answer(env, start_response, _checks(env, "{url}".rstrip("/"), "/bar"))
'''
WSGI_TYPE = mod_python_bug(
    "mod_python.wsgi adds the application's Content-Type to headers_out, where Apache's own type for the file "
    "(mod_mime's text/x-python for tests.py) wins over it, so the answer is not typed as the application sent it")
COOKIES = handler('''for value in Cookie.get_cookies(req).values():
    Cookie.add_cookie(req, value)
req.write("test ok")
return apache.OK''', imports="from mod_python import Cookie", name="echo")
SESSION = handler('''session = Session.Session(req)
if session.is_new():
    session.save()
cookies = Cookie.get_cookies(req)
if Session.COOKIE_NAME in cookies and session.is_new():
    req.write(str(cookies[Session.COOKIE_NAME]))
else:
    req.write("test ok")
return apache.OK''', imports="from mod_python import Cookie, Session", name="session")
SID = Mask(r"pysid=[0-9a-f]{32}", "pysid=<sid>", "session ids are random")
SESSION_OPTIONS = ("PythonOption mod_python.session.database_directory {state}",)
LONG_MARSHAL = ("test=859690207856ec75fc641a7566894e40c1QAAAB0aGlzIGlzIGEgdmVyeSBsb25nIHZhbHVlLCBsb25nIGxvb"
                "mcgbG9uZyBsb25nIGxvbmcgc28gbG9uZyBidXQgd2UnbGwgZmluaXNoIGl0IHNvb24=")
MEMORY = handler('''def pages():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0])
for _ in range(10000):
    req.write("test ok")
before = pages()
for _ in range(100000):
    req.write("test ok")
    req.flush()
after = pages()
req.write("|steady" if after == before else "|grew from %d to %d pages" % (before, after))
return apache.OK''', name="memory")
UPLOAD = handler('''field = util.FieldStorage(req).getfirst("testfile")
req.write(hashlib.md5(field.file.read()).hexdigest())
return apache.OK''', imports="import hashlib\n\nfrom mod_python import util", name="upload")
CACHED_PAGE = '''import os

# Each import of this page adds a byte to a file: the page answers how many times it was loaded.
with open("{state}/loads", "a") as loads:
    loads.write("x")
LOADED = os.path.getsize("{state}/loads")


def index(req):
    return "OK load %d, version {version}" % LOADED
'''
LINES_AT_EDGE = b"a" * 100 + b"\r\n" + b"b" * (READ_BLOCK_SIZE - 1)

SCENARIOS = [
    up("test_fileupload", UPLOAD, upload_call(random_bytes(1024 * 1024)), handler="upload",
       note="a fixed megabyte of every byte value (upstream draws a fresh random one per run)"),
    up("test_fileupload_embedded_cr", UPLOAD,
       upload_call(b"a" * 100 + b"\r\n" + b"b" * (READ_BLOCK_SIZE - 1) + b"\r" + b"ccc" + b"d" * 100 + b"\r\n"),
       handler="upload", note="upstream's optional third part (ugh.pdf, when present beside test.py) is not run"),
    up("test_fileupload_split_boundary", UPLOAD, upload_call(LINES_AT_EDGE), upload_call(LINES_AT_EDGE + b"\r"),
       handler="upload"),
    up("test_sys_argv", handler("req.write(repr(sys.argv))\nreturn apache.OK", imports="import sys", name="argv"),
       Call("tests.py", expect=Expect(body=b"['mod_python']")), handler="argv", fresh=True,
       note="on Apaches of its own: mod_python's cgihandler sets sys.argv to [] and leaves it so for the Apache "
            "child's later requests, so a child that ran a CGI script answers []"),
    up("test_pipe_ext", handler('req.write("test ok" if req.phase == "PythonHandler" else "test failed")\n'
                                "return apache.OK", name="simple"),
       Call("tests.py/pipe_ext", expect=Expect(body=b"pipe ext")), Call("tests/anything", expect=TEST_OK),
       directives=("SetHandler mod_python", "PythonHandler mod_python.publisher | .py",
                   "PythonHandler {mod}::simple", "PythonDebug On"), files=PAGES),
    up("test_wsgihandler", WSGI_CHECKS,
       Call("tests.py", expect=Expect(body=b"test ok\n", headers={"Content-Type": "text/x-python"}),
            daemon=Expect(status=200, body=b"test ok\n", headers={"Content-Type": "text/plain"})),
       intended=WSGI_TYPE, stated=[(Expect(body=b"test ok\n"),)],
       directives=("SetHandler mod_python", "PythonHandler mod_python.wsgi",
                   "PythonOption mod_python.wsgi.application {mod}", "PythonDebug On"),
       logs=(r"written_from_wsgi_test",)),
    up("test_wsgihandler_location", WSGI_CHECKS, Call("bar", expect=Expect(body=b"test ok\n")), container="Location",
       directives=("SetHandler mod_python", "PythonHandler mod_python.wsgi",
                   "PythonOption mod_python.wsgi.application {mod}::base_uri", "PythonDebug On"), files={},
       note="upstream's <Location /foo> is the scenario's location; the request is <location>bar"),
    up("test_cgihandler", "# the CGI script lives in the scenario's directory\n",
       Call("cgitest.py", expect=Expect(body=b"test ok\n")),
       directives=("SetHandler mod_python", "PythonHandler mod_python.cgihandler", "PythonDebug On"),
       files={"cgitest.py": b'print("Content-type: text/plain\\n")\nprint("test ok")\n'}),
    up("test_psphandler", "# the pages live in the scenario's directory\n",
       Call("psptest.psp", expect=Expect(body=b"\ntest ok\n")), stated=[(Expect(contains=[b"test ok\n"]),)],
       directives=("SetHandler mod_python", "PythonHandler mod_python.psp", "PythonDebug On"), files=PSP_PAGES),
    up("test_psp_parser", "# the pages live in the scenario's directory\n",
       Call("psp_parser.psp", expect=Expect(contains=PARSER_LINES)),
       directives=("SetHandler mod_python", "PythonHandler mod_python.psp", "PythonDebug On"), files=PSP_PAGES),
    up("test_psp_error", "# the pages live in the scenario's directory\n",
       Call("psptest_main.psp", expect=Expect(body=b"okay\nfail\n")),
       directives=("SetHandler mod_python", "PythonHandler mod_python.psp", *SESSION_OPTIONS, "PythonDebug On"),
       files=PSP_PAGES, masks=(SID,),
       note="upstream's page raises a str (a TypeError on Python 3); this one raises a ValueError"),
    up("test_Cookie_Cookie", COOKIES,
       Call("testz.py", headers=[("Cookie", "spam=foo; path=blah;;eggs=bar;"), ("Cookie", "bar=foo")],
            expect=Expect(body=b"test ok", header_parts=[("Set-Cookie", part) for part in
                                                         ("path=blah", "eggs=bar", "bar=foo", "spam=foo")])),
       handler="echo"),
    up("test_Cookie_MarshalCookie", COOKIES,
       Call("testz.py", headers=[("Cookie", "eggs=d049b2b61adb6a1d895646719a3dc30bcwQAAABzcGFt")],
            expect=Expect(body=b"test ok", headers={"Set-Cookie": "eggs=d049b2b61adb6a1d895646719a3dc30bcwQAAABzcGFt"})),
       Call("testz.py", headers=[("Cookie", LONG_MARSHAL)],
            expect=Expect(body=b"test ok", headers={"Set-Cookie": LONG_MARSHAL})), handler="echo",
       note="as upstream's block does, the handler is the plain cookie echo: the marshalled value comes back as sent"),
    up("test_Session_Session", SESSION,
       Call("tests.py", expect=Expect(body=b"test ok", header_parts=[("Set-Cookie", "path=/path"),
                                                                     ("Set-Cookie", "domain=test_Session_Session")])),
       Call("tests.py", carry_cookies=True, expect=TEST_OK), handler="session", masks=(SID,),
       directives=("SetHandler mod_python", "PythonHandler {mod}::session", *SESSION_OPTIONS,
                   'PythonOption mod_python.session.application_path "/path"',
                   'PythonOption mod_python.session.application_domain "test_Session_Session"', "PythonDebug On")),
    up("test_Session_illegal_sid", SESSION,
       Call("tests.py", headers=[("Cookie", "pysid=/path/traversal/attack/bad; path=/")],
            expect=Expect(header_parts=[("Set-Cookie", "pysid=")])),
       Call("tests.py", headers=[("Cookie", "pysid=%s; path=/" % ("abcdef" * 64))],
            expect=Expect(header_parts=[("Set-Cookie", "pysid=")])), handler="session", masks=(SID,),
       directives=("SetHandler mod_python", "PythonHandler {mod}::session", *SESSION_OPTIONS, "PythonDebug On")),
    pub("test_publisher", Call("tests.py", expect=OK_LOCALHOST), Call("tests.py/index", expect=OK_LOCALHOST),
        Call("tests.py/test_publisher", expect=OK_LOCALHOST),
        Call("", expect=Expect(body=b"test 1 ok, interpreter=localhost")),
        Call("foobar", expect=Expect(body=b"test 2 ok, interpreter=localhost")), Call("tests", expect=OK_LOCALHOST),
        note="upstream's virtual host is named after the test; here the server is localhost"),
    pub("test_publisher_auth_nested",
        Call("tests.py/test_publisher_auth_nested", headers=[basic("spam:eggs")], status=400, daemon=OK_LOCALHOST),
        intended=AUTH_BUG),
    pub("test_publisher_auth_method_nested",
        Call("tests.py/test_publisher_auth_method_nested/method", headers=[basic("spam:eggs")], status=400,
             daemon=OK_LOCALHOST), intended=AUTH_BUG),
    pub("test_publisher_auth_digest",
        Call("tests.py/test_publisher", expect=OK_LOCALHOST, headers=[(
            "Authorization", 'Digest username="Mufasa", realm="testrealm@host.com", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, '
            'cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
            'opaque="5ccc069c403ebaf9f0171e9517f40e41"')])),
    pub("test_publisher_security", *(Call("tests.py/" + path, status=403) for path in (
        "_SECRET_PASSWORD", "__ANSWER", "re", "OldStyleClassTest", "InstanceTest", "index/func_code",
        "old_instance/traverse/func_code", "instance/traverse/func_code", "test_dict/keys", "test_dict_keys"))),
    pub("test_publisher_hierarchy", Call("tests.py/hierarchy_root", expect=Expect(body=b"Called root")),
        Call("tests.py/hierarchy_root/page1", expect=Expect(body=b"Called page1")),
        Call("tests.py/hierarchy_root_2/page1", expect=OK_LOCALHOST),
        Call("tests.py/hierarchy_root/page1/subpage1", expect=Expect(body=b"Called subpage1")),
        Call("tests.py/hierarchy_root/page2", expect=Expect(body=b"Called page2")),
        Call("tests.py/hierarchy_root_2/page2", expect=OK_LOCALHOST),
        note="upstream's Python 2 only call (hierarchy_root_2 itself) is left out, as upstream leaves it out on 3"),
    up("test_publisher_cache", PUBLISHER_SOURCE,
       Call("temp.py", expect=Expect(body=b"OK load 1, version one")),
       Call("temp.py", expect=Expect(body=b"OK load 1, version one")),
       Call("temp.py", pause=1.2, rewrite={"{dir}/temp.py": CACHED_PAGE.replace("{version}", "two")},
            expect=Expect(body=b"OK load 2, version two")),
       Call("temp.py", expect=Expect(body=b"OK load 2, version two")),
       directives=PUBLISHER, files={"temp.py": CACHED_PAGE.replace("{version}", "one").encode()}, keepalive=True,
       note="upstream disables it because prefork children each have their own cache; here every call goes over "
            "one connection (one child), and the page counts its loads instead of answering its load time"),
    pub("test_publisher_old_style_instance",
        Call("tests.py/old_instance", expect=Expect(body=b"test callable old-style instance ok")),
        Call("tests.py/old_instance/traverse", expect=Expect(body=b"test traversable old-style instance ok"))),
    pub("test_publisher_instance", Call("tests.py/instance", expect=Expect(body=b"test callable instance ok")),
        Call("tests.py/instance/traverse", expect=Expect(body=b"test traversable instance ok"))),
    up("test_memory", MEMORY, Call("tests.py", expect=Expect(contains=[b"test ok|steady"])), handler="memory",
       note="upstream's handler answers the process size before and after; this one says whether it stayed"),
]
