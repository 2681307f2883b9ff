"""mod_python's own per-request tests of the request object, the handler lists and the phases.

Each scenario re-expresses one `PerRequestTestCase` test of mod_python's `test/test.py` (named in its description):
the same block directives and requests, a handler written here that checks what upstream's handler checks, and
upstream's assertion on the answer. Where upstream's handler compares a value with its virtual host's document
root, the handler compares it with the scenario's directory, the block's `<Directory>` here. Tests that configure
their virtual host (server-level directives, PythonImport) get one of their own (`server=`, `imports=`).
"""
from __future__ import annotations

from ..scenario import Call, Expect, fastcgi_limit, handler, improvement, mod_python_bug
from .bodies import FORM_TYPES
from .upstream_common import TEST_OK, basic, up

def adds_handler(name: str) -> str:
    """A handler `name` that sets an attribute and adds `added` to the content phase, which checks it."""
    return handler('req.upstream_marker = "set before add_handler"\n'
                   'req.add_handler("PythonHandler", "{mod}::added")\nreturn apache.OK', name=name) + '''

def added(req):
    # runs only if add_handler put it on the content phase's list; sees the attribute set earlier
    if getattr(req, "upstream_marker", None) == "set before add_handler":
        req.write("test ok")
    return apache.OK
'''


ADD_HANDLER = adds_handler("first")
ADD_BAD = handler('req.log_error("handler list before: %s" % req.hlist.handler)\n'
                  'req.add_handler("PythonHandler", "{mod}::bad_handler")\n'
                  'req.write("test ok")\nreturn apache.OK', name="first")
ADD_EMPTY = handler('req.add_handler("PythonHandler", "")\nreq.write("no exception")\nreturn apache.OK',
                    name="first")
EMPTY_PHASE = handler('''if req.phase == "PythonHandler":
    req.write("test ok")
else:
    req.add_handler("PythonHandler", "{mod}::both", os.path.dirname(__file__))
return apache.OK''', imports="import os", name="both")
ADD_DIRECTORY = handler('''here = os.path.dirname(__file__)
if req.phase == "PythonFixupHandler":
    req.add_handler("PythonHandler", "{mod}::both", here)
    return apache.OK
given = req.hlist.directory
ok = given.endswith("/") and "\\\\" not in given and os.path.normpath(given) == os.path.normpath(here)
req.write("test ok" if ok else "test failed: %r" % given)
return apache.OK''', imports="import os", name="both")
ACCESS_ADDS = adds_handler("access")
ALLOW = handler('req.allow_methods(["PYTHONIZE"])\nreturn apache.HTTP_METHOD_NOT_ALLOWED', name="refuse")
UNAUTHORIZED = handler('''password = req.get_basic_auth_pw()
if (req.user, password) == ("spam", "eggs"):
    req.write("test ok")
    return apache.OK
return apache.HTTP_UNAUTHORIZED''', name="check")
BASIC_PW = handler('''password = req.get_basic_auth_pw()
if (req.user, password) in (("spam", "eggs"), ("sp\\xe1m", "\\xe9ggs")):
    req.write("test ok")
else:
    req.write("test failed, user %r, pw %r" % (req.user, password))
return apache.OK''', name="check")
AUTH_TYPE = handler('''for what, got, wanted in (("auth_type", req.auth_type(), "dummy"), ("auth_name", req.auth_name(), "blah")):
    if got != wanted:
        req.log_error("%s check failed" % what)
        req.write("test failed, req.%s() returned %r" % (what, got))
        return apache.DONE
if req.phase == "PythonAuthenHandler":
    req.user = "dummy"
    req.ap_auth_type = req.auth_type()
elif req.phase == "PythonHandler":
    req.write("test ok")
return apache.OK''', name="every_phase")
REQUIRES = handler('req.write("test ok" if req.requires() == ("valid-user",) else "test failed: %r" % '
                   '(req.requires(),))\nreturn apache.DONE', name="authen")
