"""mod_python's `req.connection` and `req.server` objects, built from the params Apache sends for one request.

Rule: every attribute mod_python 3.5 exposes on `mp_conn` and `mp_server` (§3.3, §3.4) exists, declared as table rows
like the request's. Addresses, names and the admin address come from params (REMOTE_ADDR/PORT, SERVER_ADDR/PORT,
SERVER_NAME, SERVER_ADMIN); what Apache does not send (timeouts, request limits, config file positions) takes the
value mod_python reports on a stock Apache 2.4.71 (observed), and the daemon may override any row through
`overrides`. Known differences: `server.port` is SERVER_PORT (mod_python reports the vhost's configured port, usually
0), `connection.local_addr`'s port is SERVER_PORT too (the port Apache was reached on is not sent), and the
connection-handler I/O methods (`read`, `readline`, `write`) exist but end the request with 500 and a log line
(`outside.py`), as no client connection reaches the daemon.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, List, Mapping, Optional, Tuple

from .attributes import attribute, integer, param
from .constants import AP_CONN_UNKNOWN, APLOG_ERR, APLOG_WARNING
from .outside import CONNECTION_IO, describe, out_of_process
from .params import optional_int
from .table import table

LogFunc = Callable[[int, str], None]
"""`log(level, message)`: level is an APLOG_* number; the server layer sends the message to FCGI_STDERR."""

Cleanup = Tuple[Callable[[Any], object], Any]
"""A registered cleanup: called as `callable(data)`."""

_LOGGING_LEVELS = (logging.CRITICAL, logging.CRITICAL, logging.CRITICAL, logging.ERROR, logging.WARNING,
                   logging.INFO, logging.INFO, logging.DEBUG)


def default_log(level: int, message: str) -> None:
    """Log through Python's logging when no log callable was given (tests, tools)."""
    logging.getLogger("fcgi_handlers.request").log(_LOGGING_LEVELS[level & 7], message)


def log_level(level: object) -> int:
    """log_error()'s level: an int; flag bits above the APLOG_* number (APLOG_NOERRNO, ...) are dropped."""
    return integer(level) & 7


def log_message(message: object) -> str:
    """log_error()'s argument: str only, as mod_python's `s` format."""
    if not isinstance(message, str):
        raise TypeError(f"argument 1 must be str, not {type(message).__name__}")
    return message


def _preset(owner: object) -> Any:
    # Rows filled by the constructor; reaching here means the object was built without them.
    raise AttributeError("value is set when the object is built")


def _address(host: Optional[str], port: Optional[str]) -> Optional[Tuple[str, int]]:
    return None if host is None else (host, optional_int(port) or 0)


class Server:
    """`req.server`: the virtual host's view, from SERVER_NAME/SERVER_PORT/SERVER_ADMIN plus documented defaults."""

    _mp_type_name = "mp_server"

    server_hostname = attribute[Optional[str]](param("SERVER_NAME"))
    server_admin = attribute[Optional[str]](param("SERVER_ADMIN"))
    port = attribute[int](lambda s: optional_int(s.fcgi_params.get("SERVER_PORT")) or 0, doc="SERVER_PORT as int")
    defn_name = attribute[Optional[str]](lambda s: None, doc="None (config file not known out of process)")
    defn_line_number = attribute[int](lambda s: 0)
    names = attribute[Tuple[str, ...]](lambda s: ())
    wild_names = attribute[Tuple[str, ...]](lambda s: ())
    error_fname = attribute[Optional[str]](lambda s: None)
    loglevel = attribute[int](lambda s: APLOG_WARNING, doc="Apache's default LogLevel warn")
    is_virtual = attribute[int](lambda s: 0)
    timeout = attribute[float](lambda s: 60.0, doc="Apache's default Timeout")
    keep_alive_timeout = attribute[float](lambda s: 5.0)
    keep_alive_max = attribute[int](lambda s: 100)
    keep_alive = attribute[int](lambda s: 1)
    path = attribute[Optional[str]](lambda s: None)
    pathlen = attribute[int](lambda s: 0)
    limit_req_line = attribute[int](lambda s: 8190)
    limit_req_fieldsize = attribute[int](lambda s: 8190)
    limit_req_fields = attribute[int](lambda s: 100)
    next = attribute[Optional["Server"]](lambda s: None)
    my_generation = attribute[int](lambda s: 0)
    restart_time = attribute[float](_preset, doc="when the daemon started")

    def __init__(self, params: Mapping[str, str], *, config: Optional[table] = None,
                 options: Optional[table] = None, log: Optional[LogFunc] = None,
                 child_cleanups: Optional[List[Cleanup]] = None, restart_time: Optional[float] = None,
                 overrides: Optional[Mapping[str, object]] = None) -> None:
        self.fcgi_params = params
        self._values: dict[str, object] = {"restart_time": time.time() if restart_time is None else restart_time}
        self._values.update(overrides or {})
        self._config = config if config is not None else table()
        self._options = options if options is not None else table()
        self._log = log or default_log
        self.fcgi_child_cleanups: List[Cleanup] = child_cleanups if child_cleanups is not None else []

    def get_config(self) -> table:
        """Server-scope directives (a copy: handler code cannot change the daemon's configuration)."""
        return self._config.copy()

    def get_options(self) -> table:
        """Server-scope PythonOption values (a copy)."""
        return self._options.copy()

    def log_error(self, message: str, level: int = APLOG_ERR) -> None:
        """Write `message` to Apache's error log (through the daemon's log callable)."""
        self._log(log_level(level), log_message(message))

    def register_cleanup(self, req: object, callback: Callable[[Any], object], data: Any = None) -> None:
        """Run `callback(data)` when the worker process exits; `req` is accepted as in mod_python and unused."""
        if not callable(callback):
            raise ValueError("second argument must be a callable object")
        self.fcgi_child_cleanups.append((callback, data))


