"""The dispatch layer: mod_python's handler semantics over the request layer.

`phases` is the phase table (data: order, chain rules, where each phase runs), `directives` reads mod_python's
directives from the params, `loader` imports handler code from the allowed directories only (with a real
auto-reload) and `namespaces` gives each interpreter name its own modules, `chain` is the one loop that runs a phase's
handlers, `errors` renders Apache's stock pages and mod_python's debug page, `static` is Apache's default handler
for a declined request, `handler_request` is the `req` handlers get (add_handler, internal_redirect, the auth
credentials), `dispatcher` puts them together for mod_proxy_fcgi's RESPONDER calls
(`Dispatcher(DispatchSettings(paths)).handle(params, body, sink, after_end=...)`), `authorizer` serves
mod_authnz_fcgi's AUTHORIZER calls (`handle_authorizer(dispatcher, params, sink, after_end=...)`), and `runtime`
holds the worker's state for the module-level API (PythonImport, child-exit cleanups).
"""

from .dispatcher import DispatchSettings, Dispatcher, HandlerRequest

__all__ = ["DispatchSettings", "Dispatcher", "HandlerRequest"]