REDIRECT = handler('req.internal_redirect("{url}target.int")\nreturn apache.OK', name="redirect") + '''

def target(req):
    # the redirected request writes through the first request too
    req.prev.write("test ")
    req.write("ok")
    return apache.OK
'''
CONSTRUCT = handler('''url = req.construct_url("/index.html")
req.write("test ok" if re.match(r"^http://localhost:[0-9]+/index\\.html$", url) else "test failed: %s" % url)
return apache.OK''', imports="import re", name="construct")
READ = handler("req.write(req.read())\nreturn apache.OK", name="echo")
READLINE = handler('''line = req.readline()
while line:
    req.write(line)
    line = req.readline()
return apache.OK''', name="echo")
READLINES = handler('''hint = req.headers_in.get("SizeHint")
lines = req.readlines(int(hint)) if hint else req.readlines()
req.write(b"".join(lines))
return apache.OK''', name="echo")
DISCARD = handler('''first = req.read(10)
if first != b"1234567890":
    req.write("test failed: read(10) gave %r" % first)
    return apache.OK
status = req.discard_request_body()
if status != apache.OK:
    return status
rest = req.read()
req.write("test ok" if not rest else "test failed: %r left after discard" % rest)
return apache.OK''', name="discard")
CLEANUP = handler('req.cleanup_text = "up_req_register_cleanup: cleanup ran, test ok"\n'
                  'req.register_cleanup(after, req)\nreq.write("registered a cleanup that logs")\n'
                  'return apache.OK', name="register") + '''

def after(req):
    req.log_error(req.cleanup_text)
'''
HEADERS_OUT = handler('req.headers_out["X-Test-Header"] = "test ok"\nreq.write("test ok")\nreturn apache.OK',
                      name="headers")


def sendfile_source(content: str, *args: str, link: bool = False) -> str:
    """A handler that writes `content` to a fresh temporary file (as upstream's does) and sends it."""
    steps = f'''fd, path = tempfile.mkstemp(".txt")
with os.fdopen(fd, "w") as out:
    out.write({content})
'''
    if link:
        steps += '''os.symlink(path, path + ".lnk")
req.sendfile(path + ".lnk")
os.remove(path + ".lnk")
'''
    else:
        steps += f"req.sendfile(path{''.join(', ' + a for a in args)})\n"
    return handler(steps + "os.remove(path)\nreturn apache.OK", imports="import os\nimport tempfile", name="send")


REQ_HANDLER = handler('''if req.phase == "PythonFixupHandler":
    req.handler = "mod_python"
    req.handler = None
    req.handler = "mod_python"
    req.add_handler("PythonHandler", "{mod}::both")
    return apache.OK
req.write("test ok" if req.phase == "PythonHandler" else "test failed in %s" % req.phase)
return apache.OK''', name="both")
NO_CACHE = handler('req.no_cache = 1\nreq.write("test ok")\nreturn apache.OK', name="page")
UPDATE_MTIME = handler('''if req.mtime != 0.0:
    req.write("test failed: mtime %r before update" % req.mtime)
    return apache.OK
req.update_mtime(100.0)
if req.mtime != 100.0:
    req.write("test failed: mtime %r after update" % req.mtime)
    return apache.OK
req.set_etag()
req.set_last_modified()
req.write("test ok")
return apache.OK''', name="page")
UTIL_REDIRECT = handler('''if req.main:
    req.write("test failed: the error document ran")
    return apache.DONE
if req.phase == "PythonFixupHandler":
    util.redirect(req, location="/dummy", text="test ok")
req.write("test failed: the content handler ran")
return apache.OK''', imports="from mod_python import util", name="both")
FIELDSTORAGE = handler("req.write(repr(util.FieldStorage(req).list))\nreturn apache.OK",
                       imports="from mod_python import util", name="fields")
