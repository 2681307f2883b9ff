"""Test client for the publisher/psp/wsgi/cgihandler tests: a site directory that is both Apache's DocumentRoot and
the daemon's allowed path, requests in the form Apache's mod_proxy_fcgi sends them, and a fake sink below.

`Site.get(url, ...)` runs a request through the real dispatcher (the layer above the helpers) with the worker state
installed, as the daemon does. `Site.split(url)` maps a URL to SCRIPT_NAME/PATH_INFO/file the way Apache's
directory walk does for `SetHandler` in a `<Directory>`: directories are entered while they exist; the first segment
that is a file or does not exist is the script, the rest is PATH_INFO. `Site.proxypass_params()` gives the ProxyPass
form (no file, SCRIPT_NAME = the whole path). `Site.request_object()` builds a bare `Request.from_sink` for
functions that take a request directly.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from contextvars import Token
from typing import Any, Iterator, Mapping, Optional, Tuple
from urllib.parse import quote

import pytest
from fake_sink import FakeSink

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.dispatcher import DispatchSettings, Dispatcher
from fcgi_handlers.request import Request, table
from fcgi_handlers.request.context import current_request

BACKEND = "proxy:fcgi://127.0.0.1:9000"


@dataclass
class Result:
    status: int
    headers: list[Tuple[str, str]]
    body: bytes
    log: list[str]
    writes: int

    def header(self, name: str) -> Optional[str]:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log)


def parse_response(data: bytes) -> Tuple[int, list[Tuple[str, str]], bytes]:
    """Status, headers and body of a CGI-style response, parsed without the writer under test."""
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, f"no end of headers in {data!r}"
    lines = head.decode("latin-1").split("\r\n")
    pairs = [(line.split(":", 1)[0], line.split(":", 1)[1].strip()) for line in lines]
    assert pairs[0][0] == "Status", lines
    return int(pairs[0][1].split()[0]), pairs[1:], body


class Site:
    """A DocumentRoot that is the daemon's only allowed directory, with a dispatcher and the worker state."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = (tmp_path / "site").resolve()
        self.root.mkdir()
        self.outside = (tmp_path / "outside").resolve()
        self.outside.mkdir()
        self.dispatcher = Dispatcher(DispatchSettings(paths=[str(self.root)]))
        self._previous = runtime._state
        self._tokens: list[Token[Any]] = []
        runtime.install(runtime.WorkerState(loader=self.dispatcher.loader))

    def close(self) -> None:
        for token in reversed(self._tokens):
            current_request.reset(token)
        self.dispatcher.close()
        runtime._state = self._previous

    def write(self, relative: str, text: str, *, mtime: Optional[float] = None) -> Path:
        """Create or replace a file under the site; `mtime` sets its modification time (to force a change)."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def split(self, url_path: str) -> Tuple[str, str, str]:
        """(SCRIPT_NAME, PATH_INFO, filename) as Apache's directory walk gives them for `url_path`."""
        segments = url_path.strip("/").split("/") if url_path.strip("/") else []
        current = self.root
        for index, segment in enumerate(segments):
            candidate = current / segment
            if candidate.is_dir():
                current = candidate
                continue
            script = "/" + "/".join(segments[:index + 1])
            rest = segments[index + 1:]
            path_info = ("/" + "/".join(rest)) if rest else ""
            if rest and url_path.endswith("/"):
                path_info += "/"
            return script, path_info, str(candidate)
        trailing = "/" if url_path.endswith("/") else ""
        script = ("/" + "/".join(segments) + trailing) if segments else "/"
        return script, "", str(current) + trailing

    def params(self, url: str, *, method: str = "GET", handler: str = "mod_python.publisher",
               options: Mapping[str, str] = {}, debug: bool = False, headers: Mapping[str, str] = {},
               directives: Mapping[str, str] = {}, body: bytes = b"", content_type: Optional[str] = None,
               ) -> dict[str, str]:
        """The params of a SetHandler-in-<Directory> request for `url` (path and optional query)."""
        path, _, query = url.partition("?")
        script, path_info, filename = self.split(path)
        params = {
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
            "QUERY_STRING": query, "REQUEST_URI": quote(path, safe="/") + (f"?{query}" if query else ""),
            "SCRIPT_NAME": script, "SCRIPT_FILENAME": BACKEND + filename,
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_ADDR": "127.0.0.1",
            "SERVER_SOFTWARE": "Apache/2.4.71 (Debian)", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
            "DOCUMENT_ROOT": str(self.root), "CONTEXT_DOCUMENT_ROOT": str(self.root), "CONTEXT_PREFIX": "",
            "REQUEST_SCHEME": "http", "HTTP_HOST": "localhost", "PATH": "/usr/bin:/bin",
            "PythonHandler": handler,
        }
        if path_info:
            params["PATH_INFO"] = path_info
        if body or method == "POST":
            params["CONTENT_LENGTH"] = str(len(body))
            params["CONTENT_TYPE"] = content_type or "application/x-www-form-urlencoded"
        for name, value in headers.items():
            params["HTTP_" + name.upper().replace("-", "_")] = value
        if debug:
            params["PythonDebug"] = "On"
        for key, value in options.items():
            params[f"PythonOption.{key}"] = value
        params.update(directives)
        return params

    def proxypass_params(self, url: str, **kwargs: Any) -> dict[str, str]:
        """The params of `ProxyPass /prefix/ fcgi://...` for `url`: no file, SCRIPT_NAME is the whole path."""
        params = self.params(url, **kwargs)
        path = url.partition("?")[0]
        params.update({"SCRIPT_NAME": path, "SCRIPT_FILENAME": BACKEND + "/backend" + path})
        params.pop("PATH_INFO", None)
        return params

    def run(self, params: Mapping[str, str], body: bytes = b"") -> Result:
        """One request through the dispatcher; the response as the sink received it."""
        sink = FakeSink()
        self.dispatcher.handle(params, io.BytesIO(body), sink)
        status, headers, rest = parse_response(sink.data)
        return Result(status, headers, rest, sink.log, len(sink.out))

    def get(self, url: str, *, body: bytes = b"", **kwargs: Any) -> Result:
        return self.run(self.params(url, body=body, **kwargs), body)

    def request_object(self, params: Mapping[str, str], body: bytes = b"", *,
                       options: Mapping[str, str] = {}) -> Tuple[Request, FakeSink]:
        """A bare request (Request.from_sink) made the current request, for functions that take `req`."""
        sink = FakeSink()

        def log(level: int, message: str) -> None:
            sink.stderr(message.encode("utf-8") + b"\n")

        req = Request.from_sink(params, io.BytesIO(body), sink, options=table(dict(options)), log=log)
        self._tokens.append(current_request.set(req))
        return req, sink


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A fresh site with the worker state installed; removed again after the test."""
    made = Site(tmp_path)
    try:
        yield made
    finally:
        made.close()
