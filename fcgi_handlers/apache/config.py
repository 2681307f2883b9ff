"""Apache configuration for the daemon, rendered as text.

Every function here is pure: it takes addresses, paths and directive lines and returns Apache configuration text, and
touches no file or process. The `apache-config` and `demo` commands, the end-to-end tests, the benchmark and the
conformance harness therefore run exactly the text the unit tests check. Three things are rendered: the snippet an
existing Apache `Include`s, a complete standalone httpd.conf, and the translation of one mod_python configuration block
into the block that sends the same requests to the daemon (in `translate`; directives
become FastCGI params through `SetEnv`, because mod_proxy_fcgi passes the whole `subprocess_env`;
reference/apache-fastcgi.md §1.2).  A block with PythonAuthenHandler
or PythonAuthzHandler gets its auth phases inside Apache through mod_authnz_fcgi (TCP only): `AuthnzFcgiDefineProvider`
lines at server level, `AuthnzFcgiCheckAuthnProvider` (or `AuthBasicProvider`) and `Require` in the block, and its
directives as `SetEnvIfExpr` instead of `SetEnv` (mod_env's SetEnv runs in the fixup phase, after the auth phases;
SetEnvIf runs in the header-parser phase, before them, so only its values reach the authorizer call: observed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Optional, Sequence

from ..dispatch.dispatcher import USER_VARIABLE
from .paths import MODULES_DIR

# Connections each Apache child keeps to the daemon. It equals the event MPM's default ThreadsPerChild, so no Apache
# thread waits for a pooled connection; the daemon parks idle kept connections in its selector, so an open connection
# costs it a socket, not a thread (reference/apache-fastcgi.md §1.4).
DEFAULT_POOL_MAX = 25

# Modules every standalone config loads, by the short name `module_line` expands. mod_log_config and mod_unixd are
# compiled into Debian's apache2 and need no LoadModule.
BASE_MODULES: tuple[str, ...] = (
    "authz_core", "authn_core", "authn_file", "authz_host", "authz_user", "auth_basic", "mime", "dir", "alias", "env",
    "setenvif", "headers", "rewrite", "proxy", "proxy_fcgi", "authnz_fcgi", "slotmem_shm", "proxy_balancer",
    "lbmethod_byrequests",
)

# What an existing Apache needs for the include snippet: mod_proxy + mod_proxy_fcgi route, mod_env's SetEnv carries the
# Python* directives.
SNIPPET_MODULES: tuple[str, ...] = ("proxy", "proxy_fcgi", "env")

# What the auth example of the snippet needs besides SNIPPET_MODULES (mod_authnz_fcgi, SetEnvIf for the directives the
# authorizer call reads, mod_headers to drop a challenge Apache noted when the handler lets an anonymous request in).
AUTH_MODULES: tuple[str, ...] = ("authn_core", "authz_core", "authz_user", "auth_basic", "authnz_fcgi", "setenvif",
                                 "headers")

Mpm = Literal["event", "worker", "prefork"]
Route = Literal["auto", "proxypass", "sethandler"]
# How PythonAuthenHandler reaches Apache's authn phase: AuthnzFcgiCheckAuthnProvider (the handler's status, body and
# user go through as mod_python sends them), AuthBasicProvider (Apache parses Basic credentials and answers every
# refusal with its own 401 challenge), or emulated in the daemon before the content handler (no mod_authnz_fcgi).
AuthnMode = Literal["check-authn", "basic-provider", "emulate"]


class UnsupportedDirective(ValueError):
    """A mod_python directive that has no daemon equivalent inside one configuration block."""


@dataclass(frozen=True)
class Backend:
    """Where the daemon listens: TCP `host:port`, or a unix socket when `socket` is set."""

    host: str = "127.0.0.1"
    port: int = 9000
    socket: Optional[str] = None

    @classmethod
    def from_bind(cls, bind: str) -> Backend:
        """Parse the daemon's `--bind` value: `HOST:PORT` or `unix:PATH`."""
        if bind.startswith("unix:"):
            if not bind[5:]:
                raise ValueError("unix: needs a socket path")
            return cls(socket=bind[5:])
        host, sep, port = bind.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT or unix:PATH, got {bind!r}")
        return cls(host=host.strip("[]"), port=int(port))

    def worker_url(self, path: str = "/") -> str:
        """The mod_proxy worker URL; distinct `path`s give distinct workers with their own parameters."""
        if not path.startswith("/"):
            raise ValueError(f"worker path must start with '/', got {path!r}")
        if self.socket is not None:
            # The host after fcgi:// is only a label for unix sockets (reference/apache-fastcgi.md §1.1).
            return f"unix:{self.socket}|fcgi://localhost{path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"fcgi://{host}:{self.port}{path}"

    def handler_name(self, path: str = "/") -> str:
        """The `SetHandler`/`AddHandler` value that proxies to this backend.

        Apache appends the mapped file's absolute path to it, so a trailing slash would double the first one
        (observed: SCRIPT_FILENAME `//srv/...` under ProxyFCGIBackendType GENERIC). The request still matches the
        `<Proxy>` worker of `worker_url()`, whose URL is its prefix.
        """
        return "proxy:" + self.worker_url(path).rstrip("/")


