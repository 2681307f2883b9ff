"""Test data for the request layer: Apache's params for the two routing forms, a fake sink, a response parser.

The param sets are what Apache 2.4.71's mod_proxy_fcgi sent to a FastCGI backend (captured on this machine, same
keys, order and shapes; host names, ports and paths normalised), matching `docs/apache-facts.md` §2:

- PROXYPASS: `ProxyPass /fcgi/ fcgi://127.0.0.1:9000/app/`, `GET /fcgi/some/path%20x?q=1&r=%41` with two `X-Multi`
  headers (merged by Apache) and a cookie. SCRIPT_NAME is the whole decoded path, no PATH_INFO.
- SETHANDLER: `<Directory /srv/www/sh> SetHandler "proxy:fcgi://127.0.0.1:9000"` with `CGIPassAuth On`,
  `POST /sh/script.py/extra/p%20q?x=1` with a form body, Host without a port (so SERVER_PORT is 80).
"""

from __future__ import annotations

from typing import Callable

from fcgi_handlers.request import Request

REQUEST_TIME = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
RequestFactory = Callable[..., Request]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SOFTWARE = "Apache/2.4.71 (Debian)"


def proxypass_params() -> dict[str, str]:
    return {
        "HTTP_HOST": "www.example.com:8080",
        "HTTP_USER_AGENT": "curl/7.88.1",
        "HTTP_ACCEPT": "*/*",
        "HTTP_X_MULTI": "1, 2",
        "HTTP_COOKIE": "a=1",
        "PATH": PATH,
        "SERVER_SIGNATURE": "",
        "SERVER_SOFTWARE": SOFTWARE,
        "SERVER_NAME": "www.example.com",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "192.0.2.7",
        "DOCUMENT_ROOT": "/srv/www",
        "REQUEST_SCHEME": "http",
        "CONTEXT_PREFIX": "",
        "CONTEXT_DOCUMENT_ROOT": "/srv/www",
        "SERVER_ADMIN": "webmaster@example.com",
        "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000/app/some/path%20x",
        "REMOTE_PORT": "42038",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": "q=1&r=%41",
        "REQUEST_URI": "/fcgi/some/path%20x?q=1&r=%41",
        "SCRIPT_NAME": "/fcgi/some/path x",
    }


SETHANDLER_BODY = b"a=1&b=2"


def sethandler_params() -> dict[str, str]:
    return {
        "proxy-nokeepalive": "1",
        "HTTP_HOST": "www.Example.com",
        "HTTP_USER_AGENT": "curl/7.88.1",
        "HTTP_ACCEPT": "*/*",
        "HTTP_AUTHORIZATION": "Basic c3BhbTplZ2dz",
        "CONTENT_LENGTH": "7",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "PATH": PATH,
        "SERVER_SIGNATURE": "",
        "SERVER_SOFTWARE": SOFTWARE,
        "SERVER_NAME": "www.example.com",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "192.0.2.7",
        "DOCUMENT_ROOT": "/srv/www",
        "REQUEST_SCHEME": "http",
        "CONTEXT_PREFIX": "",
        "CONTEXT_DOCUMENT_ROOT": "/srv/www",
        "SERVER_ADMIN": "webmaster@example.com",
        "SCRIPT_FILENAME": "proxy:fcgi://127.0.0.1:9000/srv/www/sh/script.py",
        "REMOTE_PORT": "42040",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "POST",
        "QUERY_STRING": "x=1",
        "REQUEST_URI": "/sh/script.py/extra/p%20q?x=1",
        "SCRIPT_NAME": "/sh/script.py",
        "PATH_INFO": "/extra/p q",
        "PATH_TRANSLATED": "/srv/www/extra/p q",
    }


class ListSink:
    """The server's sink, reduced to a list of the byte strings it was given (one entry per stdout call)."""

    def __init__(self, fail: bool = False) -> None:
        self.chunks: list[bytes] = []
        self.fail = fail

    def stdout(self, data: bytes) -> None:
        if self.fail:
            raise BrokenPipeError(32, "Broken pipe")
        self.chunks.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def split_response(data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Parse a CGI-style response independently of the writer: (status line, header pairs, body)."""
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, f"no end of headers in {data!r}"
    lines = head.decode("latin-1").split("\r\n")
    pairs = [(line.split(":", 1)[0], line.split(":", 1)[1].strip()) for line in lines]
    assert pairs[0][0] == "Status", f"first line is not Status: {lines[0]!r}"
    return pairs[0][1], pairs[1:], body
