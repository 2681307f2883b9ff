"""The translation of mod_python configuration blocks into daemon blocks (fcgi_handlers.apache).

Expected merges follow mod_python's rules (docs/mod_python-facts.md §1, §4): handler lists in one section
append, PythonOption and flags take the last value, a section nested inside another is its own scope.
"""
from __future__ import annotations

from typing import Optional

import pytest

from fcgi_handlers.apache import (Backend, Route, UnsupportedDirective, mod_python_block_to_daemon,
                                  mod_python_to_daemon)
from fcgi_handlers.apache.translate import Context
from fcgi_handlers.dispatch.directives import parse_directives
from fcgi_handlers.dispatch.phases import BY_DIRECTIVE

from .test_config import parse

BACKEND = Backend(port=9123)


def setenv(lines: list[str]) -> dict[str, str]:
    """The SetEnv name -> value map a translated block defines; a name set twice is an error here."""
    found: dict[str, str] = {}
    for words in parse("\n".join(lines)).directives("SetEnv"):
        assert words[0] not in found, f"{words[0]} set twice"
        found[words[0]] = words[1]
    return found


def test_handler_lists_append_within_a_block() -> None:
    lines = mod_python_to_daemon(["SetHandler mod_python", "PythonHandler a b", "PythonFixupHandler f",
                                  "pythonhandler c::fn"], BACKEND)
    assert setenv(lines) == {"PythonHandler": "a b c::fn", "PythonFixupHandler": "f"}


@pytest.mark.parametrize("directive", ["PythonFixupHandler f", "PythonAccessHandler a", "PythonLogHandler l",
                                       "PythonCleanupHandler c", "PythonHeaderParserHandler h"])
def test_phase_handlers_without_sethandler_still_reach_the_daemon(directive: str) -> None:
    # mod_python runs them for every request of the block; the daemon hands the content back to Apache's default
    # handler unless one of them makes mod_python the request's handler.
    lines = mod_python_to_daemon([directive, "PythonHandler p"], BACKEND, container="Directory")
    assert lines.count(f'SetHandler "{BACKEND.handler_name()}"') == 1
    assert setenv(lines)["PythonNoSetHandler"] == "On"


@pytest.mark.parametrize("block", [["PythonHandler p"], ["SetHandler mod_python", "PythonFixupHandler f"],
                                   ["AddHandler mod_python .py", "PythonFixupHandler f"]])
def test_no_extra_route_for_a_block_that_names_mod_python_or_has_no_phase_handler(block: list[str]) -> None:
    lines = mod_python_to_daemon(block, BACKEND, container="Directory")
    assert "PythonNoSetHandler" not in setenv(lines)
    assert sum(line.startswith(("SetHandler", "AddHandler", "ProxyPass")) for line in lines) == (len(block) - 1)


def test_options_and_flags_take_the_last_value() -> None:
    lines = mod_python_to_daemon(['PythonOption k "first value"', "PythonOption k second", "PythonOption gone",
                                  "PythonDebug on", "PythonDebug OFF", "PythonAutoReload Off",
                                  'PythonPath "sys.path + [\'/a\']"', "PythonInterpreter one",
                                  "PythonInterpreter two", "PythonEnablePdb Off"], BACKEND)
    assert setenv(lines) == {"PythonOption.k": "second", "PythonOption.gone": "", "PythonDebug": "Off",
                             "PythonAutoReload": "Off", "PythonPath": "sys.path + ['/a']",
                             "PythonInterpreter": "two", "PythonEnablePdb": "Off"}


def test_extension_lists_are_carried_as_written() -> None:
    lines = mod_python_to_daemon(["SetHandler mod_python", "PythonHandler pub | .py", "PythonHandler more | .py",
                                  "PythonHandler pub more | .psp", "PythonFixupHandler f"], BACKEND)
    assert setenv(lines) == {"PythonHandler": "pub more | .py .psp", "PythonFixupHandler": "f"}


@pytest.mark.parametrize("lines, value, by_extension", [
    (["PythonHandler pub | .py", "PythonHandler plain"], "pub | .py; plain", {".py": ("pub",), None: ("plain",)}),
    (["PythonHandler a | .py", "PythonHandler b | .int"], "a | .py; b | .int",
     {".py": ("a",), ".int": ("b",), None: ()})])
