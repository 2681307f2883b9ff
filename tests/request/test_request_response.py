"""The response writer: header timing, the Status line, header rules, HEAD and the error path (reference §5)."""

from __future__ import annotations

import pytest
from request_fixtures import ListSink, split_response

from fcgi_handlers.request import InvalidResponseHeader, Response
from fcgi_handlers.request.response import WRITE_FAILED, allow_header

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


def make(header_only: bool = False) -> tuple[Response, ListSink]:
    sink = ListSink()
    return Response(sink, header_only, request_time=NOW), sink


def test_a_header_set_as_bytes_goes_out_byte_for_byte() -> None:
    response, sink = make()
    response.headers_out["X-Bytes"] = b"caf\xc3\xa9"
    response.err_headers_out["X-Err"] = b"\xe2\x82\xac"
    assert response.headers_out["X-Bytes"] == "caf\u00e9"   # read back as UTF-8, as mod_python does
    response.write("x")
    head = sink.data.partition(b"\r\n\r\n")[0]
    assert b"X-Bytes: caf\xc3\xa9" in head and b"X-Err: \xe2\x82\xac" in head


# --- timing -----------------------------------------------------------------------------------------------------------
def test_first_write_sends_headers_and_body_in_one_call() -> None:
    response, sink = make()
    response.headers_out["X-Before"] = "1"
    response.write("hello")
    assert len(sink.chunks) == 1
    assert split_response(sink.chunks[0]) == ("200 OK", [("X-Before", "1")], b"hello")
    assert response.headers_sent and response.bytes_sent == 5


def test_changes_after_the_first_flush_are_ignored() -> None:
    response, sink = make()
    response.content_type = "text/plain"
    response.write("a")
    response.status = 404
    response.content_type = "text/html"
    response.headers_out["X-After"] = "1"
    response.write("b")
    response.finish()
    status, headers, body = split_response(sink.data)
    assert (status, headers, body) == ("200 OK", [("Content-Type", "text/plain")], b"ab")
    assert response.status == 404  # the attribute still changes, as in mod_python (the log phase sees it)


def test_unflushed_writes_wait_and_later_headers_are_included() -> None:
    response, sink = make()
    response.write("a" * 10, 0)
    response.headers_out["X-Late"] = "1"
    response.write("b" * 15, 0)
    assert sink.chunks == []
    response.finish()
    assert split_response(sink.data) == ("200 OK", [("X-Late", "1")], b"a" * 10 + b"b" * 15)


def test_buffer_flushes_past_8000_bytes() -> None:
    response, sink = make()
    response.write(b"x" * 8000, 0)
    assert sink.chunks == []
    response.write(b"y", 0)
    assert len(sink.chunks) == 1 and response.buffered == 0


def test_big_unflushed_write_commits_headers() -> None:
    response, sink = make()
    response.write(b"x" * 100_000, 0)
    response.headers_out["X-Too-Late"] = "1"
    response.finish()
    status, headers, body = split_response(sink.data)
    assert headers == [] and len(body) == 100_000


def test_flush_alone_sends_headers() -> None:
    response, sink = make()
    response.flush()
    response.headers_out["X-After"] = "1"
    response.finish()
    assert split_response(sink.data) == ("200 OK", [], b"")


def test_finish_without_output_sends_headers_once() -> None:
    response, sink = make()
    response.status = 201
    response.finish()
    response.finish()
    response.write("ignored")
    assert len(sink.chunks) == 1
    assert split_response(sink.data) == ("201 Created", [], b"")


def test_str_is_utf8_and_other_types_are_refused() -> None:
    response, sink = make()
    response.write("caf\u00e9 \u2603")
    assert split_response(sink.data)[2] == "caf\u00e9 \u2603".encode("utf-8")
    with pytest.raises(TypeError):
        response.write(5)


# --- status line -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status, line, expected", [
    (404, None, "404 Not Found"),
    (302, None, "302 Found"),
    (299, None, "500 Internal Server Error"),   # observed: unknown code -> 500 on the wire
    (418, None, "500 Internal Server Error"),   # Apache 2.4.71 has no status line for 418
    (600, None, "500 Internal Server Error"),
    (299, "299 Custom Thing", "299 Custom Thing"),
    (299, "299 Custom\tThing", "299 Custom\tThing"),
    (200, "299 Custom Thing", "200 OK"),        # leading number must equal status
    (201, "201", "201 Created"),                 # observed: three digits alone are not used
    (201, "201Foo", "201 Created"),
    (200, "  200 Meh", "200 OK"),
])
def test_status_line(status: int, line: str | None, expected: str) -> None:
    response, sink = make()
    response.status = status
    if line is not None:
        response.status_line = line
    response.finish()
    assert split_response(sink.data)[0] == expected


