"""The content phase against docs/mod_python-facts.md §8-§9: one test per observed mod_python response (full header
block and body), through the real request layer and a fake sink."""

from __future__ import annotations

import html
import logging
from typing import Any

import pytest

from fcgi_handlers.dispatch.errors import stock_page

from .conftest import ADMIN, SIGNATURE, Harness, Result

HTML_ERROR = "Content-Type: text/html; charset=iso-8859-1"


def page(status: int, **kwargs: str) -> bytes:
    return stock_page(status, server_admin=ADMIN, signature=SIGNATURE, **kwargs)


def run(harness: Harness, source: str, *, debug: bool = False, fn: str = "handler", **kwargs: Any) -> Result:
    name = harness.module(source)
    directives = {"PythonHandler": f"{name}::{fn}", "PythonDebug": "On" if debug else "Off"}
    result = harness.request(directives, **kwargs)
    result.handler = directives["PythonHandler"]
    return result


HEADER = "OK, DONE, DECLINED = 0, -2, -1\nfrom fcgi_handlers.request.exceptions import SERVER_RETURN\n"


def handler(body: str) -> str:
    """A module with `handler(req)` whose body is `body` (indented by the caller's newlines)."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"{HEADER}def handler(req):\n{lines}\n"


def debug_body(result: Result, directive: str, handler_text: str) -> str:
    """The body must be mod_python's traceback page; returns the unescaped traceback."""
    text = result.body.decode("utf-8")
    prefix = f'\n<pre>\nMod_python error: "{directive} {handler_text}"\n\n'
    assert text.startswith(prefix), text
    assert text.endswith("\n</pre>\n"), text
    inner = text[len(prefix):-len("</pre>\n")]
    assert "<" not in inner and ">" not in inner  # every chunk was escaped
    assert inner.startswith("Traceback (most recent call last):\n\n")
    return html.unescape(inner)


