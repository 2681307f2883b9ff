"""Handler chains, the other phases, resolution, static fallback, cleanups, and the import restrictions, seen
through whole requests."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.errors import stock_page
from fcgi_handlers.dispatch.loader import CHECK_INTERVAL

from .conftest import ADMIN, SIGNATURE, Harness, Result

HTML_ERROR = "Content-Type: text/html; charset=iso-8859-1"

# One module with every handler the stacked-handler scenarios need (docs/mod_python-facts.md §3).
STACK = """
from fcgi_handlers.request.exceptions import SERVER_RETURN
OK, DECLINED, DONE = 0, -1, -2
MODE = {}
def _mode(req):
    return dict(pair.split("=") for pair in (req.args or "").split("&") if pair)
def fixup(req):
    mode = _mode(req).get("fixup")
    if mode == "done":
        req.write("fixup wrote\\n")
        return DONE
    if mode == "raise":
        raise RuntimeError("fixup failed")
    if mode == "forbid":
        return 403
    return OK
def h1(req):
    mode = _mode(req).get("h1")
    if mode == "declined":
        return DECLINED
    if mode == "done":
        req.write("h1 done\\n")
        return DONE
    if mode == "403":
        return 403
    req.write("h1 ok\\n")
    return OK
def h2(req):
    req.write("h2 ran\\n")
    return OK
def log(req):
    req.log_error("log handler: status=%d" % req.status)
    return OK
def cleanup(req):
    req.log_error("cleanup handler ran")
    return OK
