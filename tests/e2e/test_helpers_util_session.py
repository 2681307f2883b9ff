"""mod_python.util and mod_python.Session behind real Apache: FieldStorage on a multipart upload and on a chunked
body Apache streams without CONTENT_LENGTH (mod_python answers 411 there: an intended difference), util.redirect
answering exactly as mod_python does, and a session counter kept across requests by the pysid cookie."""
from __future__ import annotations

import hashlib
import http.client
import json
import re
from typing import Iterator

import pytest

from e2e.harness import REQUEST_TIMEOUT, ApacheServer
from fcgi_handlers.apache import mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

BOUNDARY = "e2eformboundary"
FORM_BLOCK = '''<Location "/helpers-form/">
    SetHandler mod_python
    PythonHandler helpers_util_session::form
</Location>'''
REDIRECT_BLOCKS = ['''<Location "/helpers-redirect/">
    SetHandler mod_python
    PythonHandler helpers_util_session::go
</Location>''', '''<Location "/helpers-redirect-permanent/">
    SetHandler mod_python
    PythonHandler helpers_util_session::go_permanent
</Location>''']
SESSION_BLOCK = '''<Location "/helpers-session/">
    ProxyPass "@DAEMON@"
    SetEnv PythonHandler "helpers_util_session::counter"
    SetEnv PythonOption.mod_python.session.database_directory "@RUN_DIR@/sessions"
</Location>'''


def upload_body(data: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\ncaf\u00e9\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="doc"; filename="d.bin"\r\n'
            f'Content-Type: application/octet-stream\r\n\r\n').encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def post_chunked(server: ApacheServer, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST `body` with Transfer-Encoding: chunked (no Content-Length), in 8 KB chunks."""
    server.history.append(f"# POST {path} chunked, {len(body)} bytes of {content_type}")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", path, body=chunks(), headers={"Content-Type": content_type}, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def expected_fields(data: bytes, query: list[list[str]]) -> list[list[object]]:
    upload = ["doc", "upload", "d.bin", len(data), hashlib.sha256(data).hexdigest()]
    return [*query, ["title", "str", "caf\u00e9"], upload]


@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(FORM_BLOCK, b.daemon))
def test_form_fields_and_upload(apache: ApacheServer) -> None:
    data = bytes(range(256)) * 400
    response = apache.request("POST", "/helpers-form/?a=1&b=2", {"Content-Type": f"multipart/form-data; "
                                                                 f"boundary={BOUNDARY}"}, upload_body(data))
    assert response.status == 200, response.text
    assert response.header("Content-Type") == "application/json"
    # real mod_python 3.5 on Python 3 reports the query as [["1", "1"], ["2", "2"]] with bytes-typed values
    assert json.loads(response.body) == expected_fields(data, [["a", "str", "1"], ["b", "str", "2"]])


@pytest.mark.mod_python_apache(FORM_BLOCK)
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(FORM_BLOCK, b.daemon))
def test_chunked_upload_is_read(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    data = b"\x00\xffchunk" * 40000  # well past the 16 KB Apache prefetches, so no CONTENT_LENGTH is sent
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    status, body = post_chunked(apache, "/helpers-form/", upload_body(data), content_type)
    assert status == 200, body[:500]
    assert json.loads(body) == expected_fields(data, [])
    theirs, _ = post_chunked(mod_python_apache, "/helpers-form/", upload_body(data), content_type)
    assert theirs == 411  # mod_python's rule, which the daemon relaxes for bodies Apache streams


@pytest.mark.mod_python_apache(REDIRECT_BLOCKS[0])
@pytest.mark.mod_python_apache(REDIRECT_BLOCKS[1])
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(REDIRECT_BLOCKS[0], b.daemon))
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(REDIRECT_BLOCKS[1], b.daemon))
def test_redirect_answers_like_mod_python(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    for path, status, location, body in [
            ("/helpers-redirect/", 302, "/somewhere/else",
             b'<p>The document has moved <a href="/somewhere/else">here</a></p>\n'),
            ("/helpers-redirect-permanent/", 301, "/moved/for/good", b"moved!")]:
        ours, theirs = apache.get(path), mod_python_apache.get(path)
        assert (theirs.status, theirs.header("Location"), theirs.body) == (status, location, body)
        assert (ours.status, ours.header("Location"), ours.body) == (status, location, body)


@pytest.mark.apache(SESSION_BLOCK)
def test_session_counter_across_requests(apache: ApacheServer) -> None:
    first = apache.get("/helpers-session/")
    assert first.status == 200, first.text
    count, state, sid = first.text.split()
    assert (count, state) == ("1", "new")
    cookie = first.header("Set-Cookie") or ""
    assert re.fullmatch(rf"pysid={sid}; path=/\S*", cookie), cookie
    assert first.header("Cache-Control") == 'no-cache="set-cookie"'
    for expected in range(2, 7):  # the daemon's workers share the session files, whichever one answers
        response = apache.get("/helpers-session/", {"Cookie": f"pysid={sid}"})
        assert response.text == f"{expected} old {sid}"
        assert response.header("Set-Cookie") is None
    forged = apache.get("/helpers-session/", {"Cookie": "pysid=../../../etc/passwd"})
    assert forged.text.startswith("1 new ") and sid not in forged.text
