"""Directives from params: handler lists, flags, options, and a PythonPath that is parsed, never evaluated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fcgi_handlers.dispatch.directives import (DirectiveError, Directives, HandlerSpec, parse_directives,
                                               parse_handler_line, parse_handler_spec, parse_python_path)
from fcgi_handlers.dispatch.phases import BY_DIRECTIVE, CONTENT, PHASES


@pytest.fixture
def roots(tmp_path: Path) -> tuple[str, ...]:
    (tmp_path / "app" / "lib").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    return (os.path.realpath(tmp_path / "app"), os.path.realpath(tmp_path / "other"))


def test_handler_spec_parsing() -> None:
    assert parse_handler_spec("mod") == HandlerSpec("mod", "mod", None)
    assert parse_handler_spec("pkg.mod::obj.meth") == HandlerSpec("pkg.mod::obj.meth", "pkg.mod", "obj.meth")
    assert parse_handler_spec("mod::fn").object_for(CONTENT) == "fn"
    assert parse_handler_spec("mod").object_for(CONTENT) == "handler"
    assert parse_handler_spec("mod").object_for(BY_DIRECTIVE["PythonFixupHandler"]) == "fixuphandler"


@pytest.mark.parametrize("text", ["", "::fn", "mod::", "/srv/app/mod.py", "mod::fn()", "a..b", "mod::a b"])
def test_bad_handler_specs(text: str) -> None:
    with pytest.raises(DirectiveError):
        parse_handler_spec(text)


def test_handler_line_with_extensions() -> None:
    specs, exts = parse_handler_line("PythonHandler", "  mod::fn   mod2 | .py .tar.gz ")
    assert [s.text for s in specs] == ["mod::fn", "mod2"]
    assert exts == (".py", ".tar.gz")
    with pytest.raises(DirectiveError, match='does not accept "| .ext" syntax'):
        parse_handler_line("PythonTransHandler", "mod | .py")
    with pytest.raises(DirectiveError):
        parse_handler_line("PythonHandler", "mod |")
    with pytest.raises(DirectiveError):
        parse_handler_line("PythonHandler", "  ")


def test_every_phase_directive_is_read(roots: tuple[str, ...]) -> None:
    params = {phase.directive: f"m_{phase.default_object}" for phase in PHASES}
    directives = parse_directives(params, roots)
    for phase in PHASES:
        assert [s.module for s in directives.handlers_for(phase)] == [f"m_{phase.default_object}"]


def test_extension_lists_replace_the_plain_list(roots: tuple[str, ...]) -> None:
    directives = parse_directives({"PythonHandler": "pub | .py", "PythonFixupHandler": "fix"}, roots)
    assert [s.text for s in directives.handlers_for(CONTENT, ".py")] == ["pub"]
    assert directives.handlers_for(CONTENT, ".txt") == ()
    assert directives.handlers_for(CONTENT, None) == ()
    assert directives.has_extension_lists(CONTENT)
    fixup = BY_DIRECTIVE["PythonFixupHandler"]
    assert [s.text for s in directives.handlers_for(fixup, ".py")] == ["fix"]


def test_handler_module_is_silent_in_every_phase_in_param_order(roots: tuple[str, ...]) -> None:
    directives = parse_directives({"PythonHandlerModule": "hm", "PythonHandler": "h1 h2"}, roots)
    assert [(s.text, s.silent) for s in directives.handlers_for(CONTENT)] == [
        ("hm", True), ("h1", False), ("h2", False)]
    for phase in PHASES:
        assert directives.handlers_for(phase)[0] == HandlerSpec("hm", "hm", None, silent=True)


def test_flags_config_and_options(roots: tuple[str, ...]) -> None:
    params = {"PythonDebug": "on", "PythonAutoReload": "Off", "PythonInterpreter": "site1",
              "PythonOption.mod_python.session.cookie_name": "sid", "PythonOption.empty": "",
              "PythonOption.Key": "value with spaces", "PYTHONPATH": "ignored", "Other": "x"}
    directives = parse_directives(params, roots)
    assert directives.debug is True
    assert directives.autoreload is False
    assert directives.interpreter == "site1"
    assert directives.config == (("PythonDebug", "1"), ("PythonAutoReload", "0"), ("PythonInterpreter", "site1"))
    assert directives.options == (("mod_python.session.cookie_name", "sid"), ("Key", "value with spaces"))
    options = directives.get_options()
    assert options["key"] == "value with spaces" and "empty" not in options
    assert directives.get_config()["PythonDebug"] == "1"
    assert directives.get_config() is not directives.get_config()  # a fresh table each time


def test_defaults(roots: tuple[str, ...]) -> None:
    directives = parse_directives({}, roots)
    assert directives == Directives()
    assert directives.autoreload is True and directives.debug is False and directives.python_path is None
    assert directives.config == ()


@pytest.mark.parametrize("value", ["yes", "1", "", "On Off"])
def test_bad_flags(roots: tuple[str, ...], value: str) -> None:
    with pytest.raises(DirectiveError, match="PythonDebug must be On or Off"):
        parse_directives({"PythonDebug": value}, roots)


def test_python_path_accepts_lists_sys_path_and_plus(roots: tuple[str, ...]) -> None:
    app, other = roots
    assert parse_python_path(f"['{app}/lib'] + sys.path + [\"{other}\"]", roots) == (f"{app}/lib", app, other, other)
    directives = parse_directives({"PythonPath": f"['{app}/lib'] + sys.path + ['{other}']"}, roots)
    # De-duplicated, real paths, order kept.
    assert directives.python_path == (f"{app}/lib", app, other)
    assert ("PythonPath", f"['{app}/lib'] + sys.path + ['{other}']") in directives.config


def test_python_path_entry_outside_the_allowed_directories_is_refused(roots: tuple[str, ...]) -> None:
    with pytest.raises(DirectiveError, match="PythonPath entry '/etc' is outside the configured paths"):
        parse_directives({"PythonPath": "['/etc'] + sys.path"}, roots)
    with pytest.raises(DirectiveError, match="entry 'relative' is outside"):
        parse_directives({"PythonPath": "['relative']"}, roots)
    with pytest.raises(DirectiveError, match="is outside"):
        parse_directives({"PythonPath": f"['{roots[0]}/../../']"}, roots)


def test_python_path_symlink_out_is_refused(roots: tuple[str, ...], tmp_path: Path) -> None:
    link = Path(roots[0]) / "escape"
    link.symlink_to("/usr/lib")
    with pytest.raises(DirectiveError, match="is outside"):
        parse_directives({"PythonPath": f"['{link}']"}, roots)


@pytest.mark.parametrize("expr", [
    "__import__('os').system('touch {marker}')",
    "[open('{marker}', 'w').name]",
    "['{marker}'] + [__import__('os').system('touch {marker}')]",
    "sys.modules",
    "os.path",
    "sys.path[:]",
    "['a'] * 3",
    "('/tmp',)",
    "[f'{{1}}']",
    "['/tmp'] - sys.path",
    "lambda: 1",
    "[",
])
def test_python_path_anything_else_is_refused_without_evaluation(roots: tuple[str, ...], tmp_path: Path,
                                                                  expr: str) -> None:
    marker = tmp_path / "evaluated"
    with pytest.raises(DirectiveError, match="PythonPath"):
        parse_directives({"PythonPath": expr.format(marker=marker)}, roots)
    assert not marker.exists()


def test_python_path_long_chain_does_not_recurse(roots: tuple[str, ...]) -> None:
    expr = " + ".join(["sys.path"] * 1400)  # deeper than the default recursion limit, under the size cap
    assert parse_python_path(expr, roots) == roots * 1400
    with pytest.raises(DirectiveError, match="longer than"):
        parse_python_path(expr + " + sys.path" * 200, roots)


def test_parsing_is_cached_per_distinct_params(roots: tuple[str, ...]) -> None:
    params = {"PythonHandler": "a", "HTTP_HOST": "x"}
    first = parse_directives(params, roots)
    assert parse_directives({"PythonHandler": "a", "HTTP_HOST": "y"}, roots) is first
    assert parse_directives({"PythonHandler": "b"}, roots) is not first


def test_what_apache_does_not_send_is_read_from_its_params(roots: tuple[str, ...]) -> None:
    directives = parse_directives({"PythonHandler": "h", "PythonLocation": "/app", "PythonServerName": "www.example",
                                   "PythonRequire.2": "user joe", "PythonRequire.1": "valid-user",
                                   "PythonRequire.10": "group staff"}, roots)
    assert (directives.location, directives.server_name) == ("/app", "www.example")
    assert directives.requires == ("valid-user", "user joe", "group staff")  # by number, not by param order
    with pytest.raises(DirectiveError, match="PythonRequire"):
        parse_directives({"PythonRequire.x": "valid-user"}, roots)


def test_interpreter_names_follow_mod_pythons_rules(roots: tuple[str, ...], tmp_path: Path) -> None:
    from fcgi_handlers.dispatch.dispatcher import Dispatcher
    from fcgi_handlers.request import Request

    page = tmp_path / "site" / "page.py"
    page.parent.mkdir()
    page.write_text("")
    directory_params = {"SCRIPT_NAME": "/site/page.py", "SCRIPT_FILENAME": str(page), "DOCUMENT_ROOT": str(tmp_path),
                        "SERVER_NAME": "127.0.0.1"}
    cases = [({"PythonInterpreter": "named", "PythonInterpPerDirectory": "On"}, directory_params, "named"),
             ({"PythonInterpPerDirectory": "On"}, directory_params, f"{page.parent}/"),
             ({"PythonInterpPerDirectory": "On"}, {"SCRIPT_NAME": "/x", "SERVER_NAME": "h"}, "main_interpreter"),
             ({"PythonInterpPerDirective": "On", "PythonLocation": "/loc"}, {"SCRIPT_NAME": "/loc/x"}, "/loc"),
             ({"PythonInterpPerDirective": "On", "PythonDirectory": str(page.parent)}, directory_params,
              f"{page.parent}/"),
             ({"PythonServerName": "localhost"}, {"SERVER_NAME": "127.0.0.1"}, "localhost"),
             ({}, {"SERVER_NAME": "127.0.0.1"}, "127.0.0.1")]
    for settings, params, expected in cases:
        directives = parse_directives(settings, roots)
        req = Request.from_sink({**params, **settings}, None, lambda data: None)  # type: ignore[arg-type]
        assert Dispatcher.interpreter_name(req, directives) == expected, settings
