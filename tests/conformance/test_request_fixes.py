"""Request-layer fixes the conformance corpus found (the scenario named in each test shows the mod_python answer):
mp_table's type name and unhashable message, an empty write, status_line once headers are out, write()'s types."""
from __future__ import annotations

import pytest

from fcgi_handlers.request.response import Response
from fcgi_handlers.request.table import make_table, mp_table, table


class Sink:
    """Collects what the response sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def stdout(self, data: bytes) -> None:
        self.sent.append(data)


def response() -> tuple[Response, Sink]:
    sink = Sink()
    return Response(sink), sink


def test_the_table_type_is_named_as_mod_pythons() -> None:  # tbl_type_name, tbl_unhashable
    assert table is mp_table is make_table
    assert type(table()).__name__ == "mp_table"
    with pytest.raises(TypeError, match="^mp_table objects are unhashable$"):
        hash(table())

    class Sub(table):
        pass
    assert isinstance(Sub(), table) and type(Sub()).__name__ == "Sub"


def test_an_empty_write_neither_sends_headers_nor_flushes() -> None:  # out_empty_write, out_empty_write_after_buffered
    resp, sink = response()
    resp.content_type = "text/plain"
    resp.write("", 1)
    resp.write(b"")
    assert sink.sent == [] and not resp.headers_sent
    resp.write("a", 0)
    resp.write("")
    resp.headers_out["X-Late"] = "sent"
    assert sink.sent == []
    resp.write("b")
    assert sink.sent == [b"Status: 200 OK\r\nX-Late: sent\r\nContent-Type: text/plain\r\n\r\nab"]


def test_status_line_reads_back_what_went_out() -> None:  # out_status_line_after_write
    resp, _ = response()
    assert resp.status_line is None
    resp.write("x")
    assert resp.status_line == "200 OK"
    unknown, _ = response()
    unknown.status = 299
    unknown.write("x")
    assert unknown.status_line == "500 Internal Server Error"
    custom, _ = response()
    custom.status, custom.status_line = 299, "299 Custom Thing"
    custom.write("x")
    assert custom.status_line == "299 Custom Thing"


def test_status_line_after_an_error_response() -> None:
    resp, sink = response()
    resp.send_error(404, b"page")
    assert resp.status_line == "404 Not Found" and sink.sent[0].startswith(b"Status: 404 Not Found\r\n")


@pytest.mark.parametrize("data, message", [
    (5, "a bytes-like object is required, not 'int'"),
    (None, "a bytes-like object is required, not 'NoneType'"),
    (bytearray(b"x"), "argument 1 must be read-only bytes-like object, not bytearray"),
    (memoryview(b"x"), "argument 1 must be read-only bytes-like object, not memoryview"),
])
def test_write_refuses_what_mod_python_refuses(data: object, message: str) -> None:  # out_write_int, ...bytearray
    resp, sink = response()
    with pytest.raises(TypeError) as caught:
        resp.write(data)
    assert str(caught.value) == message and sink.sent == []


def test_write_takes_str_and_bytes() -> None:
    resp, sink = response()

    class Raw(bytes):
        pass
    resp.write("caf\u00e9 ", 0)
    resp.write(Raw(b"raw"))
    assert sink.sent[0].endswith("caf\u00e9 raw".encode())