def test_status_must_be_int() -> None:
    response, _ = make()
    with pytest.raises(TypeError):
        response.status = "200"  # type: ignore[assignment]


# --- header rules ------------------------------------------------------------------------------------------------------
def test_no_content_type_unless_set() -> None:
    response, sink = make()
    response.write("x")
    assert all(name.lower() != "content-type" for name, _ in split_response(sink.data)[1])


def test_content_type_from_table_when_not_set_and_overridden_when_set() -> None:
    response, sink = make()
    response.headers_out["Content-Type"] = "text/from-table"
    response.write("x")
    assert split_response(sink.data)[1] == [("Content-Type", "text/from-table")]
    response2, sink2 = make()
    response2.headers_out["Content-Type"] = "text/from-table"
    response2.content_type = "text/plain"
    response2.write("x")
    assert split_response(sink2.data)[1] == [("Content-Type", "text/plain")]
    assert response2.content_type_set == 1


def test_repeated_headers_are_separate_lines_err_headers_first() -> None:
    response, sink = make()
    response.headers_out.add("X-M", "1")
    response.headers_out.add("X-M", "2")
    response.headers_out["X-O"] = "1"
    response.err_headers_out["X-E"] = "1"
    response.write("x")
    assert split_response(sink.data)[1] == [("X-E", "1"), ("X-M", "1"), ("X-M", "2"), ("X-O", "1")]


@pytest.mark.parametrize("name, value", [
    ("X-A", "a\r\nInjected: 1"), ("X-A", "a\nb"), ("X-A", "a\x00b"), ("X-A", "a\x7fb"),
    ("X A", "v"), ("X:A", "v"), ("", "v"), ("X-\u00e9", "v"),
])
def test_unsafe_headers_are_refused_before_anything_is_sent(name: str, value: str) -> None:
    response, sink = make()
    response.headers_out.add(name, value)
    with pytest.raises(InvalidResponseHeader):
        response.write("x")
    assert sink.chunks == [] and not response.headers_sent


def test_unsafe_status_line_is_refused() -> None:
    response, sink = make()
    response.status_line = "200 OK\r\nX-Injected: 1"
    with pytest.raises(InvalidResponseHeader):
        response.finish()
    assert sink.chunks == []


def test_tab_and_latin1_values_are_allowed() -> None:
    response, sink = make()
    response.headers_out["X-A"] = "a\tb caf\u00e9"
    response.write("x")
    assert sink.data.startswith(b"Status: 200 OK\r\nX-A: a\tb caf\xe9\r\n\r\n")


def test_transfer_encoding_and_status_entries_are_not_copied() -> None:
    response, sink = make()
    response.headers_out["Transfer-Encoding"] = "chunked"
    response.headers_out["Status"] = "302 Found"
    response.write("x")
    assert split_response(sink.data)[:2] == ("200 OK", [])


def test_set_content_length() -> None:
    response, sink = make()
    response.set_content_length(5)
    response.write("12345")
    assert split_response(sink.data)[1] == [("Content-Length", "5")]
    assert response.clength == 5


def test_no_cache_adds_expires_from_request_time() -> None:
    response, sink = make()
    response.no_cache = 1
    response.write("x")
    assert split_response(sink.data)[1] == [("Expires", "Tue, 14 Nov 2023 22:13:20 GMT")]


def test_head_sends_the_get_headers_without_body() -> None:
    get, get_sink = make()
    head, head_sink = make(header_only=True)
    for response in (get, head):
        response.content_type = "text/plain"
        response.headers_out["X-A"] = "1"
        response.write("body")
        response.headers_out["X-Late"] = "1"
        response.finish()
    assert split_response(head_sink.data) == (split_response(get_sink.data)[0], split_response(get_sink.data)[1], b"")
    assert split_response(get_sink.data)[2] == b"body"


def test_sink_failure_is_mod_pythons_ioerror() -> None:
    sink = ListSink(fail=True)
    response = Response(sink)
    with pytest.raises(OSError, match=WRITE_FAILED):
        response.write("x")
    assert response.aborted


# --- the error path --------------------------------------------------------------------------------------------------------
PAGE = b"<html>page</html>\n"


