"""`fcgi-handlers convert` without starting Apache: the reader (includes, conditions, .htaccess), the conversion of
what Apache serves itself, `--check`, the output layout and the command line's errors.

Trees are written into tmp_path; the converted trees are checked with `apache2 -t` where Apache is installed.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fcgi_handlers.apache import Backend
from fcgi_handlers.apache.convert import convert, python_path_dirs
from fcgi_handlers.apache.convert_output import daemon_settings, overlay_path
from fcgi_handlers.apache.paths import APACHE_BIN, CLEAN_PATH
from fcgi_handlers.apache.reader import Directive, ReadError, access_files, read_config, walk
from fcgi_handlers.apache.runner import missing_apache
from fcgi_handlers.cli import main as cli

from . import trees

TCP = Backend(port=9555)
UNIX = Backend(socket="/run/fh/fh.sock")


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "httpd.conf"


def directives(path: Path, name: str) -> list[Directive]:
    main, _ = read_config(path, {})
    return [n for n in walk(main.nodes) if isinstance(n, Directive) and n.lowered == name.lower()]


# -- the reader --

def test_includes_follow_server_root_globs_and_directories_in_order(tmp_path: Path) -> None:
    main = write(tmp_path, {
        "httpd.conf": f'ServerRoot "{tmp_path}"\nInclude conf.d/*.conf\nIncludeOptional missing/*.conf\n'
                      "Include more\n",
        "conf.d/b.conf": "PythonOption b 2\n", "conf.d/a.conf": "PythonOption a 1\n",
        "more/x/deep.conf": "PythonOption deep 3\n"})
    assert [d.args[0] for d in directives(main, "PythonOption")] == ["a", "b", "deep"]


def test_a_missing_include_names_its_line(tmp_path: Path) -> None:
    main = write(tmp_path, {"httpd.conf": f'ServerRoot "{tmp_path}"\n\nInclude nowhere.conf\n'})
    with pytest.raises(ReadError, match=r"httpd.conf:3: Include: .*nowhere.conf does not exist"):
        read_config(main, {})


def test_conditions_are_evaluated_where_apache_meets_them(tmp_path: Path) -> None:
    main = write(tmp_path, {"httpd.conf": """<IfModule mod_python.c>
PythonOption early yes
</IfModule>
LoadModule python_module /usr/lib/apache2/modules/mod_python.so
Define WITH_APP
Define APPDIR /srv/app
<IfModule python_module>
    <IfDefine WITH_APP>
        PythonOption late yes
        PythonPath "['${APPDIR}'] \\
            + sys.path"
    </IfDefine>
    <IfDefine !WITH_APP>
        PythonOption never yes
    </IfDefine>
</IfModule>
"""})
    assert [d.args[0] for d in directives(main, "PythonOption")] == ["late"]
    [path] = directives(main, "PythonPath")
    assert path.args == ["['/srv/app'] + sys.path"] and (path.line, path.end) == (10, 11)


def test_debian_envvars_fill_variables(tmp_path: Path) -> None:
    main = write(tmp_path, {"httpd.conf": 'Include "${APACHE_CONFDIR}/extra.conf"\n',
                            "envvars": f"export APACHE_CONFDIR={tmp_path}\nexport APACHE_X=$APACHE_CONFDIR/x\n",
                            "extra.conf": "PythonOption found yes\n"})
    assert [d.args[0] for d in directives(main, "PythonOption")] == ["found"]


def test_access_files_only_where_allow_override_admits_mod_python(tmp_path: Path) -> None:
    # mod_python's directives are OR_ALL: any override class admits them; None admits nothing.
    www = tmp_path / "www"
    main = write(tmp_path, {
        "httpd.conf": f'<Directory "{www}">\n AllowOverride AuthConfig\n</Directory>\n'
                      f'<Directory "{www}/off">\n AllowOverride None\n</Directory>\n',
        "www/a/.htaccess": "PythonHandler x\n", "www/off/.htaccess": "PythonHandler y\n",
        "elsewhere/.htaccess": "PythonHandler z\n"})
    found = access_files(read_config(main, {})[0])
    assert [(f.path, f.classes) for f in found] == [(www / "a" / ".htaccess", frozenset({"authconfig"}))]


def test_access_file_name_and_allow_override_decide_what_is_converted(tmp_path: Path) -> None:
    www = tmp_path / "www"
    conversion = convert(write(tmp_path, {
        "httpd.conf": f'AccessFileName .acl\n<Directory "{www}">\n AllowOverride FileInfo\n</Directory>\n'
                      f'<Directory "{www}/auth">\n AllowOverride AuthConfig\n</Directory>\n',
        "www/app/.acl": "SetHandler mod_python\nPythonHandler app\n", "www/app/.htaccess": "PythonHandler no\n",
        "www/auth/.acl": "PythonHandler x\n"}), TCP)
    app = www / "app" / ".acl"
    assert conversion.replaced[app].splitlines()[1:3] == ['SetHandler "proxy:fcgi://127.0.0.1:9555"',
                                                           'SetEnv PythonHandler "app"']
    assert "CGIPassAuth" not in conversion.replaced[app]   # needs AuthConfig, which FileInfo does not give
    [failure] = conversion.failures
    assert failure.where == f"{www}/auth/.acl:1" and "AllowOverride FileInfo" in failure.became


def test_python_path_literals_are_read_not_evaluated() -> None:
    assert python_path_dirs("['/a', \"/b\"] + sys.path + __import__('os').sep.split()") == ["/a", "/b", "os"]
    with pytest.raises(ReadError):
        python_path_dirs("['/a'", "x.conf:1")


# -- converting --

STATIC_PHASES = """LoadModule python_module /usr/lib/apache2/modules/mod_python.so
<Directory "/srv/static">
    SetHandler None
    AuthType Basic
    AuthName "staff"
    PythonAuthenHandler staffauth
    PythonFixupHandler stamp
    Require valid-user
