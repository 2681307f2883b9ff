"""A drop-in for flup's `flup.server.fcgi.WSGIServer`: change the import line, keep the script.

    from fcgi_handlers.flup import WSGIServer      # was: from flup.server.fcgi import WSGIServer
    WSGIServer(app, bindAddress=("127.0.0.1", 9000)).run()

The constructor takes flup's arguments with flup's meaning; `run()` serves the application with the daemon's server
(the arbiter, its workers and thread pools) instead of flup's threads, until SIGTERM or SIGINT.

- `bindAddress`: a `(host, port)` tuple, a unix socket path (created with mode `0o777 & ~umask`, as flup's bind
  does), or None: the listening socket is file descriptor 0, as a web server that spawns FastCGI children
  (mod_fcgid, spawn-fcgi) passes it. When fd 0 is not a socket, or with `forceCGI` / FCGI_FORCE_CGI=Y, the script
  runs as a CGI program for this one request, as flup does.
- `environ`: extra keys copied into every request's environ. `multithreaded=False` serves one request at a time.
  `multiprocess=True` runs several worker processes (default: half the CPUs; `workers=N` sets it); otherwise one
  process, as flup's threaded server is, so an application's in-process state behaves as it did.
- `maxThreads` (flup's thread pool) bounds the threads per process; `minSpare`/`maxSpare` are accepted and unused
  (the pool is fixed-size). `multiplexed` is accepted: Apache never multiplexes requests on one connection.
- `debug=True` puts the traceback into the 500 page. `roles` must include FCGI_RESPONDER; other roles get a 500.
- SIGHUP starts a new generation of workers (the daemon's reload) instead of returning from `run()`.
- FCGI_WEB_SERVER_ADDRS (flup's comma-separated allow-list of web server addresses) becomes the daemon's allowed
  clients for a TCP bind: others are closed at accept, as flup closes them. Unset, a loopback bind admits loopback
  peers only and any other bind admits everyone (flup admits everyone).

The environ follows flup's conventions (CGI variables from the params, `wsgi.*`), except that PATH_INFO is never cut
from the raw REQUEST_URI by length (see `fcgi_handlers.wsgi.environ`). Unknown keyword arguments raise TypeError, as
flup's thread pool does.
"""
from __future__ import annotations

import os
import socket
import sys
from typing import Any, Mapping, Optional, Sequence, Union

from fcgi_handlers.protocol.constants import FCGI_RESPONDER
from fcgi_handlers.server import Arbiter, FastCGIRequest, Settings
from fcgi_handlers.server.settings import DEFAULT_THREADS, default_workers
from fcgi_handlers.wsgi.gateway import WSGIApp, run_app

__all__ = ["FCGI_RESPONDER", "WSGIServer"]

BindAddress = Union[None, str, tuple[str, int]]
_POOL_ARGUMENTS = ("minSpare", "maxSpare", "maxThreads")
LISTENSOCK_FILENO = 0   # FastCGI spec §2.2: the listening socket a web server hands its FastCGI child


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _bind_text(address: BindAddress) -> str:
    if address is None:
        return f"fd:{LISTENSOCK_FILENO}"
    if isinstance(address, str):
        return "unix:" + address
    if isinstance(address, tuple) and len(address) == 2 and isinstance(address[1], int):
        host = address[0] or "0.0.0.0"
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    raise ValueError(f"bindAddress must be None, a socket path or a (host, port) tuple, not {address!r}")


def _fd0_is_socket() -> bool:
    try:
        probe = socket.socket(fileno=LISTENSOCK_FILENO)
    except OSError:
        return False
    probe.detach()
    return True


class WSGIServer:
    """flup's `WSGIServer(application, environ=None, multithreaded=True, multiprocess=False, bindAddress=None,
    umask=None, multiplexed=False, debug=False, roles=(FCGI_RESPONDER,), forceCGI=False, **kw)`."""

    def __init__(self, application: WSGIApp, environ: Optional[Mapping[str, Any]] = None,
                 multithreaded: bool = True, multiprocess: bool = False, bindAddress: BindAddress = None,
                 umask: Optional[int] = None, multiplexed: bool = False, debug: bool = False,
                 roles: Sequence[int] = (FCGI_RESPONDER,), forceCGI: bool = False, *, workers: Optional[int] = None,
                 **kw: int) -> None:
        unknown = sorted(set(kw) - set(_POOL_ARGUMENTS))
        if unknown:
            raise TypeError(f"WSGIServer() got unexpected keyword arguments: {', '.join(unknown)}")
        if FCGI_RESPONDER not in roles:
            raise ValueError("roles must include FCGI_RESPONDER: a WSGI application is a responder")
        self.application = application
        self.environ = dict(environ or {})
        self.multithreaded = multithreaded
        self.multiprocess = multiprocess
        self.debug = debug
        self.forceCGI = forceCGI
        self._bind = _bind_text(bindAddress)
        self._is_unix = isinstance(bindAddress, str)
        self._umask = umask
        self._workers = (workers or default_workers()) if multiprocess else 1
        self._threads = kw.get("maxThreads", DEFAULT_THREADS) if multithreaded else 1
        del multiplexed   # accepted for compatibility; see the module docstring

    def settings(self) -> Settings:
        """The daemon settings `run()` serves with."""
        mask = self._umask if self._umask is not None else _current_umask()
        addresses = [a.strip() for a in os.environ.get("FCGI_WEB_SERVER_ADDRS", "").split(",") if a.strip()]
        return Settings(bind=self._bind, workers=self._workers, threads=max(1, self._threads),
                        socket_mode=0o777 & ~mask if self._is_unix else 0o660,
                        allowed_clients=tuple(addresses) or None)

    def _cgi(self) -> bool:
        forced = self.forceCGI or os.environ.get("FCGI_FORCE_CGI", "N").upper().startswith("Y")
        return forced or (self._bind == f"fd:{LISTENSOCK_FILENO}" and not _fd0_is_socket())

    def handle(self, request: FastCGIRequest) -> int:
        """One request (the server calls this in a worker thread)."""
        return run_app(self.application, request, multithread=self._threads > 1,
                       multiprocess=self._workers > 1, debug=self.debug, extra=self.environ)

    def run(self) -> bool:
        """Serve until SIGTERM/SIGINT; returns False, as flup does when it was not stopped by SIGHUP."""
        if self._cgi():
            from wsgiref.handlers import CGIHandler

            CGIHandler().run(self.application)
            return False
        status = Arbiter(self.settings(), lambda: self.handle).run()
        if status:
            sys.exit(status)   # the arbiter logged why (e.g. the address is in use)
        return False
