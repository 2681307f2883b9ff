"""Directives of a block and how handler modules load.

PythonOption and the other directives of one block (mod_python-behaviour.md §2): options as a table, a value-less
option removing the key, last one winning; PythonDebug/PythonAutoReload in get_config(); PythonInterpreter;
PythonHandlerModule; handler lists and `| .ext` lists.

Handler resolution and module loading (mod_python-behaviour.md §1.1, §2 PythonAutoReload): `module::object`
with classes instantiated per request, helper modules beside the handler, apache.import_module, and reloading.

Two known mod_python bugs on Python 3 are intended differences here. PythonAutoReload On does not reload: 3.5 logs
"(Re)importing" but importlib returns the cached module (calls go over one connection, so one prefork child answers
both). And concurrent first requests race the import: apache.import_module hands a thread the half-executed module
another thread is still importing (with PythonAutoReload Off: with it on, importlib's module lock hides the race);
prefork children have one thread, so this scenario's oracle is Debian's mod_python in an event-MPM Apache with
one child process, and the copies after the first arrive while the first is still importing."""
from __future__ import annotations

from typing import Sequence

from ..scenario import Call, Expect, Scenario, handler, mod_python_bug, show

OPTIONS_AREA = "options and config"
OPTION_FILES = {"page.py": b"# a page\n", "page.txt": b"static text\n", "a.tar.gz": b"archive"}


def opt(name: str, directives: Sequence[str], *expressions: str, calls: Sequence[Call] = (Call(),),
        container: str = "Location", source: str = "") -> Scenario:
    lines = ("SetHandler mod_python", "PythonHandler {mod}", *directives)
    return Scenario(name, OPTIONS_AREA, source or show(*expressions), directives=lines, calls=calls,
                    container="Directory" if container == "Directory" else "Location",
                    files=OPTION_FILES if container == "Directory" else {})


OPTIONS = ("sorted(req.get_options().items())",)
HANDLER_MODULE_BUG = mod_python_bug(
    "PythonHandlerModule registers the module for every phase in silent mode, and apache.py's HandlerDispatch reads "
    "`obj` before assigning it when a phase's function is missing (UnboundLocalError in PythonTransHandler), so every "
    "request fails with 500")
ONE_TWO = (handler('req.content_type = "text/plain"\nreq.write("one\\n")\nreturn apache.OK', name="one")
           + "\n\ndef two(req):\n    req.write('two\\n')\n    return apache.OK\n")
EXT = handler('req.content_type = "text/plain"\nreq.write("ext=%r handler=%r" % (req.extension, req.hlist.handler))\n'
              "return apache.OK")

REDIRECT_BY_EXTENSION = (
    "from mod_python import apache\n\n\ndef start(req):\n"
    "    req.internal_redirect(req.uri.rsplit('/', 1)[0] + '/end.int')\n    return apache.OK\n\n\n"
    "def target(req):\n    req.content_type = 'text/plain'\n    req.prev.write('test ')\n"
    "    req.write('ok ext=%r handler=%r' % (req.extension, req.hlist.handler))\n    return apache.OK\n")

