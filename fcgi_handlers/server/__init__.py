"""The server layer: sockets, the arbiter (processes, signals), workers (selector loop + thread pool), transport.

``Arbiter(Settings(...), app_factory).run()`` serves until SIGTERM/SIGINT; ``app_factory()`` runs in each worker
after fork and returns the ``App`` that is called once per request with a ``FastCGIRequest``.
"""

from __future__ import annotations

from .arbiter import Arbiter, configure_logging
from .body import Body
from .settings import Settings
from .sockets import BindError
from .errors import ClientGone
from .transport import App, FastCGIRequest, Sink

__all__ = [
    "App", "Arbiter", "BindError", "Body", "ClientGone", "FastCGIRequest", "Settings", "Sink", "configure_logging",
]
