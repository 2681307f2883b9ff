"""The request a handler thread is serving right now, for module-level APIs that take no `req`.

`mod_python.apache.log_error()` and `apache.register_cleanup()` are called without a request; mod_python answers them
from the interpreter's state inside Apache. Here the dispatcher sets this variable around each request, so such calls
reach the request's FastCGI stderr (Apache's error log) and the worker's state. A ContextVar, not a thread-local:
each pool thread (and any asyncio task a handler runs) sees its own request.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Optional

current_request: ContextVar[Optional[Any]] = ContextVar("fcgi_handlers_current_request", default=None)