OPTION_SCENARIOS = [
    opt("opt_options", ("PythonOption alpha one", 'PythonOption beta "two words"'), *OPTIONS,
        "req.get_options()['alpha']", "req.get_options().get('ALPHA')"),
    opt("opt_option_without_value", ("PythonOption alpha one", "PythonOption gone"), *OPTIONS,
        "'gone' in req.get_options()"),
    opt("opt_option_emptied", ("PythonOption alpha one", "PythonOption alpha"), *OPTIONS),
    opt("opt_option_empty_string", ('PythonOption alpha ""',), *OPTIONS),
    opt("opt_option_last_wins", ("PythonOption alpha one", "PythonOption alpha two"), *OPTIONS),
    opt("opt_option_quotes", (r'PythonOption greeting "say \"hi\" \\ bye"', "PythonOption path /a/b?c=d&e"), *OPTIONS),
    opt("opt_option_reserved_names", ("PythonOption mod_python.session.cookie_name sid2",
                                      "PythonOption mod_python.wsgi.base_uri /x"), *OPTIONS),
    opt("opt_server_options", ("PythonOption alpha one",), "sorted(req.server.get_options().items())"),
    opt("opt_config_debug_on", ("PythonDebug On",), "req.get_config().get('PythonDebug')",
        "'PythonDebug' in req.get_config()"),
    opt("opt_config_debug_off", ("PythonDebug Off",), "req.get_config().get('PythonDebug')"),
    opt("opt_config_default", (), "req.get_config().get('PythonDebug')", "req.get_config().get('PythonAutoReload')"),
    opt("opt_config_autoreload_off", ("PythonAutoReload Off",), "req.get_config().get('PythonAutoReload')"),
    opt("opt_config_keys", ("PythonDebug On", "PythonAutoReload Off", "PythonOption a b"),
        "sorted(k for k in req.get_config().keys() if k != 'PythonPath')"),
    opt("opt_interp_per_directive", ("PythonInterpPerDirective On",), "req.interpreter"),
    opt("opt_dir_interp_per_directive", ("PythonInterpPerDirective On",), "req.interpreter == '{dir}/'",
        container="Directory", calls=(Call("page.txt"),)),
    opt("opt_interpreter", ("PythonInterpreter cf_custom_interp",), "req.interpreter", "apache.interpreter",
        "req.get_config().get('PythonInterpreter')"),
    Scenario("opt_extension_redirect", OPTIONS_AREA, REDIRECT_BY_EXTENSION, container="Directory",
             files={"start.py": b"# a page\n", "end.int": b"# the target\n"},
             directives=("SetHandler mod_python", "PythonHandler {mod}::start | .py",
                         "PythonHandler {mod}::target | .int"), calls=(Call("start.py"),)),
    Scenario("opt_handler_list_one_line", OPTIONS_AREA, ONE_TWO,
             directives=("SetHandler mod_python", "PythonHandler {mod}::one {mod}::two")),
    Scenario("opt_handler_repeated_lines", OPTIONS_AREA, ONE_TWO,
             directives=("SetHandler mod_python", "PythonHandler {mod}::one", "PythonHandler {mod}::two")),
    Scenario("opt_handler_module", OPTIONS_AREA, handler('req.content_type = "text/plain"\n'
             'req.write("handler via module %s" % req.phase)\nreturn apache.OK'),
             directives=("SetHandler mod_python", "PythonHandlerModule {mod}"), intended_difference=HANDLER_MODULE_BUG,
             calls=(Call(status=500, daemon=Expect(status=200, body=b"handler via module PythonHandler")),)),
    Scenario("opt_handler_module_without_handler", OPTIONS_AREA, "X = 1\n", intended_difference=HANDLER_MODULE_BUG,
             directives=("SetHandler mod_python", "PythonHandlerModule {mod}"),
             calls=(Call(status=500, daemon=Expect(status=404)),)),
    Scenario("opt_extension_list", OPTIONS_AREA, EXT, container="Directory", files=OPTION_FILES,
             directives=("SetHandler mod_python", "PythonHandler {mod} | .py"),
             calls=(Call("page.py"),)),
    Scenario("opt_extension_list_multi", OPTIONS_AREA, EXT, container="Directory", files=OPTION_FILES,
             directives=("SetHandler mod_python", "PythonHandler {mod} | .py .tar.gz"),
             calls=(Call("page.py"), Call("a.tar.gz"))),
    Scenario("opt_extension_declined_static", OPTIONS_AREA, EXT, container="Directory", files=OPTION_FILES,
             directives=("SetHandler mod_python", "PythonHandler {mod} | .py"),
             description="no list for the extension: the content phase declines and Apache's default handler "
                         "serves the file (behind the daemon: the daemon's static fallback)",
             calls=(Call("page.txt"), Call("a.tar.gz"), Call("page.txt", method="HEAD"), Call("nope.txt", status=404),
                    # a date in the future is ignored (RFC 9110 §13.1.3): the whole file
                    Call("page.txt", headers=[("If-Modified-Since", "Fri, 01 Jan 2038 00:00:00 GMT")]),
                    Call("page.txt", headers=[("Range", "bytes=0-3")], status=206),
                    Call("page.txt", headers=[("Range", "bytes=-4")], status=206),
                    Call("page.txt", headers=[("Range", "bytes=999-")], status=416),
                    Call("page.txt", headers=[("Range", "bytes=x-1")]))),
    Scenario("opt_addhandler", OPTIONS_AREA, EXT, container="Directory", files=OPTION_FILES,
             directives=("AddHandler mod_python .py", "PythonHandler {mod}"),
             calls=(Call("page.py"), Call("page.txt"), Call("page.py/extra"))),
]