def test_error_drops_headers_out_keeps_err_headers_out() -> None:
    response, sink = make()
    response.headers_out["X-Lost"] = "1"
    response.headers_out.add("Set-Cookie", "a=1")
    response.err_headers_out["X-Kept"] = "1"
    response.content_type = "text/plain"
    response.send_error(404, PAGE)
    assert split_response(sink.data) == ("404 Not Found", [("X-Kept", "1"),
                                                           ("Content-Type", "text/html; charset=iso-8859-1")], PAGE)
    assert response.finished and response.status == 404


def test_redirect_keeps_location_from_headers_out() -> None:
    response, sink = make()
    response.headers_out["Location"] = "/x"
    response.err_headers_out["Location"] = "/y"
    response.err_headers_out["X-Kept"] = "1"
    response.send_error(302, PAGE)
    status, headers, _ = split_response(sink.data)
    assert status == "302 Found"
    assert [value for name, value in headers if name == "Location"] == ["/x"]  # observed: headers_out's wins
    assert ("X-Kept", "1") in headers


def test_location_from_err_headers_out_and_dropped_for_non_redirects() -> None:
    response, sink = make()
    response.err_headers_out["Location"] = "/y"
    response.send_error(301, PAGE)
    assert ("Location", "/y") in split_response(sink.data)[1]
    response2, sink2 = make()
    response2.err_headers_out["Location"] = "/y"
    response2.send_error(403, PAGE)
    assert all(name != "Location" for name, _ in split_response(sink2.data)[1])


@pytest.mark.parametrize("status", [405, 501])
def test_allow_header_on_405_and_501(status: int) -> None:
    response, sink = make()
    response.allow_methods(["GET", "POST"])
    response.send_error(status, PAGE)
    assert ("Allow", "HEAD,GET,POST,TRACE") in split_response(sink.data)[1]


def test_no_allow_header_on_other_errors() -> None:
    response, sink = make()
    response.allow_methods(["GET"])
    response.send_error(404, PAGE)
    assert all(name != "Allow" for name, _ in split_response(sink.data)[1])


def test_unflushed_output_is_discarded_by_an_error() -> None:
    response, sink = make()
    response.write("partial", 0)
    response.send_error(500, PAGE, extra_headers=[("Connection", "close")])
    status, headers, body = split_response(sink.data)
    assert (status, body) == ("500 Internal Server Error", PAGE)
    assert ("Connection", "close") in headers


def test_error_after_headers_were_sent_is_appended() -> None:
    response, sink = make()
    response.write("partial output\n")
    response.send_error(404, PAGE)
    assert split_response(sink.data) == ("200 OK", [], b"partial output\n" + PAGE)


@pytest.mark.parametrize("status", [204, 304])
def test_bodyless_statuses_keep_headers_and_send_no_body(status: int) -> None:
    response, sink = make()
    response.headers_out["ETag"] = '"abc"'
    response.send_error(status, PAGE)
    status_text, headers, body = split_response(sink.data)
    assert status_text.startswith(str(status)) and headers == [("ETag", '"abc"')] and body == b""


def test_error_for_head_has_no_body() -> None:
    response, sink = make(header_only=True)
    response.send_error(404, PAGE)
    assert split_response(sink.data)[2] == b""


def test_error_with_an_invalid_kept_header_drops_the_tables() -> None:
    response, sink = make()
    response.err_headers_out["X-Bad"] = "a\r\nb"
    response.send_error(500, PAGE)
    assert split_response(sink.data) == ("500 Internal Server Error",
                                         [("Content-Type", "text/html; charset=iso-8859-1")], PAGE)


def test_unknown_error_status_goes_out_as_500() -> None:
    response, sink = make()
    response.send_error(418, PAGE)
    assert split_response(sink.data)[0] == "500 Internal Server Error"


@pytest.mark.parametrize("methods, expected", [
    (["GET", "POST"], "HEAD,GET,POST,TRACE"),
    (["GET", "FOO"], "HEAD,GET,TRACE,FOO"),       # extension methods last, as mod_python documents
    (["BAR", "GET", "FOO", "BAR"], "HEAD,GET,TRACE,BAR,FOO"),
    (["PUT", "DELETE", "OPTIONS"], "PUT,DELETE,OPTIONS,TRACE"),
    (["TRACE", "HEAD"], "HEAD,GET,TRACE"),
    ([], "TRACE"),
])
def test_allow_header(methods: list[str], expected: str) -> None:
    assert allow_header(methods) == expected


def test_allow_methods_reset() -> None:
    response, _ = make()
    response.allow_methods(["GET"])
    response.allow_methods(["POST"], 1)
    assert response.allow_list == ["POST"]
    with pytest.raises(TypeError):
        response.allow_methods("GET")