def test_several_handler_lists_of_one_phase_share_its_param(lines: list[str], value: str,
                                                            by_extension: dict[Optional[str], tuple[str, ...]]) -> None:
    carried = setenv(mod_python_to_daemon(lines, BACKEND))
    assert carried == {"PythonHandler": value}
    directives = parse_directives(carried, ())
    for extension, modules in by_extension.items():
        handlers = directives.handlers_for(BY_DIRECTIVE["PythonHandler"], extension)
        assert tuple(spec.module for spec in handlers) == modules


@pytest.mark.parametrize("handler", ["mod_python", "python-program"])
def test_sethandler_becomes_proxypass_in_location_and_sethandler_elsewhere(handler: str) -> None:
    in_location = parse("\n".join(mod_python_to_daemon([f"SetHandler {handler}"], BACKEND, container="Location")))
    assert in_location.directives("ProxyPass") == [[BACKEND.worker_url()]]
    assert not in_location.directives("SetHandler")
    routes: list[tuple[str, Route]] = [("Directory", "auto"), ("Location", "sethandler"), ("Files", "auto")]
    for container, route in routes:
        tree = parse("\n".join(mod_python_to_daemon([f"SetHandler {handler}"], BACKEND, container=container,
                                                    route=route)))
        assert tree.directives("SetHandler") == [[BACKEND.handler_name()]]
        assert not tree.directives("ProxyPass")


def test_proxypass_route_outside_location_is_refused() -> None:
    with pytest.raises(ValueError):
        mod_python_to_daemon(["SetHandler mod_python"], BACKEND, container="Directory", route="proxypass")


def test_addhandler_keeps_its_extensions() -> None:
    tree = parse("\n".join(mod_python_to_daemon(["AddHandler mod_python .py .psp"], BACKEND, container="Directory")))
    assert tree.directives("AddHandler") == [[BACKEND.handler_name(), ".py", ".psp"]]


def test_other_lines_pass_through_in_place() -> None:
    lines = mod_python_to_daemon(["# a comment", "AuthType Basic", "PythonHandler h", "Require valid-user",
                                  "SetHandler default-handler"], BACKEND)
    assert lines == ["# a comment", "AuthType Basic", 'SetEnv PythonHandler "h"', "Require valid-user",
                     "SetHandler default-handler", 'SetEnv PythonRequire.1 "valid-user"', "CGIPassAuth On"]


def test_continuation_lines_are_joined() -> None:
    assert setenv(mod_python_to_daemon(["PythonHandler a \\", "    b"], BACKEND)) == {"PythonHandler": "a b"}


@pytest.mark.parametrize("line", ["PythonImport mod main_interpreter", "PythonOutputFilter f F",
                                  "PythonInputFilter f F", "PythonConnectionHandler c", "PythonTransHandler t",
                                  "PythonPostReadRequestHandler p", "PythonOptimize On"])
def test_directives_a_block_cannot_carry_are_refused(line: str) -> None:
    with pytest.raises(UnsupportedDirective, match=line.split()[0]):
        mod_python_to_daemon([line], BACKEND)


@pytest.mark.parametrize("line", ["PythonDebug maybe", "PythonOption", "PythonOption a b c", "PythonPath",
                                  "PythonHandler", "PythonHandler h |", "PythonHandler h | py",
                                  "PythonOption 'two words' v"])
def test_malformed_directives_are_refused(line: str) -> None:
    with pytest.raises(ValueError):
        mod_python_to_daemon([line], BACKEND)


def test_block_translation_scopes_nested_sections() -> None:
    block = '''<Directory "/srv/py">
        SetHandler mod_python
        PythonHandler outer
        <Files "special.py">
            PythonHandler inner
            PythonDebug On
        </Files>
        PythonHandler after
    </Directory>'''
    tree = parse(mod_python_block_to_daemon(block, BACKEND))
    (directory,) = tree.sections("Directory")
    assert directory.arg == "/srv/py"
    assert directory.directives("SetHandler") == [[BACKEND.handler_name()]]
    assert directory.directives("SetEnv") == [["PythonHandler", "outer after"], ["PythonDirectory", "/srv/py"]]
    (files,) = directory.sections("Files")
    assert files.arg == "special.py"
    # a <Files> inside a <Directory> reports the directory as req.hlist.directory (upstream's test_files_directive)
    assert files.directives("SetEnv") == [["PythonHandler", "inner"], ["PythonDebug", "On"],
                                          ["PythonDirectory", "/srv/py"]]


