"""`Client`: requests through the daemon's own dispatcher, in process, with no Apache and no sockets.

Rule: the same code path as a daemon worker (`fcgi_handlers.app`): the worker state installed, a `Dispatcher`
over the handler directory, `Dispatcher.handle(params, body, sink)`; only the two ends are the client's. In front,
the params mod_proxy_fcgi would send for the URL: the CGI variables, the request headers as HTTP_*, and the
section's `SetEnv` params from the user's own mod_python block (`blocks`); a `<Location>` is routed as `ProxyPass`
(SCRIPT_NAME is the whole decoded path), a `<Directory>` as `SetHandler` with Apache's directory walk under the
document root (SCRIPT_NAME/PATH_INFO split where the first segment is not a directory). Behind, a sink that keeps
the FastCGI stdout (parsed as the CGI response Apache would relay) and the stderr lines (Apache's error log). The work
after the response (log phase, cleanups) runs before `request()` returns, and its log lines are in the response.
What only Apache does (its own error pages for requests no section serves, ErrorDocument, output filters) is not
here: a URL that no section serves gets a 404 from the client, as Apache would answer.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Optional, Union
from urllib.parse import quote, unquote

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.dispatcher import DispatchSettings, Dispatcher
from fcgi_handlers.request.constants import status_line

from .blocks import IN_PROCESS, find_section, load_sections
from .response import (CookieJar, Data, FileSpec, HeaderInput, Headers, RequestMethods, Response, encode_body,
                       header_pairs)

SERVER_SOFTWARE = "Apache/2.4 (fcgi_handlers.testing)"
_PROXY = "proxy:fcgi://" + f"{IN_PROCESS.host}:{IN_PROCESS.port}"


@dataclass
class RecordingSink:
    """Below the dispatcher: keeps what the server layer would frame as FCGI_STDOUT and FCGI_STDERR."""

    out: list[bytes] = field(default_factory=list)
    err: list[bytes] = field(default_factory=list)

    def stdout(self, data: bytes) -> None:
        self.out.append(data)

    def stderr(self, data: bytes) -> None:
        self.err.append(data)


def parse_cgi_response(data: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """(status, reason, headers, body) of a FastCGI responder's output, as mod_proxy_fcgi reads it."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return 502, "Bad Gateway", [], b""   # Apache: "Premature end of script headers"
    pairs = [(name.strip(), value.strip()) for name, _, value in
             (line.partition(":") for line in head.decode("latin-1").split("\r\n") if line)]
    status_value = next((v for k, v in pairs if k.lower() == "status"), None)
    headers = [(k, v) for k, v in pairs if k.lower() != "status"]
    if status_value is None:
        code = 302 if any(k.lower() == "location" for k, _ in headers) else 200
        return code, status_line(code).partition(" ")[2], headers, body
    code_text, _, reason = status_value.partition(" ")
    return int(code_text), reason, headers, body


