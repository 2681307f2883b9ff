"""The request layer: mod_python's request API built from FastCGI params, a body stream and a response sink.

No sockets here: the server layer passes in a body stream (`read`/`readline`) and a sink (`stdout(bytes)`), the
dispatch layer builds a `Request` per request and drives its `Response`.
"""

from .connection import Connection, Server
from .exceptions import SERVER_RETURN, InvalidResponseHeader
from .params import RequestPaths, decode_params, resolve_paths
from .request import Request
from .response import Response
from .table import make_table, table

__all__ = ["Connection", "InvalidResponseHeader", "Request", "RequestPaths", "Response", "SERVER_RETURN", "Server",
           "decode_params", "make_table", "resolve_paths", "table"]