def test_exception_before_output_debug_on(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fcgi_handlers.dispatch")
    result = run(harness, handler('raise ValueError("boom <tag> & stuff")'), debug=True)
    assert result.head == "Status: 500 Internal Server Error\r\nContent-Type: text/html"
    name = result.handler
    traceback_text = debug_body(result, "PythonHandler", name)
    assert traceback_text.endswith("ValueError: boom <tag> & stuff\n\n")
    module_file = name.split("::")[0] + ".py"
    assert f'{module_file}", line ' in traceback_text and ", in handler\n" in traceback_text
    assert b"ValueError: boom &lt;tag&gt; &amp; stuff\n\n</pre>\n" in result.body
    # Apache's log gets the traceback, line by line with the handler's name; the import notice goes to the
    # daemon's log at info (Apache would log it at level error, like every FCGI_STDERR line).
    assert result.log[0] == f"PythonHandler {name}: Traceback (most recent call last):"
    assert result.log[-1] == f"PythonHandler {name}: ValueError: boom <tag> & stuff"
    imports = [r for r in caplog.records if "(Re)importing" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in imports] == [
        (logging.INFO, f"mod_python: (Re)importing module '{name.split('::')[0]}'")]


@pytest.mark.parametrize("debug", [True, False])
def test_handler_error_is_one_entry_in_the_daemons_log(harness: Harness, caplog: pytest.LogCaptureFixture,
                                                        debug: bool) -> None:
    caplog.set_level(logging.INFO, logger="fcgi_handlers.dispatch")
    result = run(harness, handler('raise ValueError("boom")'), debug=debug)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    first, _, rest = message.partition("\n")
    assert first == f"GET /app/page: PythonHandler {result.handler} failed"
    assert rest.startswith("Traceback (most recent call last):\n")
    assert ", in handler\n" in rest and rest.endswith("ValueError: boom")


def test_exception_before_output_debug_off(harness: Harness) -> None:
    result = run(harness, handler('raise ValueError("boom")'))
    assert result.head == f"Status: 500 Internal Server Error\r\n{HTML_ERROR}"
    assert result.body == page(500)
    assert result.logged("ValueError: boom")


@pytest.mark.parametrize("debug", [True, False])
def test_exception_after_flushed_output(harness: Harness, debug: bool) -> None:
    result = run(harness, handler('req.write("partial output\\n")\nraise ValueError("late")'), debug=debug)
    assert result.head == "Status: 200 OK"
    assert result.body.startswith(b"partial output\n")
    rest = result.body[len(b"partial output\n"):]
    if debug:
        assert rest.startswith(b'\n<pre>\nMod_python error: "PythonHandler ') and rest.endswith(b"</pre>\n")
        assert b"ValueError: late" in rest
    else:
        assert rest == page(500)


@pytest.mark.parametrize("value,type_name", [("None", "NoneType"), ("'x'", "str"), ("True", "bool"),
                                             ("1.0", "float")])
def test_non_int_result_is_500(harness: Harness, value: str, type_name: str) -> None:
    result = run(harness, handler(f"return {value}"), debug=True)
    assert result.head == "Status: 500 Internal Server Error\r\nContent-Type: text/html"
    text = result.body.decode()
    assert ("Handler has returned result or raised SERVER_RETURN\nexception with argument having non integer "
            f"type. Type of value returned\nwas &lt;class &#x27;{type_name}&#x27;&gt;, whereas expected "
            "&lt;class &#x27;int&#x27;&gt;.") in text
    assert run(harness, handler(f"return {value}")).body == page(500)


def test_return_not_found(harness: Harness) -> None:
    for debug in (True, False):
        result = run(harness, handler("return 404"), debug=debug)
        assert result.head == f"Status: 404 Not Found\r\n{HTML_ERROR}"
        assert result.body == page(404)


def test_write_then_return_not_found_appends_the_page(harness: Harness) -> None:
    result = run(harness, handler('req.write("body\\n")\nreturn 404'))
    assert result.head == "Status: 200 OK"
    assert result.body == b"body\n" + page(404)


def test_status_404_with_body_and_ok(harness: Harness) -> None:
    result = run(harness, handler('req.status = 404\nreq.content_type = "text/plain"\nreq.write("gone")\nreturn OK'))
    assert result.head == "Status: 404 Not Found\r\nContent-Type: text/plain"
    assert result.body == b"gone"


def test_status_404_without_body_and_ok(harness: Harness) -> None:
    result = run(harness, handler("req.status = 404\nreturn OK"))
    assert result.head == "Status: 404 Not Found"
    assert result.body == b""


def test_returned_code_wins_over_req_status(harness: Harness) -> None:
    result = run(harness, handler("req.status = 403\nreturn 404"))
    assert result.head == f"Status: 404 Not Found\r\n{HTML_ERROR}"
    assert result.body == page(404)


def test_status_201_write_done(harness: Harness) -> None:
    result = run(harness, handler('req.status = 201\nreq.write("made")\nreturn DONE'))
    assert (result.head, result.body) == ("Status: 201 Created", b"made")


def test_done_without_output(harness: Harness) -> None:
    result = run(harness, handler("return DONE"))
    assert (result.head, result.body) == ("Status: 200 OK", b"")


def test_server_return_forbidden(harness: Harness) -> None:
    result = run(harness, handler("raise SERVER_RETURN(403)"))
    assert (result.head, result.body) == (f"Status: 403 Forbidden\r\n{HTML_ERROR}", page(403))


@pytest.mark.parametrize("args,status", [("DONE, 201", "201 Created"), ("OK, 202", "202 Accepted"),
                                         ("OK, None", "200 OK"), ("OK, 0", "200 OK")])
def test_server_return_with_status(harness: Harness, args: str, status: str) -> None:
    result = run(harness, handler(f"raise SERVER_RETURN({args})"))
    assert (result.head, result.body) == (f"Status: {status}", b"")


@pytest.mark.parametrize("args", ["DONE, 201", "OK, 202"])
def test_server_return_status_after_flushed_write_is_ignored(harness: Harness, args: str) -> None:
    result = run(harness, handler(f'req.write("x")\nraise SERVER_RETURN({args})'))
    assert (result.head, result.body) == ("Status: 200 OK", b"x")


def test_server_return_error_and_status(harness: Harness) -> None:
    result = run(harness, handler("raise SERVER_RETURN(404, 403)"))
    assert (result.head, result.body) == (f"Status: 404 Not Found\r\n{HTML_ERROR}", page(404))


def test_server_return_non_int(harness: Harness) -> None:
    result = run(harness, handler('raise SERVER_RETURN("x")'), debug=True)
    assert result.status == "Status: 500 Internal Server Error"
    assert b"was &lt;class &#x27;str&#x27;&gt;" in result.body


def test_return_200_is_apaches_error_path(harness: Harness) -> None:
    result = run(harness, handler("return 200"))
    assert result.head == f"Status: 200 OK\r\n{HTML_ERROR}"
    assert result.body == page(200)
    assert b"<title>200 OK</title>" in result.body and b"internal error" in result.body


@pytest.mark.parametrize("code", [299, 418, 600, -3, 1000])
def test_unknown_or_invalid_codes_are_500(harness: Harness, code: int) -> None:
    result = run(harness, handler(f"return {code}"))
    assert (result.head, result.body) == (f"Status: 500 Internal Server Error\r\n{HTML_ERROR}", page(500))
    assert result.logged(f"Handler for mod_python returned invalid result code {code}") == (not 100 <= code < 600)


def test_unknown_req_status_goes_out_as_500(harness: Harness) -> None:
    result = run(harness, handler('req.status = 299\nreq.write("x")\nreturn OK'))
    assert (result.head, result.body) == ("Status: 500 Internal Server Error", b"x")


def test_custom_status_line(harness: Harness) -> None:
    result = run(harness, handler('req.status = 299\nreq.status_line = "299 Custom Thing"\nreq.write("x")\nreturn OK'))
    assert result.status == "Status: 299 Custom Thing"


def test_location_redirect(harness: Harness) -> None:
    result = run(harness, handler('req.headers_out["Location"] = "/x"\nreturn 302'))
    assert result.head == f"Status: 302 Found\r\nLocation: /x\r\n{HTML_ERROR}"
    assert result.body == page(302, location="/x")
    assert b'<p>The document has moved <a href="/x">here</a>.</p>' in result.body


def test_error_headers_kept_headers_out_dropped(harness: Harness) -> None:
    result = run(harness, handler('req.err_headers_out["Location"] = "/y"\nreq.headers_out["X-Lost"] = "1"\n'
                                  'req.err_headers_out["X-Kept"] = "1"\nreturn 302'))
    assert result.head == f"Status: 302 Found\r\nLocation: /y\r\nX-Kept: 1\r\n{HTML_ERROR}"
    assert result.body == page(302, location="/y")


@pytest.mark.parametrize("code", [405, 501])
def test_allow_methods_feed_allow(harness: Harness, code: int) -> None:
    result = run(harness, handler(f'req.allow_methods(["GET", "POST"])\nreturn {code}'), method="PUT")
    allow = dict(result.headers)["Allow"]
    assert set(allow.split(",")) == {"HEAD", "GET", "POST", "TRACE"} and allow.endswith(",TRACE")
    assert result.body == page(code, method="PUT")
    assert b"PUT" in result.body


def test_send_http_header_is_a_noop(harness: Harness) -> None:
    result = run(harness, handler('assert req.send_http_header() is None\nreq.write("x")\nreturn OK'))
    assert (result.head, result.body) == ("Status: 200 OK", b"x")


def test_changes_after_first_write_are_ignored(harness: Harness) -> None:
    result = run(harness, handler('req.content_type = "text/plain"\nreq.headers_out["X-Before"] = "1"\n'
                                  'req.write("a")\nreq.headers_out["X-After"] = "1"\nreq.status = 404\n'
                                  'req.content_type = "text/html"\nreq.write("b")\nreturn OK'))
    assert result.head == "Status: 200 OK\r\nX-Before: 1\r\nContent-Type: text/plain"
    assert result.body == b"ab"


def test_head_request_sends_headers_only(harness: Harness) -> None:
    result = run(harness, handler('req.content_type = "text/plain"\nreq.write("body")\nreturn OK'), method="HEAD")
    assert (result.head, result.body) == ("Status: 200 OK\r\nContent-Type: text/plain", b"")