OPTIONS = handler('''options = sorted(item for item in req.get_options().items() if not item[0].startswith("mod_python"))
req.write(str(options))
return apache.OK''', name="options")
# The interpreter's name with the scenario's directory written as <dir> (upstream compares it upper-cased with its
# document root, for Windows; the paths here are POSIX).
INTERPRETER = handler('req.write(req.interpreter.replace("{dir}", "<dir>"))\nreturn apache.DONE', name="interp")
IN_DIR = Expect(body=b"<dir>/")
IN_SUBDIR = Expect(body=b"<dir>/subdir/")
FILES_DIRECTORY = handler('''wanted = "{dir}/"
got = str(req.hlist.directory)
req.write("test ok" if got.upper() == wanted.upper() else "test failed: %s" % got)
return apache.OK''', name="show")
SERVER_CONFIG = handler('''server_debug = req.server.get_config().get("PythonDebug", "0")
block_debug = req.get_config().get("PythonDebug", "0")
ok = (server_debug, block_debug) == ("1", "0")
req.write("test ok" if ok else "test failed: server %r, block %r" % (server_debug, block_debug))
return apache.OK''', name="config")
SERVER_OPTIONS = handler('''wanted = [
    ("apache.main_server", apache.main_server.get_options(), {"global": None, "override": None}),
    ("connection.base_server", req.connection.base_server.get_options(), {"global": None, "override": None}),
    ("req.server", req.server.get_options(), {"global": "1", "override": "1"}),
    ("req", req.get_options(), {"global": "1", "override": "2", "local": "1"}),
]
wrong = ["%s: %s=%r" % (where, key, options.get(key)) for where, options, expected in wanted
         for key, value in expected.items() if options.get(key) != value]
req.write("test ok" if not wrong else "test failed: " + ", ".join(wrong))
return apache.OK''', name="options")
POST_READ = handler('''req.log_error("postreadrequest")
req.add_common_vars()
req.subprocess_env["TEST1"] = "\'"
req.subprocess_env["TEST2"] = \'"\'
req.log_error("subprocess_env = %s" % req.subprocess_env)
req.log_error("subprocess_env.values() = %s" % list(req.subprocess_env.values()))
for value in req.subprocess_env.values():
    req.log_error("VALUE = %s" % value)
for item in req.subprocess_env.items():
    req.log_error("ITEM = %s" % (item,))
req.log_error("SCRIPT_FILENAME = %s" % req.subprocess_env.get("SCRIPT_FILENAME"))
req.log_error("SCRIPT_FILENAME = %s" % req.subprocess_env["SCRIPT_FILENAME"])
req.write("test ok")
return apache.DONE''', name="postread")
TRANS = handler('req.filename = "{dir}/tests.py"\nreturn apache.OK', name="trans")
TRANS_FILE = {"tests.py": b" # the first line of the file the trans handler maps every request to\n"}
IMPORT_TEST = handler('''copies = [os.path.normpath(entry) for entry in sys.path].count(os.path.dirname(__file__))
failed = [what for what, ok in (("the handler directory is %d times on sys.path" % copies, copies == 1),
                                ("the imported module is not in sys.modules", "cf_up_import_dummy" in sys.modules),
                                ("dummymodule::function not executed",
                                 "dummymodule::function" in apache.main_server.get_options())) if not ok]
req.write("test failed: " + "; ".join(failed) if failed else "test ok")
return apache.OK''', imports="import os\nimport sys", name="import_test")
IMPORTED = '''from mod_python import apache

apache.log_error("dummymodule / %s" % apache.interpreter)


def function():
    apache.log_error("dummymodule::function / %s" % apache.interpreter)
    apache.main_server.get_options()["dummymodule::function"] = "1"
'''
SERVER_RETURN = handler("raise apache.SERVER_RETURN(apache.OK)", name="first") + '''

def second(req):
    req.write("test ok")
    return apache.OK
'''


def _phase(number: int, result: str, record: str) -> str:
    return f'''

def phase_{number}(req):
    apache.log_error("phase_status_{number}")
    {record}
    return apache.{result}
'''


PHASE_STATUS = ("from mod_python import apache\n"
                + _phase(1, "DECLINED", "req.phases = [1]")
                + _phase(2, "OK", 'req.phases.append(2)\n    req.user = "bogus"\n    req.ap_auth_type = "bogus"')
                + _phase(3, "OK", "req.phases.append(3)")
                + _phase(4, "OK", "pass  # the authz handler records nothing")
                + _phase(5, "DECLINED", "req.phases.append(5)")
                + _phase(6, "OK", "req.phases.append(6)")
                + _phase(7, "OK", "req.phases.append(7)") + '''

def content(req):
    apache.log_error("phases = %s" % (req.phases,))
    req.write("test ok" if req.phases == [1, 2, 5, 6, 7] else "test failed: %s" % (req.phases,))
    return apache.OK


def cleanup(req):
    apache.log_error("phase_status_cleanup_log_entry")
    return apache.OK
''')
PER_DIRECTIVE_FILES = {"tests.py": b"# request target\n", "subdir/foo.py": b"# request target\n"}
DEBUG = ("SetHandler mod_python", "PythonDebug On")
# Upstream's main server carries this option for every test; the PythonOption tests override or remove it.
MAIN_OPTION = ("PythonOption PythonOptionTest sample_value",)
MAIN_OPTION_NOTE = "upstream's main-server option is the test's virtual host's here, which its block inherits alike"
EMPTY_HANDLER = improvement(
    "req.add_handler() refuses an empty handler name when called, as upstream's test expects of it; mod_python 3.5 "
    "accepts it, and the content phase fails after the handler's output")