def test_every_mod_python_block_passes_authorization() -> None:
    # mod_python sees the Authorization header whatever the auth configuration; a FastCGI backend only with
    # CGIPassAuth On, which the translation therefore adds once per block with mod_python directives.
    assert mod_python_to_daemon(["SetHandler mod_python", "PythonHandler h"], BACKEND)[-1] == "CGIPassAuth On"
    written = mod_python_to_daemon(["CGIPassAuth On", "PythonHandler h"], BACKEND)
    assert written.count("CGIPassAuth On") == 1
    assert "CGIPassAuth On" not in mod_python_to_daemon(["Require all granted"], BACKEND)


def test_directory_blocks_pass_their_path_for_hlist_directory() -> None:
    block = '<Directory "/srv/py app">\nSetHandler mod_python\nPythonHandler h\n</Directory>'
    (directory,) = parse(mod_python_block_to_daemon(block, BACKEND)).sections("Directory")
    assert ["PythonDirectory", "/srv/py app"] in directory.directives("SetEnv")
    location = '<Location "/app/">\nSetHandler mod_python\nPythonHandler h\n</Location>'
    (loc,) = parse(mod_python_block_to_daemon(location, BACKEND)).sections("Location")
    assert all(words[0] != "PythonDirectory" for words in loc.directives("SetEnv"))


def test_location_block_translation_uses_proxypass() -> None:
    block = '<Location "/app/">\nSetHandler mod_python\nPythonHandler hello\n</Location>'
    (location,) = parse(mod_python_block_to_daemon(block, Backend(socket="/run/x.sock"))).sections("Location")
    assert location.directives("ProxyPass") == [["unix:/run/x.sock|fcgi://localhost/"]]
    assert location.directives("SetEnv") == [["PythonHandler", "hello"], ["PythonLocation", "/app/"]]


@pytest.mark.parametrize("block", ["PythonHandler h", '<Location "/">\nPythonHandler h',
                                   '<Location "/">\n<Files "x">\n</Location>', '<Location "/">\n</Files>\n</Location>'])
def test_block_translation_rejects_unbalanced_input(block: str) -> None:
    with pytest.raises(ValueError):
        mod_python_block_to_daemon(block, BACKEND)


def test_what_apache_does_not_send_goes_as_params() -> None:
    block = ('<LocationMatch "^/app/(a|b)">\nSetHandler mod_python\nPythonHandler hello\nRequire user bob alice\n'
             'Require ip 127.0.0.1\n<Files "x.py">\nPythonDebug On\n</Files>\n</LocationMatch>')
    (location,) = parse(mod_python_block_to_daemon(block, BACKEND, server_name="www.example.com")).sections(
        "LocationMatch")
    assert location.directives("SetEnv") == [
        ["PythonHandler", "hello"], ["PythonLocation", "^/app/(a|b)"], ["PythonServerName", "www.example.com"],
        ["PythonRequire.1", "user bob alice"], ["PythonRequire.2", "ip 127.0.0.1"]]
    assert location.directives("Require") == [["user", "bob", "alice"], ["ip", "127.0.0.1"]]  # Apache still enforces
    # The <Files> inside only sets options: the request stays mounted where the handler was declared (the
    # enclosing section's PythonLocation, which Apache merges in).
    (files,) = location.sections("Files")
    assert files.directives("SetEnv") == [["PythonDebug", "On"], ["PythonServerName", "www.example.com"]]


def test_a_files_section_alone_in_its_directory_still_passes_the_directory() -> None:
    block = '<Directory "/srv/py">\n<Files "*.py">\nSetHandler mod_python\nPythonHandler h\n</Files>\n</Directory>'
    (directory,) = parse(mod_python_block_to_daemon(block, BACKEND)).sections("Directory")
    (files,) = directory.sections("Files")
    assert ["PythonDirectory", "/srv/py"] in files.directives("SetEnv")
    top = parse(mod_python_block_to_daemon('<Files "*.py">\nSetHandler mod_python\nPythonHandler h\n</Files>',
                                           BACKEND)).sections("Files")[0]
    assert all(words[0] != "PythonDirectory" for words in top.directives("SetEnv"))


def test_a_block_without_mod_python_directives_gets_no_params() -> None:
    block = '<Location "/static/">\nRequire all granted\n</Location>'
    assert "SetEnv" not in mod_python_block_to_daemon(block, BACKEND, server_name="www.example.com")


