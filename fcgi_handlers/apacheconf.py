"""Apache configuration for the daemon, rendered as text.

Every function here is pure: it takes addresses, paths and directive lines and returns Apache configuration text, and
touches no file or process. The `apache-config` and `demo` commands, the end-to-end tests, the benchmark and the
conformance harness therefore run exactly the text the unit tests check. Three things are rendered: the snippet an
existing Apache `Include`s, a complete standalone httpd.conf, and the translation of one mod_python configuration block
into the block that sends the same requests to the daemon (directives become FastCGI params through `SetEnv`, because
mod_proxy_fcgi passes the whole `subprocess_env`; reference/apache-fastcgi.md §1.2).  A block with PythonAuthenHandler
or PythonAuthzHandler gets its auth phases inside Apache through mod_authnz_fcgi (TCP only): `AuthnzFcgiDefineProvider`
lines at server level, `AuthnzFcgiCheckAuthnProvider` (or `AuthBasicProvider`) and `Require` in the block, and its
directives as `SetEnvIfExpr` instead of `SetEnv` (mod_env's SetEnv runs in the fixup phase, after the auth phases;
SetEnvIf runs in the header-parser phase, before them, so only its values reach the authorizer call: observed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Optional, Sequence

# Debian's module directory; other layouts pass their own.
MODULES_DIR = "/usr/lib/apache2/modules"

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

# The variable the daemon's allowing authorizer answer sets to the user the authen phase chose (dispatch.dispatcher).
USER_VARIABLE = "FCGI_HANDLERS_USER"

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
    lines += [f"SetEnv {_env_name('PythonOption.' + key)} {quote(value)}" for key, value in options]
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
    return f'SetEnvIfExpr "true" {quote(_env_name(name) + "=" + escaped)}'


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
        "# Generated by fcgi_handlers.apacheconf: a standalone Apache that keeps its state in one directory.",
        f"ServerRoot {quote(run_dir)}",
        f"DefaultRuntimeDir {quote(run_dir)}",
        f"PidFile {quote(run_dir + '/httpd.pid')}",
        f"Listen {listen_host}:{port}" if listen_host else f"Listen {port}",
        "ServerName localhost",
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


# mod_python directives that become one FastCGI param each, value kept as written. Handler lists are merged separately.
_PLAIN_DIRECTIVES = ("PythonPath", "PythonInterpreter", "PythonHandlerModule")
_FLAG_DIRECTIVES = ("PythonDebug", "PythonAutoReload", "PythonEnablePdb", "PythonInterpPerDirectory",
                    "PythonInterpPerDirective")
# Phase handlers allowed in a directory-level block (reference/mod_python-behaviour.md §1.3); the daemon runs them
# around the content handler.
_PHASE_DIRECTIVES = (
    "PythonHeaderParserHandler", "PythonInitHandler", "PythonAccessHandler", "PythonAuthenHandler",
    "PythonAuthzHandler", "PythonTypeHandler", "PythonFixupHandler", "PythonHandler", "PythonLogHandler",
    "PythonCleanupHandler",
)
# Why each of the rest cannot be carried by a block sent to the daemon.
_UNSUPPORTED = {
    "pythonpostreadrequesthandler": "is server-level: a server-level `SetEnv PythonPostReadRequestHandler ...` has "
                                    "the daemon run it first for every request",
    "pythontranshandler": "is server-level: a server-level `SetEnv PythonTransHandler ...` has the daemon run it "
                          "after post-read-request (Apache's own URI translation has already run)",
    "pythonconnectionhandler": "handles the raw client connection, which only Apache holds",
    "pythoninputfilter": "Apache filters cannot run out of process",
    "pythonoutputfilter": "Apache filters cannot run out of process",
    "pythonimport": "is server-wide: give the daemon `--import MODULE[::FUNC] [INTERPRETER]`",
    "pythonoptimize": "is server-wide; start the daemon's Python with -OO instead",
}
_MOD_PYTHON_HANDLERS = ("mod_python", "python-program")
_CANONICAL = {name.lower(): name for name in (*_PLAIN_DIRECTIVES, *_FLAG_DIRECTIVES, *_PHASE_DIRECTIVES)}


def split_arguments(line: str) -> list[str]:
    """Split one configuration line into words the way Apache does: quotes group, backslash escapes inside quotes."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] in "\"'":
            end_quote, i, word = line[i], i + 1, []
            while i < n and line[i] != end_quote:
                if line[i] == "\\" and i + 1 < n and line[i + 1] in (end_quote, "\\"):
                    i += 1
                word.append(line[i])
                i += 1
            if i >= n:
                raise ValueError(f"unterminated quote in {line!r}")
            words.append("".join(word))
            i += 1
        else:
            start = i
            while i < n and not line[i].isspace():
                i += 1
            words.append(line[start:i])
    return words


