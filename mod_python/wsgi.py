"""mod_python.wsgi: `PythonHandler mod_python.wsgi` runs a WSGI (PEP 3333) application.

Configuration, as in mod_python: `PythonOption mod_python.wsgi.application module[::callable]` (callable defaults to
`application`), imported with `apache.import_module`, so only from the daemon's configured paths and reloaded when
its file changes. A module without that callable is declined with a log warning; a missing option is a 500.

Where the application is mounted (SCRIPT_NAME; PATH_INFO is the rest of `req.uri`), first match wins:
1. `PythonOption mod_python.wsgi.base_uri /prefix` (no trailing `/`, '' for the root), as in mod_python. A URI that
   is not `/prefix` or below it (`/prefixes` is not) is declined with a log warning (mod_python compared
   characters, so `/app` matched `/application`).
2. The enclosing `<Location>`, as in mod_python (`req.hlist.is_location`; its path, without the trailing `/`,
   from the PythonLocation param the translation passes, since Apache does not tell a FastCGI backend which section
   matched). A `<LocationMatch>` pattern that is not a prefix of the URI falls through to the next rule.
3. Apache's own split, when it sent PATH_INFO: SetHandler in a `<Directory>` makes the mapped file the script
   (SCRIPT_NAME = its URL), as for any CGI-style script (mod_python gave SCRIPT_NAME '' there).
4. Otherwise the root: SCRIPT_NAME '' and PATH_INFO the whole path (a hand-written `<Location>` without the
   PythonLocation param: set option 1 there).
SCRIPT_NAME/PATH_INFO come from Apache's decoded path, never from the raw REQUEST_URI by length (flup's mangling).

Environ: the CGI variables and request headers (`add_common_vars` + `add_cgi_vars`), `HTTP_AUTHORIZATION` when
Apache passed it, and the `wsgi.*` keys: `wsgi.input` reads the request body, `wsgi.errors` writes lines to Apache's
error log for this request, `wsgi.url_scheme` follows HTTPS, `wsgi.multithread` and `wsgi.multiprocess` are True
(threads in worker processes), `wsgi.run_once` False, `wsgi.file_wrapper` is `FileWrapper`. Values are native
strings as PEP 3333 asks: the bytes Apache sent, read as Latin-1 (mod_python passed UTF-8-decoded text).
`start_response` follows PEP 3333: headers are held back until the first non-empty body chunk (or the end),
a second call needs `exc_info` and re-raises it once headers are out; it returns `write()`. Every chunk is flushed
as it comes (PEP 3333 forbids delaying a block) and the iterable's `close()` is always called.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Type, Union

from fcgi_handlers.request.exceptions import SERVER_RETURN
from mod_python import _pages, apache

__all__ = ["FileWrapper", "handler"]

APPLICATION_OPTION = "mod_python.wsgi.application"
BASE_URI_OPTION = "mod_python.wsgi.base_uri"
ExcInfo = Tuple[Type[BaseException], BaseException, Optional[TracebackType]]


def native(text: str) -> str:
    """A request string as a PEP 3333 native string: its UTF-8 bytes read as Latin-1."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def mount(req: Any, options: Any) -> Optional[Tuple[str, str]]:
    """(SCRIPT_NAME, PATH_INFO) as decoded text, or None when req.uri is not below the configured base URI."""
    uri: str = req.uri
    base: Optional[str] = options.get(BASE_URI_OPTION)
    if base is not None and base.endswith("/"):
        raise ValueError(f"PythonOption '{BASE_URI_OPTION}' ({base!r}) must not end with '/'")
    if base is not None:
        if uri == base or uri.startswith(base + "/"):
            return base, uri[len(base):]
        return None
    hlist = req.hlist
    if hlist is not None and hlist.is_location and hlist.directory:
        location = hlist.directory.rstrip("/")
        if uri == location or uri.startswith(location + "/"):
            return location, uri[len(location):]
    path_info: Optional[str] = req.path_info
    if path_info and uri.endswith(path_info):
        return uri[:-len(path_info)], path_info
    return "", uri


class ErrorStream:
    """`wsgi.errors`: text written here goes to Apache's error log, one entry per line."""

    def __init__(self, req: Any) -> None:
        self._req = req
        self._pending = ""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._req.log_error(line, apache.APLOG_ERR)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            self._req.log_error(self._pending, apache.APLOG_ERR)
            self._pending = ""


