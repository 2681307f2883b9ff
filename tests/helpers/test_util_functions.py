"""mod_python.util's functions: parse_qsl/parse_qs (with mod_python's Python 3 corruption as a regression test),
parse_header, apply_fs_data's signature matching, and redirect's status, headers and body on the wire."""

from __future__ import annotations

import io
from typing import Any

import pytest
from util_session_support import ListSink, base_params, make_request, response_headers

from fcgi_handlers.request import SERVER_RETURN
from fcgi_handlers.request.constants import DONE
from mod_python import util


# --- parse_qsl / parse_qs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [
    ("a=1&b=2", [("a", "1"), ("b", "2")]),                  # mod_python 3.5 on Py3: [('1', '1'), ('2', '2')]
    ("key=value&k=v", [("key", "value"), ("k", "v")]),
    ("a=1;b=2", [("a", "1"), ("b", "2")]),                  # ';' separates too, as in mod_python's C parser
    ("a+b=c+d&e=%2B%26", [("a b", "c d"), ("e", "+&")]),
    ("x=a=b", [("x", "a=b")]),
    ("s=%E2%98%83&bad=%ZZ&l=%e9", [("s", "\u2603"), ("bad", "%ZZ"), ("l", "\ufffd")]),
    ("&&a=1&", [("a", "1")]),
    ("", []),
])
def test_parse_qsl(query: str, expected: list[tuple[str, str]]) -> None:
    assert util.parse_qsl(query) == expected


def test_parse_qsl_blank_values_and_strict_parsing() -> None:
    assert util.parse_qsl("a=&b&c=1") == [("c", "1")]
    assert util.parse_qsl("a=&b&c=1", keep_blank_values=1) == [("a", ""), ("b", ""), ("c", "1")]
    assert util.parse_qsl("a=&c=1", 1, 1) == [("a", ""), ("c", "1")]
    with pytest.raises(ValueError):
        util.parse_qsl("a=1&b", 0, 1)


def test_parse_qsl_bytes_in_bytes_out() -> None:
    assert util.parse_qsl(b"a=%FF&b=caf%C3%A9") == [(b"a", b"\xff"), (b"b", b"caf\xc3\xa9")]


def test_parse_qs_groups_values() -> None:
    assert util.parse_qs("a=1&b=2&a=3&c=") == {"a": ["1", "3"], "b": ["2"]}
    assert util.parse_qs("a=1&c=", keep_blank_values=1) == {"a": ["1"], "c": [""]}


# --- parse_header ----------------------------------------------------------------------------------------------------
def test_parse_header() -> None:
    assert util.parse_header("Text/HTML; Charset=UTF-8") == ("text/html", {"charset": "UTF-8"})
    assert util.parse_header(b'form-data; name="f"; filename="a;b \\"c\\".txt"') == (
        "form-data", {"name": "f", "filename": 'a;b "c".txt'})
    assert util.parse_header('multipart/form-data; boundary="x y"; junk') == (
        "multipart/form-data", {"boundary": "x y"})
    assert util.parse_header('form-data; filename="C:\\dir\\f.txt"')[1] == {"filename": "C:\\dir\\f.txt"}


# --- apply_fs_data ---------------------------------------------------------------------------------------------------
def form(query: str) -> util.FieldStorage:
    return util.FieldStorage(make_request(base_params("GET", query)))


def test_function_gets_the_fields_it_names() -> None:
    def page(a: str, b: Any = None, *, c: str = "") -> tuple[Any, ...]:
        return a, b, c

    assert util.apply_fs_data(page, form("a=1&b=2&b=3&c=4&unexpected=5")) == ("1", ["2", "3"], "4")


def test_var_keyword_gets_everything() -> None:
    def page(**kw: Any) -> dict[str, Any]:
        return kw

    assert util.apply_fs_data(page, form("a=1&z=2"), req="R") == {"a": "1", "z": "2", "req": "R"}


def test_explicit_arguments_win_over_fields() -> None:
    # mod_python fails with AttributeError when a form field is named like an argument it passes (req).
    def page(req: Any, a: str) -> tuple[Any, str]:
        return req, a

    assert util.apply_fs_data(page, form("req=forged&a=1"), req="REQ") == ("REQ", "1")


def test_methods_classes_and_callable_instances() -> None:
    class Page:
        def __init__(self, a: str) -> None:
            self.a = a

        def method(self, b: str) -> str:
            return b

        def __call__(self, c: str) -> str:
            return c

    fs = form("a=1&b=2&c=3&self=x")
    assert util.apply_fs_data(Page, fs).a == "1"
    instance = Page("0")
    assert util.apply_fs_data(instance.method, fs) == "2"
    assert util.apply_fs_data(instance, fs) == "3"


def test_instance_with_a_call_attribute() -> None:
    class Holder:
        pass

    holder = Holder()
    holder.__call__ = lambda a: f"got {a}"  # type: ignore[operator]  # deliberate: an instance attribute, not a method
    assert util.apply_fs_data(holder, form("a=1&b=2")) == "got 1"


def test_uploads_are_passed_as_fields_and_builtins_get_nothing() -> None:
    fs = form("a=1")
    upload = util.Field("f")
    upload.filename, upload.file = "u.bin", io.BytesIO(b"data")
    fs.list.append(upload)

    def page(a: str, f: util.Field) -> tuple[str, util.Field]:
        return a, f

    assert util.apply_fs_data(page, fs) == ("1", upload)
    assert util.apply_fs_data(dict, fs) == {}


# --- redirect --------------------------------------------------------------------------------------------------------
def test_redirect_default() -> None:
    sink = ListSink()
    req = make_request(sink=sink)
    with pytest.raises(SERVER_RETURN) as raised:
        util.redirect(req, "/somewhere/else")
    assert raised.value.args == (DONE,)
    status, headers, body = response_headers(sink)
    assert status.startswith("302")
    assert ("Location", "/somewhere/else") in headers
    assert body == b'<p>The document has moved <a href="/somewhere/else">here</a></p>\n'
    assert req.err_headers_out["Location"] == "/somewhere/else"


def test_redirect_permanent_with_text() -> None:
    sink = ListSink()
    with pytest.raises(SERVER_RETURN):
        util.redirect(make_request(sink=sink), "/new", permanent=1, text="moved!")
    status, _, body = response_headers(sink)
    assert status.startswith("301") and body == b"moved!"


def test_redirect_escapes_the_location_in_the_body() -> None:
    sink = ListSink()
    with pytest.raises(SERVER_RETURN):
        util.redirect(make_request(sink=sink), '/x"><script>')
    assert response_headers(sink)[2] == b'<p>The document has moved <a href="/x&quot;&gt;&lt;script&gt;">here</a></p>\n'


def test_redirect_refuses_after_output_and_non_str() -> None:
    req = make_request()
    req.write("already")
    with pytest.raises(IOError):
        util.redirect(req, "/x")
    with pytest.raises(TypeError):
        util.redirect(make_request(), b"/x")  # type: ignore[arg-type]