def mod_python_to_daemon(lines: Iterable[str], backend: Backend, *, container: str = "Location",
                         route: Route = "auto", auth: Optional[Backend] = None,
                         authn: AuthnMode = "check-authn") -> list[str]:
    """Translate the directive lines of one mod_python block into lines that send the block to the daemon.

    Python* directives become `SetEnv` params, merged as mod_python merges them within one section (handler lists
    append, options and flags: last wins). One param holds one handler list, so `PythonHandler h | .py` is carried
    as written, but a plain list beside an extension list of the same phase, or two extension lists with different
    handlers, raise UnsupportedDirective. `SetHandler mod_python` becomes `ProxyPass` (route "proxypass", or "auto"
    in a `<Location>`) or `SetHandler "proxy:..."`; `AddHandler mod_python .ext` becomes `AddHandler "proxy:..." .ext`.
    A block with PythonAuthenHandler/PythonAuthzHandler runs them inside Apache through mod_authnz_fcgi at `auth`
    (default: `backend` when it is TCP; see `authn_lines`/`authz_lines`, and `auth_provider_lines` for the
    server-level lines) with every param set by `SetEnvIfExpr`, plus AuthName/AuthType as params; with
    `authn="emulate"` (or no TCP address) the daemon runs them before the content handler instead; when it
    authenticates (PythonAuthenHandler), Apache's user-based Require lines and AuthType/AuthName go (AuthName and
    AuthType become params) and `CGIPassAuth On` hands the credentials over. Other lines pass through unchanged.
    Raises UnsupportedDirective for directives a block cannot carry.
    """
    return _translate_block(lines, backend, container=container, route=route, auth=auth, authn=authn)[0]


def _auth_target(backend: Backend, auth: Optional[Backend], authn: AuthnMode) -> Optional[Backend]:
    if authn == "emulate":
        return None
    target = auth if auth is not None else backend
    return None if target.socket is not None else target


# Require forms that need Apache to know the user: emulated auth phases take their place.
_USER_REQUIRES = ("valid-user", "user", "group")
_AUTH_HANDLERS = ("pythonauthenhandler", "pythonauthzhandler")


@dataclass(frozen=True)
class _AuthPlan:
    """How one block's PythonAuthenHandler/PythonAuthzHandler are carried (see `mod_python_to_daemon`)."""

    authen: bool
    authz: bool
    target: Optional[Backend]   # mod_authnz_fcgi's address; None: the daemon emulates the phases
    authn: AuthnMode
    requires: tuple[str, ...]   # the block's own Require lines

    @property
    def active(self) -> bool:
        return self.authen or self.authz

    @property
    def emulated_authn(self) -> bool:
        return self.authen and self.target is None

    def drops(self, lowered: str, args: Sequence[str]) -> bool:
        """True for an Apache auth line this plan replaces."""
        if lowered in ("authname", "authtype"):
            return self.emulated_authn  # the daemon authenticates: Apache must not
        if lowered == "authbasicprovider":
            return self.authen
        if lowered == "require" and self.target is not None:
            return self.authz and not self.authen  # carried inside the RequireAll of `lines()`
        return lowered == "require" and self.emulated_authn and bool(args) and args[0].lower() in _USER_REQUIRES

    def lines(self) -> list[str]:
        """The Apache lines that take the place of the block's first auth handler directive."""
        if self.target is None:
            return []
        return authn_lines(self.target, self.authn) if self.authen else authz_lines(self.target, self.requires)


