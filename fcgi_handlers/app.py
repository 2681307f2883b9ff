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
import sys
from typing import Any

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.authorizer import handle_authorizer
from fcgi_handlers.dispatch.dispatcher import Dispatcher, DispatchSettings
from fcgi_handlers.protocol.constants import FCGI_AUTHORIZER, FCGI_RESPONDER
from fcgi_handlers.request import decode_params
from fcgi_handlers.server import FastCGIRequest

# What the daemon's own settings supply when Apache's block does not (`--handler`, `--debug`).
def _defaults(config: Any) -> dict[str, str]:
    defaults = {}
    if config.handler:
        defaults["PythonHandler"] = config.handler
    if config.debug:
        defaults["PythonDebug"] = "On"
    return defaults


def make_app(config: Any) -> Any:
    """Build this worker's dispatcher, run its PythonImports and return the per-request callable."""
    dispatcher = Dispatcher(DispatchSettings(paths=tuple(config.path)))
    # Handler code sees mod_python's sys.argv (code checks it to know it runs under Apache); `ps` shows the
    # process's own command line, which sys.argv is only a copy of, so that stays the daemon's.
    sys.argv = list(runtime.HANDLER_ARGV)
    runtime.install(runtime.WorkerState(loader=dispatcher.loader, workers=config.workers, threads=config.threads,
                                        child_cleanups=dispatcher.child_cleanups, namespaces=dispatcher.namespaces))
    atexit.register(runtime.run_child_cleanups)
    runtime.run_imports(getattr(config, "imports", None) or (), dispatcher.namespaces)
    defaults = _defaults(config)

    def app(request: FastCGIRequest) -> int:
        if request.role not in (FCGI_RESPONDER, FCGI_AUTHORIZER):
            request.sink.stdout(b"Status: 500 Internal Server Error\r\n\r\n")
            request.sink.stderr(b"fcgi_handlers: only the RESPONDER and AUTHORIZER roles are served\n")
            return 0
        params = decode_params(request.params)
        for key, value in defaults.items():
            params.setdefault(key, value)
        if request.role == FCGI_AUTHORIZER:
            handle_authorizer(dispatcher, params, request.sink, after_end=request.call_after_end)
        else:
            dispatcher.handle(params, request.body, request.sink, after_end=request.call_after_end)
        return 0

    return app
