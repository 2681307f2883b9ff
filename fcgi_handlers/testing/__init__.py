"""Testing mod_python handlers: `Client` (in process, through the daemon's dispatcher), `HttpdServer` (real Apache
with the daemon, or with real mod_python), and the pytest plugin in `plugin` (fixtures `mp_client` and `httpd`).

Names are imported on first use, so loading the pytest plugin (which imports this package) stays cheap.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .blocks import ConfigError
    from .client import Client
    from .response import Headers, Response
    from .server import HttpClient, HttpdServer

__all__ = ["Client", "ConfigError", "Headers", "HttpClient", "HttpdServer", "Response"]

_HOMES = {"Client": "client", "ConfigError": "blocks", "Headers": "response", "Response": "response",
          "HttpClient": "server", "HttpdServer": "server"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