LOADING_AREA = "module loading"
VERSIONED = '''from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("version {version}")
    return apache.OK
'''
SLOW_IMPORT = '''import time

from mod_python import apache

time.sleep(1.0)   # a module whose import takes a while (a big framework, a database connection)


def handler(req):
    req.content_type = "text/plain"
    req.write("imported")
    return apache.OK
'''
CLASSES = '''import types

from mod_python import apache


class Greeter:
    greeting = "hello"

    def __init__(self, req):
        self.uri = req.uri

    def hello(self, req):
        req.content_type = "text/plain"
        req.write("%s %s" % (self.greeting, self.uri))
        return apache.OK


class Namespace:
    @staticmethod
    def handler(req):
        req.content_type = "text/plain"
        req.write("static method")
        return apache.OK


def _dotted(req):
    req.content_type = "text/plain"
    req.write("dotted function")
    return apache.OK


ns = types.SimpleNamespace(fn=_dotted)
'''


def load(name: str, source: str, directives: tuple[str, ...], *calls: Call, modules: dict[str, str] = {}) -> Scenario:
    return Scenario(name, LOADING_AREA, source, directives=("SetHandler mod_python", *directives),
                    calls=calls or (Call(),), modules=modules)


LOADING_SCENARIOS = [
    load("load_class_method", CLASSES, ("PythonHandler {mod}::Greeter.hello",)),
    load("load_class_without_init", CLASSES, ("PythonHandler {mod}::Namespace.handler",), Call(status=500)),
    load("load_dotted_function", CLASSES, ("PythonHandler {mod}::ns.fn",)),
    load("load_default_object", handler('req.content_type = "text/plain"\nreq.write("default handler")\n'
                                        "return apache.OK"), ("PythonHandler {mod}",)),
    load("load_helper_module", handler('req.content_type = "text/plain"\nreq.write(cf_load_helper.greet())\n'
                                       "return apache.OK", imports="import cf_load_helper"),
         ("PythonHandler {mod}",), modules={"cf_load_helper": "def greet():\n    return 'from the helper'\n"}),
    load("load_apache_import_module", handler('m = apache.import_module("cf_load_imported")\n'
                                              'req.content_type = "text/plain"\nreq.write(m.VALUE)\nreturn apache.OK'),
         ("PythonHandler {mod}",), modules={"cf_load_imported": "VALUE = 'imported by apache.import_module'\n"}),
    load("load_module_dunder", handler('req.content_type = "text/plain"\nreq.write(repr((__name__, '
                                       '__file__.endswith("cf_load_module_dunder.py"))))\nreturn apache.OK'),
         ("PythonHandler {mod}",)),
    load("load_handler_reused", handler('COUNT.append(1)\nreq.content_type = "text/plain"\n'
                                        'req.write("same module object: %s" % (len(COUNT) >= 1))\nreturn apache.OK')
         .replace("from mod_python import apache\n", "from mod_python import apache\n\nCOUNT = []\n"),
         ("PythonHandler {mod}",), Call(), Call()),
    Scenario("load_autoreload_off", LOADING_AREA, VERSIONED.replace("{version}", "one"), keepalive=True,
             directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonAutoReload Off"),
             calls=(Call(), Call(pause=1.2, rewrite={"cf_load_autoreload_off.py": VERSIONED.replace("{version}",
                                                                                                    "two")}))),
    Scenario("load_autoreload_on", LOADING_AREA, VERSIONED.replace("{version}", "one"), keepalive=True,
             directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonAutoReload On"),
             intended_difference=mod_python_bug(
                 "PythonAutoReload does not reload on Python 3: mod_python 3.5 logs \"(Re)importing\" but "
                 "importlib.import_module returns the cached module, so the old code keeps answering"),
             calls=(Call(), Call(pause=1.2, rewrite={"cf_load_autoreload_on.py": VERSIONED.replace("{version}", "two")},
                                 expect=Expect(body=b"version one"), daemon=Expect(status=200, body=b"version two")))),
    Scenario("load_import_race", LOADING_AREA, SLOW_IMPORT, oracle_mpm="event",
             directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonAutoReload Off"),
             intended_difference=mod_python_bug(
                 "concurrent first requests race the import in a threaded MPM: with PythonAutoReload Off, "
                 "apache.import_module returns the module it finds in sys.modules while another thread is still "
                 "executing it, and `handler` is not defined yet (AttributeError, 500)"),
             calls=(Call(concurrent=6, stagger=0.4, status=500,
                         expect=Expect(contains=[b"Internal Server Error"]),
                         daemon=Expect(status=200, body=b"imported")),)),
]

SCENARIOS = [*OPTION_SCENARIOS, *LOADING_SCENARIOS]
