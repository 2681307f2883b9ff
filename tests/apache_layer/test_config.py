"""fcgi_handlers.apache without Apache: addresses, quoting, rendered structure, and the mod_python translation.

Rendered text is parsed back with `parse`, built on shlex (POSIX double-quote rules match Apache's for the values
used here), so the checks look at sections and arguments rather than at formatting.
"""
from __future__ import annotations

import shlex
from typing import Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcgi_handlers.apache import (BASE_MODULES, DEFAULT_POOL_MAX, SNIPPET_MODULES, Backend, daemon_directives,
                                  guarded_module_lines, httpd_conf, include_snippet, module_line, quote, section,
                                  split_arguments, worker_block)

Node = Union[list[str], "Section"]


class Section:
    def __init__(self, kind: str, arg: str) -> None:
        self.kind, self.arg = kind, arg
        self.children: list[Node] = []

    def directives(self, name: str) -> list[list[str]]:
        return [c[1:] for c in self.children if isinstance(c, list) and c[0].lower() == name.lower()]

    def sections(self, kind: str) -> list[Section]:
        return [c for c in self.children if isinstance(c, Section) and c.kind == kind]


def parse(text: str) -> Section:
    """A configuration's section tree; each directive as its shlex-split words."""
    stack = [Section("root", "")]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            assert stack.pop().kind == line[2:-1], f"mismatched {line}"
        elif line.startswith("<"):
            words = shlex.split(line[1:-1])
            child = Section(words[0], " ".join(words[1:]))
            stack[-1].children.append(child)
            stack.append(child)
        else:
            stack[-1].children.append(shlex.split(line))
    assert len(stack) == 1, "unclosed section"
    return stack[0]


TCP = Backend(host="127.0.0.1", port=9123)
UNIX = Backend(socket="/run/fh/fh.sock")


# -- addresses --

@pytest.mark.parametrize("bind, expected", [
    ("127.0.0.1:9000", Backend("127.0.0.1", 9000)),
    ("[::1]:9001", Backend("::1", 9001)),
    ("unix:/run/x.sock", Backend(socket="/run/x.sock")),
])
def test_backend_from_bind(bind: str, expected: Backend) -> None:
    assert Backend.from_bind(bind) == expected


@pytest.mark.parametrize("bind", ["unix:", "localhost", ":9000", "host:0", "host:70000", "host:port"])
def test_backend_from_bind_rejects(bind: str) -> None:
    with pytest.raises(ValueError):
        Backend.from_bind(bind)


def test_worker_urls() -> None:
    assert TCP.worker_url() == "fcgi://127.0.0.1:9123/"
    assert TCP.worker_url("/reuse/") == "fcgi://127.0.0.1:9123/reuse/"
    assert Backend("::1", 9000).worker_url() == "fcgi://[::1]:9000/"
    assert UNIX.worker_url() == "unix:/run/fh/fh.sock|fcgi://localhost/"
    with pytest.raises(ValueError):
        TCP.worker_url("reuse/")


def test_handler_name_has_no_trailing_slash_and_prefixes_the_worker() -> None:
    for backend in (TCP, UNIX):
        name = backend.handler_name()
        assert name.startswith("proxy:") and not name.endswith("/")
        assert backend.worker_url().startswith(name[len("proxy:"):])


# -- quoting and splitting --

@given(st.text(alphabet=st.characters(exclude_characters="\r\n\0", exclude_categories=["Cs"])))
def test_quote_round_trips_through_split_arguments(value: str) -> None:
    if "${" in value:
        with pytest.raises(ValueError):
            quote(value)
    else:
        assert split_arguments("SetEnv X " + quote(value)) == ["SetEnv", "X", value]


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b", "${HOME}/x"])
def test_quote_rejects_what_a_config_line_cannot_carry(value: str) -> None:
    with pytest.raises(ValueError):
        quote(value)


def test_split_arguments_follows_apache_word_rules() -> None:
    line = '''PythonOption  k "two words" 'single "q"' "esc \\" \\\\ x" plain\\path'''
    assert split_arguments(line) == ["PythonOption", "k", "two words", 'single "q"', 'esc " \\ x', "plain\\path"]
    with pytest.raises(ValueError):
        split_arguments('SetEnv X "open')


# -- building blocks --

def test_module_lines() -> None:
    assert module_line("proxy_fcgi", "/m") == "LoadModule proxy_fcgi_module /m/mod_proxy_fcgi.so"
    tree = parse("\n".join(guarded_module_lines(["proxy", "env"], "/m")))
    assert [(s.kind, s.arg) for s in tree.sections("IfModule")] == [("IfModule", "!proxy_module"),
                                                                     ("IfModule", "!env_module")]
    assert tree.sections("IfModule")[1].directives("LoadModule") == [["env_module", "/m/mod_env.so"]]


