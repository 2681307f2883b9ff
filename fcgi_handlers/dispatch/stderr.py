"""`sys.stderr` in a worker: what handler code writes there goes to Apache's error log, as under mod_python.

Apache points its own stderr at the main error log, so under mod_python `print(..., file=sys.stderr)` in a handler,
and `wsgi.errors` (which mod_python.wsgi sets to `sys.stderr`), land in the error log. In the daemon, the worker's
stderr is the daemon's own log; `RequestStderr` takes its place in each worker and sends every complete line written
while a request runs (the context's current request) to that request's error log over FCGI_STDERR; text written
outside a request (a thread a handler started, the daemon itself) still goes to the daemon's stderr. A partial
line waits for its end, per request; `flush()` sends it.
"""
from __future__ import annotations

import io
import sys
from typing import Optional, TextIO

from ..request.constants import APLOG_ERR
from ..request.context import current_request

_PENDING = "fcgi_stderr_pending"   # the request attribute holding its unfinished line


class RequestStderr(io.TextIOBase):
    """A text stream: lines go to the current request's error log, else to `fallback`."""

    def __init__(self, fallback: TextIO) -> None:
        super().__init__()
        self.fallback = fallback

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.fallback, "encoding", "utf-8") or "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        req = current_request.get()
        if req is None:
            return self.fallback.write(text)
        lines = (getattr(req, _PENDING, "") + text).split("\n")
        setattr(req, _PENDING, lines.pop())
        for line in lines:
            req.log_error(line, APLOG_ERR)
        return len(text)

    def flush(self) -> None:
        req = current_request.get()
        if req is None:
            self.fallback.flush()
            return
        pending: str = getattr(req, _PENDING, "")
        if pending:
            setattr(req, _PENDING, "")
            req.log_error(pending, APLOG_ERR)

    def fileno(self) -> int:
        return self.fallback.fileno()


def capture(stream: Optional[TextIO] = None) -> RequestStderr:
    """Make `sys.stderr` a RequestStderr over the current one (idempotent); returns it. Called once per worker."""
    current = sys.stderr if stream is None else stream
    if isinstance(current, RequestStderr):
        return current
    sys.stderr = RequestStderr(current)
    return sys.stderr