"""


def stack(harness: Harness, query: str, **kwargs: Any) -> Result:
    name = harness.module(STACK, name="stack_" + os.urandom(4).hex())
    directives = {"PythonFixupHandler": f"{name}::fixup", "PythonHandler": f"{name}::h1 {name}::h2",
                  "PythonLogHandler": f"{name}::log", "PythonCleanupHandler": f"{name}::cleanup"}
    return harness.request(directives, QUERY_STRING=query, REQUEST_URI=f"/app/page?{query}", **kwargs)


def test_all_phases_run_and_the_chain_continues_on_ok(harness: Harness) -> None:
    result = stack(harness, "")
    assert (result.head, result.body) == ("Status: 200 OK", b"h1 ok\nh2 ran\n")
    assert result.log == ["log handler: status=200", "cleanup handler ran"]


def test_declined_stops_the_chain_and_falls_back(harness: Harness) -> None:
    result = stack(harness, "h1=declined")
    assert (result.head, result.body) == (f"Status: 404 Not Found\r\n{HTML_ERROR}",
                                          stock_page(404, server_admin=ADMIN, signature=SIGNATURE))
    assert result.log[-1] == "cleanup handler ran"


def test_done_stops_the_chain(harness: Harness) -> None:
    result = stack(harness, "h1=done")
    assert (result.head, result.body) == ("Status: 200 OK", b"h1 done\n")


def test_error_code_stops_the_chain_and_later_phases_see_it(harness: Harness) -> None:
    result = stack(harness, "h1=403")
    assert result.status == "Status: 403 Forbidden"
    assert result.log == ["log handler: status=403", "cleanup handler ran"]


def test_fixup_done_after_writing_skips_the_content(harness: Harness) -> None:
    result = stack(harness, "fixup=done")
    assert (result.head, result.body) == ("Status: 200 OK", b"fixup wrote\n")
    assert result.log == ["log handler: status=200", "cleanup handler ran"]


def test_fixup_error_code_is_the_response(harness: Harness) -> None:
    result = stack(harness, "fixup=forbid")
    assert result.status == "Status: 403 Forbidden"
    assert b"h1 ok" not in result.body


def test_exception_in_fixup_names_the_phase(harness: Harness) -> None:
    name = harness.module(STACK)
    directives = {"PythonFixupHandler": f"{name}::fixup", "PythonHandler": f"{name}::h1", "PythonDebug": "On"}
    result = harness.request(directives, QUERY_STRING="fixup=raise")
    assert result.status == "Status: 500 Internal Server Error"
    assert result.body.startswith(f'\n<pre>\nMod_python error: "PythonFixupHandler {name}::fixup"'.encode())
    assert b"h1 ok" not in result.body
    assert result.logged(f"PythonFixupHandler {name}::fixup: RuntimeError: fixup failed")


def test_default_object_names_per_phase(harness: Harness) -> None:
    name = harness.module("def fixuphandler(req):\n    req.notes['f'] = '1'\n    return 0\n"
                          "def handler(req):\n    req.write('fixup=' + req.notes.get('f', '-') + ' phase=' + req.phase)"
                          "\n    return 0\n")
    result = harness.request({"PythonFixupHandler": name, "PythonHandler": name})
    assert result.body == b"fixup=1 phase=PythonHandler"


def test_class_parent_is_instantiated_with_req(harness: Harness) -> None:
    name = harness.module("class Page:\n    def __init__(self, req):\n        self.uri = req.uri\n"
                          "    def render(self, req):\n        req.write('page ' + self.uri)\n        return 0\n"
                          "class Ns:\n    fn = staticmethod(lambda req: req.write('dotted') or 0)\n"
                          "class Holder:\n    pass\nns = Holder()\nns.fn = Ns.fn\n")
    assert harness.request({"PythonHandler": f"{name}::Page.render"}).body == b"page /app/page"
    assert harness.request({"PythonHandler": f"{name}::ns.fn"}).body == b"dotted"
    # The parent is a class, so it is instantiated with req even for a staticmethod (mod_python's rule).
    result = harness.request({"PythonHandler": f"{name}::Ns.fn"})
    assert result.status == "Status: 500 Internal Server Error"
    assert result.logged("TypeError: Ns() takes no arguments")


@pytest.mark.parametrize("spec,message", [
    ("{name}::missing", "contains no 'missing'"),
    ("{name}", "contains no 'handler'"),
    ("no_such_module_xyz", "No module named 'no_such_module_xyz'"),
    ("os::getcwd", "'os' is not inside the configured paths"),
    ("json::dumps", "is not inside the configured paths"),
])
def test_resolution_failures_are_500_with_a_log_line(harness: Harness, spec: str, message: str) -> None:
    name = harness.module("def other(req):\n    return 0\n")
    handler = spec.format(name=name)
    result = harness.request({"PythonHandler": handler})
    assert (result.head, result.body) == (f"Status: 500 Internal Server Error\r\n{HTML_ERROR}",
                                          stock_page(500, server_admin=ADMIN, signature=SIGNATURE))
    assert any(line.startswith(f"PythonHandler {handler}: ") and message in line for line in result.log), result.log


def test_handler_module_is_silent(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    req.write('content')\n    return 0\n")
    result = harness.request({"PythonHandlerModule": name})
    assert (result.status, result.body) == ("Status: 200 OK", b"content")  # no fixuphandler etc.: skipped
    empty = harness.module("X = 1\n")
    declined = harness.request({"PythonHandlerModule": empty})
    assert declined.status == "Status: 404 Not Found"  # the only handler missing: DECLINED


def test_add_handler_for_the_running_and_a_later_phase(harness: Harness) -> None:
    name = "dyn_" + os.urandom(4).hex()
    harness.module(f"""
def fixup(req):
    req.add_handler("PythonHandler", "{name}::late")
    return 0
def first(req):
    req.write("first ")
    req.add_handler("PythonHandler", "{name}::second")
    return 0
def second(req):
    req.write("second ")
    return 0
def late(req):
    req.write("late ")
    return 0
def bad(req):
    req.add_handler("PythonCleanupHandler", "{name}::late")
    return 0