class Connection:
    """`req.connection`: client and local addresses from REMOTE_ADDR/REMOTE_PORT and SERVER_ADDR/SERVER_PORT."""

    _mp_type_name = "mp_conn"

    base_server = attribute[Server](_preset)
    local_addr = attribute[Optional[Tuple[str, int]]](
        lambda c: _address(c.fcgi_params.get("SERVER_ADDR"), c.fcgi_params.get("SERVER_PORT")),
        doc="(SERVER_ADDR, SERVER_PORT)")
    local_ip = attribute[Optional[str]](param("SERVER_ADDR"))
    local_host = attribute[Optional[str]](lambda c: None)
    client_addr = attribute[Optional[Tuple[str, int]]](
        lambda c: _address(c.fcgi_params.get("REMOTE_ADDR"), c.fcgi_params.get("REMOTE_PORT")),
        doc="(REMOTE_ADDR, REMOTE_PORT)")
    client_ip = attribute[Optional[str]](param("REMOTE_ADDR"))
    remote_host = attribute[Optional[str]](param("REMOTE_HOST"))
    remote_logname = attribute[Optional[str]](param("REMOTE_IDENT"))
    aborted = attribute[int](lambda c: 0, doc="1 once a write to the client failed")
    keepalive = attribute[int](lambda c: AP_CONN_UNKNOWN, writable=integer)
    double_reverse = attribute[int](lambda c: 0)
    keepalives = attribute[int](lambda c: 0)
    id = attribute[int](_preset)
    notes = attribute[table](lambda c: table())
    hlist = attribute[object](lambda c: None, doc="None: the connection handler's list (no connection handler runs)")

    def __init__(self, params: Mapping[str, str], server: Server, *, id: int = 0,  # noqa: A002 - mod_python's name
                 log: Optional[LogFunc] = None) -> None:
        self.fcgi_params = params
        self._values: dict[str, object] = {"base_server": server, "id": id}
        self._log = log or default_log

    @property
    def remote_addr(self) -> Optional[Tuple[str, int]]:
        """Deprecated alias of client_addr; mod_python logs a warning on every access."""
        self._log(APLOG_WARNING, "mod_python: remote_addr is deprecated, use client_addr instead")
        return self.client_addr

    @property
    def remote_ip(self) -> Optional[str]:
        """Deprecated alias of client_ip; mod_python logs a warning on every access."""
        self._log(APLOG_WARNING, "mod_python: remote_ip is deprecated, use client_ip instead")
        return self.client_ip

    def log_error(self, message: str, level: int = APLOG_ERR) -> None:
        """Write `message` to Apache's error log (through the daemon's log callable)."""
        self._log(log_level(level), log_message(message))

    # The connection handler's I/O: Apache's, never the backend's (outside.py: 500 and one log line).
    def read(self, length: int = -1) -> bytes:
        """Connection handlers only: 500 with one error-log line in the daemon (outside.py)."""
        out_of_process(self._log, describe("req.connection.read", (length,)), CONNECTION_IO)

    def readline(self, length: int = -1) -> bytes:
        """Connection handlers only: 500 with one error-log line in the daemon (outside.py)."""
        out_of_process(self._log, describe("req.connection.readline", (length,)), CONNECTION_IO)

    def write(self, data: object) -> None:
        """Connection handlers only: 500 with one error-log line in the daemon (outside.py)."""
        out_of_process(self._log, "req.connection.write(...)", CONNECTION_IO)

    def fcgi_mark_aborted(self) -> None:
        """For the request object: a write to the client failed."""
        self._values["aborted"] = 1
