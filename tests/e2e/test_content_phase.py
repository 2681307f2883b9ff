"""The content phase through real Apache, answered by real mod_python and by the daemon from one config block.

Each scenario's mod_python `<Location>` block sits beside its check; the daemon's block is generated from it with
`mod_python_block_to_daemon` (the README's directive mapping). Bodies are compared after replacing the port in
Apache's server signature, the only part that must differ.
"""
from __future__ import annotations

import hashlib
import http.client
import re
from typing import Callable, TypeVar

import pytest

from e2e.harness import ApacheServer, Response
from fcgi_handlers.apache import mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

F = TypeVar("F", bound=Callable[..., object])
# Content-Length is framing: Apache >= 2.4.59 drops a FastCGI backend's Content-Length (CVE-2024-24795) and chunks.
COMPARED_HEADERS = ("Content-Type", "Location", "X-Kept", "X-Lost", "Allow", "Set-Cookie")


def block(url: str, handler: str, debug: bool = False, extra: str = "") -> str:
    lines = [f'<Location "{url}">', "    SetHandler mod_python", f"    PythonHandler {handler}"]
    if debug:
        lines.append("    PythonDebug On")
    lines += [f"    {line.strip()}" for line in extra.splitlines() if line.strip()]
    return "\n".join(lines + ["</Location>"])


def both(mod_python_block: str) -> Callable[[F], F]:
    """Serve `mod_python_block` from the mod_python Apache and its translation from the daemon's Apache."""
    def mark(fn: F) -> F:
        fn = pytest.mark.mod_python_apache(mod_python_block)(fn)
        return pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(mod_python_block, b.daemon))(fn)
    return mark


def normalized(body: bytes) -> bytes:
    return re.sub(rb"Port \d+", b"Port N", body)


def view(response: Response) -> tuple[object, ...]:
    headers = tuple((name, tuple(v for k, v in response.headers if k.lower() == name.lower()))
                    for name in COMPARED_HEADERS)
    return response.status, response.reason, headers, normalized(response.body)


def same(ours: ApacheServer, theirs: ApacheServer, path: str, method: str = "GET") -> Response:
    mine, reference = ours.request(method, path), theirs.request(method, path)
    assert view(mine) == view(reference)
    return mine


SERVER_RETURN_CODE = block("/c/sr-code", "content::server_return_code")
SERVER_RETURN_STATUS = block("/c/sr-status", "content::server_return_status")
SERVER_RETURN_OK = block("/c/sr-ok", "content::server_return_ok_status")


