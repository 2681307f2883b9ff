"""`req` as handlers get it from the dispatcher: the request layer's object plus what needs the phase machinery.

Rule: what mod_python implements with Apache's own request processing is implemented here against the dispatcher:
- `add_handler(phase, handler[, dir])` appends to the running list of the current phase, or after the configured
  handlers of a later one (mod_python-behaviour.md §1.1); PythonCleanupHandler is refused as mod_python refuses it;
- `internal_redirect(uri)` runs a new request for `uri` through the phases inside the daemon (Apache cannot be asked
  to: mod_proxy_fcgi has no local redirect, apache-fastcgi.md §1.6).  Its params are the original's with the new
  URI and query, `REDIRECT_STATUS=200` and every configured variable renamed `REDIRECT_<name>` (what Apache's
  internal redirect does to `subprocess_env`, observed with mod_python); its directives are the original's, because
  Apache sends the directives of the URL it was asked for only (see `redirect_params`).  The target's response goes
  out in the original's place, `req.prev`/`req.next` link the two, and the original's later output is dropped;
- in an AUTHORIZER call (mod_authnz_fcgi) the Basic credentials arrive as REMOTE_USER/REMOTE_PASSWD instead of an
  Authorization header: `get_basic_auth_pw()` returns them and sets `req.user` and `req.ap_auth_type`, as
  ap_get_basic_auth_pw() does inside Apache, and `req.user` is None before that call in the authen phase;
- `auth_name()`/`auth_type()` return the block's AuthName/AuthType, which Apache does not send: the generated
  configuration passes them as params of the same names;
- what else Apache knows about the block and does not send comes from the params the translation adds
  (`directives.py`): `req.hlist.directory`/`is_location` from the `<Directory>`/`<Location>` path,
  `req.server.server_hostname` from the virtual host's ServerName, `req.requires()` from its Require lines.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, List, Optional, Protocol
from urllib.parse import unquote

from ..request.connection import Cleanup, LogFunc, Server, default_log
from ..request.table import table
from ..request.params import CGI_VARIABLES, resolve_paths
from ..request.request import Request
from .directives import AUTH_PARAMS, HandlerSpec, parse_handler_spec
from .phases import BY_DIRECTIVE, Placement


class DaemonSink(Protocol):
    """The server layer's sink: response bytes and error-log text of one request."""

    def stdout(self, data: bytes) -> None: ...

    def stderr(self, data: bytes) -> None: ...


class RequestLog:
    """A request's log function: each message one line of FCGI_STDERR (Apache logs it at level error).

    Once the response ended (`detach()`, before END_REQUEST lets Apache reuse the connection) or the web server is
    gone, the daemon's own log takes the lines: the log phase and cleanups run after the end and must never write
    to a connection another request may already be using."""

    def __init__(self, sink: DaemonSink) -> None:
        self._sink = sink
        self.detached = False

    def detach(self) -> None:
        self.detached = True

    def __call__(self, level: int, message: str) -> None:
        if not self.detached:
            try:
                self._sink.stderr(message.encode("utf-8", "backslashreplace") + b"\n")
                return
            except OSError:
                pass
        default_log(level, message)


@dataclass(frozen=True)
class HandlerEntry:
    """`req.hlist` while a handler runs: mod_python's mp_hlist fields we can know."""

    handler: str
    silent: int
    is_location: int
    directory: Optional[str]


Redirector = Callable[["HandlerRequest", str], None]

# Params that are Apache's computed request variables, not configured ones: an internal redirect does not rename
# them (the target gets its own).
_COMPUTED_PREFIXES = ("HTTP_", "SERVER_", "REMOTE_", "CONTEXT_", "REDIRECT_", "FCGI_", "SSL_", "Python")
_COMPUTED = frozenset(CGI_VARIABLES) | {"DOCUMENT_ROOT", "REQUEST_SCHEME", "PATH", "LD_LIBRARY_PATH", "HTTPS",
                                        "CONTENT_TYPE", "CONTENT_LENGTH", "AUTH_TYPE", "UNIQUE_ID"} | set(AUTH_PARAMS)


def redirect_params(params: Mapping[str, str], uri: str) -> dict[str, str]:
    """The params of an internal redirect of the request with `params` to `uri` (path[?query])."""
    path, _, query = uri.partition("?")
    decoded = unquote(path)
    target = {name: value for name, value in params.items() if name not in ("PATH_INFO", "PATH_TRANSLATED")}
    for name, value in params.items():
        if name not in _COMPUTED and not name.startswith(_COMPUTED_PREFIXES):
            target["REDIRECT_" + name] = value
    target.update({"REQUEST_URI": uri, "SCRIPT_NAME": decoded, "QUERY_STRING": query, "REDIRECT_STATUS": "200"})
    root = params.get("CONTEXT_DOCUMENT_ROOT") or params.get("DOCUMENT_ROOT")
    prefix = params.get("CONTEXT_PREFIX", "")
    mapped = "SCRIPT_FILENAME" in params and resolve_paths(params).mode == "directory"
    if mapped and root and decoded.startswith(prefix):
        # <Directory> form (SCRIPT_FILENAME is the mapped file, with or without mod_proxy_fcgi's proxy:fcgi://
        # prefix): Apache would map the new URI under the same document root; the plain path says the same.
        target["SCRIPT_FILENAME"] = posixpath.normpath(root + "/" + decoded[len(prefix):])
    else:
        target.pop("SCRIPT_FILENAME", None)
    return target


