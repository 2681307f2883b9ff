"""The modules of mod_python 3.5's package that the daemon adds beside the request helpers: cache, httpdconf,
python22, version and testhandler (run through the dispatcher), plus the mod_python API calls that need Apache and
fail with 500 and one log line."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from pages_harness import Site, site  # noqa: F401 - the fixture

import mod_python
from fcgi_handlers.dispatch.loader import ImportRefused
from mod_python import cache, httpdconf, python22, version


# --- version, python22 -----------------------------------------------------------------------------------------------
def test_version_names_the_daemon_after_mod_pythons_api_level() -> None:
    assert version.version.startswith("3.5.0 ") and "fcgi_handlers" in version.version
    assert mod_python.mp_version == version.version and python22.__all__ == []


# --- cache -----------------------------------------------------------------------------------------------------------
def test_function_cache_calls_once_per_arguments_and_drops_the_least_recently_used() -> None:
    calls: list[tuple[object, ...]] = []
    square = cache.FunctionCache(lambda x, k=0: calls.append((x, k)) or x * x + k, max_size=2)
    assert (square(3), square(3), square(3, k=1)) == (9, 9, 10)
    assert calls == [(3, 0), (3, 1)]
    assert square.mru() == ((3,), (("k", 1),)) and square.lru() == ((3,), ())
    square(4)  # a third key pushes out the least recently used one
    square(3)
    assert calls[-1] == (3, 0) and len(calls) == 4


def test_file_cache_rereads_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"one")
    files = cache.FileCache()
    assert files[str(path)] == b"one" and files[str(path)] == b"one"
    path.write_bytes(b"two")
    os.utime(path, (1, 1))
    assert files[str(path)] == b"two"
    assert files._checkitem(str(path))[0] is False


def test_weak_cache_forgets_a_value_nobody_holds() -> None:
    class Value:
        pass

    class Built(cache.WeakCache):
        def build(self, key: object, name: object, opened: object, entry: cache.Entry) -> Value:
            return Value()

    values = Built()
    first = values["a"]
    assert values["a"] is first
    del first
    assert "a" not in values._dict


def test_module_cache_runs_files_and_refuses_outside_the_daemons_paths(site: Site, tmp_path: Path) -> None:
    inside = site.write("lib/page_module.py", "X = 41 + 1\n")
    module = cache.ModuleCache()[str(inside)]
    assert module.X == 42 and module.__file__ == str(inside)
    outside = tmp_path / "elsewhere.py"
    outside.write_text("X = 1\n")
    with pytest.raises(ImportRefused, match="configured paths"):
        cache.ModuleCache()[str(outside)]
    with pytest.raises(ImportRefused, match="fetched"):
        cache.HttpModuleCache()["http://127.0.0.1:9/x.py"]


def test_cache_builds_one_name_once_under_concurrency() -> None:
    started, release = threading.Event(), threading.Event()
    built: list[str] = []

    class Slow(cache.Cache):
        def build(self, key: object, name: object, opened: object, entry: cache.Entry) -> str:
            built.append(str(name))
            started.set()
            release.wait(5)
            return f"value of {name}"

    slow = Slow()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(slow["x"])) for _ in range(3)]
    for thread in threads:
        thread.start()
    started.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert built == ["x"] and results == ["value of x"] * 3


# --- httpdconf -------------------------------------------------------------------------------------------------------
def test_httpdconf_renders_configuration_text_and_rebuilding_repr() -> None:
    conf = httpdconf.Container(
        httpdconf.Comment("two\nlines"),
        httpdconf.VirtualHost("*:80", httpdconf.ServerName("example.org"),
                              httpdconf.Directory(r"C:\www", httpdconf.SetHandler("mod_python"),
                                                  httpdconf.PythonHandler("mod::fn"))))
    assert str(conf) == ("# two\n# lines\n<VirtualHost *:80>\n  ServerName example.org\n  <Directory C:/www>\n"
                         "    SetHandler mod_python\n    PythonHandler mod::fn\n  </Directory>\n</VirtualHost>\n")
    namespace = vars(httpdconf).copy()
    assert str(eval(repr(conf), namespace)) == str(conf)  # noqa: S307 - the test's own repr
    with pytest.raises(TypeError):
        conf.append("Listen 80")  # type: ignore[arg-type]


@pytest.mark.parametrize("condition, shown", [
    ("mod_python.version.HTTPD_VERSION[0:3] == '2.4'", False),
    ("mod_python.version.HTTPD_VERSION[0:3] < '2.4'", True),
    ("'3.5' in mod_python.version.version and not 1 > 2", True),
    (lambda: False, False), (True, True)])
def test_only_if_is_evaluated_without_eval(condition: object, shown: bool) -> None:
    text = str(httpdconf.Container(httpdconf.Listen("8080"), only_if=condition))
    assert text == ("Listen 8080\n" if shown else "")


def test_only_if_refuses_anything_but_comparisons() -> None:
    with pytest.raises(ValueError, match="only_if"):
        str(httpdconf.Container(httpdconf.Listen("1"), only_if="__import__('os').system('true')"))


def test_write_basic_config_writes_a_script_that_prints_the_configuration(tmp_path: Path) -> None:
    path = httpdconf.write_basic_config(str(tmp_path / "inst"), listen="127.0.0.1:8001", pythonpath=["/srv/app"])
    assert path is not None
    text = Path(path).read_text()
    assert "from mod_python.httpdconf import *" in text and "Listen('127.0.0.1:8001')" in text
    namespace = vars(httpdconf).copy()
    exec(compile(text.replace("print(config)", "OUT = str(config)"), path, "exec"), namespace)  # noqa: S102
    assert "Listen 127.0.0.1:8001\n" in namespace["OUT"] and "PythonHandler mod_python.publisher" in namespace["OUT"]
    assert httpdconf.write_basic_config(str(tmp_path / "inst")) is None  # exists: nothing replaced


# --- testhandler and the calls that need Apache -----------------------------------------------------------------------
def test_testhandler_page_escapes_what_it_shows(site: Site) -> None:
    result = site.get("/", handler="mod_python.testhandler", headers={"X-Evil": "<script>"})
    assert result.status == 200 and result.header("Content-Type") == "text/html"
    assert b"<title>mod_python test page</title>" in result.body and b"&lt;script&gt;" in result.body
    assert b"<script>" not in result.body and version.version.encode() in result.body
    log_view = site.get("/?view_log=1", handler="mod_python.testhandler")
    assert log_view.status == 200 and b"cannot read it" in log_view.body


FAILING = '''
from mod_python import apache

def handler(req):
    what = req.get_options()["call"]
    if what == "filter":
        req.add_input_filter("INFLATE")
    elif what == "register":
        req.register_input_filter("F", "mod::f")
    elif what == "write":
        req.connection.write(b"x")
    elif what == "readline":
        req.connection.readline()
    elif what == "tree":
        apache.config_tree()
    req.write("not reached")
    return apache.OK
'''


@pytest.mark.parametrize("call, logged", [("filter", "req.add_input_filter('INFLATE'): Apache's filters"),
                                          ("register", "req.register_input_filter('F', 'mod::f')"),
                                          ("write", "req.connection.write(...): the client connection"),
                                          ("readline", "req.connection.readline(-1)"),
                                          ("tree", "apache.config_tree(): Apache's parsed configuration")])
def test_calls_that_need_apache_end_with_500_and_one_log_line(site: Site, call: str, logged: str) -> None:
    site.write("failing.py", FAILING)
    params = site.params("/failing.py", handler="failing")
    params["PythonOption.call"] = call
    result = site.run(params)
    assert result.status == 500 and b"not reached" not in result.body
    assert [line for line in result.log if logged in line and "outside Apache" in line] and len(result.log) == 1


SETUP_CGI = '''
import os, sys
from mod_python import apache

def handler(req):
    saved = apache.setup_cgi(req)
    try:
        print("Content-Type: text/plain")
        print("X-Cgi: yes")
        print()
        print("method=%s body=%s" % (os.environ["REQUEST_METHOD"], sys.stdin.read()))
    finally:
        apache.restore_nocgi(*saved)
    return apache.OK
'''


def test_setup_cgi_and_restore_nocgi(site: Site) -> None:
    site.write("cgi_style.py", SETUP_CGI)
    before = (dict(os.environ), __import__("sys").stdout)
    params = site.params("/cgi_style.py", handler="cgi_style", method="POST")
    params["CONTENT_LENGTH"] = "5"
    result = site.run(params, b"hello")
    assert (result.status, result.header("X-Cgi"), result.text) == (200, "yes", "method=POST body=hello\n")
    assert (dict(os.environ), __import__("sys").stdout) == before


CGI_SCRIPT = "print('Content-Type: text/plain')\nprint()\nprint('hi cgi')\n"


@pytest.mark.parametrize("handler, url, files", [
    ("mod_python.publisher", "/pub/index.py/hello", {"pub/index.py": "def hello(req):\n    return 'hi'\n"}),
    ("mod_python.psp", "/pages/p.psp", {"pages/p.psp": "hi <%= req.interpreter %>"}),
    ("mod_python.cgihandler", "/cgi/s.py", {"cgi/s.py": CGI_SCRIPT}),
    ("mod_python.testhandler", "/any", {})])
def test_mod_pythons_handlers_run_in_a_named_interpreter(site: Site, handler: str, url: str,
                                                         files: dict[str, str]) -> None:
    for relative, text in files.items():
        site.write(relative, text)
    result = site.get(url, handler=handler, directives={"PythonInterpreter": "named_one"})
    assert result.status == 200, result.log
    assert b"hi" in result.body or b"named_one" in result.body


def test_wsgi_application_loads_into_the_named_interpreter(site: Site) -> None:
    site.write("named_app.py", "import sys\n\ndef application(environ, start_response):\n"
                               "    start_response('200 OK', [])\n"
                               "    return [repr(__name__ in sys.modules).encode()]\n")
    result = site.get("/x", handler="mod_python.wsgi", options={"mod_python.wsgi.application": "named_app"},
                      directives={"PythonInterpreter": "wsgi_named"})
    assert (result.status, result.body) == (200, b"False")  # the module lives in the interpreter's own table