@both(SERVER_RETURN_CODE)
def test_server_return_with_a_code(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/sr-code")
    assert response.status == 403 and b"<title>403 Forbidden</title>" in response.body


@both(SERVER_RETURN_STATUS)
def test_server_return_with_code_and_status(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/sr-status")
    assert (response.status, response.body) == (201, b"")


@both(SERVER_RETURN_OK)
def test_server_return_ok_with_status(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    assert same(apache, mod_python_apache, "/c/sr-ok").status == 202


NOT_FOUND = block("/c/not-found", "content::not_found")
ERROR_HEADERS = block("/c/error-headers", "content::error_headers")
STATUS_WITH_BODY = block("/c/status-body", "content::status_with_body")
WRITE_THEN_ERROR = block("/c/write-then-error", "content::write_then_error")


@both(NOT_FOUND)
def test_error_return_gives_the_stock_page(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/not-found")
    assert response.status == 404 and b"<h1>Not Found</h1>" in response.body


@both(ERROR_HEADERS)
def test_error_return_keeps_err_headers_out_only(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/error-headers")
    assert response.status == 302
    assert (response.header("Location"), response.header("X-Kept"), response.header("X-Lost")) == ("/y", "1", None)


@both(STATUS_WITH_BODY)
def test_req_status_with_a_body(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/status-body")
    assert (response.status, response.body) == (404, b"custom not found\n")


@both(WRITE_THEN_ERROR)
def test_error_after_output_appends_the_page(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/write-then-error")
    assert response.status == 200
    assert response.body.startswith(b"partial output\n") and b"<title>404 Not Found</title>" in response.body


RAISES_DEBUG = block("/c/raises-debug", "content::raises", debug=True)
RAISES = block("/c/raises", "content::raises")
RAISES_LATE_DEBUG = block("/c/raises-late", "content::raises_after_output", debug=True)
RETURNS_NONE = block("/c/none", "content::returns_none")
DEBUG_HEAD = b'\n<pre>\nMod_python error: "PythonHandler content::raises"\n\nTraceback (most recent call last):\n'
DEBUG_TAIL = b"ValueError: boom &lt;tag&gt; &amp; stuff\n\n</pre>\n"


@both(RAISES_DEBUG)
def test_python_debug_on_traceback_page(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    # The traceback's middle lists each implementation's own frames; the frame and the page around it must match.
    for server in (apache, mod_python_apache):
        response = server.get("/c/raises-debug")
        assert (response.status, response.header("Content-Type")) == (500, "text/html")
        assert response.body.startswith(DEBUG_HEAD) and response.body.endswith(DEBUG_TAIL)
        assert b'content.py&quot;, line' in response.body and b"in raises\n" in response.body
    log = apache.error_log()
    assert "PythonHandler content::raises: ValueError: boom <tag> & stuff" in log


@both(RAISES)
def test_python_debug_off_gives_apache_500_page(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/raises")
    assert response.status == 500 and b"Traceback" not in response.body
    assert "PythonHandler content::raises: ValueError: boom <tag> & stuff" in apache.error_log()


@both(RAISES_LATE_DEBUG)
def test_exception_after_output_keeps_200(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    for server in (apache, mod_python_apache):
        response = server.get("/c/raises-late")
        assert response.status == 200
        assert response.body.startswith(b"partial output\n\n<pre>\nMod_python error: ")
        assert response.body.endswith(b"ValueError: late boom\n\n</pre>\n")


@both(RETURNS_NONE)
def test_returning_none_is_an_error(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    # The write already sent the headers, so the 500 page is appended to a 200 response.
    response = same(apache, mod_python_apache, "/c/none")
    assert response.status == 200
    assert response.body.startswith(b"x<!DOCTYPE") and b"<title>500 Internal Server Error</title>" in response.body


MULTI = block("/c/multi", "content::multi_headers")


@both(MULTI)
def test_multi_valued_headers_out(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    ours, theirs = apache.get("/c/multi"), mod_python_apache.get("/c/multi")
    cookies = [v for k, v in ours.headers if k.lower() == "set-cookie"]
    assert cookies == [v for k, v in theirs.headers if k.lower() == "set-cookie"] == ["one=1", "two=2"]
    # mod_proxy_fcgi folds repeated non-cookie headers into one comma-separated line (same meaning, RFC 9110 §5.3);
    # mod_python sends two lines.
    values = lambda r: [p.strip() for k, v in r.headers if k.lower() == "x-multi" for p in v.split(",")]  # noqa: E731
    assert values(ours) == values(theirs) == ["a", "b"]


OPTIONS = block("/c/options", "content::options", extra='PythonOption alpha one\nPythonOption beta "two words"')


@both(OPTIONS)
def test_python_options(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/options")
    assert b"alpha=one\n" in response.body and b"beta=two words\n" in response.body


CHAIN = block("/c/chain", "content::chain_first content::chain_second")
CHAIN_DONE = block("/c/chain-done", "content::chain_done content::chain_second")
CLASS_METHOD = block("/c/class", "content::Greeter.hello")


@both(CHAIN)
def test_handler_chain_continues_on_ok(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    assert same(apache, mod_python_apache, "/c/chain").body == b"first\nsecond\n"


@both(CHAIN_DONE)
def test_handler_chain_stops_on_done(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    assert same(apache, mod_python_apache, "/c/chain-done").body == b"done\n"


@both(CLASS_METHOD)
def test_class_is_instantiated_with_req(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    assert same(apache, mod_python_apache, "/c/class").body == b"hello world\n"


BODY = block("/c/body", "content::body_digest")
LINES = block("/c/lines", "content::body_lines")


def ten_megabytes() -> bytes:
    parts, size, i = [], 0, 0
    while size < 10 * 1024 * 1024:
        line = b"line %d %s\n" % (i, b"x" * (i % 300))
        parts.append(line)
        size += len(line)
        i += 1
    return b"".join(parts)


@both(BODY)
@both(LINES)
def test_ten_megabyte_post_read_and_readline(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    data = ten_megabytes()
    expected_read = b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())
    expected_lines = b"%d %d %s" % (data.count(b"\n"), len(data), hashlib.sha256(data).hexdigest().encode())
    headers = {"Content-Type": "application/octet-stream"}
    for server in (apache, mod_python_apache):
        assert server.request("POST", "/c/body", headers, data).body == expected_read
        assert server.request("POST", "/c/lines", headers, data).body == expected_lines


@both(BODY)
def test_chunked_post_is_read_to_the_end(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    # Past Apache's 16 KB prefetch a chunked body reaches the backend without CONTENT_LENGTH (apache-fastcgi.md
    # §1.5). mod_python answers req.read() with 411; the daemon reads stdin to its end (an intended difference).
    data = bytes(range(256)) * 1024
    conn = http.client.HTTPConnection("127.0.0.1", apache.port, timeout=30)
    try:
        conn.request("POST", "/c/body", body=iter([data[:100_000], data[100_000:]]),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        response = conn.getresponse()
        assert (response.status, response.read()) == \
            (200, b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode()))
    finally:
        conn.close()


HEAD = block("/c/head", "content::chain_first")


@both(HEAD)
def test_head_has_get_headers_and_no_body(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    response = same(apache, mod_python_apache, "/c/head", method="HEAD")
    assert response.body == b"" and response.header("Content-Type") == "text/plain"
