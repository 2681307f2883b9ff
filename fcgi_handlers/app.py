"""The app each worker runs: FastCGI request in, mod_python dispatch out.

`make_app(config)` is the `app_factory` the arbiter calls in every worker after fork, so a SIGHUP's new workers build a
fresh dispatcher (fresh imports of handler code). It installs the worker's mod_python runtime (loaders, child cleanups),
sets `sys.argv` to mod_python's `['mod_python']`, runs the PythonImport list (`--import`), registers the child-exit
cleanups with `atexit` (the worker runs them when it exits normally) and returns the per-request function the server
calls with each `FastCGIRequest`: RESPONDER requests (mod_proxy_fcgi) go through every phase, AUTHORIZER requests
(mod_authnz_fcgi) through the auth phases; the work after the response (log phase, cleanups) is handed to
`call_after_end`, so it runs once END_REQUEST is written.
"""
from __future__ import annotations

import atexit
import importlib
import logging
import os
import pkgutil
import pwd
import sys
from typing import Sequence

from fcgi_handlers.dispatch import runtime, stderr
from fcgi_handlers.dispatch.authorizer import handle_authorizer
from fcgi_handlers.dispatch.dispatcher import Dispatcher, DispatchSettings
from fcgi_handlers.dispatch.trust import ParamPolicy
from fcgi_handlers.protocol.constants import FCGI_AUTHORIZER, FCGI_RESPONDER
from fcgi_handlers.request import decode_params
from fcgi_handlers.config import Config
from fcgi_handlers.server import App, FastCGIRequest

log = logging.getLogger(__name__)

def preload_helpers() -> None:
    """Import every module of the `mod_python` package now, in the arbiter, before the workers switch to `--user`:
    that account then needs to read only the handler code, not this package (a checkout or virtualenv under a
    private home stays private). Every interpreter name shares this one copy (dispatch/namespaces.py)."""
    import mod_python

    for module in pkgutil.iter_modules(mod_python.__path__, "mod_python."):
        importlib.import_module(module.name)


def param_policy(config: Config) -> ParamPolicy:
    """The daemon's say over the directive params (`trust`): what its own settings supply when Apache's block does
    not (`--handler`, `--debug`), the `--fixed` pins and the `--allow-params` list."""
    defaults = []
    if config.handler:
        defaults.append(("PythonHandler", config.handler))
    if config.debug:
        defaults.append(("PythonDebug", "On"))
    return ParamPolicy(defaults=defaults, fixed=config.fixed or (), allowed=config.allow_params)


def warn_unreadable(paths: Sequence[str]) -> None:
    """Log each import directory this worker's account cannot read: after `--user`, every request for a handler
    there would fail with an import error, so say why once, at boot, in the daemon's log."""
    for path in paths:
        if not os.access(path, os.R_OK | os.X_OK):
            account = pwd.getpwuid(os.getuid()).pw_name
            log.error("--path %s is not readable by %s (uid %d), the account the workers run as: handlers there "
                      "cannot be imported", path, account, os.getuid())


def make_app(config: Config) -> App:
    """Build this worker's dispatcher, run its PythonImports and return the per-request callable."""
    warn_unreadable(config.path)
    dispatcher = Dispatcher(DispatchSettings(paths=tuple(config.path), policy=param_policy(config)))
    # Handler code sees mod_python's sys.argv (code checks it to know it runs under Apache); `ps` shows the
    # process's own command line, which sys.argv is only a copy of, so that stays the daemon's.
    sys.argv = list(runtime.HANDLER_ARGV)
    runtime.install(runtime.WorkerState(loader=dispatcher.loader, workers=config.workers, threads=config.threads,
                                        child_cleanups=dispatcher.child_cleanups, namespaces=dispatcher.namespaces))
    atexit.register(runtime.run_child_cleanups)
    stderr.capture()  # handler code's sys.stderr writes go to the request's error log, as under mod_python
    runtime.run_imports(getattr(config, "imports", None) or (), dispatcher.namespaces)

    def app(request: FastCGIRequest) -> int:
        if request.role not in (FCGI_RESPONDER, FCGI_AUTHORIZER):
            request.sink.stdout(b"Status: 500 Internal Server Error\r\n\r\n")
            request.sink.stderr(b"fcgi_handlers: only the RESPONDER and AUTHORIZER roles are served\n")
            return 0
        params = decode_params(request.params)
        if request.role == FCGI_AUTHORIZER:
            handle_authorizer(dispatcher, params, request.sink, after_end=request.call_after_end)
        else:
            dispatcher.handle(params, request.body, request.sink, after_end=request.call_after_end,
                              note=request.note)
        return 0

    return app
