"""The configuration side of the phases: the Apache lines that put PythonAuthenHandler/PythonAuthzHandler inside
Apache's auth phases (fcgi_handlers.apache), the daemon settings for several addresses and PythonImport
(fcgi_handlers.config), `fcgi-handlers apache-config --auth-bind`, and the phase table the README shows."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from apache_layer.test_config import parse
from apache_layer.test_configtest import configtest
from fcgi_handlers import cli, config
from fcgi_handlers.apache import (Backend, auth_provider_lines, include_snippet, mod_python_block_to_daemon,
                                  mod_python_to_daemon, setenvif_line)
from fcgi_handlers.dispatch.phases import PHASES, placement_table
from fcgi_handlers.dispatch.runtime import ImportSpec

TCP, UNIX = Backend(port=9123), Backend(socket="/run/fh/fh.sock")
AUTH_BLOCK = ["SetHandler mod_python", "AuthType Basic", 'AuthName "realm one"', "Require valid-user",
              "PythonAuthenHandler auth::check", "PythonAuthzHandler auth::groups", "PythonHandler app",
              'PythonOption secret "a$1 b\\\\c"']


def setenvif(lines: list[str]) -> dict[str, str]:
    """name -> value of every `SetEnvIfExpr "true" "name=value"` line, as written (still escaped for mod_setenvif)."""
    found = {}
    for words in parse("\n".join(lines)).directives("SetEnvIfExpr"):
        assert words[0] == "true"
        name, _, value = words[1].partition("=")
        found[name] = value
    return found


def test_auth_handlers_go_inside_apache_with_directives_set_early() -> None:
    lines = mod_python_to_daemon(AUTH_BLOCK, TCP)
    tree = parse("\n".join(lines))
    assert tree.directives("AuthnzFcgiCheckAuthnProvider") == [
        ["PyAuthen-9123", "Authoritative", "On", "RequireBasicAuth", "Off", "UserExpr", "%{reqenv:FCGI_HANDLERS_USER}"]]
    assert tree.directives("Require") == [["valid-user"]] and not tree.directives("SetEnv")
    # SetEnv runs after the auth phases: everything the authorizer call reads is set in the header-parser phase.
    assert setenvif(lines) == {"AuthType": "Basic", "AuthName": "realm one", "PythonAuthenHandler": "auth::check",
                               "PythonAuthzHandler": "auth::groups", "PythonHandler": "app",
                               "PythonOption.secret": "a\\$1 b\\\\c", "PythonRequire.1": "valid-user"}
    assert tree.directives("AuthType") == [["Basic"]] and tree.directives("AuthName") == [["realm one"]]


def test_setenvif_values_survive_mod_setenvif_substitution() -> None:
    # mod_setenvif reads `\\x` as x and `$N` as a back-reference (observed); both are escaped.
    assert setenvif_line("PythonPath", "['/a'] + sys.path") == 'SetEnvIfExpr "true" "PythonPath=[\'/a\'] + sys.path"'
    assert setenvif_line("X", 'a\\b $1 "q"') == 'SetEnvIfExpr "true" "X=a\\\\\\\\b \\\\$1 \\"q\\""'


def test_authz_alone_is_a_require_provider_beside_the_blocks_require_lines() -> None:
    lines = mod_python_to_daemon(["AuthType Basic", "AuthBasicProvider file", "AuthUserFile /etc/pw",
                                  "Require valid-user", "Require ip 10.0.0.0/8", "PythonAuthzHandler z"], TCP)
    tree = parse("\n".join(lines))
    (outer,) = tree.sections("RequireAll")
    assert outer.directives("Require") == [["PyAuthz-9123"]]
    (inner,) = outer.sections("RequireAny")
    assert inner.directives("Require") == [["valid-user"], ["ip", "10.0.0.0/8"]]
    assert tree.directives("AuthBasicProvider") == [["file"]] and not tree.directives("Require")


def test_basic_provider_form() -> None:
    tree = parse("\n".join(mod_python_to_daemon(AUTH_BLOCK, TCP, authn="basic-provider")))
    assert tree.directives("AuthBasicProvider") == [["PyAuthen-9123"]]
    assert not tree.directives("AuthnzFcgiCheckAuthnProvider")


@pytest.mark.parametrize("backend, authn", [(UNIX, "check-authn"), (TCP, "emulate")])
def test_emulated_auth_phases(backend: Backend, authn: str) -> None:
    lines = mod_python_to_daemon([*AUTH_BLOCK, "Require ip 127.0.0.1"], backend, authn=authn)  # type: ignore[arg-type]
    tree = parse("\n".join(lines))
    # No mod_authnz_fcgi: Apache must not authenticate; the daemon runs the phases with the credentials it is sent.
    assert not tree.directives("AuthType") and not tree.directives("AuthnzFcgiCheckAuthnProvider")
    assert tree.directives("Require") == [["ip", "127.0.0.1"]] and tree.directives("CGIPassAuth") == [["On"]]
    env = {words[0]: words[1] for words in tree.directives("SetEnv")}
    assert (env["AuthName"], env["AuthType"], env["PythonAuthenHandler"]) == ("realm one", "Basic", "auth::check")


def test_block_translation_defines_the_providers_once_at_server_level() -> None:
    block = '<Directory "/srv/py">\nSetHandler mod_python\n<Files "a.py">\n' + "\n".join(AUTH_BLOCK[1:]) + \
            "\n</Files>\n</Directory>"
    text = mod_python_block_to_daemon(block, TCP, auth=Backend(port=9124))
    assert text.splitlines()[:2] == auth_provider_lines(Backend(port=9124))
    (directory,) = parse(text).sections("Directory")
    (files,) = directory.sections("Files")
    assert files.directives("AuthnzFcgiCheckAuthnProvider")[0][0] == "PyAuthen-9124"
    assert not text.count("AuthnzFcgiDefineProvider authn") - 1
    assert "AuthnzFcgiDefineProvider" not in mod_python_block_to_daemon(block, TCP, define_providers=False)
    with pytest.raises(ValueError, match="TCP only"):
        auth_provider_lines(UNIX)


def test_generated_auth_configuration_passes_apaches_syntax_check(tmp_path: Path) -> None:
    block = '<Location "/auth/">\n' + "\n".join(AUTH_BLOCK) + "\n</Location>"
    authz_only = '<Location "/z/">\nSetHandler mod_python\nAuthType Basic\nAuthName z\nAuthUserFile /dev/null\n' \
                 'Require valid-user\nPythonAuthzHandler z\n</Location>'
    blocks = [mod_python_block_to_daemon(block, TCP), mod_python_block_to_daemon(authz_only, TCP),
              mod_python_block_to_daemon(block.replace("/auth/", "/bp/"), TCP, authn="basic-provider"),
              include_snippet(UNIX, auth=TCP)]
    configtest(tmp_path, blocks=blocks, backend=TCP, user="www-data", group="www-data")


def test_apache_config_command_with_auth_bind() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["apache-config", "--bind", "unix:/run/d.sock", "--auth-bind", "127.0.0.1:9001",
                         "--authen-handler", "site.auth"]) == 0
    tree = parse(out.getvalue())
    assert tree.directives("AuthnzFcgiDefineProvider") == [["authn", "PyAuthen-9001", "fcgi://127.0.0.1:9001/"],
                                                           ["authz", "PyAuthz-9001", "fcgi://127.0.0.1:9001/"]]
    private = [section for section in tree.sections("Location") if section.arg == "/app/private/"]
    assert private and ["true", "PythonAuthenHandler=site.auth"] in private[0].directives("SetEnvIfExpr")
    assert private[0].directives("ProxyPass") == [["unix:/run/d.sock|fcgi://localhost/"]]
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        assert cli.main(["apache-config", "--auth-bind", "unix:/x.sock"]) == 2
    assert "TCP only" in errors.getvalue()


def test_several_addresses_and_python_imports() -> None:
    cfg = config.load(overrides={"bind": ["unix:/run/a.sock", "127.0.0.1:9001", "unix:/run/a.sock"],
                                 "imports": ["site.init::start", "other_mod vhost.example.com"]})
    assert cfg.bind == ("unix:/run/a.sock", "127.0.0.1:9001")
    assert cfg.imports == [ImportSpec("site.init", "start"), ImportSpec("other_mod", None, "vhost.example.com")]
    args = cli.build_parser().parse_args(["serve", "--bind", "unix:/run/a.sock", "--bind", "127.0.0.1:9001",
                                          "--import", "a::b", "--import", "c x"])
    assert config.from_namespace(args).bind == ("unix:/run/a.sock", "127.0.0.1:9001")
    for bad in ({"bind": ["nonsense"]}, {"bind": []}, {"imports": ["a b c"]}, {"imports": ["a::1"]}):
        with pytest.raises(config.ConfigError):
            config.load(overrides=bad)


def test_the_readme_phase_table_names_where_each_phase_runs() -> None:
    table = placement_table().splitlines()
    assert len(table) == 2 + len(PHASES)
    assert "| `PythonAuthenHandler` | DECLINED | inside Apache's authn/authz phases" in table[2 + 5]
    assert table[-1].startswith("| `PythonCleanupHandler` | OK | in the daemon, after the log phase")