""", name=name)
    result = harness.request({"PythonFixupHandler": f"{name}::fixup", "PythonHandler": f"{name}::first"})
    assert result.body == b"first late second "  # configured, then added in the order they were added
    bad = harness.request({"PythonHandler": f"{name}::bad"})
    assert bad.status == "Status: 500 Internal Server Error"
    assert bad.logged("IndexError: Invalid phase: PythonCleanupHandler")


def test_extension_lists(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    req.write('ext=%s' % req.extension)\n    return 0\n")
    (harness.docroot / "page.tar.gz").write_text("static")
    matched = harness.request({"PythonHandler": f"{name} | .tar.gz"}, path="/page.tar.gz",
                              filename=str(harness.docroot / "page.tar.gz"))
    assert matched.body == b"ext=.tar.gz"
    other = harness.request({"PythonHandler": f"{name} | .py"}, path="/page.tar.gz",
                            filename=str(harness.docroot / "page.tar.gz"))
    assert other.status == "Status: 200 OK" and other.body == b"static"  # no handler: Apache's default one


def test_declined_serves_the_mapped_file(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    return -1\n")
    target = harness.docroot / "file.txt"
    target.write_text("static\n")
    os.utime(target, ns=(1_700_000_000_123_456_000, 1_700_000_000_123_456_000))
    kwargs: dict[str, Any] = {"path": "/file.txt", "filename": str(target)}
    result = harness.request({"PythonHandler": name}, **kwargs)
    assert result.head == ("Status: 200 OK\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
                           f'ETag: "7-{1_700_000_000_123_456:x}"\r\nAccept-Ranges: bytes\r\nContent-Length: 7\r\nContent-Type: text/plain')
    assert result.body == b"static\n"
    cached = harness.request({"PythonHandler": name}, HTTP_IF_NONE_MATCH=f'"7-{1_700_000_000_123_456:x}"', **kwargs)
    assert cached.status == "Status: 304 Not Modified" and cached.body == b""
    put = harness.request({"PythonHandler": name}, method="PUT", **kwargs)
    assert put.status == "Status: 405 Method Not Allowed"
    assert set(dict(put.headers)["Allow"].split(",")) == {"HEAD", "GET", "POST", "OPTIONS", "TRACE"}


def test_declined_never_serves_files_outside_the_document_root(harness: Harness, tmp_path: Path) -> None:
    name = harness.module("def handler(req):\n    return -1\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (harness.docroot / "link.txt").symlink_to(secret)
    # A symlink out of the document root, mapped by Apache (Directory form): refused by its real path.
    result = harness.request({"PythonHandler": name}, path="/link.txt", filename=str(harness.docroot / "link.txt"))
    assert result.status == "Status: 404 Not Found" and b"secret" not in result.body
    # A filename that is not Apache's mapping of the URL (e.g. a ProxyPass target path): no file at all.
    result = harness.request({"PythonHandler": name}, path="/x", filename=str(secret))
    assert result.status == "Status: 404 Not Found" and b"secret" not in result.body
    # A handler that points req.filename elsewhere before declining.
    redirector = harness.module(f"def handler(req):\n    req.filename = {str(secret)!r}\n    return -1\n")
    (harness.docroot / "real.txt").write_text("real")
    real = str(harness.docroot / "real.txt")
    assert harness.request({"PythonHandler": name}, path="/real.txt", filename=real).body == b"real"
    result = harness.request({"PythonHandler": redirector}, path="/real.txt", filename=real)
    assert result.status == "Status: 404 Not Found" and b"secret" not in result.body
    # With PATH_INFO Apache's default handler answers 404 too.
    result = harness.request({"PythonHandler": name}, path="/real.txt/more", filename=real, SCRIPT_NAME="/real.txt",
                             PATH_INFO="/more")
    assert result.status == "Status: 404 Not Found"


def test_register_cleanup_runs_after_the_response_and_errors_are_logged(harness: Harness) -> None:
    name = harness.module(
        "def handler(req):\n"
        "    req.register_cleanup(lambda data: req.log_error('cleanup 1 %r sent=%d' % (data, req.eos_sent)))\n"
        "    req.register_cleanup(lambda data: 1 / 0)\n"
        "    req.register_cleanup(req.log_error, 'cleanup 3')\n"
        "    req.write('body')\n    return 0\n")
    result = harness.request({"PythonHandler": name})
    assert result.body == b"body"
    # Newest first, as APR runs pool cleanups; data defaults to None; an error is logged as mod_python logs it.
    assert result.log[0] == "cleanup 3"
    assert result.log[1].startswith("python_cleanup: Error calling cleanup object <function handler.<locals>.")
    assert result.log[2] == "    <class 'ZeroDivisionError'>: division by zero"
    assert result.log[3] == "cleanup 1 None sent=1"


def test_sys_exit_in_a_handler_is_a_500(harness: Harness) -> None:
    name = harness.module("import sys\ndef handler(req):\n    sys.exit(3)\n")
    result = harness.request({"PythonHandler": name})
    assert result.status == "Status: 500 Internal Server Error"
    assert result.logged("SystemExit: 3")


def test_invalid_header_from_a_handler_is_a_500(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    req.headers_out['X-Bad'] = 'a\\r\\nInjected: 1'\n    return 0\n")
    result = harness.request({"PythonHandler": name})
    assert result.status == "Status: 500 Internal Server Error"
    assert "Injected" not in result.head


def test_config_and_options_reach_the_handler(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    req.write(repr((sorted(req.get_config().items()), "
                          "sorted(req.get_options().items()), req.interpreter)))\n    return 0\n")
    result = harness.request({"PythonHandler": name, "PythonDebug": "Off", "PythonOption.a": "1",
                              "PythonOption.gone": "", "PythonInterpreter": "site"})
    assert result.body.decode() == repr(([("PythonDebug", "0"), ("PythonInterpreter", "site")], [("a", "1")],
                                         "site"))


def test_python_path_outside_the_allowed_directories_is_refused(harness: Harness, tmp_path: Path) -> None:
    name = harness.module("def handler(req):\n    req.write('ran')\n    return 0\n")
    result = harness.request({"PythonHandler": name, "PythonPath": "['/etc'] + sys.path"})
    assert (result.head, result.body) == (f"Status: 500 Internal Server Error\r\n{HTML_ERROR}",
                                          stock_page(500, server_admin=ADMIN, signature=SIGNATURE))
    assert result.log == ["PythonPath entry '/etc' is outside the configured paths"]


def test_python_path_expression_is_never_evaluated(harness: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    name = harness.module("def handler(req):\n    return 0\n")
    result = harness.request({"PythonHandler": name, "PythonPath": f"__import__('os').system('touch {marker}')"})
    assert result.status == "Status: 500 Internal Server Error"
    assert not marker.exists()
    assert result.logged("only list literals of strings, sys.path and + are accepted")


def test_python_path_selects_the_search_directories(harness: Harness) -> None:
    lib = harness.root / "lib"
    lib.mkdir()
    (lib / "libmod_dispatch_test.py").write_text("def handler(req):\n    req.write('from lib')\n    return 0\n")
    assert harness.request({"PythonHandler": "libmod_dispatch_test"}).status == "Status: 500 Internal Server Error"
    result = harness.request({"PythonHandler": "libmod_dispatch_test", "PythonPath": f"['{lib}'] + sys.path"})
    assert result.body == b"from lib"


def test_autoreload_through_the_dispatcher(harness: Harness) -> None:
    now = [1000.0]
    harness.dispatcher.loader._clock = lambda: now[0]
    name = harness.module("def handler(req):\n    req.write('v1')\n    return 0\n")
    os.utime(harness.root / f"{name}.py", ns=(10**18, 10**18))
    assert harness.request({"PythonHandler": name}).body == b"v1"
    harness.module("def handler(req):\n    req.write('v2')\n    return 0\n", name=name)
    os.utime(harness.root / f"{name}.py", ns=(2 * 10**18, 2 * 10**18))
    now[0] += CHECK_INTERVAL + 0.1
    assert harness.request({"PythonHandler": name, "PythonAutoReload": "Off"}).body == b"v1"
    assert harness.request({"PythonHandler": name}).body == b"v2"


def test_authen_ok_without_user_is_500(harness: Harness) -> None:
    name = harness.module("def authenhandler(req):\n    return 0\ndef handler(req):\n    req.write('in')\n"
                          "    return 0\ndef named(req):\n    req.user = 'spam'\n    return 0\n")
    result = harness.request({"PythonAuthenHandler": name, "PythonHandler": name})
    assert result.status == "Status: 500 Internal Server Error"
    assert result.logged("After PythonAuthenHandler req->user is NULL")
    ok = harness.request({"PythonAuthenHandler": f"{name}::named", "PythonHandler": name})
    assert ok.body == b"in"


def test_handlers_use_mod_python_apache(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_state", None)
    runtime.install(runtime.WorkerState(loader=harness.dispatcher.loader))
    helper = harness.module("GREETING = 'hello from helper'\n")
    name = harness.module(
        "from mod_python import apache\n"
        "def handler(req):\n"
        f"    helper = apache.import_module({helper!r})\n"
        "    apache.log_error('module-level log_error reaches the request')\n"
        "    req.write(helper.GREETING)\n"
        "    return apache.OK\n"
        "def refused(req):\n"
        "    apache.import_module('subprocess')\n"
        "    return apache.OK\n")
    result = harness.request({"PythonHandler": name})
    assert (result.status, result.body) == ("Status: 200 OK", b"hello from helper")
    assert result.log == ["module-level log_error reaches the request"]
    refused = harness.request({"PythonHandler": f"{name}::refused"})
    assert refused.status == "Status: 500 Internal Server Error"
    # A module that exists outside the paths is refused with its own message ...
    assert refused.logged("'subprocess' is not inside the configured paths")
    # The shipped mod_python package is importable as a handler module; only its object is missing here.
    shipped = harness.request({"PythonHandler": "mod_python.apache"})
    assert shipped.logged("contains no 'handler'")


class GoneSink:
    """The web server went away: every write fails, as the transport's ClientGone (an OSError) does."""

    def stdout(self, data: bytes) -> None:
        raise ConnectionResetError("peer gone")

    def stderr(self, data: bytes) -> None:
        raise ConnectionResetError("peer gone")