class Client(RequestMethods):
    """`Client(handler_dir, block=...)`: `get`, `post`, `request`; cookies kept between calls.

    `block` is the user's mod_python configuration text (one or more `<Location>`/`<Directory>` sections) or a Path
    to a file holding it. `docroot` is the document root for `<Directory>` sections (default: the first Directory
    section's path). Use it as a context manager, or call `close()`, to remove the handler import hooks.
    """

    def __init__(self, handler_dir: Union[str, Path], block: Union[str, Path], *,
                 docroot: Union[str, Path, None] = None, host: str = "localhost") -> None:
        self.handler_dir = Path(handler_dir).resolve()
        if not self.handler_dir.is_dir():
            raise ValueError(f"handler directory {self.handler_dir} does not exist")
        self.sections = load_sections(block)
        directories = [s for s in self.sections if s.kind == "directory"]
        self.docroot = Path(docroot).resolve() if docroot else Path(directories[0].path) if directories else \
            self.handler_dir
        self.host = host
        self.cookies = CookieJar()
        self.responses: list[Response] = []
        self.dispatcher = Dispatcher(DispatchSettings(paths=(str(self.handler_dir),)))
        self._previous_state = runtime._state
        runtime.install(runtime.WorkerState(loader=self.dispatcher.loader,
                                            child_cleanups=self.dispatcher.child_cleanups,
                                            namespaces=self.dispatcher.namespaces))

    def close(self) -> None:
        self.dispatcher.close()
        runtime._state = self._previous_state

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def request(self, method: str, url: str, *, data: Data = None, files: Optional[dict[str, FileSpec]] = None,
                headers: HeaderInput = None) -> Response:
        """One request through the dispatcher; the response with the log lines it caused."""
        body, content_type = encode_body(data, files)
        path, _, query = url.partition("?")
        request_line = f"{method} {url} (in process)"
        params = self._route(unquote(path))
        if params is None:
            missing = Response(404, "Not Found", Headers([("Content-Type", "text/html; charset=iso-8859-1")]),
                               b"", [f"no section of the configuration serves {path}"], request_line)
            self.responses.append(missing)
            return missing
        params.update(self._cgi_variables(method, path, query, body, content_type, header_pairs(headers)))
        sink = RecordingSink()
        self.dispatcher.handle(params, io.BytesIO(body), sink)
        status, reason, pairs, content = parse_cgi_response(b"".join(sink.out))
        log = [line for chunk in sink.err for line in chunk.decode("utf-8", errors="replace").splitlines()]
        response = Response(status, reason, Headers(pairs), content, log, request_line)
        self.cookies.update(response.headers.get_all("Set-Cookie"))
        self.responses.append(response)
        return response

    def _cgi_variables(self, method: str, path: str, query: str, body: bytes, content_type: Optional[str],
                       headers: list[tuple[str, str]]) -> dict[str, str]:
        params = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
                  "QUERY_STRING": query, "REQUEST_URI": quote(unquote(path), safe="/") + (f"?{query}" if query else ""),
                  "SERVER_NAME": self.host, "SERVER_PORT": "80", "SERVER_ADDR": "127.0.0.1",
                  "SERVER_SOFTWARE": SERVER_SOFTWARE, "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
                  "DOCUMENT_ROOT": str(self.docroot), "CONTEXT_DOCUMENT_ROOT": str(self.docroot),
                  "CONTEXT_PREFIX": "", "REQUEST_SCHEME": "http", "HTTP_HOST": self.host,
                  "PATH": "/usr/local/bin:/usr/bin:/bin"}
        if body or method in ("POST", "PUT", "PATCH"):
            params["CONTENT_LENGTH"] = str(len(body))
            if content_type:
                params["CONTENT_TYPE"] = content_type
        cookie = self.cookies.header()
        if cookie:
            params["HTTP_COOKIE"] = cookie
        for name, value in headers:
            key = name.upper().replace("-", "_")
            params[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
        return params

    def _route(self, path: str) -> Optional[dict[str, str]]:
        """The section's params plus SCRIPT_NAME/PATH_INFO/SCRIPT_FILENAME for `path`; None when nothing serves it."""
        location = find_section(self.sections, path)
        if location is not None:
            return {**location.params, "SCRIPT_NAME": path, "SCRIPT_FILENAME": _PROXY + path}
        script, path_info, filename = self._walk(path)
        for section in sorted((s for s in self.sections if s.kind == "directory"), key=lambda s: -len(s.path)):
            inside = Path(filename) == Path(section.path) or Path(section.path) in Path(filename).parents
            if inside and (not section.extensions or Path(filename).suffix in section.extensions):
                params = {**section.params, "SCRIPT_NAME": script, "SCRIPT_FILENAME": _PROXY + filename}
                if path_info:
                    params["PATH_INFO"] = path_info
                return params
        return None

    def _walk(self, url_path: str) -> tuple[str, str, str]:
        """(SCRIPT_NAME, PATH_INFO, file) as Apache's directory walk splits `url_path` under the document root."""
        segments = [s for s in url_path.split("/") if s]
        current = self.docroot
        for index, segment in enumerate(segments):
            candidate = current / segment
            if candidate.is_dir():
                current = candidate
                continue
            rest = segments[index + 1:]
            path_info = ("/" + "/".join(rest)) if rest else ""
            if rest and url_path.endswith("/"):
                path_info += "/"
            return "/" + "/".join(segments[:index + 1]), path_info, str(candidate)
        trailing = "/" if url_path.endswith("/") and segments else ""
        return ("/" + "/".join(segments) + trailing) if segments else "/", "", str(current) + trailing