</Directory>
"""


def test_phases_on_content_apache_serves_are_reported_never_dropped_silently(tmp_path: Path) -> None:
    conversion = convert(write(tmp_path, {"httpd.conf": STATIC_PHASES}), UNIX)
    failed = {f.directive: f.became for f in conversion.failures}
    assert "give --auth-bind HOST:PORT" in failed["PythonAuthenHandler staffauth"]
    assert "Apache serves this block's content itself" in failed["PythonFixupHandler stamp"]
    assert all(f.where.startswith(f"{tmp_path}/httpd.conf:") for f in conversion.failures)


def test_access_on_static_content_needs_the_authentication_call(tmp_path: Path) -> None:
    config = STATIC_PHASES.replace("PythonFixupHandler stamp", "PythonAccessHandler hosts")
    with_authen = convert(write(tmp_path, {"httpd.conf": config}), TCP)
    assert not with_authen.failures
    alone = convert(write(tmp_path, {"httpd.conf": config.replace("    PythonAuthenHandler staffauth\n", "")}), TCP)
    [failure] = alone.failures
    assert failure.directive == "PythonAccessHandler hosts" and "needs a PythonAuthenHandler" in failure.became


def test_auth_on_static_content_goes_through_mod_authnz_fcgi_without_proxying(tmp_path: Path) -> None:
    config = STATIC_PHASES.replace("    PythonFixupHandler stamp\n", "")
    conversion = convert(write(tmp_path, {"httpd.conf": config}), UNIX, Backend(port=9556))
    assert not conversion.failures
    text = conversion.changed_text(conversion.main.path)
    assert "AuthnzFcgiDefineProvider authn PyAuthen-9556 fcgi://127.0.0.1:9556/" in text
    assert "AuthnzFcgiCheckAuthnProvider PyAuthen-9556" in text
    assert "SetHandler None" in text and "proxy:" not in text.split("<Directory")[-1]
    assert 'bind = ["unix:/run/fh/fh.sock", "127.0.0.1:9556"]' in daemon_settings(conversion)
    configtest_if_installed(tmp_path, text)


def test_server_level_directives_imports_and_the_preamble(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    load = "LoadModule python_module /usr/lib/apache2/modules/mod_python.so"
    conversion = convert(write(tmp_path, {"httpd.conf": f"""{load}
PythonImport startup main_interpreter
PythonPath "['{handlers}', '/nonexistent'] + sys.path"
PythonOption site demo
<IfModule mod_python.c>
  <Location /app/>
    SetHandler mod_python
    PythonHandler hello
  </Location>
</IfModule>
"""}), TCP)
    text = conversion.changed_text(conversion.main.path)
    assert "# fcgi-handlers convert: LoadModule python_module" in text
    assert "<IfModule proxy_fcgi_module>" in text and "mod_python.c" not in text
    assert 'SetEnvIfExpr "true" "PythonOption.site=demo"' in text and "CGIPassAuth On" in text.split("<Location")[1]
    settings = daemon_settings(conversion)
    assert f'path = ["{handlers}"]' in settings and "not a directory on this host, left out: /nonexistent" in settings
    assert 'imports = ["startup main_interpreter"]' in settings
    configtest_if_installed(tmp_path, text)


def test_what_apache_does_not_send_is_passed_from_where_the_block_stands(tmp_path: Path) -> None:
    conversion = convert(write(tmp_path, {"httpd.conf": """<VirtualHost *:80>
    ServerName www.example.test:80
    <Location /app/>
        SetHandler mod_python
        PythonHandler hello
        Require host localhost
    </Location>
</VirtualHost>
"""}), TCP)
    text = conversion.changed_text(conversion.main.path)
    for line in ('SetEnv PythonLocation "/app/"', 'SetEnv PythonServerName "www.example.test"',
                 'SetEnv PythonRequire.1 "host localhost"', "Require host localhost"):
        assert line in text, text


def test_a_bad_python_path_is_reported_and_the_rest_converts(tmp_path: Path) -> None:
    conversion = convert(write(tmp_path, {"httpd.conf": """PythonPath "['/a'"
