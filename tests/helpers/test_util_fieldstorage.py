"""mod_python.util.FieldStorage through the request API (no daemon): query and body parsing, field types, the status
codes mod_python answers with, our size limits, memory use of large uploads, and the mapping API."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from typing import Iterator, TypeVar

import pytest
from util_session_support import (BOUNDARY, base_params, make_request, multipart_body, multipart_type, post_request,
                                  streamed_body)

from fcgi_handlers.request import SERVER_RETURN
from mod_python import util

URLENCODED = "application/x-www-form-urlencoded"


def status_of(raised: pytest.ExceptionInfo[SERVER_RETURN]) -> int:
    return int(raised.value.args[0])


FieldT = TypeVar("FieldT", util.Field, util.StringField)


def one(fs: util.FieldStorage, name: str, kind: type[FieldT]) -> FieldT:
    """fs[name], checked to be a single field of `kind`: fs[name] is typed as either kind, or a list of them."""
    item = fs[name]
    assert isinstance(item, kind), item
    return item


def pairs(fs: util.FieldStorage) -> list[tuple[object, object]]:
    return [(name, field.value) for name, field in fs.items()]


# --- query string and urlencoded bodies ------------------------------------------------------------------------------
def test_query_fields_keep_their_names() -> None:
    # mod_python 3.5 on Python 3 gives [('1', '1'), ('2', '2')] here (parse_qsl corrupts keys).
    fs = util.FieldStorage(make_request(base_params("GET", "a=1&b=2")))
    assert pairs(fs) == [("a", "1"), ("b", "2")]


def test_text_fields_are_str_for_query_and_urlencoded_body() -> None:
    # mod_python 3.5 gives bytes names and values for an urlencoded POST; Python 2 code expects str.
    req = post_request(b"name=caf%C3%A9&n=2&n=3", URLENCODED, query="q=%E2%98%83")
    fs = util.FieldStorage(req)
    assert pairs(fs) == [("q", "\u2603"), ("name", "caf\u00e9"), ("n", "2"), ("n", "3")]
    for name, field in fs.items():
        assert type(name) is str and isinstance(field, str) and isinstance(field, util.StringField)
    assert fs["name"] == "caf\u00e9" and one(fs, "name", util.StringField) + "!" == "caf\u00e9!"
    assert fs.getfirst("n") == "2" and int(fs.getfirst("n")) == 2


def test_post_without_content_type_is_urlencoded() -> None:
    fs = util.FieldStorage(post_request(b"x=1", None))
    assert pairs(fs) == [("x", "1")]


def test_blank_values_dropped_unless_kept() -> None:
    assert pairs(util.FieldStorage(post_request(b"a=&b=2&c", URLENCODED))) == [("b", "2")]
    kept = util.FieldStorage(post_request(b"a=&b=2&c", URLENCODED), keep_blank_values=1)
    assert pairs(kept) == [("a", ""), ("b", "2"), ("c", "")]


def test_strict_parsing_answers_bad_request() -> None:
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(post_request(b"a=1&broken", URLENCODED), strict_parsing=1)
    assert status_of(raised) == 400
    assert pairs(util.FieldStorage(post_request(b"a=1&broken", URLENCODED))) == [("a", "1")]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_bodies_are_parsed(method: str) -> None:
    params = base_params(method, "q=1")
    params.update(CONTENT_TYPE=URLENCODED, CONTENT_LENGTH="3")
    req = make_request(params, b"x=1")
    assert pairs(util.FieldStorage(req)) == [("q", "1")]
    assert req.read() == b"x=1"  # the body was left alone


# --- status codes ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [None, "", "abc", "-5"])
def test_post_without_usable_length_is_411(length: str | None) -> None:
    req = post_request(b"a=1", URLENCODED, length=None, extra={} if length is None else {"CONTENT_LENGTH": length})
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(req)
    assert status_of(raised) == 411


def test_chunked_body_without_length_is_read_to_its_end() -> None:
    # Apache streams a chunked body it could not prefetch without CONTENT_LENGTH (docs/apache-facts.md §4);
    # mod_python answers 411, the daemon reads it (intended difference).
    body = b"a=1&" + b"b=" + b"x" * 40000
    req = post_request(body, URLENCODED, length=None, extra={"HTTP_TRANSFER_ENCODING": "chunked"})
    fs = util.FieldStorage(req)
    assert fs["a"] == "1" and fs["b"] == "x" * 40000


def test_unsupported_content_type_is_501() -> None:
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(post_request(b"{}", "application/json"))
    assert status_of(raised) == 501


@pytest.mark.parametrize("content_type, body", [
    ("multipart/form-data", multipart_body([("a", None, None, b"1")])),                 # no boundary
    ("multipart/form-data; boundary=", multipart_body([("a", None, None, b"1")])),      # empty boundary
    (multipart_type("other"), multipart_body([("a", None, None, b"1")])),               # wrong boundary
    (multipart_type(), multipart_body([("a", None, None, b"1")])[:-12]),                # truncated
    (multipart_type(), f"--{BOUNDARY}\r\nno colon here\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()),
])
def test_bad_multipart_is_400(content_type: str, body: bytes) -> None:
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(post_request(body, content_type))
    assert status_of(raised) == 400


# --- size limits -----------------------------------------------------------------------------------------------------
def test_declared_length_over_max_size_is_413_before_reading() -> None:
    req = post_request(b"a=" + b"1" * 100, URLENCODED, options={util.MAX_SIZE_OPTION: "50"})
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(req)
    assert status_of(raised) == 413
    assert req.read_length == 0


def test_chunked_body_over_max_size_is_413_while_reading() -> None:
    body = multipart_body([("f", "big.bin", "application/octet-stream", b"z" * 5000)])
    req = post_request(body, multipart_type(), length=None, options={util.MAX_SIZE_OPTION: "4K"},
                       extra={"HTTP_TRANSFER_ENCODING": "chunked"})
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(req)
    assert status_of(raised) == 413
    assert req.read_length <= 4096 + util.readBlockSize


def test_body_within_max_size_is_parsed() -> None:
    body = multipart_body([("f", "a.bin", None, b"z" * 3000)])
    fs = util.FieldStorage(post_request(body, multipart_type(), options={util.MAX_SIZE_OPTION: str(len(body))}))
    assert one(fs, "f", util.Field).value == b"z" * 3000


def test_in_memory_limit_counts_text_fields_not_uploads() -> None:
    options = {util.MAX_MEMORY_OPTION: "1000"}
    upload = multipart_body([("f", "a.bin", None, b"u" * 5000), ("t", None, None, b"t" * 900)])
    parsed = one(util.FieldStorage(post_request(upload, multipart_type(), options=options)), "f", util.Field).value
    assert parsed is not None and len(parsed) == 5000
    text = multipart_body([("t1", None, None, b"t" * 600), ("t2", None, None, b"t" * 600)])
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(post_request(text, multipart_type(), options=options))
    assert status_of(raised) == 413
    with pytest.raises(SERVER_RETURN) as raised:
        util.FieldStorage(post_request(b"a=" + b"1" * 1000, URLENCODED, options=options))
    assert status_of(raised) == 413


def test_invalid_size_option_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid size"):
        util.FieldStorage(post_request(b"a=1", URLENCODED, options={util.MAX_SIZE_OPTION: "lots"}))
    assert util.parse_size("2k") == 2048 and util.parse_size("3M") == 3 << 20 and util.parse_size("10") == 10


# --- multipart -------------------------------------------------------------------------------------------------------
def test_multipart_text_and_file_fields() -> None:
    body = multipart_body([
        ("title", None, None, b"caf\xc3\xa9"),
        ("doc", "r\u00e9sum\u00e9.txt", "text/plain; charset=utf-8", b"line 1\r\nline 2\r\n"),
        ("latin", None, "text/plain; charset=latin-1", b"caf\xe9"),
    ])
    fs = util.FieldStorage(post_request(body, multipart_type(), query="q=1"))
    assert fs.keys() == ["q", "title", "doc", "latin"]
    title, doc = fs["title"], fs["doc"]
    assert isinstance(title, util.StringField) and title == "caf\u00e9" and title.filename is None
    assert title.file.read() == b"caf\xc3\xa9"
    assert fs["latin"] == "caf\u00e9"
    assert isinstance(doc, util.Field) and not isinstance(doc, str)
    assert doc.filename == "r\u00e9sum\u00e9.txt" and doc.name == "doc"
    assert doc.value == b"line 1\r\nline 2\r\n" and doc.file is not None and doc.file.read() == doc.value
    assert (doc.type, doc.type_options) == ("text/plain", {"charset": "utf-8"})
    assert (doc.disposition, doc.disposition_options) == (
        "form-data", {"name": "doc", "filename": "r\u00e9sum\u00e9.txt"})
    assert doc.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_multipart_part_types_default_and_fix_up() -> None:
    body = multipart_body([("f", "noext", "garbage", b"x"), ("g", "a.txt", None, b"y")])
    fs = util.FieldStorage(post_request(body, multipart_type()))
    assert one(fs, "f", util.Field).type == "application/octet-stream"
    assert one(fs, "g", util.Field).type == "text/plain"


def test_file_input_left_empty_is_a_text_field() -> None:
    # browsers send filename="" when no file was chosen; mod_python makes that a StringField too
    body = multipart_body([("f", "", "application/octet-stream", b"")])
    fs = util.FieldStorage(post_request(body, multipart_type()), keep_blank_values=1)
    assert isinstance(fs["f"], util.StringField) and fs["f"] == "" and fs["f"].filename is None


def test_callbacks_choose_where_parts_go() -> None:
    files: dict[str, io.BytesIO] = {}

    def file_callback(filename: str) -> io.BytesIO:
        files[filename] = io.BytesIO()
        return files[filename]

    made: list[io.BytesIO] = []

    def field_callback() -> io.BytesIO:
        made.append(io.BytesIO())
        return made[-1]

    body = multipart_body([("up", "x.bin", None, b"\x00\x01\x02"), ("t", None, None, b"text")])
    fs = util.FieldStorage(post_request(body, multipart_type()), file_callback=file_callback,
                           field_callback=field_callback)
    assert files["x.bin"].getvalue() == b"\x00\x01\x02" and one(fs, "up", util.Field).file is files["x.bin"]
    assert len(made) == 1 and made[0].getvalue() == b"text" and fs["t"] == "text"


def generated_upload(size: int, chunk: int = 65536) -> tuple[Iterator[bytes], int, str]:
    """A multipart body with one `size`-byte file, produced piece by piece; (chunks, length, sha256 of the file)."""
    head = multipart_body([("f", "big.bin", "application/octet-stream", b"@")]).split(b"@")[0]
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = bytes(range(256)) * (chunk // 256)
    digest = hashlib.sha256()
    for start in range(0, size, chunk):
        digest.update(block[: min(chunk, size - start)])

    def chunks() -> Iterator[bytes]:
        yield head
        for start in range(0, size, chunk):
            yield block[: min(chunk, size - start)]
        yield tail
    return chunks(), len(head) + size + len(tail), digest.hexdigest()


def test_large_upload_keeps_memory_bounded() -> None:
    size = 50 * 1024 * 1024
    chunks, length, expected = generated_upload(size)
    req = post_request(b"", multipart_type(), length=length)
    req = make_request(req.fcgi_params, streamed_body(chunks, length))
    tracemalloc.start()
    try:
        fs = util.FieldStorage(req)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while parsing a {size}-byte upload"
    upload = one(fs, "f", util.Field).file
    assert upload is not None
    digest = hashlib.sha256()
    upload.seek(0)
    for piece in iter(lambda: upload.read(1 << 20), b""):
        digest.update(piece)
    assert digest.hexdigest() == expected


# --- the mapping API -------------------------------------------------------------------------------------------------
def sample() -> util.FieldStorage:
    return util.FieldStorage(make_request(base_params("GET", "a=1&b=2&a=3&c=4")))


def test_lookup() -> None:
    fs = sample()
    assert fs["b"] == "2" and fs["a"] == ["1", "3"]
    with pytest.raises(KeyError):
        fs["zz"]
    assert fs.get("zz", "d") == "d" and fs.get("zz") is None and fs.get("b") == "2"
    assert fs.getfirst("a") == "1" and fs.getfirst("zz", "d") == "d"
    assert fs.getlist("a") == ["1", "3"] and fs.getlist("zz") == []
    assert fs.keys() == ["a", "b", "c"] and list(fs) == ["a", "b", "c"] and len(fs) == 3
    assert [name for name, _ in fs.items()] == ["a", "b", "a", "c"]
    assert "a" in fs and fs.has_key("c") and "zz" not in fs


def test_changes() -> None:
    fs = sample()
    fs.add_field("d", "5")
    assert fs["d"] == "5" and fs["d"].name == "d"
    fs["a"] = "9"
    assert fs.getlist("a") == ["9"] and fs.keys() == ["b", "c", "d", "a"]
    fs["e"] = b"bytes"
    assert fs["e"] == "bytes"
    with pytest.raises(TypeError):
        fs["f"] = 5  # type: ignore[assignment]
    del fs["b"]
    assert "b" not in fs
    with pytest.raises(KeyError):
        del fs["b"]
    fs.clear()
    assert len(fs) == 0 and fs.list == []


def test_list_changes_update_the_index() -> None:
    fs = sample()
    assert fs["c"] == "4"
    fs.list.append(util.Field("c"))  # the way Trac adds fields
    assert len(fs.getlist("c")) == 2
    fs.list.pop()
    fs.list.remove(fs.list[0])
    assert fs["a"] == "3"
    fs.list[0] = util.StringField("x", "z")
    assert fs["z"] == "x" and "b" not in fs
    fs.list += [util.StringField("y", "w")]
    fs.list.insert(0, util.StringField("v", "w"))
    assert fs.getlist("w") == ["v", "y"]


def test_field_objects() -> None:
    text = util.StringField(b"caf\xc3\xa9", "n")
    assert repr(text) == "Field('n', 'caf\u00e9')" and text.value == "caf\u00e9"
    assert (text.type, text.ctype, text.type_options, text.disposition_options) == ("text/plain", "text/plain", {}, {})
    old = util.Field("up", io.BytesIO(b"data"), "text/plain", {}, "form-data", {"filename": "u.txt"})
    assert (old.filename, old.value, old.type, repr(old)) == ("u.txt", b"data", "text/plain", "Field('up', b'data')")
    assert util.Field("empty").value is None


def test_upload_named_outside_latin1_is_parsed() -> None:
    # Found by fuzz/multipart_form.py: a filename beyond Latin-1 (UTF-8, as browsers send it) made the part's header
    # table raise TypeError, so the upload failed with 500. The table is given the header as received and reads it
    # back as every table does (UTF-8 when the bytes are); bytes that are not UTF-8 stay one character per byte.
    name = "\u65e5\u672c\u20ac.txt"
    body = multipart_body([("doc", name, "text/plain", b"data")])
    doc = one(util.FieldStorage(post_request(body, multipart_type())), "doc", util.Field)
    assert doc.filename == name and doc.value == b"data"
    assert doc.headers["Content-Disposition"] == f'form-data; name="doc"; filename="{name}"'
    raw = multipart_body([("doc", "x", "text/plain", b"data")]).replace(b'filename="x"', b'filename="\xc5\xdf\x99"')
    doc = one(util.FieldStorage(post_request(raw, multipart_type())), "doc", util.Field)
    disposition = doc.headers["Content-Disposition"]
    assert doc.filename == "\xc5\xdf\x99" and isinstance(disposition, str)
    assert disposition.endswith('filename="\xc5\xdf\x99"')


@pytest.mark.parametrize("charset", ["utf\0", "idna", "punycode", "undefined", "uu_codec", "no-such-charset"])
def test_a_text_part_in_an_unusable_charset_is_read_as_utf8(charset: str) -> None:
    # Found by fuzz/multipart_form.py: a charset with a NUL made bytes.decode raise ValueError (a 500); idna,
    # punycode and undefined raise UnicodeError even with errors="replace".
    body = multipart_body([("t", None, f"text/plain; charset={charset}", b"caf\xc3\xa9 \xff")])
    assert util.FieldStorage(post_request(body, multipart_type()))["t"] == "caf\u00e9 \ufffd"
