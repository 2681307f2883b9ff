"""mod_python 3.5's whole surface through real Apache: the package's modules, the request API (and what fails
clearly out of process), named interpreters, the section a block came from, str from WSGI apps, sys.argv, and an
internal redirect that selects another handler by extension.

Each block is served by real mod_python and, converted with `mod_python_block_to_daemon` (given the virtual host's
ServerName, `localhost` in every test Apache, as a migrating user gives it), by the daemon; where mod_python 3.5
answers the same, the test compares the two. Handlers: tests/e2e/handlers/api_surface.py and mp_modules.py.
"""
from __future__ import annotations

import re
from typing import Callable

import pytest

from e2e.harness import ApacheServer, ManagedProcess
from fcgi_handlers.apache import mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

SERVER_NAME = "localhost"  # the ServerName of the Apaches the tests start (fcgi_handlers.apache.config)


def location(path: str, *lines: str) -> str:
    body = "".join(f"    {line}\n" for line in ("SetHandler mod_python", *lines))
    return f'<Location "{path}">\n{body}</Location>'


def directory(alias: str, folder: str, *lines: str) -> str:
    body = "".join(f"    {line}\n" for line in ("Require all granted", "SetHandler mod_python", *lines))
    return f'Alias "{alias}" "@HANDLERS@/{folder}"\n<Directory "@HANDLERS@/{folder}">\n{body}</Directory>'


def for_daemon(block: str) -> Callable[[object], str]:
    """The marker's renderer: the block converted for the daemon, as a migrating user converts it (an Alias line
    before a <Directory> stays as it is)."""
    def render(backends: object) -> str:
        head, _, rest = block.partition("\n")
        alias, section = (head, rest) if head.startswith("Alias ") else ("", block)
        converted = mod_python_block_to_daemon(section, backends.daemon,  # type: ignore[attr-defined]
                                               server_name=SERVER_NAME)
        return f"{alias}\n{converted}" if alias else converted
    return render


def same(apache: ApacheServer, mod_python_apache: ApacheServer, path: str) -> bytes:
    ours, theirs = apache.get(path), mod_python_apache.get(path)
    assert (ours.status, ours.header("Content-Type"), ours.body) == \
        (theirs.status, theirs.header("Content-Type"), theirs.body), path
    return ours.body


# --- 1. every module of the package ---------------------------------------------------------------------------------
MODULES = location("/e2e-modules", "PythonHandler mp_modules::modules")
VERSION = location("/e2e-version", "PythonHandler api_surface::version_text")
TESTHANDLER = location("/e2e-testhandler", "PythonHandler mod_python.testhandler")


