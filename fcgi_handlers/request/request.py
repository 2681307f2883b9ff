"""mod_python's request object (`req`), built from FastCGI params, a body stream and a Response.

Rule: handler code sees mod_python 3.5's `mp_request` (`reference/mod_python-behaviour.md` §3.2): the same attribute
names, types, read-only/writable split and method signatures, with values derived from the params Apache sends
(`params.py`) instead of a `request_rec`. Attributes are declared below as one table of rows (name = source,
writable converter); response state (status, headers_out, content_type, ...) lives on the Response and is delegated.
This layer does no socket I/O: the body stream and the Response's sink are passed in, so tests build a request from
a dict, an io.BytesIO and a list.

Differences forced by running out of process, all documented on the member concerned: content_type starts as None
(mod_mime's guess is not sent), auth_name()/auth_type() come from the daemon's config table, finfo is the daemon's own
stat (None outside the document root: finfo.py), get_remote_host() does no DNS lookup, a chunked request body is read to
its end (mod_python raises SERVER_RETURN(411); Apache has already de-chunked it). The methods that need the phase
machinery (add_handler, internal_redirect, requires) are the dispatch layer's; the filter methods exist and fail with
500 and one log line (outside.py).
"""

from __future__ import annotations

import base64
import os
import re
import time
from email.utils import formatdate, parsedate_to_datetime
from types import MappingProxyType
from typing import Any, Callable, List, Mapping, Optional, Protocol, Tuple

from .attributes import anything, attribute, delegated, integer, optional_text, param, text
from .connection import Cleanup, Connection, LogFunc, Server, default_log, log_level, log_message
from .constants import (AP_REQ_DEFAULT_PATH_INFO, APLOG_ERR, HTTP_NOT_MODIFIED, HTTP_PRECONDITION_FAILED, M_INVALID,
                        METHOD_NUMBERS, OK, REMOTE_HOST, REMOTE_NAME, REMOTE_NOLOOKUP, REQUEST_CHUNKED_ERROR,
                        REQUEST_NO_BODY)
from .finfo import file_info
from .outside import FILTERS, describe, out_of_process
from .params import (CGI_VARIABLES, COMMON_VARIABLES, ParsedUri, PathMode, RequestPaths, environment_pairs,
                     optional_int, parsed_uri, protocol_number, request_args, request_header_pairs, request_hostname,
                     resolve_paths)
from .response import Response, Sink
from .table import table

SENDFILE_CHUNK = 65536
_BASE64_PREFIX = re.compile(r"[A-Za-z0-9+/]*")


class BodyStream(Protocol):
    """The request body as the server layer provides it (reads FCGI_STDIN on demand)."""

    def read(self, size: int = -1) -> bytes: ...

    def readline(self, size: int = -1) -> bytes: ...


def _preset(req: object) -> Any:
    # Rows the constructor fills (request_time, phase, connection, ...).
    raise AttributeError("value is set when the request is built")


def _initial_environment(req: Request) -> table:
    # What mod_python's subprocess_env holds before add_common_vars()/add_cgi_vars() (params.environment_pairs).
    return table._from_trusted(environment_pairs(req.fcgi_params))


def _body_end_seen(req: Request) -> bool:
    length = optional_int(req.fcgi_params.get("CONTENT_LENGTH")) or 0
    return req._bytes_read >= length or req._body_exhausted