# The ServerName of every standalone Apache rendered here (tests, conformance oracle, demo); a block converted for
# such an Apache passes it on (`mod_python_block_to_daemon(..., server_name=STANDALONE_SERVER_NAME)`).
STANDALONE_SERVER_NAME = "localhost"


def quote(value: str) -> str:
    """One Apache configuration argument in double quotes.

    Apache's argument parser turns a backslash before a quote or another backslash into that character, so both are
    escaped. Line breaks cannot be expressed, and `${` would be replaced by a `Define`d variable.
    """
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError(f"configuration values cannot hold line breaks or NUL: {value!r}")
    if "${" in value:
        raise ValueError(f"'${{' in a configuration value would be read as a Define: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def module_line(name: str, modules_dir: str = MODULES_DIR) -> str:
    """`LoadModule` for a short module name: `proxy_fcgi` -> `proxy_fcgi_module .../mod_proxy_fcgi.so`."""
    return f"LoadModule {name}_module {modules_dir}/mod_{name}.so"


def guarded_module_lines(names: Iterable[str], modules_dir: str = MODULES_DIR) -> list[str]:
    """LoadModule lines that leave modules an existing config already loads alone."""
    lines: list[str] = []
    for name in names:
        lines += [f"<IfModule !{name}_module>", "    " + module_line(name, modules_dir), "</IfModule>"]
    return lines


def section(kind: str, argument: str, lines: Iterable[str]) -> str:
    """A configuration section such as `<Location "/app/">`, its lines indented by four spaces."""
    body = [("    " + line) if line else "" for text in lines for line in text.splitlines()]
    return "\n".join([f"<{kind} {quote(argument)}>", *body, f"</{kind}>"])


def worker_block(backend: Backend, *, path: str = "/", reuse: bool = True, pool_max: int = DEFAULT_POOL_MAX,
                 extra: Sequence[str] = ()) -> str:
    """A `<Proxy>` section declaring the pooled worker every route to `backend` + `path` shares.

    Apache merges later ProxyPass workers into an earlier one whose URL is their prefix and ignores their parameters,
    so the parameters belong here, once (reference/apache-fastcgi.md §1.1 "Worker sharing").
    """
    if pool_max < 1:
        raise ValueError("pool_max must be at least 1")
    # Without enablereuse Apache opens one connection per request and never sets FCGI_KEEP_CONN.
    params = [f"enablereuse={'on' if reuse else 'off'}", f"max={pool_max}", *extra]
    return section("Proxy", backend.worker_url(path), ["ProxySet " + " ".join(params)])


def daemon_directives(handler: str, *, debug: bool = False, options: Sequence[tuple[str, str]] = ()) -> list[str]:
    """`SetEnv` lines that configure one location of the daemon: its PythonHandler, PythonDebug and PythonOptions."""
    lines = [f"SetEnv PythonHandler {quote(handler)}"]
    if debug:
        lines.append("SetEnv PythonDebug On")
    lines += [f"SetEnv {env_name('PythonOption.' + key)} {quote(value)}" for key, value in options]
    return lines


def auth_provider_names(auth: Backend) -> tuple[str, str]:
    """The authn and authz provider names for the daemon at `auth` (one pair per port, so two daemons can coexist)."""
    if auth.socket is not None:
        raise ValueError("mod_authnz_fcgi reaches its providers over TCP only: give the daemon a HOST:PORT address")
    return f"PyAuthen-{auth.port}", f"PyAuthz-{auth.port}"


def auth_provider_lines(auth: Backend) -> list[str]:
    """The server-level lines that define the daemon at `auth` as mod_authnz_fcgi's authn and authz providers."""
    authn, authz = auth_provider_names(auth)
    url = auth.worker_url()
    return [f"AuthnzFcgiDefineProvider authn {authn} {url}", f"AuthnzFcgiDefineProvider authz {authz} {url}"]


def setenvif_line(name: str, value: str) -> str:
    """`SetEnvIfExpr "true" "name=value"`: set early enough (header-parser phase) for the auth phases to see it.

    mod_setenvif passes the value through regex substitution, which takes a backslash as an escape and `$N` as a
    back-reference (observed: `$1` vanished, `\\` lost its backslash), so both are escaped before the quoting."""
    escaped = value.replace("\\", "\\\\").replace("$", "\\$")
    return f'SetEnvIfExpr "true" {quote(env_name(name) + "=" + escaped)}'


def authn_lines(auth: Backend, mode: AuthnMode) -> list[str]:
    """The block lines that run PythonAuthenHandler (and PythonAuthzHandler) in Apache's authn phase."""
    authn, _ = auth_provider_names(auth)
    if mode == "basic-provider":
        return [f"AuthBasicProvider {authn}"]
    return [
        f"AuthnzFcgiCheckAuthnProvider {authn} Authoritative On RequireBasicAuth Off "
        f"UserExpr {quote('%{reqenv:' + USER_VARIABLE + '}')}",
        # Apache notes a Basic challenge (with mod_auth_basic loaded) before the call when credentials are missing:
        # it belongs to a 401 only, not to the page of a handler that let the request in or refused otherwise.
        "<IfModule headers_module>",
        '    Header always unset WWW-Authenticate "expr=%{REQUEST_STATUS} != 401"',
        "</IfModule>",
    ]


def authz_lines(auth: Backend, requires: Sequence[str]) -> list[str]:
    """`Require <authz provider>` for a PythonAuthzHandler after Apache's own authentication, together with the
    block's own Require lines (several Require lines would otherwise mean "any of them")."""
    _, authz = auth_provider_names(auth)
    if not requires:
        return [f"Require {authz}"]
    return ["<RequireAll>", f"    Require {authz}", "    <RequireAny>", *("        " + line for line in requires),
            "    </RequireAny>", "</RequireAll>"]


def include_snippet(backend: Backend, *, location: str = "/app/", handler: str = "hello",
                    directory: str = "/var/www/python", pool_max: int = DEFAULT_POOL_MAX,
                    modules_dir: str = MODULES_DIR, auth: Optional[Backend] = None,
                    authen_handler: str = "hello::authenhandler") -> str:
    """The file an existing Apache 2.4 (>= 2.4.26) `Include`s to send `location` and `directory` to the daemon;
    with `auth` (the daemon's TCP address), also `<location>private/` with its auth phases inside Apache."""
    where = f"unix socket {backend.socket}" if backend.socket else f"{backend.host}:{backend.port}"
    parts = [
        f"# fcgi_handlers: Apache 2.4 (>= 2.4.26) routes to the daemon at {where}.",
        "# Loads only the modules the including config does not load already.",
        *guarded_module_lines(SNIPPET_MODULES, modules_dir),
        "",
        "# One pooled worker for every route below: enablereuse keeps connections open between requests,",
        "# max= bounds the pool of each Apache child process.",
        worker_block(backend, pool_max=pool_max),
        "",
        "# ProxyPass form: no filesystem lookup; the daemon sees the whole decoded path as SCRIPT_NAME.",
        "# CGIPassAuth passes the Authorization header, which Apache withholds from FastCGI otherwise.",
        section("Location", location, [
            f"ProxyPass {quote(backend.worker_url())}",
            "CGIPassAuth On",
            *daemon_directives(handler, debug=True),
        ]),
        "",
        "# SetHandler form: Apache maps the URI to a file first, so the daemon gets SCRIPT_FILENAME and PATH_INFO",
        "# (mod_python's req.filename and req.path_info). GENERIC sends SCRIPT_FILENAME without the proxy: prefix.",
        "# Reach the directory through DocumentRoot or an Alias.",
        section("Directory", directory, [
            f"SetHandler {quote(backend.handler_name())}",
            "ProxyFCGIBackendType GENERIC",
            "CGIPassAuth On",
            *daemon_directives(handler),
        ]),
    ]
    if auth is not None:
        parts += ["", *_auth_snippet(backend, auth, location.rstrip("/") + "/private/", handler, authen_handler,
                                     modules_dir)]
    return "\n".join(parts) + "\n"


def _auth_snippet(backend: Backend, auth: Backend, location: str, handler: str, authen_handler: str,
                  modules_dir: str) -> list[str]:
    _, authz = auth_provider_names(auth)
    return [
        f"# Auth phases inside Apache: mod_authnz_fcgi calls the daemon at {auth.host}:{auth.port} (TCP only) as a",
        "# FastCGI AUTHORIZER; PythonAuthenHandler (then PythonAuthzHandler) decide with mod_python's meaning.",
        *guarded_module_lines(AUTH_MODULES, modules_dir),
        *auth_provider_lines(auth),
        section("Location", location, [
            f"ProxyPass {quote(backend.worker_url())}",
            "AuthType Basic",
            'AuthName "private"',
            *authn_lines(auth, "check-authn"),
            "# or: AuthBasicProvider with the same provider (Apache parses Basic credentials, every refusal is 401)",
            "Require valid-user",
            f"# A PythonAuthzHandler alone (after Apache's own authentication): Require {authz}",
            "# The authorizer call sees SetEnvIf values only (SetEnv runs after the auth phases).",
            setenvif_line("PythonAuthenHandler", authen_handler),
            setenvif_line("AuthType", "Basic"),
            setenvif_line("AuthName", "private"),
            setenvif_line("PythonHandler", handler),
        ]),
    ]


def httpd_conf(*, port: int, run_dir: str, docroot: str, blocks: Sequence[str] = (),
               backend: Optional[Backend] = None, reuse: bool = True, pool_max: int = DEFAULT_POOL_MAX,
               mpm: Mpm = "event", modules: Sequence[str] = (), global_lines: Sequence[str] = (),
               user: Optional[str] = None, group: Optional[str] = None, log_level: str = "warn",
               listen_host: Optional[str] = "127.0.0.1",
               base_modules: Sequence[str] = BASE_MODULES, modules_dir: str = MODULES_DIR) -> str:
    """A complete httpd.conf for an Apache listening on `listen_host`:`port` (None: every interface, e.g. in a
    container), keeping all its state in `run_dir`.

    `blocks` are location/directory sections; `backend`, when given, gets its pooled worker; `modules` are short
    module names loaded after `base_modules` (`python`, `wsgi`); `user`/`group` are needed when Apache starts as root.
    """
    extra = [name for name in modules if name not in base_modules]
    if "python" in extra and "wsgi" in extra:
        # Each embeds its own Python interpreter and refuses to start beside the other.
        raise ValueError("mod_python and mod_wsgi cannot be loaded into one Apache")
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    lines = [
        "# Generated by fcgi_handlers.apache: a standalone Apache that keeps its state in one directory.",
        f"ServerRoot {quote(run_dir)}",
        f"DefaultRuntimeDir {quote(run_dir)}",
        f"PidFile {quote(run_dir + '/httpd.pid')}",
        f"Listen {listen_host}:{port}" if listen_host else f"Listen {port}",
        f"ServerName {STANDALONE_SERVER_NAME}",
        "ServerAdmin root@localhost",
        module_line(f"mpm_{mpm}", modules_dir),
        *[module_line(name, modules_dir) for name in (*base_modules, *extra)],
    ]
    if user is not None:
        lines.append(f"User {user}")
    if group is not None:
        lines.append(f"Group {group}")
    lines += [
        f"ErrorLog {quote(run_dir + '/error.log')}",
        f"LogLevel {log_level}",
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" timed',
        f"CustomLog {quote(run_dir + '/access.log')} timed",
        "TypesConfig /etc/mime.types",
        f"DocumentRoot {quote(docroot)}",
        "DirectoryIndex index.html",
        section("Directory", "/", ["AllowOverride None", "Require all denied"]),
        section("Directory", docroot, ["AllowOverride None", "Require all granted"]),
        *global_lines,
    ]
    if backend is not None:
        lines.append(worker_block(backend, reuse=reuse, pool_max=pool_max))
    lines += blocks
    return "\n".join(lines) + "\n"


def env_name(name: str) -> str:
    """A SetEnv variable name; Apache splits on whitespace and the daemon reads the name byte for byte."""
    if not name or any(ch.isspace() or ch in "\"'\\" or not ch.isprintable() for ch in name):
        raise ValueError(f"not usable as an environment variable name: {name!r}")
    return name