@pytest.mark.mod_python_apache(MODULES)
@pytest.mark.mod_python_apache(TESTHANDLER)
@pytest.mark.apache.with_args(for_daemon(MODULES))
@pytest.mark.apache.with_args(for_daemon(VERSION))
@pytest.mark.apache.with_args(for_daemon(TESTHANDLER))
def test_every_module_of_the_package_imports(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    body = same(apache, mod_python_apache, "/e2e-modules").decode()
    assert all(f"{name} ok" in body for name in ("cache", "httpdconf", "python22", "testhandler", "version"))
    assert '<Location /x>\n  SetHandler mod_python\n  PythonHandler mod::fn\n' in body
    assert "cache 9 9 16 calls=[3, 4]" in body
    version = apache.get("/e2e-version")
    assert version.status == 200 and version.text.startswith("3.5.0 ") and "fcgi_handlers" in version.text
    page, reference = apache.get("/e2e-testhandler"), mod_python_apache.get("/e2e-testhandler")
    assert page.status == reference.status == 200
    assert page.header("Content-Type") == reference.header("Content-Type") == "text/html"
    for title in (b"<title>mod_python test page</title>", b"<h3>Request input headers</h3>",
                  b"<h3>Server options</h3>"):
        assert title in page.body and title in reference.body


# --- 2. the request API: what exists, and what fails clearly --------------------------------------------------------
API = {name: location(f"/e2e-api-{name}", "Require all granted", f"PythonHandler api_surface::{name}")
       for name in ("etag", "requires", "output_filter", "register_filter", "connection_read", "config_tree")}


@pytest.mark.mod_python_apache(API["etag"])
@pytest.mark.apache.with_args(for_daemon(API["etag"]))
@pytest.mark.apache.with_args(for_daemon(API["requires"]))
def test_set_etag_and_requires(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    ours, theirs = apache.get("/e2e-api-etag"), mod_python_apache.get("/e2e-api-etag")
    assert ours.status == theirs.status == 200
    assert ours.header("ETag") == theirs.header("ETag") and ours.body == theirs.body
    # mod_python 3.5 has req.requires() only when built for Apache 2.2; the daemon answers it on 2.4 too.
    assert apache.get("/e2e-api-requires").text == "requires=('all granted',)"


@pytest.mark.parametrize("name, call", [
    ("output_filter", "req.add_output_filter('DEFLATE'): Apache's filters"),
    ("register_filter", "req.register_output_filter('MYFILTER', 'api_surface::output_filter'): Apache's filters"),
    ("connection_read", "req.connection.read(10): the client connection belongs to Apache"),
    ("config_tree", "apache.config_tree(): Apache's parsed configuration")])
@pytest.mark.apache.with_args(for_daemon(API["output_filter"]))
@pytest.mark.apache.with_args(for_daemon(API["register_filter"]))
@pytest.mark.apache.with_args(for_daemon(API["connection_read"]))
@pytest.mark.apache.with_args(for_daemon(API["config_tree"]))
def test_calls_that_need_apache_fail_with_500_and_one_log_line(apache: ApacheServer, name: str, call: str) -> None:
    mark = apache.error_log_mark()
    response = apache.get(f"/e2e-api-{name}")
    assert response.status == 500 and b"Internal Server Error" in response.body
    log = apache.error_log(mark)
    assert [line for line in log.splitlines() if call in line and "outside Apache" in line], log
    assert "AttributeError" not in log and "Traceback" not in log


# --- 3. named interpreters run mod_python's own handlers ------------------------------------------------------------
NAMED_TESTHANDLER = location("/e2e-named-testhandler", "PythonInterpreter e2e_named",
                             "PythonHandler mod_python.testhandler")
NAMED_PUBLISHER = directory("/e2e-named-pub", "pubapp", "PythonInterpreter e2e_named_pub",
                            "PythonHandler mod_python.publisher")


@pytest.mark.mod_python_apache(NAMED_TESTHANDLER)
@pytest.mark.mod_python_apache(NAMED_PUBLISHER)
@pytest.mark.apache.with_args(for_daemon(NAMED_TESTHANDLER))
@pytest.mark.apache.with_args(for_daemon(NAMED_PUBLISHER))
def test_mod_python_handlers_run_in_a_named_interpreter(apache: ApacheServer, mod_python_apache: ApacheServer,
                                                        daemon: ManagedProcess) -> None:
    page, reference = apache.get("/e2e-named-testhandler"), mod_python_apache.get("/e2e-named-testhandler")
    assert page.status == reference.status == 200
    row = b"<tr><td><code>Python interpreter name</code></td><td><code>e2e_named</code></td></tr>"
    assert row in page.body and row in reference.body
    assert same(apache, mod_python_apache, "/e2e-named-pub/hello?name=named") == b"hello named"


# --- 4. PythonInterpPerDirective / PythonInterpPerDirectory name the interpreter as mod_python does -----------------
PER_DIRECTORY = directory("/e2e-interp-dir", "interp", "PythonInterpPerDirectory On",
                          "PythonHandler api_surface::interp")
PER_DIRECTIVE = directory("/e2e-interp-directive", "interp_directive", "PythonInterpPerDirective On",
                          "PythonHandler api_surface::interp")
PER_DIRECTIVE_LOCATION = location("/e2e-interp-loc", "PythonInterpPerDirective On", "PythonHandler api_surface::interp")


@pytest.mark.mod_python_apache(PER_DIRECTORY)
@pytest.mark.mod_python_apache(PER_DIRECTIVE)
@pytest.mark.mod_python_apache(PER_DIRECTIVE_LOCATION)
@pytest.mark.apache.with_args(for_daemon(PER_DIRECTORY))
@pytest.mark.apache.with_args(for_daemon(PER_DIRECTIVE))
@pytest.mark.apache.with_args(for_daemon(PER_DIRECTIVE_LOCATION))
def test_interpreter_per_directory_and_per_directive(apache: ApacheServer, mod_python_apache: ApacheServer,
                                                     daemon: ManagedProcess) -> None:
    by_directory = same(apache, mod_python_apache, "/e2e-interp-dir/page.txt").decode()
    assert re.fullmatch(r"interpreter=/\S+/interp/", by_directory), by_directory
    by_directive = same(apache, mod_python_apache, "/e2e-interp-directive/page.txt").decode()
    assert re.fullmatch(r"interpreter=/\S+/interp_directive/", by_directive), by_directive
    assert same(apache, mod_python_apache, "/e2e-interp-loc/x") == b"interpreter=/e2e-interp-loc"


# --- 5. the section a block came from: hlist, server_hostname, WSGI mount -------------------------------------------
SECTION = location("/e2e-section", "PythonHandler api_surface::section")
WSGI = location("/e2e-wsgi-mount", "PythonHandler mod_python.wsgi",
                "PythonOption mod_python.wsgi.application wsgi_echo")


@pytest.mark.mod_python_apache(SECTION)
@pytest.mark.mod_python_apache(WSGI)
@pytest.mark.apache.with_args(for_daemon(SECTION))
@pytest.mark.apache.with_args(for_daemon(WSGI))
def test_location_and_server_name_reach_the_daemon(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    body = same(apache, mod_python_apache, "/e2e-section/x")
    assert body == b"is_location=1 directory='/e2e-section' hostname='localhost' interpreter='localhost'"
    assert same(apache, mod_python_apache, "/e2e-wsgi-mount/foo/bar?x=1") == \
        b"SCRIPT_NAME='/e2e-wsgi-mount' PATH_INFO='/foo/bar' QUERY_STRING='x=1'"


# --- 6. a WSGI application that yields str --------------------------------------------------------------------------
TEXT_APP = location("/e2e-wsgi-str", "PythonHandler mod_python.wsgi",
                    "PythonOption mod_python.wsgi.application api_surface::text_app")


@pytest.mark.mod_python_apache(TEXT_APP)
@pytest.mark.apache.with_args(for_daemon(TEXT_APP))
def test_wsgi_app_yielding_str_runs_with_one_warning(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    mark = apache.error_log_mark()
    body = same(apache, mod_python_apache, "/e2e-wsgi-str/")
    assert body == "café str chunks from /e2e-wsgi-str".encode()
    for _ in range(3):
        assert apache.get("/e2e-wsgi-str/").status == 200
    warnings = [line for line in apache.error_log(mark).splitlines() if "PEP 3333" in line]
    assert 1 <= len(warnings) < 4, warnings  # once per worker process, not once per request


# --- 7. sys.argv --------------------------------------------------------------------------------------------------
ARGV = location("/e2e-argv", "PythonHandler api_surface::argv")


@pytest.mark.mod_python_apache(ARGV)
@pytest.mark.apache.with_args(for_daemon(ARGV))
def test_sys_argv_is_mod_pythons_and_the_process_keeps_its_command_line(apache: ApacheServer,
                                                                       mod_python_apache: ApacheServer) -> None:
    ours, theirs = apache.get("/e2e-argv"), mod_python_apache.get("/e2e-argv")
    assert ours.text.splitlines()[0] == theirs.text.splitlines()[0] == "argv=['mod_python']"
    assert "fcgi_handlers" in ours.text.splitlines()[1]  # what ps shows stays the daemon's command line


# --- 8. internal_redirect selects the handler of the new URI's extension ---------------------------------------------
# mod_python picks a `| .ext` list by req.filename, so the pages are real files in a <Directory> (the Alias form).
REDIRECT = directory("/e2e-redirect", "redirect", "PythonHandler api_surface::redirector | .py",
                     "PythonHandler api_surface::target | .int")


@pytest.mark.mod_python_apache(REDIRECT)
@pytest.mark.apache.with_args(for_daemon(REDIRECT))
def test_internal_redirect_runs_the_handler_its_uri_selects(apache: ApacheServer, mod_python_apache: ApacheServer,
                                                            daemon: ManagedProcess) -> None:
    assert same(apache, mod_python_apache, "/e2e-redirect/start.py") == \
        b"from the original: target ran extension='.int' uri=/e2e-redirect/end.int\n"