def _translate_block(lines: Iterable[str], backend: Backend, *, container: str, route: Route,
                     auth: Optional[Backend], authn: AuthnMode) -> tuple[list[str], bool]:
    """`mod_python_to_daemon`'s lines, and whether they use mod_authnz_fcgi providers."""
    if route == "proxypass" and container.lower() != "location":
        raise ValueError(f"ProxyPass is only valid in a <Location> block, not <{container}>")
    use_proxypass = route == "proxypass" or (route == "auto" and container.lower() == "location")
    logical = [(raw, split_arguments(raw)) for raw in _logical_lines(lines)]
    names = {words[0].lower() for _, words in logical if words}
    authen, authz = _AUTH_HANDLERS[0] in names, _AUTH_HANDLERS[1] in names
    plan = _AuthPlan(authen, authz, _auth_target(backend, auth, authn) if authen or authz else None, authn,
                     tuple(raw for raw, words in logical if words and words[0].lower() == "require"))
    slots: list[tuple[bool, str]] = []     # (is a key of `params`, text): a key stands for its final SetEnv line
    params: dict[str, dict[str, list[str]]] = {}   # param -> extension ("" for none) -> values
    placed = False
    for raw, words in logical:
        if not words or words[0].startswith("#"):
            slots.append((False, raw))
            continue
        name, args = words[0], words[1:]
        lowered = name.lower()
        translated = _translate(name, args)
        if plan.active and lowered in ("authname", "authtype") and args:
            # For req.auth_name()/auth_type(): Apache does not send them.
            translated.append(("AuthName" if lowered == "authname" else "AuthType", "", [args[0]], True))
        for key, extension, values, replace in translated:
            if key not in params:
                params[key] = {}
                slots.append((True, key))
            groups = params[key]
            groups[extension] = values if replace else groups.get(extension, []) + values
        if not placed and lowered in _AUTH_HANDLERS:
            placed = True
            slots += [(False, line) for line in plan.lines()]
        if lowered in ("sethandler", "addhandler") and args and args[0].lower() in _MOD_PYTHON_HANDLERS:
            slots.append((False, _route_line(name, args, backend, use_proxypass)))
        elif not plan.drops(lowered, args) and not _is_python_directive(name):
            slots.append((False, raw))
    if plan.emulated_authn:
        slots.append((False, "CGIPassAuth On"))  # the daemon reads the credentials itself
    setter = setenvif_line if plan.target is not None else _setenv
    converted = [setter(text, _param_value(text, params[text])) if is_key else text for is_key, text in slots]
    return converted, plan.target is not None


def mod_python_block_to_daemon(block: str, backend: Backend, *, route: Route = "auto", auth: Optional[Backend] = None,
                               authn: AuthnMode = "check-authn", define_providers: bool = True) -> str:
    """`mod_python_to_daemon` for a whole section (`<Location "/x"> ... </Location>`), nested sections included;
    when a section's auth phases go through mod_authnz_fcgi, the server-level `AuthnzFcgiDefineProvider` lines
    come first (`define_providers=False` leaves them to the caller's server configuration)."""
    text, uses_auth = _convert_block(block, backend, route, auth, authn)
    if uses_auth and define_providers:
        target = _auth_target(backend, auth, authn)
        assert target is not None
        text = "\n".join([*auth_provider_lines(target), text])
    return text


def _convert_block(block: str, backend: Backend, route: Route, auth: Optional[Backend],
                   authn: AuthnMode) -> tuple[str, bool]:
    lines = block.strip().splitlines()
    head, tail = lines[0].strip(), lines[-1].strip()
    if not (head.startswith("<") and head.endswith(">") and tail.startswith("</")):
        raise ValueError("expected one configuration section, from <Kind ...> to </Kind>")
    kind = head[1:-1].split(None, 1)[0]
    body, uses_auth = _convert_body(lines[1:-1], kind, backend, route, auth, authn)
    return "\n".join([head, *body, tail]), uses_auth


def _convert_body(lines: Sequence[str], kind: str, backend: Backend, route: Route, auth: Optional[Backend],
                  authn: AuthnMode) -> tuple[list[str], bool]:
    """Convert a section body. Its own lines merge as one scope even when nested sections sit between them; each nested
    section is converted on its own, as mod_python merges per section."""
    flat: list[str] = []
    nested: list[list[str]] = []
    depth = 0
    for line in lines:
        text = line.strip()
        opens = text.startswith("<") and not text.startswith("</")
        if depth == 0 and opens:
            flat.append(f"\0section {len(nested)}")
            nested.append([])
        if depth > 0 or opens:
            nested[-1].append(text)
        else:
            flat.append(line)
        depth += 1 if opens else -1 if text.startswith("</") else 0
        if depth < 0:
            raise ValueError(f"unbalanced nested section in <{kind}>")
    if depth != 0:
        raise ValueError(f"unbalanced nested section in <{kind}>")
    out: list[str] = []
    converted, uses_auth = _translate_block(flat, backend, container=kind, route=route, auth=auth, authn=authn)
    for line in converted:
        if line.startswith("\0section "):
            inner, inner_auth = _convert_block("\n".join(nested[int(line.split()[1])]), backend, route, auth, authn)
            uses_auth = uses_auth or inner_auth
            out += ["    " + x for x in inner.splitlines()]
        else:
            out.append("    " + line)
    return out, uses_auth