class HandlerRequest(Request):
    """`req` plus what needs the dispatcher (see the module docstring)."""

    def __init__(self, *args: Any, redirector: Optional[Redirector] = None,
                 credentials: Optional[tuple[str, str]] = None, auth_name: Optional[str] = None,
                 auth_type: Optional[str] = None, child_cleanups: Optional[List[Cleanup]] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._child_cleanups = child_cleanups
        self.fcgi_added: dict[str, List[HandlerSpec]] = {}
        self.fcgi_depth = 0
        self.fcgi_body = args[1] if len(args) > 1 else kwargs.get("body")
        self.fcgi_loader: Any = None                     # the interpreter namespace's loader (dispatcher)
        # The running handler as (handler text, silent, directory): req.hlist is made from it when read.
        self.fcgi_handler: Optional[tuple[str, int, Optional[str]]] = None
        self.fcgi_directives: Any = None
        self.fcgi_log: LogFunc = kwargs.get("log") or default_log
        self._redirector = redirector
        self._credentials = credentials
        self._auth_name = auth_name
        self._auth_type = auth_type

    def _fcgi_hlist(self) -> object:
        if self.fcgi_handler is None:
            return None
        text, silent, directory = self.fcgi_handler
        directives = self.fcgi_directives
        if directives is not None and directives.location:
            return _handler_entry(text, silent, 1, directory or directives.location)
        if directives is not None and directives.directory:
            return _handler_entry(text, silent, 0, directory)
        # A block written by hand passes neither: the request's path mode tells (resolved only when read).
        return _handler_entry(text, silent, int(self.fcgi_paths.mode == "location"), directory)

    def _new_server(self) -> Server:
        # req.server.get_options() is mod_python's server-scope PythonOption lines; Apache sends the daemon one merged
        # set of params and no scope, so every option is the block's (req.get_options()) and the server's is empty.
        # server_hostname is the vhost's ServerName when the translation passed it (Apache sends the Host's name).
        server_name = getattr(self.fcgi_directives, "server_name", None)
        return Server(self.fcgi_params, config=self._config, options=table(), log=self.fcgi_log,
                      child_cleanups=self._child_cleanups,
                      overrides={"server_hostname": server_name} if server_name else None)

    def requires(self) -> tuple[str, ...]:
        """The block's `Require` lines, each its arguments as written (`('valid-user', 'user joe')`): the
        translation passes them as PythonRequire.<n> params. mod_python 3.5 has this only on Apache 2.2."""
        return tuple(getattr(self.fcgi_directives, "requires", ()))

    def add_handler(self, phase: str, handler: str, dir: Optional[str] = None) -> None:  # noqa: A002 - mod_python
        """Add `handler` to `phase`: to the running list for the current phase, else after its configured ones."""
        target = BY_DIRECTIVE.get(phase) if isinstance(phase, str) else None
        if target is None or target.placement is Placement.CLEANUP:
            raise IndexError(f"Invalid phase: {phase}")
        if not isinstance(handler, str):
            raise TypeError(f"argument 2 must be str, not {type(handler).__name__}")
        if dir is not None and not dir.endswith("/"):
            dir = dir + "/"  # mod_python canonicalises the directory with a trailing slash
        spec = parse_handler_spec(handler, directory=dir)
        self.fcgi_added.setdefault(target.directive, []).append(spec)

    def internal_redirect(self, new_uri: str) -> None:
        """Serve `new_uri` through every phase in place of this request's response (see the module docstring)."""
        if not isinstance(new_uri, str):
            raise TypeError(f"argument 1 must be str, not {type(new_uri).__name__}")
        if not new_uri.startswith("/"):
            raise ValueError(f"internal_redirect needs a local URI starting with '/', not {new_uri!r}")
        if self._redirector is None:
            raise RuntimeError("internal_redirect is not available outside the dispatcher")
        self._redirector(self, new_uri)

    def get_basic_auth_pw(self) -> Optional[str]:
        """The Basic password: from mod_authnz_fcgi's REMOTE_PASSWD in an AUTHORIZER call, else from the
        Authorization header (which Apache sends with `CGIPassAuth On`); sets req.user and req.ap_auth_type."""
        configured = self.auth_type()
        if self._credentials is not None and (configured is None or configured.lower() == "basic"):
            user, password = self._credentials
            self.user = user
            self.ap_auth_type = "Basic"
            return password
        return super().get_basic_auth_pw()

    def auth_name(self) -> Optional[str]:
        """AuthName of the block (the `AuthName` param the generated configuration sets), or None."""
        return self._auth_name

    def auth_type(self) -> Optional[str]:
        """AuthType of the block (the `AuthType` param the generated configuration sets), or None."""
        return self._auth_type


# req.hlist values are immutable and the same few come back on every request: made once each.
_handler_entry = functools.lru_cache(maxsize=1024)(HandlerEntry)