ALLOW_BUG = mod_python_bug(
    "with Apache 2.4, an extension method given to req.allow_methods() is missing from the 405 answer's Allow "
    "header (Apache lists registered methods only), though mod_python documents that the list goes into Allow")
REQUIRES_BUG = mod_python_bug(
    "mod_python 3.5 built for Apache 2.4 has no req.requires(), which its documentation lists (upstream runs this "
    "test only before Apache 2.4)")
REDIRECT_TYPE = fastcgi_limit(
    "Apache's type checker types the URI Apache received before the daemon runs: an internal redirect's target "
    "that sets no content type answers with the original URI's type (text/x-python for tests.py), where "
    "mod_python's redirected request has its own URI's (none for .int)")
BODY_PREFETCH = fastcgi_limit(
    "mod_proxy_fcgi reads the request body before it calls the daemon, so a client that stops sending it gets "
    "Apache's 408 after the server's Timeout; under mod_python the handler's req.read() fails (OSError)")
BEFORE_TYPES = fastcgi_limit(
    "Apache's type checker (mod_mime) runs before a request reaches the daemon, so an answer a PostReadRequest "
    "handler sends without a content type gets mod_mime's guess from the file name; mod_python answers before the "
    "type checker runs and sends none")
FIELDS_STR = b"[Field('spam', '1'), Field('spam', '2'), Field('eggs', '3'), Field('bacon', '4')]"
FIELDS_BYTES = b"[Field(b'spam', b'1'), Field(b'spam', b'2'), Field(b'eggs', b'3'), Field(b'bacon', b'4')]"
AUTH_DUMMY = ("AuthName blah", "AuthType dummy", "Require valid-user")