@pytest.mark.parametrize("reuse", [True, False])
def test_worker_block(reuse: bool) -> None:
    (proxy,) = parse(worker_block(UNIX, reuse=reuse, pool_max=7, extra=["ttl=30"])).sections("Proxy")
    assert proxy.arg == UNIX.worker_url()
    assert proxy.directives("ProxySet") == [[f"enablereuse={'on' if reuse else 'off'}", "max=7", "ttl=30"]]
    with pytest.raises(ValueError):
        worker_block(TCP, pool_max=0)


def test_section_indents_multiline_children() -> None:
    tree = parse(section("Directory", "/a b", ["X 1", section("Files", "f.py", ["Y 2"])]))
    (directory,) = tree.sections("Directory")
    assert directory.arg == "/a b" and directory.directives("X") == [["1"]]
    assert directory.sections("Files")[0].directives("Y") == [["2"]]


def test_daemon_directives() -> None:
    tree = parse("\n".join(daemon_directives("pkg::fn", debug=True, options=[("a.b", 'x "y"'), ("empty", "")])))
    assert tree.directives("SetEnv") == [["PythonHandler", "pkg::fn"], ["PythonDebug", "On"],
                                         ["PythonOption.a.b", 'x "y"'], ["PythonOption.empty", ""]]
    assert parse("\n".join(daemon_directives("h"))).directives("SetEnv") == [["PythonHandler", "h"]]
    with pytest.raises(ValueError):
        daemon_directives("h", options=[("two words", "v")])


# -- the include snippet --

@pytest.mark.parametrize("backend", [TCP, UNIX])
def test_include_snippet_structure(backend: Backend) -> None:
    tree = parse(include_snippet(backend, location="/app/", handler="pkg.mod::fn", directory="/srv/py"))
    assert {s.arg for s in tree.sections("IfModule")} == {f"!{name}_module" for name in SNIPPET_MODULES}
    (proxy,) = tree.sections("Proxy")
    assert proxy.arg == backend.worker_url()
    assert proxy.directives("ProxySet") == [["enablereuse=on", f"max={DEFAULT_POOL_MAX}"]]
    (location,) = tree.sections("Location")
    assert location.arg == "/app/"
    assert location.directives("ProxyPass") == [[backend.worker_url()]]
    assert location.directives("CGIPassAuth") == [["On"]]
    assert ["PythonHandler", "pkg.mod::fn"] in location.directives("SetEnv")
    assert ["PythonDebug", "On"] in location.directives("SetEnv")
    (directory,) = tree.sections("Directory")
    assert directory.arg == "/srv/py"
    assert directory.directives("SetHandler") == [[backend.handler_name()]]
    assert directory.directives("CGIPassAuth") == [["On"]]


# -- the standalone config --

def test_httpd_conf_keeps_state_in_run_dir() -> None:
    text = httpd_conf(port=8080, run_dir="/r", docroot="/r/htdocs", blocks=['<Location "/x">\n</Location>'],
                      backend=TCP, reuse=False, user="www-data", group="www-data")
    tree = parse(text)
    for name, value in [("ServerRoot", "/r"), ("PidFile", "/r/httpd.pid"), ("ErrorLog", "/r/error.log"),
                        ("Listen", "127.0.0.1:8080"), ("DocumentRoot", "/r/htdocs"), ("User", "www-data"),
                        ("Group", "www-data"), ("TypesConfig", "/etc/mime.types"), ("ServerName", "localhost")]:
        assert tree.directives(name) == [[value]], name
    loaded = [words[0] for words in tree.directives("LoadModule")]
    assert loaded == ["mpm_event_module", *[f"{name}_module" for name in BASE_MODULES]]
    assert tree.sections("Proxy")[0].directives("ProxySet") == [["enablereuse=off", f"max={DEFAULT_POOL_MAX}"]]
    assert [s.arg for s in tree.sections("Location")] == ["/x"]


def test_httpd_conf_optional_parts() -> None:
    tree = parse(httpd_conf(port=1, run_dir="/r", docroot="/d", mpm="prefork", modules=["python", "proxy"]))
    loaded = [words[0] for words in tree.directives("LoadModule")]
    assert loaded[0] == "mpm_prefork_module" and loaded[-1] == "python_module"
    assert loaded.count("proxy_module") == 1
    assert not tree.directives("User") and not tree.sections("Proxy")


@pytest.mark.parametrize("kwargs", [{"modules": ["python", "wsgi"]}, {"port": 0}, {"port": 65536}])
def test_httpd_conf_rejects(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"port": 8080, "run_dir": "/r", "docroot": "/d", **kwargs}
    with pytest.raises(ValueError):
        httpd_conf(**arguments)  # type: ignore[arg-type]
