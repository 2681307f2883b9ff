"""mod_python calls that only work inside Apache: each exists here and fails the same clear way.

Rule: handler code written for mod_python may call any method mod_python documents. Where the call needs Apache's own
memory (its filter chains, the raw client connection, its parsed configuration, the C records behind `req`), the
daemon cannot answer it; the call still exists, writes one error-log line that names the call and says why, and
raises `SERVER_RETURN(HTTP_INTERNAL_SERVER_ERROR)`, so the request ends with Apache's 500 page as a handler's own
`raise apache.SERVER_RETURN(500)` would. An AttributeError would instead look like a bug in the handler.
"""
from __future__ import annotations

from typing import Callable, NoReturn

from .constants import APLOG_ERR, HTTP_INTERNAL_SERVER_ERROR
from .exceptions import SERVER_RETURN

# Why each kind of call needs Apache (the text of the log line).
FILTERS = "Apache's filters run inside Apache on data a FastCGI backend never holds"
CONNECTION_IO = "the client connection belongs to Apache; a FastCGI backend only sees the request"
RECORDS = "Apache's C records (request_rec, server_rec, conn_rec) live in Apache's memory"
CONFIG_TREE = "Apache's parsed configuration lives in Apache's memory"

_SUFFIX = "; this cannot work in the fcgi_handlers daemon, which runs outside Apache"


def out_of_process(log: Callable[[int, str], None], call: str, reason: str) -> NoReturn:
    """Log `call: reason` (one line, level error) and end the request with 500."""
    log(APLOG_ERR, f"{call}: {reason}{_SUFFIX}")
    raise SERVER_RETURN(HTTP_INTERNAL_SERVER_ERROR)


def describe(name: str, args: tuple[object, ...]) -> str:
    """How a call is named in the log line: `req.add_output_filter('DEFLATE')`."""
    return f"{name}({', '.join(repr(arg) for arg in args)})"