SCENARIOS = [
    up("test_req_document_root", handler('wanted = os.path.dirname(os.path.dirname("{dir}"))\n'
                                         'req.write("test ok" if req.document_root() == wanted else '
                                         'req.document_root())\nreturn apache.OK', imports="import os", name="root"),
       Call("tests.py", expect=TEST_OK), handler="root",
       note="the document root is the parent of the parent of the scenario's directory (htdocs/cf/<name>)"),
    up("test_req_add_handler", ADD_HANDLER, Call("tests.py", expect=TEST_OK), handler="first"),
    up("test_req_add_bad_handler", ADD_BAD, Call("tests.py"), handler="first", logs=(r"contains no 'bad_handler'",)),
    up("test_req_add_empty_handler_string", ADD_EMPTY,
       Call("tests.py", expect=Expect(contains=[b"no exception", b"Mod_python error"]),
            daemon=Expect(status=500, contains=[b"Mod_python error"], lacks=[b"no exception"])),
       handler="first", intended=EMPTY_HANDLER, stated=[(Expect(contains=[b"Mod_python error"]),)],
       note="upstream asserts that the answer is not just 'no exception': an exception must come of it"),
    up("test_req_add_handler_empty_phase", EMPTY_PHASE, Call("tests.py", expect=TEST_OK),
       directives=(*DEBUG, "PythonInterpPerDirective On", "PythonFixupHandler {mod}::both")),
    up("test_req_add_handler_directory", ADD_DIRECTORY, Call("tests.py", expect=TEST_OK),
       directives=(*DEBUG, "PythonInterpPerDirective On", "PythonFixupHandler {mod}::both")),
    up("test_accesshandler_add_handler_to_empty_hl", ACCESS_ADDS, Call("tests.py", expect=TEST_OK),
       directives=(*DEBUG, "PythonAccessHandler {mod}::access")),
    up("test_req_allow_methods", ALLOW,
       Call("tests.py", status=405, expect=Expect(headers={"Allow": "TRACE"}),
            daemon=Expect(status=405, header_parts=[("Allow", "PYTHONIZE")])), handler="refuse", intended=ALLOW_BUG),
    up("test_req_unauthorized", UNAUTHORIZED, Call("tests.py", headers=[basic("spam:eggs")], expect=TEST_OK),
       Call("tests.py", headers=[basic("spam:BAD PASSWD")], status=401, expect=Expect(lacks=[b"test ok"])),
       directives=("SetHandler mod_python", "AuthName blah", "AuthType basic", "Require all granted",
                   "PythonHandler {mod}::check", "PythonDebug On")),
    up("test_req_get_basic_auth_pw", BASIC_PW, Call("tests.py", headers=[basic("spam:eggs")], expect=TEST_OK),
       directives=("SetHandler mod_python", "AuthName blah", "AuthType basic", "Require all granted",
                   "PythonHandler {mod}::check", "PythonDebug On")),
    up("test_req_auth_type", AUTH_TYPE, Call("tests.py", expect=TEST_OK),
       directives=("SetHandler mod_python", *AUTH_DUMMY, "PythonAuthenHandler {mod}::every_phase",
                   "PythonAuthzHandler {mod}::every_phase", "PythonHandler {mod}::every_phase", "PythonDebug On")),
    up("test_req_requires", REQUIRES,
       Call("tests.py", headers=[basic("spam:eggs")], status=500,
            expect=Expect(contains=[b"object has no attribute &#x27;requires&#x27;"]), daemon=Expect(status=200,
                                                                                             body=b"test ok")),
       intended=REQUIRES_BUG, authn="emulate",
       directives=("SetHandler mod_python", *AUTH_DUMMY, "PythonAuthenHandler {mod}::authen", "PythonDebug On"),
       note="upstream runs it only on Apache before 2.4; it runs here on 2.4. Converted with authn='emulate': "
            "the authen handler answers the request itself (DONE), which an authorizer behind mod_authnz_fcgi "
            "cannot do with a 200"),
    up("test_req_internal_redirect", REDIRECT,
       Call("tests.py", expect=Expect(body=b"test ok", headers={"Content-Type": None}),
            daemon=Expect(status=200, body=b"test ok", headers={"Content-Type": "text/x-python"})),
       intended=REDIRECT_TYPE, stated=[(TEST_OK,)],
       directives=("SetHandler mod_python", "PythonHandler {mod}::redirect | .py",
                   "PythonHandler {mod}::target | .int", "PythonDebug On")),
    up("test_req_construct_url", CONSTRUCT, Call("tests.py", expect=TEST_OK), handler="construct", fresh=True,
       note="in a virtual host of its own, named localhost (upstream's is named after the test)"),
    up("test_req_read", READ, Call("tests.py", method="POST", body=b"1234567890" * 10000,
                                   expect=Expect(body=b"1234567890" * 10000)), handler="echo",
       note="its second half (a body cut short: the handler's read fails after the server's 5 s Timeout, and "
            "PythonDebug's page names the OSError) cannot pass out of process: mod_proxy_fcgi reads the body "
            "before it calls the daemon, so Apache answers 408 itself (scenario up_req_read_timeout)"),
    up("test_req_read_timeout", READ,
       Call("tests.py", method="POST", body=b"123456789", headers=[("Content-Length", "10")], status=500,
            expect=Expect(contains=[b"OSError: Client read error (Timeout?)"]), daemon=Expect(status=408)),
       handler="echo", server=("Timeout 5",), intended=BODY_PREFETCH,
       note="the second half of upstream's test_req_read: 9 of 10 announced bytes, then nothing"),
    up("test_req_readline", READLINE, Call("tests.py", method="POST", body=(b"1234567890" * 3000 + b"\n") * 4,
                                           expect=Expect(body=(b"1234567890" * 3000 + b"\n") * 4)), handler="echo"),
    up("test_req_readlines", READLINES,
       Call("tests.py", method="POST", body=(b"1234567890" * 3000 + b"\n") * 4,
            expect=Expect(body=(b"1234567890" * 3000 + b"\n") * 4)),
       Call("tests.py", method="POST", body=(b"1234567890" * 3000 + b"\n") * 4, headers=[("SizeHint", "30000")],
            expect=Expect(body=b"1234567890" * 3000 + b"\n")),
       Call("tests.py", method="POST", body=(b"1234567890" * 3000 + b"\n") * 4, headers=[("SizeHint", "32000")],
            expect=Expect(body=(b"1234567890" * 3000 + b"\n") * 2)), handler="echo"),
    up("test_req_discard_request_body", DISCARD, Call("tests.py", body=b"1234567890" * 2, expect=TEST_OK),
       handler="discard"),
    up("test_req_register_cleanup", CLEANUP, Call("tests.py"), handler="register",
       logs=(r"up_req_register_cleanup: cleanup ran, test ok",)),
    up("test_req_headers_out", HEADERS_OUT, Call("test.py", expect=Expect(headers={"X-Test-Header": "test ok"})),
       handler="headers"),
    up("test_req_sendfile", sendfile_source('"  test ok  "', "2", "7"), Call("tests.py", expect=TEST_OK),
       handler="send"),
    up("test_req_sendfile2", sendfile_source('"0123456789" * 100'),
       Call("tests.py", expect=Expect(body=b"0123456789" * 100)), handler="send"),
    up("test_req_sendfile3", sendfile_source('"0123456789" * 100', link=True),
       Call("tests.py", expect=Expect(body=b"0123456789" * 100)), handler="send"),
    up("test_req_handler", REQ_HANDLER, Call("", expect=TEST_OK),
       directives=("PythonFixupHandler {mod}::both", "PythonDebug On"),
       note="no SetHandler: the fixup handler makes mod_python the request's handler"),
    up("test_req_no_cache", NO_CACHE, Call("tests.py", expect=Expect(body=b"test ok", header_parts=[("Expires", "")])),
       handler="page"),
    up("test_req_update_mtime", UPDATE_MTIME,
       Call("tests.py", expect=Expect(body=b"test ok", header_parts=[("ETag", ""), ("Last-Modified", "")])),
       handler="page"),
    up("test_util_redirect", UTIL_REDIRECT, Call("", status=302, expect=Expect(body=b"test ok",
                                                                              headers={"Location": "/dummy"})),
       directives=("PythonFixupHandler {mod}::both", "PythonHandler {mod}::both", "PythonDebug On")),
    up("test_util_fieldstorage", FIELDSTORAGE,
       Call("tests.py", method="POST", body=b"spam=1&spam=2&eggs=3&bacon=4",
            headers=[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/plain")],
            expect=Expect(body=FIELDS_BYTES), daemon=Expect(status=200, body=FIELDS_STR)),
       handler="fields", intended=FORM_TYPES, stated=[(Expect(body=FIELDS_STR), Expect(body=FIELDS_BYTES))],
       note="upstream accepts either form"),
    up("test_PythonOption", OPTIONS, Call("tests.py", expect=Expect(body=b"[('PythonOptionTest', 'sample_value')]")),
       server=MAIN_OPTION, handler="options", note="not in upstream's own suite; " + MAIN_OPTION_NOTE),
    up("test_PythonOption_override", OPTIONS,
       Call("tests.py", expect=Expect(body=b"[('PythonOptionTest', 'new_value'), ('PythonOptionTest2', "
                                           b"'new_value2')]")),
       directives=("SetHandler mod_python", "PythonHandler {mod}::options", 'PythonOption PythonOptionTest "new_value"',
                   'PythonOption PythonOptionTest2 "new_value2"', "PythonDebug On"),
       server=MAIN_OPTION, note=MAIN_OPTION_NOTE),
    up("test_PythonOption_remove", OPTIONS, Call("tests.py", expect=Expect(body=b"[('PythonOptionTest2', "
                                                                                b"'new_value2')]")),
       directives=("SetHandler mod_python", "PythonHandler {mod}::options", 'PythonOption PythonOptionTest ""',
                   'PythonOption PythonOptionTest2 "new_value2"', "PythonDebug On"),
       server=MAIN_OPTION, note=MAIN_OPTION_NOTE),
    up("test_PythonOption_remove2", OPTIONS,
       Call("tests.py", expect=Expect(body=b"[('PythonOptionTest2', 'new_value2'), ('PythonOptionTest3', "
                                           b"'new_value3')]")),
       directives=("SetHandler mod_python", "PythonHandler {mod}::options", "PythonOption PythonOptionTest",
                   'PythonOption PythonOptionTest2 "new_value2"', "PythonOption PythonOptionTest3 new_value3",
                   "PythonDebug On"),
       server=MAIN_OPTION, note=MAIN_OPTION_NOTE),
    up("test_interpreter_per_directive", INTERPRETER,
       Call("tests.py", expect=IN_DIR), Call("subdir/foo.py", expect=IN_DIR), Call("subdir/", expect=IN_DIR),
       directives=("PythonInterpPerDirective On", "SetHandler mod_python", "PythonHandler {mod}::interp",
                   "PythonDebug On"), files=PER_DIRECTIVE_FILES),
    up("test_interpreter_per_directory", INTERPRETER,
       Call("tests.py", expect=IN_DIR), Call("subdir/foo.py", expect=IN_SUBDIR), Call("subdir/", expect=IN_SUBDIR),
       Call("subdir", expect=IN_SUBDIR),
       directives=("PythonInterpPerDirectory On", "SetHandler mod_python", "PythonFixupHandler {mod}::interp",
                   "PythonDebug On"), files=PER_DIRECTIVE_FILES),
    up("test_files_directive", FILES_DIRECTORY, Call("tests.py", expect=TEST_OK),
       directives=('<Files "*.py">', "SetHandler mod_python", "PythonHandler {mod}::show", "PythonDebug On",
                   "</Files>")),
    up("test_req_server_get_config", SERVER_CONFIG, Call("tests.py", expect=TEST_OK), server=("PythonDebug On",),
       directives=("SetHandler mod_python", "PythonHandler {mod}::config", "PythonDebug Off")),
    up("test_req_server_get_options", SERVER_OPTIONS, Call("tests.py", expect=TEST_OK),
       server=("PythonDebug Off", "PythonOption global 1", "PythonOption override 1"),
       directives=("SetHandler mod_python", "PythonHandler {mod}::options", "PythonOption local 1",
                   "PythonOption override 2", "PythonDebug On")),
    up("test_postreadrequest", POST_READ,
       Call("tests.py", expect=Expect(body=b"test ok", headers={"Content-Type": None}),
            daemon=Expect(status=200, body=b"test ok", headers={"Content-Type": "text/x-python"})),
       intended=BEFORE_TYPES, stated=[(TEST_OK,)],
       server=("SetHandler mod_python", "PythonPostReadRequestHandler {mod}::postread", "PythonDebug On"),
       directives=("PythonDebug On",), note="upstream's virtual host has no <Directory>; the scenario's block only "
                                             "repeats PythonDebug"),
    up("test_trans", TRANS, Call("anything", expect=Expect(contains=[b" #"])),
       server=("SetHandler mod_python", "PythonTransHandler {mod}::trans", "PythonDebug On"),
       directives=("PythonDebug On",), files=TRANS_FILE,
       note="the trans handler maps every request to the scenario's tests.py (upstream's: the document root's)"),
    up("test_import", IMPORT_TEST, Call("tests.py", expect=TEST_OK), handler="import_test",
       imports=("cf_up_import_dummy localhost", "cf_up_import_dummy::function localhost"),
       modules={"cf_up_import_dummy": IMPORTED},
       note="PythonImport into the virtual host's interpreter; the daemon's side is a daemon started with --import"),
    up("test_none_handler", "from mod_python import apache\n\nnone_handler = None\n", Call("tests.py", status=500),
       handler="none_handler"),
    up("test_server_return", SERVER_RETURN, Call("tests.py", expect=TEST_OK),
       directives=("SetHandler mod_python", "PythonHandler {mod}::first", "PythonHandler {mod}::second",
                   "PythonDebug On")),
    up("test_phase_status", PHASE_STATUS, Call("tests.py", expect=TEST_OK), logs=(r"phase_status_cleanup_log_entry",),
       authn="emulate", note="converted with authn='emulate': the daemon runs the auth phases before the others, "
                             "in one request, so req.phases set by the authen handlers reaches the content handler",
       directives=("SetHandler mod_python", "AuthType bogus", "AuthName bogus", "Require valid-user",
                   *(f"PythonAuthenHandler {{mod}}::phase_{n}" for n in (1, 2, 3)),
                   "PythonAuthzHandler {mod}::phase_4",
                   *(f"PythonFixupHandler {{mod}}::phase_{n}" for n in (5, 6, 7)),
                   "PythonHandler {mod}::content", "PythonCleanupHandler {mod}::cleanup", "PythonDebug On")),
]