def test_client_gone_still_runs_log_phase_and_cleanups(harness: Harness, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    name = harness.module(
        "def handler(req):\n"
        f"    req.register_cleanup(lambda data: open({str(marks)!r}, 'a').write('cleanup '))\n"
        "    req.write('first')\n"
        "    req.write('second')\n"
        "    return 0\n"
        "def loghandler(req):\n"
        f"    open({str(marks)!r}, 'a').write('log ')\n"
        "    return 0\n")
    params = harness.params({"PythonHandler": name, "PythonLogHandler": name, "PythonDebug": "On"})
    harness.dispatcher.handle(params, io.BytesIO(), GoneSink())
    assert marks.read_text() == "log cleanup "


def test_keyboard_interrupt_in_a_handler_gets_the_debug_page(harness: Harness) -> None:
    # mod_python's bare except reports any exception, KeyboardInterrupt included, with the PythonDebug page.
    name = harness.module("def handler(req):\n    raise KeyboardInterrupt('stop')\n")
    result = harness.request({"PythonHandler": name, "PythonDebug": "On"})
    assert result.status == "Status: 500 Internal Server Error"
    assert ("Content-Type", "text/html") in result.headers
    assert b"KeyboardInterrupt: stop" in result.body and b"Mod_python error" in result.body


def test_every_request_carries_the_python_init_ran_note(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    req.write(repr(list(req.notes.items())))\n    return 0\n")
    assert harness.request({"PythonHandler": name}).body == repr([("python_init_ran", "1")]).encode()


def test_server_options_are_empty_and_request_options_hold_the_block(harness: Harness) -> None:
    # Apache sends one merged set of params with no scope: every PythonOption is the block's.
    name = harness.module("def handler(req):\n    req.write(repr((list(req.server.get_options().items()), "
                          "list(req.get_options().items()))))\n    return 0\n")
    result = harness.request({"PythonHandler": name, "PythonOption.alpha": "one"})
    assert result.body == repr(([], [("alpha", "one")])).encode()


def test_hlist_directory_is_the_translated_directory_param(harness: Harness) -> None:
    name = harness.module("def handler(req):\n    req.write(repr(req.hlist.directory))\n    return 0\n")
    assert harness.request({"PythonHandler": name, "PythonDirectory": "/srv/app"}).body == b"'/srv/app/'"
    assert harness.request({"PythonHandler": name}).body == b"None"