def _logical_lines(lines: Iterable[str]) -> list[str]:
    """Strip lines and join trailing-backslash continuations, as Apache's config reader does."""
    result: list[str] = []
    pending = ""
    for line in lines:
        text = line.strip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        if text:
            result.append(text)
    if pending:
        result.append(pending.strip())
    return result


def _is_python_directive(name: str) -> bool:
    return name.lower() in _CANONICAL or name.lower() == "pythonoption" or name.lower() in _UNSUPPORTED


def _translate(name: str, args: list[str]) -> list[tuple[str, str, list[str], bool]]:
    """(param name, extension, values, replace?) for one mod_python directive; [] for any other directive."""
    lowered = name.lower()
    if lowered in _UNSUPPORTED:
        raise UnsupportedDirective(f"{name} {_UNSUPPORTED[lowered]}")
    if lowered == "pythonoption":
        if len(args) not in (1, 2):
            raise ValueError(f"PythonOption takes a key and an optional value: {args!r}")
        # A missing value stores "" and mod_python's get_options() drops the key, so "" carries the same meaning.
        return [("PythonOption." + args[0], "", [args[1] if len(args) == 2 else ""], True)]
    canonical = _CANONICAL.get(lowered)
    if canonical is None:
        return []
    if canonical in _FLAG_DIRECTIVES:
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            raise ValueError(f"{canonical} takes On or Off: {args!r}")
        return [(canonical, "", [args[0].capitalize()], True)]
    if canonical in _PLAIN_DIRECTIVES:
        if len(args) != 1:
            raise ValueError(f"{canonical} takes one argument: {args!r}")
        return [(canonical, "", args, True)]
    return _handler_params(canonical, args)


def _handler_params(directive: str, args: list[str]) -> list[tuple[str, str, list[str], bool]]:
    """`PythonHandler a b | .py .psp` -> the handlers once per extension, or once with no extension."""
    if "|" in args:
        bar = args.index("|")
        handlers, extensions = args[:bar], args[bar + 1:]
        if not extensions or not all(ext.startswith(".") for ext in extensions):
            raise ValueError(f"{directive}: '|' must be followed by extensions such as .py: {args!r}")
    else:
        handlers, extensions = args, []
    if not handlers:
        raise ValueError(f"{directive} needs at least one handler")
    return [(directive, ext, handlers, False) for ext in extensions or [""]]


def _param_value(key: str, groups: dict[str, list[str]]) -> str:
    """One param's value: its values, or for handler lists with extensions `handlers | .ext ...`."""
    if list(groups) == [""]:
        return " ".join(groups[""])
    lists = {tuple(handlers) for handlers in groups.values()}
    if "" in groups or len(lists) != 1:
        raise UnsupportedDirective(f"{key}: one SetEnv holds one handler list; this block has several "
                                   f"({', '.join(ext or 'no extension' for ext in groups)})")
    return " ".join([*lists.pop(), "|", *groups])


def _route_line(name: str, args: list[str], backend: Backend, use_proxypass: bool) -> str:
    if name.lower() == "addhandler":
        return " ".join(["AddHandler", quote(backend.handler_name()), *args[1:]])
    if use_proxypass:
        return f"ProxyPass {quote(backend.worker_url())}"
    return f"SetHandler {quote(backend.handler_name())}"


def _env_name(name: str) -> str:
    """A SetEnv variable name; Apache splits on whitespace and the daemon reads the name byte for byte."""
    if not name or any(ch.isspace() or ch in "\"'\\" or not ch.isprintable() for ch in name):
        raise ValueError(f"not usable as an environment variable name: {name!r}")
    return name


def _setenv(key: str, value: str) -> str:
    return f"SetEnv {_env_name(key)} {quote(value)}"
