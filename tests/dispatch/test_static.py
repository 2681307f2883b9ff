"""The daemon's stand-in for Apache's default handler after a declined content handler: ranges (dispatch/static.py)."""

from __future__ import annotations

import pytest

from fcgi_handlers.dispatch.static import byte_range

from .conftest import Harness


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-3", (0, 3)), ("bytes=4-", (4, 11)), ("bytes=-4", (8, 11)), ("bytes=-40", (0, 11)),
    ("bytes=5-100", (5, 11)), ("BYTES = 2-2", (2, 2)), ("bytes=12-", (12, 12)), ("bytes=-0", (12, 12)),
    ("bytes=0-1,4-5", None), ("bytes=x-1", None), ("bytes=3-1", None), ("bytes=-", None), ("items=0-1", None),
    ("bytes=\u00b9-2", None), ("bytes=-\u00b2", None),  # digits str.isdigit() accepts and int() refuses
])
def test_byte_range(header: str, expected: object) -> None:
    assert byte_range(header, 12) == expected


def _declined(harness: Harness) -> tuple[str, str]:
    name = harness.module("def handler(req):\n    return -1\n")   # DECLINED: the default handler serves the file
    (harness.docroot / "page.txt").write_bytes(b"static text\n")
    return name, str(harness.docroot / "page.txt")


def test_a_range_gets_206_and_every_file_answer_accepts_ranges(harness: Harness) -> None:
    name, filename = _declined(harness)
    whole = harness.request({"PythonHandler": name}, path="/page.txt", filename=filename)
    assert whole.status == "Status: 200 OK" and ("Accept-Ranges", "bytes") in whole.headers
    assert whole.body == b"static text\n"
    part = harness.request({"PythonHandler": name}, path="/page.txt", filename=filename, HTTP_RANGE="bytes=7-")
    assert part.status == "Status: 206 Partial Content" and part.body == b"text\n"
    assert ("Content-Range", "bytes 7-11/12") in part.headers and ("Content-Length", "5") in part.headers
    beyond = harness.request({"PythonHandler": name}, path="/page.txt", filename=filename, HTTP_RANGE="bytes=99-")
    assert beyond.status == "Status: 416 Requested Range Not Satisfiable"   # Apache's reason phrase
    stale = harness.request({"PythonHandler": name}, path="/page.txt", filename=filename, HTTP_RANGE="bytes=0-1",
                            HTTP_IF_RANGE='"not-the-etag"')
    assert stale.status == "Status: 200 OK" and stale.body == b"static text\n"   # If-Range failed: whole file
    head = harness.request({"PythonHandler": name}, method="HEAD", path="/page.txt", filename=filename,
                           HTTP_RANGE="bytes=0-1")
    assert head.status == "Status: 200 OK"   # ranges apply to GET only
