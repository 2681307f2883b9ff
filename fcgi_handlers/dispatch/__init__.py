"""The dispatch layer: mod_python's handler semantics over the request layer.

`phases` is the phase table (data), `directives` reads mod_python's directives from the params, `loader` imports
handler code from the allowed directories only (with a real auto-reload), `chain` is the one loop that runs a phase's
handlers, `errors` renders Apache's stock pages and mod_python's debug page, `static` is Apache's default handler
for a declined request, and `dispatcher` puts them together: `Dispatcher(DispatchSettings(paths)).handle(params,
body, sink)`.
"""

from .dispatcher import DispatchSettings, Dispatcher, HandlerRequest

__all__ = ["DispatchSettings", "Dispatcher", "HandlerRequest"]