class InputStream:
    """`wsgi.input`: the request body (read, readline, readlines, iteration)."""

    def __init__(self, req: Any) -> None:
        self._req = req

    def read(self, size: int = -1) -> bytes:
        return bytes(self._req.read(-1 if size is None else size))

    def readline(self, size: int = -1) -> bytes:
        return bytes(self._req.readline(-1 if size is None else size))

    def readlines(self, hint: int = -1) -> List[bytes]:
        return list(self._req.readlines(max(hint or 0, 0)))

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class FileWrapper:
    """`wsgi.file_wrapper`: iterates a file-like object in blocks and closes it when the response ends."""

    def __init__(self, filelike: IO[bytes], blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self.filelike.read(self.blksize)
            if not block:
                return
            yield block


def environ(req: Any, script_name: str, path_info: str) -> Dict[str, Any]:
    """The WSGI environ of `req` mounted at `script_name`."""
    req.add_cgi_vars()  # runs add_common_vars() first, as mod_python's does
    env: Dict[str, Any] = {name: native(value) for name, value in req.subprocess_env.items()}
    authorization = req.headers_in.get("Authorization")
    if authorization:
        env["HTTP_AUTHORIZATION"] = native(authorization)
    env["SCRIPT_NAME"] = native(script_name)
    env["PATH_INFO"] = native(path_info)
    env.setdefault("QUERY_STRING", "")
    https = env.get("HTTPS", "off").lower()
    env.update({
        "wsgi.version": (1, 0), "wsgi.input": InputStream(req), "wsgi.errors": ErrorStream(req),
        "wsgi.url_scheme": "https" if https not in ("", "off") else "http",
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
    })
    return env


class _Response:
    """start_response/write for one request, holding status and headers until the body starts."""

    def __init__(self, req: Any) -> None:
        self.req = req
        self.pending: Optional[Tuple[str, List[Tuple[str, str]]]] = None
        self.sent = False

    def start_response(self, status: str, headers: List[Tuple[str, str]],
                       exc_info: Optional[ExcInfo] = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback (PEP 3333)
        elif self.pending is not None:
            raise RuntimeError("start_response() called again without exc_info")
        if not isinstance(status, str) or len(status) < 4 or not status[:3].isdigit() or status[3] != " ":
            raise ValueError(f"WSGI status must be a str like '200 OK', not {status!r}")
        if not isinstance(headers, list) or not all(
                isinstance(h, tuple) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in headers):
            raise TypeError("WSGI response headers must be a list of (str, str) tuples")
        self.pending = (status, list(headers))
        return self.write

    def send_headers(self) -> None:
        if self.sent:
            return
        if self.pending is None:
            raise RuntimeError("the WSGI application did not call start_response()")
        status, headers = self.pending
        req = self.req
        req.status = int(status[:3])
        req.status_line = status
        for name, value in headers:
            if name.lower() == "content-type":
                req.content_type = value
            else:
                req.headers_out.add(name, value)
        self.sent = True

    def write(self, data: Union[bytes, str]) -> None:
        if isinstance(data, str):
            # mod_python writes a str chunk with req.write (UTF-8); applications written for it keep working.
            _warn_text_body(self.req)
            data = data.encode("utf-8")
        elif not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"WSGI body data must be bytes (or str, as mod_python accepts), not {type(data).__name__}")
        self.send_headers()
        if data:
            self.req.write(bytes(data))


_text_warned = threading.Event()


def _warn_text_body(req: Any) -> None:
    """Once per worker process: say that a str body is accepted for mod_python's sake but is not PEP 3333."""
    if not _text_warned.is_set():
        _text_warned.set()
        req.log_error("mod_python.wsgi: the application yields str body data; it is sent as UTF-8 as mod_python does, "
                      "but PEP 3333 requires bytes (this warning is logged once per worker process)",
                      apache.APLOG_WARNING)


def load_application(req: Any) -> Optional[Callable[..., Iterable[bytes]]]:
    """The configured application callable, or None (logged) when its module does not define it."""
    spec = req.get_options().get(APPLICATION_OPTION)
    if not spec:
        req.log_error(f"WSGI handler: PythonOption {APPLICATION_OPTION} is not set", apache.APLOG_ERR)
        raise SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR)
    module_name, _, callable_name = spec.partition("::")
    module = apache.import_module(module_name, autoreload=int(_pages.config_flag(req, "PythonAutoReload", True)),
                                  log=int(_pages.config_flag(req, "PythonDebug", False)))
    application = module.__dict__.get(callable_name or "application")
    if application is None:
        req.log_error(f"WSGI handler: {APPLICATION_OPTION} ({spec!r}) not found, declining.", apache.APLOG_WARNING)
    return application


def handler(req: Any) -> int:
    """`PythonHandler mod_python.wsgi`."""
    application = load_application(req)
    if application is None:
        return apache.DECLINED
    options = req.get_options()
    mounted = mount(req, options)
    if mounted is None:
        req.log_error(f"WSGI handler: req.uri ({req.uri!r}) does not start with {BASE_URI_OPTION} "
                      f"({options.get(BASE_URI_OPTION)!r}), declining.", apache.APLOG_WARNING)
        return apache.DECLINED
    env = environ(req, *mounted)
    errors: ErrorStream = env["wsgi.errors"]
    response = _Response(req)
    try:
        result = application(env, response.start_response)
        try:
            for chunk in result:
                response.write(chunk)
            response.send_headers()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    finally:
        errors.flush()
    return apache.OK