class Request:
    """`req`: see the module docstring. Built by the dispatcher once per request."""

    _mp_type_name = "mp_request"

    # --- the request line -----------------------------------------------------------------------------------------
    the_request = attribute[str](lambda r: f"{r.method} {r.unparsed_uri} {r.protocol}",
                                 doc="REQUEST_METHOD REQUEST_URI SERVER_PROTOCOL")
    method = attribute[str](param("REQUEST_METHOD", "GET"))
    method_number = attribute[int](lambda r: METHOD_NUMBERS.get(r.method, M_INVALID), doc="M_* of the method")
    protocol = attribute[str](param("SERVER_PROTOCOL", "HTTP/1.1"))
    proto_num = attribute[int](lambda r: protocol_number(r.protocol), doc="SERVER_PROTOCOL as major*1000+minor")
    header_only = attribute[int](lambda r: int(r.method == "HEAD"), doc="1 for HEAD")
    hostname = attribute[Optional[str]](lambda r: request_hostname(r.fcgi_params), doc="Host name, else SERVER_NAME")
    request_time = attribute[float](_preset, doc="when the daemon received the request")
    unparsed_uri = attribute[str](lambda r: r.fcgi_params.get("REQUEST_URI", r.fcgi_paths.uri), doc="REQUEST_URI")
    parsed_uri = attribute[ParsedUri](
        lambda r: parsed_uri(r.fcgi_params, r.fcgi_paths.uri, request_args(r.fcgi_params)),
        doc="REQUEST_URI parts, decoded path, HTTP_HOST port")

    # --- paths (resolve_paths: <Location>- or <Directory>-like) ---------------------------------------------------
    uri = attribute[str](lambda r: r.fcgi_paths.uri, writable=text, doc="SCRIPT_NAME + PATH_INFO")
    filename = attribute[Optional[str]](lambda r: r.fcgi_paths.filename, writable=text,
                                        doc="SCRIPT_FILENAME path (Directory mode), else None")
    canonical_filename = attribute[Optional[str]](lambda r: r.fcgi_paths.filename, writable=text, doc="= filename")
    path_info = attribute[Optional[str]](lambda r: r.fcgi_paths.path_info, writable=text,
                                         doc="PATH_INFO or '' (Directory mode), else None")
    used_path_info = attribute[int](lambda r: AP_REQ_DEFAULT_PATH_INFO, writable=integer)
    args = attribute[Optional[str]](lambda r: request_args(r.fcgi_params), writable=optional_text,
                                    doc="QUERY_STRING; None without '?' in REQUEST_URI")

    # --- tables ---------------------------------------------------------------------------------------------------
    headers_in = attribute[table](lambda r: table._from_trusted(request_header_pairs(r.fcgi_params)),
                                  doc="HTTP_* + CONTENT_TYPE/CONTENT_LENGTH, Title-Case names")
    headers_out = delegated[table]("_response")
    err_headers_out = delegated[table]("_response")
    subprocess_env = attribute[table](_initial_environment,
                                      doc="SetEnv/SetEnvIf variables; add_common_vars()/add_cgi_vars() add the rest")
    notes = attribute[table](lambda r: r._new_notes(), doc="empty but for the daemon's own (fcgi_set_note)")

    # --- response state (on the Response) -------------------------------------------------------------------------
    status = delegated[int]("_response", writable=True)
    status_line = delegated[Optional[str]]("_response", writable=True)
    content_type = delegated[Optional[str]]("_response", writable=True)
    no_cache = delegated[int]("_response", writable=True)
    _content_type_set = attribute[int](lambda r: r._response.content_type_set, cached=False)
    _bytes_queued = attribute[int](lambda r: r._response.buffered, cached=False)
    bytes_sent = attribute[int](lambda r: r._response.bytes_sent, cached=False)
    sent_bodyct = attribute[int](lambda r: int(r._response.headers_sent), cached=False)
    eos_sent = attribute[int](lambda r: int(r._response.finished), cached=False)
    clength = attribute[int](lambda r: r._response.clength, cached=False)
    allowed = attribute[int](lambda r: 0, doc="0: allow_methods() fills allowed_methods, not this bitmask")
    allowed_xmethods = attribute[Tuple[str, ...]](lambda r: ())
    allowed_methods = attribute[Tuple[str, ...]](
        lambda r: tuple(name for name in r._response.allow_list if name not in METHOD_NUMBERS), cached=False,
        doc="extension methods given to allow_methods()")

    # --- authentication -------------------------------------------------------------------------------------------
    user = attribute[Optional[str]](param("REMOTE_USER"), writable=text)
    ap_auth_type = attribute[Optional[str]](param("AUTH_TYPE"), writable=text)

    # --- body -----------------------------------------------------------------------------------------------------
    remaining = attribute[int](lambda r: r._body_remaining(), cached=False,
                               doc="0 before the first read, CONTENT_LENGTH until the body's end, then 0")
    read_length = attribute[int](lambda r: r._bytes_read, cached=False)
    read_body = attribute[int](lambda r: r._read_policy, cached=False)
    read_chunked = attribute[int](
        lambda r: int("chunked" in r.fcgi_params.get("HTTP_TRANSFER_ENCODING", "").lower()),
        doc="HTTP_TRANSFER_ENCODING is chunked")
    expecting_100 = attribute[int](lambda r: 0, doc="0: Apache answers Expect: 100-continue itself")
    range = attribute[Optional[str]](param("HTTP_RANGE"))

    # --- content metadata and flags -------------------------------------------------------------------------------
    content_encoding = attribute[Optional[str]](lambda r: None)
    content_languages = attribute[Tuple[str, ...]](lambda r: ())
    vlist_validator = attribute[Optional[str]](lambda r: None)
    mtime = attribute[float](lambda r: 0.0, doc="0.0 until update_mtime()")
    finfo = attribute[object](lambda r: file_info(r.fcgi_paths.filename, r.fcgi_params), writable=anything,
                              doc="stat of the mapped file inside the document root (finfo.py), else None")
    handler = attribute[Optional[str]](lambda r: "mod_python", writable=optional_text)
    assbackwards = attribute[int](lambda r: 0, writable=integer)
    proxyreq = attribute[int](lambda r: 0, writable=integer)
    chunked = attribute[int](lambda r: r._response_chunked(), writable=integer, cached=False,
                             doc="1 once the headers went out on HTTP/1.1 without Content-Length")
    no_local_copy = attribute[int](lambda r: 0, writable=integer)
    useragent_addr = attribute[Optional[Tuple[str, int]]](lambda r: r.connection.client_addr,
                                                          doc="(REMOTE_ADDR, REMOTE_PORT)")
    useragent_ip = attribute[Optional[str]](param("REMOTE_ADDR"))

    # --- set by the constructor / the dispatcher ------------------------------------------------------------------
    # Built on first use (most handlers never look at them): see _new_server / _new_connection.
    connection = attribute[Connection](lambda r: r._new_connection())
    server = attribute[Server](lambda r: r._new_server())
    phase = attribute[str](_preset, doc="the running phase, e.g. PythonHandler (dispatcher)")
    interpreter = attribute[str](_preset, doc="interpreter name (dispatcher); default server_hostname")
    extension = attribute[Optional[str]](_preset, doc="matched `| .ext` (dispatcher)")
    hlist = attribute[object](lambda r: r._fcgi_hlist(), cached=False, doc="the handler list (dispatcher)")
    main = attribute[Optional["Request"]](_preset)
    prev = attribute[Optional["Request"]](_preset)
    next = attribute[Optional["Request"]](_preset)

    FCGI_DISPATCHER_OWNED = frozenset({"phase", "interpreter", "extension", "hlist", "main", "prev", "next"})

    def __init__(self, params: Mapping[str, str], body: Optional[BodyStream], response: Response, *,
                 options: Optional[table] = None, config: Optional[table] = None,
                 server: Optional[Server] = None, connection: Optional[Connection] = None,
                 phase: str = "PythonHandler", interpreter: Optional[str] = None,
                 log: Optional[LogFunc] = None, path_mode: PathMode = "auto",
                 request_time: Optional[float] = None) -> None:
        self._params: Mapping[str, str] = MappingProxyType(dict(params))
        self._body = body
        self._response = response
        self._options = options if options is not None else table()
        self._config = config if config is not None else table()
        self._log: LogFunc = log or default_log
        self._path_mode: PathMode = path_mode
        self._paths: Optional[RequestPaths] = None
        self._bytes_read = 0
        self._read_policy = REQUEST_NO_BODY
        self._body_exhausted = False
        self.fcgi_cleanups: List[Cleanup] = []
        self._daemon_notes: List[tuple[str, str]] = []  # notes set before req.notes exists (fcgi_set_note)
        self._values: dict[str, object] = {
            "request_time": time.time() if request_time is None else request_time,
            "phase": phase,
            "interpreter": interpreter or (server.server_hostname if server is not None
                                           else self._params.get("SERVER_NAME")) or "main_interpreter",
            "extension": None, "main": None, "prev": None, "next": None,
        }
        if server is not None:
            self._values["server"] = server
        if connection is not None:
            self._values["connection"] = connection

    def _new_server(self) -> Server:
        """req.server when none was given: the request's params, config and options tables and log."""
        return Server(self._params, config=self._config, options=self._options, log=self._log)

    def _new_connection(self) -> Connection:
        """req.connection when none was given: over req.server, so connection.base_server is req.server."""
        return Connection(self._params, self.server, log=self._log)

    def _fcgi_hlist(self) -> object:
        """req.hlist when the dispatcher set none (fcgi_set): the dispatch layer's request computes it on demand."""
        return None

    def fcgi_set_note(self, name: str, value: str) -> None:
        """Set a note the daemon itself makes (trusted text: no Latin-1 check, which handler values get)."""
        notes = self._values.get("notes")
        if isinstance(notes, table):
            notes._set(name, [value])
        else:  # most handlers never read req.notes: the table is made on first use
            self._daemon_notes.append((name, value))

    def _new_notes(self) -> table:
        notes = table()
        for name, value in self._daemon_notes:
            notes._set(name, [value])
        return notes

    @classmethod
    def from_sink(cls, params: Mapping[str, str], body: Optional[BodyStream], sink: Sink, **options: Any) -> Request:
        """Build the Response too (header_only for HEAD, same request_time), then the request."""
        request_time = options.pop("request_time", None) or time.time()
        response = Response(sink, params.get("REQUEST_METHOD") == "HEAD", request_time=request_time)
        return cls(params, body, response, request_time=request_time, **options)

    # --- for the dispatch layer (not mod_python API) --------------------------------------------------------------
    @property
    def fcgi_params(self) -> Mapping[str, str]:
        """The decoded FastCGI params, read-only."""
        return self._params

    @property
    def fcgi_response(self) -> Response:
        """The Response this request writes to (finish() / send_error() / headers_sent)."""
        return self._response

    @property
    def fcgi_paths(self) -> RequestPaths:
        """uri/filename/path_info as derived from the params at the start (see params.resolve_paths)."""
        if self._paths is None:
            self._paths = resolve_paths(self._params, self._path_mode)
        return self._paths

    def fcgi_set(self, name: str, value: object) -> None:
        """Set a read-only attribute the dispatcher owns: phase, interpreter, extension, hlist, main, prev, next."""
        if name not in self.FCGI_DISPATCHER_OWNED:
            raise AttributeError(f"{name!r} is not set by the dispatcher")
        self._values[name] = value

    # --- body -----------------------------------------------------------------------------------------------------
    def _body_remaining(self) -> int:
        # Apache's r->remaining as mod_python reads it: 0 until the first read sets the body up
        # (ap_setup_client_block), CONTENT_LENGTH from then on, 0 again once the end of the body has been read.
        if self._read_policy == REQUEST_NO_BODY or _body_end_seen(self):
            return 0
        return optional_int(self._params.get("CONTENT_LENGTH")) or 0

    def _response_chunked(self) -> int:
        # Apache's r->chunked: ap_set_keepalive() sets it when the headers go out on HTTP/1.1 with no
        # Content-Length for a response that has a body (before it looks at the client's Connection header).
        # An assigned req.chunked is stored and read instead (attribute rows).
        response = self._response
        has_body = not self.header_only and self.status not in (204, 304)
        return int(response.headers_sent and self.proto_num >= 1001 and has_body
                   and "Content-Length" not in response.headers_out)

    def _consumed(self, data: bytes, wanted: int = -1) -> bytes:
        self._read_policy = REQUEST_CHUNKED_ERROR
        self._bytes_read += len(data)
        if wanted < 0 or len(data) < wanted:
            self._body_exhausted = True  # a read to the end, or a short one: the end of the body was seen
        return data

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the body (all of it when `size` is negative or omitted)."""
        if self._body is None:
            return self._consumed(b"")
        if size is None or size < 0:
            return self._consumed(self._body.read(-1))
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:  # a stream may return short reads before EOF; mod_python fills the request
            chunk = self._body.read(wanted)
            if not chunk:
                break
            parts.append(chunk)
            wanted -= len(chunk)
        return self._consumed(b"".join(parts), size)

    def readline(self, size: int = -1) -> bytes:
        """One line of the body, at most `size` bytes."""
        if self._body is None:
            return self._consumed(b"")
        return self._consumed(self._body.readline(-1 if size is None else size))

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        """The remaining lines; stop once `sizehint` bytes were read when it is positive."""
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < sizehint <= total:
                return lines

    def discard_request_body(self) -> int:
        """Read and drop the rest of the body; returns OK."""
        while self.read(SENDFILE_CHUNK):
            pass
        return OK

    # --- output ---------------------------------------------------------------------------------------------------
    def write(self, data: object, flush: int = 1) -> None:
        """Send `data` (str as UTF-8); headers go out with the first flushed write. IOError if the client is gone."""
        try:
            self._response.write(data, flush)
        except OSError:
            self.connection.fcgi_mark_aborted()
            raise

    def flush(self) -> None:
        """Send the headers (if not sent yet) and everything written with flush=0."""
        try:
            self._response.flush()
        except OSError:
            self.connection.fcgi_mark_aborted()
            raise

    def send_http_header(self) -> None:
        """A no-op kept by mod_python for old code: headers go out with the first flushed write."""
        return None

    def set_content_length(self, length: int) -> None:
        """Set `Content-Length` (honoured by Apache >= 2.4.59 only with ap_trust_cgilike_cl)."""
        self._response.set_content_length(length)

    def sendfile(self, path: str, offset: int = 0, len: int = -1) -> int:  # noqa: A002 - mod_python's name
        """Send `len` bytes (all when -1) of the file at `path` from `offset`; returns the number of bytes sent."""
        try:
            handle = open(path, "rb")
        except OSError as error:
            raise OSError(f"Could not open file for reading: {path}") from error
        sent = 0
        with handle:
            handle.seek(offset)
            while len < 0 or sent < len:
                chunk = handle.read(SENDFILE_CHUNK if len < 0 else min(SENDFILE_CHUNK, len - sent))
                if not chunk:
                    break
                self.write(chunk, 0)
                sent += chunk.__len__()
        self.flush()
        return sent

    def allow_methods(self, methods: List[str], reset: int = 0) -> None:
        """Methods for the `Allow` header of a 405/501 error response (e.g. `Allow: HEAD,GET,POST,TRACE`)."""
        self._response.allow_methods(methods, reset)

    # --- Apache's filters (outside.py: they exist, and fail with 500 and one log line) ---------------------------
    def add_input_filter(self, filter_name: str) -> None:
        """Apache's filters cannot run in the daemon: 500 with one error-log line (outside.py)."""
        out_of_process(self._log, describe("req.add_input_filter", (filter_name,)), FILTERS)

    def add_output_filter(self, filter_name: str) -> None:
        """Apache's filters cannot run in the daemon: 500 with one error-log line (outside.py)."""
        out_of_process(self._log, describe("req.add_output_filter", (filter_name,)), FILTERS)

    def register_input_filter(self, filter_name: str, filter: str, dir: Optional[str] = None) -> None:  # noqa: A002
        """Apache's filters cannot run in the daemon: 500 with one error-log line (outside.py)."""
        out_of_process(self._log, describe("req.register_input_filter", (filter_name, filter)), FILTERS)

    def register_output_filter(self, filter_name: str, filter: str, dir: Optional[str] = None) -> None:  # noqa: A002
        """Apache's filters cannot run in the daemon: 500 with one error-log line (outside.py)."""
        out_of_process(self._log, describe("req.register_output_filter", (filter_name, filter)), FILTERS)

    # --- configuration --------------------------------------------------------------------------------------------
    def get_config(self) -> table:
        """Python* directives in effect (flags as "1"/"0"); a copy."""
        return self._config.copy()

    def get_options(self) -> table:
        """PythonOption values in effect; a copy."""
        return self._options.copy()

    def auth_name(self) -> Optional[str]:
        """AuthName from the daemon's config table (Apache does not send it), or None."""
        return self._config.get("AuthName")

    def auth_type(self) -> Optional[str]:
        """AuthType from the daemon's config table (Apache does not send it), or None."""
        return self._config.get("AuthType")

    def document_root(self) -> str:
        """DOCUMENT_ROOT."""
        return self._params.get("DOCUMENT_ROOT", "")

    def register_cleanup(self, callback: Callable[[Any], object], data: Any = None) -> None:
        """Call `callback(data)` when the request ends (the dispatcher runs `fcgi_cleanups`)."""
        if not callable(callback):
            raise ValueError("first argument must be a callable object")
        self.fcgi_cleanups.append((callback, data))

    def log_error(self, message: str, level: int = APLOG_ERR) -> None:
        """Write `message` to Apache's error log (the daemon sends it as FCGI_STDERR)."""
        self._log(log_level(level), log_message(message))

    # --- client and connection ------------------------------------------------------------------------------------
    def get_basic_auth_pw(self) -> Optional[str]:
        """The Basic password (Latin-1) from `Authorization`, setting req.user and req.ap_auth_type; else None.

        Apache sends Authorization only with `CGIPassAuth On`. As ap_get_basic_auth_pw(), another configured
        AuthType or another scheme gives None, a missing colon gives an empty password, and the base64 is decoded
        up to its first invalid character.
        """
        configured = self.auth_type()
        header = self.headers_in.get("Authorization")
        if (configured is not None and configured.lower() != "basic") or not header:
            return None
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        encoded = _BASE64_PREFIX.match(credentials.strip())
        usable = encoded.group(0) if encoded else ""
        if len(usable) % 4 == 1:
            usable = usable[:-1]  # a lone trailing sextet carries no whole byte
        decoded = base64.b64decode(usable + "=" * (-len(usable) % 4)).decode("latin-1")
        user, _, password = decoded.partition(":")
        self.user = user
        self.ap_auth_type = "Basic"
        return password

    def construct_url(self, uri: str) -> str:
        """`scheme://SERVER_NAME[:SERVER_PORT]uri`, the port left out when it is the scheme's default."""
        scheme = self._params.get("REQUEST_SCHEME") or ("https" if self.is_https() else "http")
        host = self._params.get("SERVER_NAME") or self.hostname or ""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        port = optional_int(self._params.get("SERVER_PORT"))
        default_port = 443 if scheme == "https" else 80
        return f"{scheme}://{host}{'' if not port or port == default_port else f':{port}'}{uri}"

    def get_remote_host(self, type: int = REMOTE_NAME, str_is_ip: Any = None) -> Any:  # noqa: A002 - mod_python's name
        """The client's name (REMOTE_HOST, sent with HostnameLookups On) or IP; no DNS lookup is done here.

        REMOTE_HOST gives None without a name; REMOTE_NAME and REMOTE_DOUBLE_REV fall back to the IP;
        REMOTE_NOLOOKUP always gives the IP. With `str_is_ip` given, returns `(host, is_ip)`.
        """
        name = self._params.get("REMOTE_HOST")
        result: Optional[str]
        if type != REMOTE_NOLOOKUP and name:
            result, is_ip = name, 0
        elif type == REMOTE_HOST:
            result, is_ip = None, 0
        else:
            result, is_ip = self._params.get("REMOTE_ADDR"), 1
        return (result, is_ip) if str_is_ip is not None else result

    def is_https(self) -> int:
        """1 when mod_ssl set HTTPS=on."""
        return int(self._params.get("HTTPS", "").lower() == "on")

    def ssl_var_lookup(self, name: str) -> Optional[str]:
        """An SSL_* variable, when Apache sends them (SSLOptions +StdEnvVars), else None."""
        return self._params.get(name) if name.startswith("SSL_") or name == "HTTPS" else None

    # --- environment ----------------------------------------------------------------------------------------------
    def add_common_vars(self) -> None:
        """Add the request headers (HTTP_*) and Apache's common variables (SERVER_*, REMOTE_*, DOCUMENT_ROOT, ...)
        to subprocess_env, replacing what is there, as Apache's ap_add_common_vars() does."""
        env = self.subprocess_env
        for name, value in self._params.items():
            if name.startswith("HTTP_") or (name in COMMON_VARIABLES and name != "SCRIPT_FILENAME"):
                env._set(name, [value])  # Apache's values, already decoded: no Latin-1 check (as _from_trusted)
        if self.filename is not None:
            env._set("SCRIPT_FILENAME", [self.filename])  # req.filename, never mod_proxy_fcgi's proxy:fcgi:// URL

    def add_cgi_vars(self) -> None:
        """add_common_vars(), then the CGI variables (GATEWAY_INTERFACE, REQUEST_URI, SCRIPT_NAME, PATH_INFO, ...),
        as mod_python's add_cgi_vars() does; REQUEST_URI is the request line's path without the query, as Apache's
        ap_add_cgi_vars() sets it."""
        self.add_common_vars()
        env = self.subprocess_env
        for name in CGI_VARIABLES:
            if name in self._params and name != "SCRIPT_FILENAME":
                env._set(name, [self._params[name]])
        if "REQUEST_URI" in self._params:
            env._set("REQUEST_URI", [self._params["REQUEST_URI"].split("?", 1)[0]])

    # --- conditional requests -------------------------------------------------------------------------------------
    def update_mtime(self, mtime: float) -> None:
        """Raise req.mtime to `mtime` (seconds) if it is newer."""
        self._values["mtime"] = max(self.mtime, float(mtime))

    def set_etag(self) -> None:
        """`ETag` as Apache's ap_set_etag() makes it with the default `FileETag MTime Size`: `"<size>-<mtime>"` (hex,
        mtime in microseconds) from the mapped file's stat, `"<req.mtime>"` without a file; weak (`W/`) when the
        modification time is within a second of the request time."""
        mtime_us = int(self.mtime * 1_000_000)
        weak = "" if self.request_time - self.mtime > 1 else "W/"
        info = self.finfo
        if info is None:
            self.headers_out["ETag"] = f'{weak}"{mtime_us:x}"'
            return
        size, file_us = getattr(info, "size", 0), int(getattr(info, "mtime", 0)) * 1_000_000
        try:
            stamp = os.stat(getattr(info, "fname"))
            size, file_us = stamp.st_size, stamp.st_mtime_ns // 1000
        except (OSError, TypeError):
            pass  # a finfo the handler assigned: its own (whole-second) values
        self.headers_out["ETag"] = f'{weak}"{size:x}-{file_us:x}"'

    def set_last_modified(self) -> None:
        """`Last-Modified` from req.mtime, never later than the request time."""
        self.headers_out["Last-Modified"] = formatdate(min(self.mtime, self.request_time), usegmt=True)

    def meets_conditions(self) -> int:
        """ap_meets_conditions(): OK, or 304/412 from If-Match, If-Unmodified-Since, If-None-Match and
        If-Modified-Since against headers_out's ETag and req.mtime (the request time when mtime is unset)."""
        if not 200 <= self.status < 300 or self.no_local_copy:
            return OK
        etag = self.headers_out.get("ETag")
        mtime = self.mtime or self.request_time
        if_match = self.headers_in.get("If-Match")
        if if_match is not None and not _etag_matches(if_match, etag, weak=False):
            return HTTP_PRECONDITION_FAILED
        unmodified = _http_date(self.headers_in.get("If-Unmodified-Since"))
        if if_match is None and unmodified is not None and mtime > unmodified:
            return HTTP_PRECONDITION_FAILED
        if_none_match = self.headers_in.get("If-None-Match")
        safe = self.method in ("GET", "HEAD")
        if if_none_match is not None:
            if _etag_matches(if_none_match, etag, weak=safe):
                return HTTP_NOT_MODIFIED if safe else HTTP_PRECONDITION_FAILED
            return OK
        modified = _http_date(self.headers_in.get("If-Modified-Since"))
        if safe and modified is not None and mtime <= modified <= self.request_time:
            return HTTP_NOT_MODIFIED
        return OK


def _etag_matches(condition: str, etag: Optional[str], *, weak: bool) -> bool:
    if condition.strip() == "*":
        return True  # "*" matches whatever representation the handler is about to send
    if etag is None or (not weak and etag.startswith("W/")):
        return False
    wanted = etag[2:] if weak and etag.startswith("W/") else etag
    for candidate in (item.strip() for item in condition.split(",")):
        if candidate.startswith("W/"):
            if not weak:
                continue
            candidate = candidate[2:]
        if candidate == wanted:
            return True
    return False


def _http_date(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