VHOST = """<VirtualHost *:*>
    ServerName localhost
    SetHandler mod_python
    PythonDebug On
    PythonOption global 1
    PythonPostReadRequestHandler m::early
    PythonTransHandler m::trans
    <Directory "/srv/x">
        PythonHandler m::h
        PythonDebug Off
    </Directory>
</VirtualHost>"""


def test_a_virtual_hosts_own_directives_are_passed_twice_merged_and_as_its_scope() -> None:
    text = mod_python_block_to_daemon(VHOST, BACKEND)
    outer = [line.strip() for line in text.splitlines() if line.startswith("    ") and not line.startswith("        ")]
    found = setenv(outer)
    assert found["PythonDebug"] == found["PythonServer.PythonDebug"] == "On"
    assert found["PythonOption.global"] == found["PythonServer.PythonOption.global"] == "1"
    # server-level phases are valid here, and handler lists are not scoped
    assert (found["PythonPostReadRequestHandler"], found["PythonTransHandler"]) == ("m::early", "m::trans")
    assert not any(key.startswith("PythonServer.Python") and key.endswith("Handler") for key in found)
    # CGIPassAuth is directory-level: a <Location "/"> of the virtual host carries it
    assert '<Location "/">' in outer and "CGIPassAuth On" not in outer


def test_server_level_phases_stay_refused_in_a_directory_block() -> None:
    with pytest.raises(UnsupportedDirective, match="PythonTransHandler is server-level"):
        mod_python_to_daemon(["SetHandler mod_python", "PythonTransHandler m::t"], BACKEND, container="Directory")


def test_directory_slash_moves_to_the_daemon_when_it_emulates_early_phases() -> None:
    lines = mod_python_to_daemon(["SetHandler mod_python", "PythonFixupHandler f"], BACKEND, container="Directory")
    assert "DirectorySlash Off" in lines
    assert 'SetEnvIfExpr "-d %{REQUEST_FILENAME}" "PythonDirectorySlash=On"' in lines
    for block in (["SetHandler mod_python", "PythonHandler h"], ["AddHandler mod_python .py", "PythonFixupHandler f"],
                  ["SetHandler mod_python", "PythonFixupHandler f", "DirectorySlash On"]):
        assert not any("DirectorySlash" in line and "Off" in line for line in mod_python_to_daemon(
            block, BACKEND, container="Directory")), block


def test_a_directory_block_without_handlers_leaves_the_handler_directory_alone() -> None:
    # mod_python's req.hlist.directory is the section that declared the handler, not one that only sets options.
    assert "PythonDirectory" not in setenv(mod_python_to_daemon(["PythonOption k v"], BACKEND, container="Directory",
                                                                directory="/srv/app/sub"))
    assert setenv(mod_python_to_daemon(["PythonHandler h"], BACKEND, container="Directory",
                                       directory="/srv/app"))["PythonDirectory"] == "/srv/app"


def test_a_location_that_only_sets_options_keeps_the_enclosing_mount() -> None:
    # <Location /b/deeper/> with a PythonOption below <Location /b/> (SetHandler mod_python): the request is still
    # mounted at /b/, where mod_python's handler was declared.
    assert "PythonLocation" not in setenv(mod_python_to_daemon(["PythonOption k v"], BACKEND,
                                                               context=Context(location="/b/deeper/")))
    assert setenv(mod_python_to_daemon(["SetHandler mod_python"], BACKEND, context=Context(location="/b/")))[
        "PythonLocation"] == "/b/"


@pytest.mark.parametrize("server_name, passed", [("test_interp:80", "test_interp"),
                                                 ("https://www.example.org", "www.example.org"),
                                                 ("[::1]:8080", "[::1]")])
def test_a_virtual_hosts_server_name_reaches_its_sections(server_name: str, passed: str) -> None:
    block = (f"<VirtualHost *>\n ServerName {server_name}\n <Directory /srv>\n  SetHandler mod_python\n"
             "  PythonHandler h\n </Directory>\n <Location /loc>\n  SetHandler mod_python\n  PythonHandler h\n"
             " </Location>\n</VirtualHost>")
    text = mod_python_block_to_daemon(block, BACKEND, server_name="outer.example")
    assert text.count(f'SetEnv PythonServerName "{passed}"') == 2 and "outer.example" not in text
    assert 'SetEnv PythonServerName "outer.example"' in mod_python_block_to_daemon(
        block.replace(f" ServerName {server_name}\n", ""), BACKEND, server_name="outer.example")
