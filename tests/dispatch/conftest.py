"""A harness for dispatcher tests: handler modules in a temporary directory, requests from params dicts, and a fake
sink that records the FastCGI stdout bytes and stderr lines (the layer below the dispatcher)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from fake_sink import FakeSink

from fcgi_handlers.dispatch.dispatcher import DispatchSettings, Dispatcher

SIGNATURE = "<address>Apache/2.4.71 (Debian) Server at localhost Port 80</address>\n"
ADMIN = "admin@example.com"


@dataclass
class Result:
    head: str                       # the CGI header block, CRLF-separated, without the blank line
    body: bytes
    log: list[str]
    writes: int                     # number of stdout calls
    handler: str = ""               # the PythonHandler value, when the test helper set one

    @property
    def status(self) -> str:
        return self.head.split("\r\n", 1)[0]

    @property
    def headers(self) -> list[tuple[str, str]]:
        lines = self.head.split("\r\n")[1:]
        return [(name, value) for name, _, value in (line.partition(": ") for line in lines)]

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log)


class Harness:
    def __init__(self, root: Path, docroot: Path, dispatcher: Dispatcher) -> None:
        self.root = root
        self.docroot = docroot
        self.dispatcher = dispatcher

    def module(self, source: str, name: Optional[str] = None) -> str:
        """Write a handler module into the allowed directory; returns its (unique) name."""
        name = name or f"h_{uuid.uuid4().hex[:10]}"
        (self.root / f"{name}.py").write_text(source)
        return name

    def params(self, directives: Mapping[str, str], *, method: str = "GET", path: str = "/app/page",
               filename: Optional[str] = None, **extra: str) -> dict[str, str]:
        params = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": method,
                  "QUERY_STRING": "", "REQUEST_URI": path, "SCRIPT_NAME": path,
                  "SCRIPT_FILENAME": f"proxy:fcgi://127.0.0.1:9000{filename or path}",
                  "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_ADDR": "127.0.0.1",
                  "SERVER_ADMIN": ADMIN, "SERVER_SIGNATURE": SIGNATURE, "SERVER_SOFTWARE": "Apache/2.4.71 (Debian)",
                  "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "DOCUMENT_ROOT": str(self.docroot),
                  "CONTEXT_DOCUMENT_ROOT": str(self.docroot), "CONTEXT_PREFIX": "", "HTTP_HOST": "localhost"}
        params.update(extra)
        params.update(directives)
        return params

    def request(self, directives: Mapping[str, str], *, body: bytes = b"", **kwargs: Any) -> Result:
        sink = FakeSink()
        self.dispatcher.handle(self.params(directives, **kwargs), io.BytesIO(body), sink)
        out = b"".join(sink.out)
        head, sep, rest = out.partition(b"\r\n\r\n")
        assert sep, out
        log = [line for chunk in sink.err for line in chunk.decode("utf-8").splitlines()]
        return Result(head.decode("latin-1"), rest, log, len(sink.out))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    root = tmp_path / "handlers"
    root.mkdir()
    docroot = tmp_path / "htdocs"
    docroot.mkdir()
    dispatcher = Dispatcher(DispatchSettings(paths=[str(root)]))
    try:
        yield Harness(root, docroot, dispatcher)
    finally:
        dispatcher.close()