<Location /app/>
    SetHandler mod_python
    PythonHandler hello
    PythonPath "sys.path +"
</Location>
"""}), TCP)
    assert [(f.where.rsplit(":", 1)[1], f.converted) for f in conversion.findings] == [
        ("1", False), ("3", True), ("4", True), ("5", False)]
    assert 'ProxyPass "fcgi://127.0.0.1:9555/"' in conversion.changed_text(conversion.main.path)


def test_files_outside_the_configuration_directory_go_under_absolute(tmp_path: Path) -> None:
    conversion = convert(write(tmp_path / "etc", {"httpd.conf": "PythonOption a b\n"}), TCP)
    assert overlay_path(conversion, tmp_path / "etc" / "sites" / "x.conf") == Path("sites/x.conf")
    assert overlay_path(conversion, Path("/var/www/.htaccess")) == Path("_absolute/var/www/.htaccess")


def configtest_if_installed(tmp_path: Path, text: str) -> None:
    if missing_apache("proxy_fcgi", "authnz_fcgi", "mpm_event"):
        return
    conf = tmp_path / "configtest.conf"
    conf.write_text(f'ServerRoot "{tmp_path}"\nServerName localhost\nErrorLog "{tmp_path}/error.log"\n'
                    "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
                    "LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so\n"
                    "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n"
                    "LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so\n" + text)
    result = subprocess.run([APACHE_BIN, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60,
                            env={"PATH": CLEAN_PATH, "LANG": "C"})
    assert result.returncode == 0, result.stderr + text


# -- the command --

def test_check_exits_1_on_an_output_filter_and_names_file_and_line(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    main = trees.write(trees.OUTPUT_FILTER, tmp_path, 8080)
    before = sorted(p for p in tmp_path.rglob("*"))
    assert cli(["convert", str(main), "--check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{main}:32: PythonOutputFilter upper UPPER: ") and "filters" in lines[0]
    assert lines[1].startswith(f"{main}:33: AddOutputFilter UPPER .txt: ")
    assert sorted(p for p in tmp_path.rglob("*")) == before, "--check wrote something"


def test_check_exits_0_when_everything_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = trees.write(trees.DEBIAN, tmp_path, 8080)
    assert cli(["convert", str(main), "--check"]) == 0
    assert "all convert" in capsys.readouterr().out


def test_output_never_in_place_and_never_over_files(tmp_path: Path) -> None:
    main = trees.write(trees.VHOST, tmp_path, 8080)
    assert cli(["convert", str(main), "--out", str(main.parent)]) == 2
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("")
    assert cli(["convert", str(main), "--out", str(taken)]) == 2
    out = tmp_path / "new"
    assert cli(["convert", str(main), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fcgi-handlers.toml", "httpd.conf", "other-locations.conf",
                                                    "report.md"]
    assert main.read_text() == trees.fill(trees.VHOST.files["etc/httpd/httpd.conf"], tmp_path, 8080)


@pytest.mark.parametrize("argv, message", [
    (["convert", "/nonexistent/httpd.conf"], "is not a file"),
    (["convert", "{main}", "--bind", "nonsense"], "expected HOST:PORT or unix:PATH"),
    (["convert", "{main}", "--auth-bind", "unix:/x.sock"], "TCP only"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                           message: str) -> None:
    main = trees.write(trees.VHOST, tmp_path, 8080)
    assert cli([arg.replace("{main}", str(main)) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreadable_configuration_exits_1_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = write(tmp_path, {"httpd.conf": "<Location /x>\nPythonHandler h\n"})
    assert cli(["convert", str(main), "--check"]) == 1
    assert f"{main}:1: <Location> is never closed" in capsys.readouterr().err


def test_the_installed_command_runs(tmp_path: Path) -> None:
    main = trees.write(trees.OUTPUT_FILTER, tmp_path, 8080)
    result = subprocess.run([sys.executable, "-m", "fcgi_handlers", "convert", str(main), "--check"],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 1 and ":32: PythonOutputFilter" in result.stdout


def test_the_readme_commands_work_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's convert commands, on a Debian tree standing in for /etc/apache2."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Migrating a whole installation", 1)[1].split("\n## ", 1)[0]
    text = section.replace("\\\n", " ")
    commands = [line.split("#")[0].split() for line in text.splitlines()
                if line.strip().startswith("fcgi-handlers convert")]
    assert len(commands) == 2
    main = trees.write(trees.DEBIAN, tmp_path / "root", 8080)
    monkeypatch.chdir(tmp_path)
    for words in commands:
        argv = [str(main) if word == "/etc/apache2/apache2.conf" else word for word in words[1:]]
        assert cli(argv) == 0, words
    assert (tmp_path / "converted" / "report.md").is_file()
    assert (tmp_path / "converted" / "mods-enabled" / "python.load").is_file()
