"""The request object: every attribute from realistic ProxyPass and SetHandler params, writability and types, body
reading, output, auth, URLs, environment, and the connection and server objects."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from request.request_fixtures import REQUEST_TIME, SETHANDLER_BODY, ListSink, RequestFactory, split_response

from fcgi_handlers.request import Request, Response, table
from fcgi_handlers.request.attributes import attribute_table
from fcgi_handlers.request.finfo import mp_finfo
from fcgi_handlers.request.constants import (APLOG_DEBUG, APLOG_ERR, APR_REG, FINFO_FILETYPE, FINFO_MODE, FINFO_SIZE,
                                             HTTP_NOT_MODIFIED, HTTP_PRECONDITION_FAILED, M_GET, M_INVALID, M_POST, OK, REMOTE_DOUBLE_REV, REMOTE_HOST,
                                             REMOTE_NOLOOKUP, REQUEST_CHUNKED_ERROR)
from fcgi_handlers.request.finfo import file_info

# Values mod_python reports for the same request inside <Location> (observed, adapted to the fixture's host/port).
PROXYPASS_EXPECTED: dict[str, Any] = {
    "the_request": "GET /fcgi/some/path%20x?q=1&r=%41 HTTP/1.1",
    "method": "GET", "method_number": M_GET, "protocol": "HTTP/1.1", "proto_num": 1001, "header_only": 0,
    "hostname": "www.example.com", "request_time": REQUEST_TIME,
    "unparsed_uri": "/fcgi/some/path%20x?q=1&r=%41",
    "parsed_uri": (None, None, None, None, None, 8080, "/fcgi/some/path x", "q=1&r=%41", None),
    "uri": "/fcgi/some/path x", "filename": None, "canonical_filename": None, "path_info": None,
    "used_path_info": 2, "args": "q=1&r=%41",
    "status": 200, "status_line": None, "content_type": None, "no_cache": 0, "_content_type_set": 0,
    "_bytes_queued": 0, "bytes_sent": 0, "sent_bodyct": 0, "eos_sent": 0, "clength": 0,
    "allowed": 0, "allowed_xmethods": (), "allowed_methods": (),
    "user": None, "ap_auth_type": None,
    "remaining": 0, "read_length": 0, "read_body": 0, "read_chunked": 0, "expecting_100": 0, "range": None,
    "content_encoding": None, "content_languages": (), "vlist_validator": None, "mtime": 0.0, "finfo": None,
    "handler": "mod_python", "assbackwards": 0, "proxyreq": 0, "chunked": 0, "no_local_copy": 0,
    "useragent_addr": ("192.0.2.7", 42038), "useragent_ip": "192.0.2.7",
    "phase": "PythonHandler", "interpreter": "www.example.com", "extension": None, "hlist": None,
    "main": None, "prev": None, "next": None,
}

# mod_python 3.5's writable request attributes (docs/mod_python-facts.md §5).
WRITABLE = {"assbackwards", "proxyreq", "status", "status_line", "chunked", "content_type", "handler", "user",
            "ap_auth_type", "no_cache", "no_local_copy", "uri", "filename", "canonical_filename", "path_info", "args",
            "used_path_info", "finfo"}


def test_every_proxypass_attribute(make_request: RequestFactory) -> None:
    req = make_request()
    actual = {name: getattr(req, name) for name in PROXYPASS_EXPECTED}
    assert actual == PROXYPASS_EXPECTED


def test_proxypass_tables(make_request: RequestFactory) -> None:
    req = make_request()
    assert req.headers_in.items() == [("Host", "www.example.com:8080"), ("User-Agent", "curl/7.88.1"),
                                      ("Accept", "*/*"), ("X-Multi", "1, 2"), ("Cookie", "a=1")]
    assert req.headers_in["user-agent"] == "curl/7.88.1"
    assert req.notes.items() == [] and req.headers_out.items() == [] and req.err_headers_out.items() == []
    # mod_python's subprocess_env starts with what Apache's modules put there (SetEnv, ...): the request headers,
    # the common and CGI variables come with add_common_vars()/add_cgi_vars() (test_add_common_and_cgi_vars).
    env = req.subprocess_env
    assert not any(name.startswith("HTTP_") for name in env)
    assert "SCRIPT_NAME" not in env and "REQUEST_URI" not in env and "SERVER_NAME" not in env
    req.add_cgi_vars()
    assert env["SCRIPT_NAME"] == "/fcgi/some/path x" and env["REQUEST_URI"] == "/fcgi/some/path%20x"
    assert "SCRIPT_FILENAME" not in env  # req.filename is None: no proxy:fcgi:// URL leaks to handlers


def test_every_attribute_in_the_table_is_readable_for_both_routings(make_request: RequestFactory,
                                                                     sethandler: dict[str, str]) -> None:
    rows = attribute_table(Request)
    assert {row.name for row in rows} >= set(PROXYPASS_EXPECTED) | {"headers_in", "subprocess_env", "notes"}
    for req in (make_request(), make_request(sethandler, SETHANDLER_BODY)):
        for row in rows:
            getattr(req, row.name)


def test_writable_rows_are_mod_pythons(make_request: RequestFactory) -> None:
    assert {row.name for row in attribute_table(Request) if row.writable} == WRITABLE
    req = make_request()
    for name in ("method", "the_request", "headers_in", "header_only", "connection", "phase", "bytes_sent"):
        with pytest.raises(AttributeError, match=f"attribute '{name}' of 'mp_request' objects is not writable"):
            setattr(req, name, "x")


def test_sethandler_attributes(make_request: RequestFactory, sethandler: dict[str, str]) -> None:
    req = make_request(sethandler, SETHANDLER_BODY)
    assert (req.uri, req.filename, req.canonical_filename, req.path_info) == (
        "/sh/script.py/extra/p q", "/srv/www/sh/script.py", "/srv/www/sh/script.py", "/extra/p q")
    assert (req.method, req.method_number, req.args, req.hostname) == ("POST", M_POST, "x=1", "www.example.com")
    assert req.parsed_uri == (None, None, None, None, None, None, "/sh/script.py/extra/p q", "x=1", None)
    assert req.headers_in["content-type"] == "application/x-www-form-urlencoded"
    assert req.headers_in["Content-Length"] == "7"
    assert req.subprocess_env.items() == [("proxy-nokeepalive", "1")]   # set by Apache's SetEnv, as in mod_python
    req.add_common_vars()
    assert req.subprocess_env["SCRIPT_FILENAME"] == "/srv/www/sh/script.py"


def test_writable_attributes_take_mod_pythons_types(make_request: RequestFactory) -> None:
    req = make_request()
    req.uri = "/new"
    req.filename = b"/srv/x"
    req.args = None
    req.handler = None
    req.user = "j\u00f6rg"
    req.no_cache = 1
    assert (req.uri, req.filename, req.args, req.handler, req.user, req.no_cache) == (
        "/new", "/srv/x", None, None, "j\u00f6rg", 1)
    assert req.unparsed_uri == "/fcgi/some/path%20x?q=1&r=%41"  # unchanged, as observed
    for name, value in [("filename", None), ("path_info", None), ("user", "\u2603"), ("content_type", None),
                        ("status_line", 5)]:
        with pytest.raises(TypeError, match="not an ISO-8859-1 string"):
            setattr(req, name, value)
    with pytest.raises(TypeError):
        req.status = "200"


def test_response_attributes_are_shared_with_the_response(make_request: RequestFactory) -> None:
    req = make_request()
    req.status = 404
    req.content_type = "text/plain"
    req.headers_out["X-A"] = "1"
    response = req.fcgi_response
    assert (response.status, response.content_type, response.headers_out["X-A"]) == (404, "text/plain", "1")
    assert req._content_type_set == 1


def test_arbitrary_attributes(make_request: RequestFactory) -> None:
    req = make_request()
    req.form = {"a": 1}  # type: ignore[attr-defined]
    req.session = "s"  # type: ignore[attr-defined]
    assert req.form == {"a": 1} and "session" in req.__dict__  # type: ignore[attr-defined]


def test_dispatcher_owned_attributes(make_request: RequestFactory) -> None:
    req = make_request()
    req.fcgi_set("phase", "PythonFixupHandler")
    req.fcgi_set("extension", ".py")
    assert (req.phase, req.extension) == ("PythonFixupHandler", ".py")
    with pytest.raises(AttributeError):
        req.fcgi_set("method", "POST")


# --- body ------------------------------------------------------------------------------------------------------------------
class ShortReads(io.BytesIO):
    """A body stream that hands out at most 3 bytes per read, as a socket-backed stream may."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(3 if size is None or size < 0 else min(size, 3))


def test_read_readline_readlines(make_request: RequestFactory, sethandler: dict[str, str]) -> None:
    req = make_request(sethandler, b"line1\nline2\nline3\n")
    assert req.readline() == b"line1\n"
    assert req.read(3) == b"lin"
    assert req.readlines() == [b"e2\n", b"line3\n"]
    assert req.read() == b""
    assert (req.read_length, req.read_body) == (18, REQUEST_CHUNKED_ERROR)


def test_read_fills_the_request_across_short_reads(sethandler: dict[str, str]) -> None:
    req = Request(sethandler, ShortReads(b"0123456789"), Response(ListSink()))
    assert req.read(8) == b"01234567"
    assert req.read(-1) == b"89"


def test_readlines_sizehint_and_discard(make_request: RequestFactory) -> None:
    req = make_request(body=b"a\nbb\nccc\ndddd\n")
    assert req.readlines(4) == [b"a\n", b"bb\n"]
    assert req.discard_request_body() == OK
    assert req.read() == b""


def test_no_body_stream(sethandler: dict[str, str]) -> None:
    req = Request(sethandler, None, Response(ListSink()))
    assert (req.read(), req.readline(), req.readlines()) == (b"", b"", [])


# --- output ------------------------------------------------------------------------------------------------------------------
def test_write_and_send_http_header(make_request: RequestFactory, sink: ListSink) -> None:
    req = make_request()
    req.send_http_header()
    assert sink.chunks == []
    req.content_type = "text/plain"
    req.write("hi", 0)
    req.write(b" there")
    req.fcgi_response.finish()
    assert split_response(sink.data) == ("200 OK", [("Content-Type", "text/plain")], b"hi there")
    assert (req.bytes_sent, req.sent_bodyct, req.eos_sent) == (8, 1, 1)


def test_write_to_a_gone_client(proxypass: dict[str, str]) -> None:
    req = Request(proxypass, None, Response(ListSink(fail=True)))
    with pytest.raises(IOError, match="Write failed, client closed connection."):
        req.write("x")
    assert req.connection.aborted == 1


def test_sendfile(make_request: RequestFactory, sink: ListSink, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 400)  # 102400 bytes: more than one chunk
    req = make_request()
    assert req.sendfile(str(path)) == 102400
    assert req.sendfile(str(path), 10, 5) == 5
    req.fcgi_response.finish()
    assert split_response(sink.data)[2] == bytes(range(256)) * 400 + bytes(range(10, 15))
    with pytest.raises(IOError, match="Could not open file"):
        req.sendfile(str(tmp_path / "missing"))


def test_sendfile_sends_headers_for_an_empty_file(make_request: RequestFactory, sink: ListSink,
                                                  tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    req = make_request()
    assert req.sendfile(str(tmp_path / "empty")) == 0
    assert req.fcgi_response.headers_sent and split_response(sink.data)[2] == b""


def test_set_content_length_and_allow_methods(make_request: RequestFactory, sink: ListSink) -> None:
    req = make_request()
    req.set_content_length(3)
    assert (req.headers_out["Content-Length"], req.clength) == ("3", 3)
    req.allow_methods(["GET", "FOO"])
    assert req.allowed_methods == ("FOO",)
    req.fcgi_response.send_error(405, b"page")
    assert ("Allow", "HEAD,GET,TRACE,FOO") in split_response(sink.data)[1]


def test_from_sink_head_request(proxypass: dict[str, str]) -> None:
    proxypass["REQUEST_METHOD"] = "HEAD"
    sink = ListSink()
    req = Request.from_sink(proxypass, io.BytesIO(), sink)
    assert (req.header_only, req.method_number) == (1, M_GET)
    req.write("body")
    assert split_response(sink.data)[2] == b""


# --- auth ------------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header, expected", [
    ("Basic c3BhbTplZ2dz", ("eggs", "spam", "Basic")),       # spam:eggs
    ("basic c3BhbTplZ2dz", ("eggs", "spam", "Basic")),
    ("Basic  c3BhbTplZ2dz", ("eggs", "spam", "Basic")),
    ("Basic c3BhbQ==", ("", "spam", "Basic")),               # no colon
    ("Basic !!!", ("", "", "Basic")),                        # decoded up to the first invalid character
    ("Basic c3BhbTp6w6k=", ("z\u00c3\u00a9", "spam", "Basic")),  # password bytes read as Latin-1
    ("Digest abc", (None, None, None)),
])
def test_get_basic_auth_pw_observed(make_request: RequestFactory, header: str,
                                    expected: tuple[str | None, str | None, str | None]) -> None:
    params = dict(make_request().fcgi_params, HTTP_AUTHORIZATION=header)
    req = make_request(params)
    assert (req.get_basic_auth_pw(), req.user, req.ap_auth_type) == expected


def test_get_basic_auth_pw_absent_or_other_auth_type(make_request: RequestFactory,
                                                     sethandler: dict[str, str]) -> None:
    assert make_request().get_basic_auth_pw() is None
    digest = make_request(sethandler, config=table({"AuthType": "Digest"}))
    assert digest.get_basic_auth_pw() is None and digest.user is None
    basic = make_request(sethandler, config=table({"AuthType": "Basic", "AuthName": "My Realm"}))
    assert (basic.get_basic_auth_pw(), basic.user, basic.auth_type(), basic.auth_name()) == (
        "eggs", "spam", "Basic", "My Realm")


def test_user_from_apache_auth(make_request: RequestFactory, proxypass: dict[str, str]) -> None:
    proxypass.update(REMOTE_USER="j\u00c3\u00b6rg", AUTH_TYPE="Basic")
    req = make_request(proxypass)
    assert (req.user, req.ap_auth_type) == ("j\u00c3\u00b6rg", "Basic")
    assert (make_request().auth_name(), make_request().auth_type()) == (None, None)


# --- URLs and client ----------------------------------------------------------------------------------------------------
def test_construct_url(make_request: RequestFactory, proxypass: dict[str, str], sethandler: dict[str, str]) -> None:
    assert make_request().construct_url("/a b") == "http://www.example.com:8080/a b"
    assert make_request(sethandler).construct_url("/x") == "http://www.example.com/x"
    proxypass.update(HTTPS="on", REQUEST_SCHEME="https", SERVER_PORT="443")
    assert make_request(proxypass).construct_url("/x") == "https://www.example.com/x"
    proxypass.update(SERVER_NAME="::1", SERVER_PORT="8443")
    assert make_request(proxypass).construct_url("/x") == "https://[::1]:8443/x"


def test_get_remote_host(make_request: RequestFactory, proxypass: dict[str, str]) -> None:
    req = make_request()
    assert req.get_remote_host() == "192.0.2.7"
    assert req.get_remote_host(REMOTE_NOLOOKUP, 1) == ("192.0.2.7", 1)
    assert req.get_remote_host(REMOTE_HOST) is None
    proxypass["REMOTE_HOST"] = "client.example.net"  # HostnameLookups On
    named = make_request(proxypass)
    assert named.get_remote_host(REMOTE_DOUBLE_REV, 0) == ("client.example.net", 0)
    assert named.get_remote_host(REMOTE_NOLOOKUP) == "192.0.2.7"


def test_https_document_root_ssl_vars(make_request: RequestFactory, proxypass: dict[str, str]) -> None:
    assert (make_request().is_https(), make_request().document_root()) == (0, "/srv/www")
    proxypass.update(HTTPS="on", SSL_PROTOCOL="TLSv1.3")
    req = make_request(proxypass)
    assert (req.is_https(), req.ssl_var_lookup("SSL_PROTOCOL"), req.ssl_var_lookup("PATH")) == (1, "TLSv1.3", None)


# --- configuration, cleanups, logging, environment ------------------------------------------------------------------
def test_get_config_and_options_are_copies(make_request: RequestFactory) -> None:
    req = make_request(config=table({"PythonDebug": "1"}), options=table({"foo": "bar"}))
    req.get_options()["foo"] = "changed"
    assert (req.get_config().items(), req.get_options().items()) == ([("PythonDebug", "1")], [("foo", "bar")])


def test_register_cleanup(make_request: RequestFactory) -> None:
    req = make_request()
    req.register_cleanup(print, "data")
    req.register_cleanup(len)
    assert req.fcgi_cleanups == [(print, "data"), (len, None)]
    with pytest.raises(ValueError, match="callable"):
        req.register_cleanup(5)  # type: ignore[arg-type]


def test_log_error_goes_to_the_log_callable(make_request: RequestFactory) -> None:
    logged: list[tuple[int, str]] = []
    req = make_request(log=lambda level, message: logged.append((level, message)))
    req.log_error("boom")
    req.log_error("detail", APLOG_DEBUG)
    req.server.log_error("server")
    req.connection.log_error("conn", APLOG_DEBUG)
    assert logged == [(APLOG_ERR, "boom"), (APLOG_DEBUG, "detail"), (APLOG_ERR, "server"), (APLOG_DEBUG, "conn")]
    with pytest.raises(TypeError):
        req.log_error(b"bytes")  # type: ignore[arg-type]


def test_add_common_and_cgi_vars(make_request: RequestFactory, sethandler: dict[str, str]) -> None:
    req = make_request(sethandler)
    env = req.subprocess_env
    req.add_common_vars()
    assert (env["HTTP_HOST"], env["HTTP_AUTHORIZATION"]) == ("www.Example.com", "Basic c3BhbTplZ2dz")
    assert "PATH_INFO" not in env and "REQUEST_URI" not in env  # CGI variables come with add_cgi_vars() only
    env["PATH_INFO"] = "/changed"
    req.add_cgi_vars()
    # Apache's ap_add_cgi_vars() sets (replaces) them; REQUEST_URI is the request line's path without the query.
    assert (env["PATH_INFO"], env["REQUEST_URI"]) == ("/extra/p q", "/sh/script.py/extra/p%20q")
    assert env["SERVER_NAME"] and env["GATEWAY_INTERFACE"] == "CGI/1.1"


def test_directive_params_never_reach_subprocess_env(make_request: RequestFactory, sethandler: dict[str, str]) -> None:
    params = {**sethandler, "PythonHandler": "h", "PythonOption.alpha": "one", "AuthName": "realm",
              "FCGI_HANDLERS_USER": "u", "REDIRECT_PythonHandler": "h", "REDIRECT_STATUS": "200", "MINE": "x"}
    req = make_request(params)
    assert sorted(req.subprocess_env.keys()) == ["MINE", "REDIRECT_STATUS", "proxy-nokeepalive"]
    req.add_cgi_vars()
    assert not any(name.startswith(("Python", "REDIRECT_Python", "FCGI_HANDLERS_")) or name == "AuthName"
                   for name in req.subprocess_env.keys())


def test_remaining_follows_apaches_client_block(make_request: RequestFactory, sethandler: dict[str, str]) -> None:
    req = make_request(sethandler, SETHANDLER_BODY)
    assert req.remaining == 0              # before the first read: the body is not set up yet
    assert req.read(3) == b"a=1"
    assert req.remaining == len(SETHANDLER_BODY)   # r->remaining is CONTENT_LENGTH until the end is seen
    assert req.read() == b"&b=2"
    assert req.remaining == 0
    whole = make_request(sethandler, SETHANDLER_BODY)
    whole.read(len(SETHANDLER_BODY))
    assert whole.remaining == 0


def test_chunked_is_set_once_headers_go_out_without_a_length(make_request: RequestFactory) -> None:
    req = make_request()
    assert req.chunked == 0
    req.write("x")
    assert req.chunked == 1
    sized = make_request()
    sized.set_content_length(1)
    sized.write("x")
    assert sized.chunked == 0
    sized.chunked = 1   # writable, as in mod_python: the assigned value is read back
    assert sized.chunked == 1
    old = make_request({"SERVER_PROTOCOL": "HTTP/1.0", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/x"})
    old.write("x")
    assert old.chunked == 0


# --- conditional requests ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers, method, expected", [
    ({}, "GET", OK),
    ({"HTTP_IF_NONE_MATCH": '"v1"'}, "GET", HTTP_NOT_MODIFIED),
    ({"HTTP_IF_NONE_MATCH": 'W/"v1"'}, "GET", HTTP_NOT_MODIFIED),
    ({"HTTP_IF_NONE_MATCH": '"v2"'}, "GET", OK),
    ({"HTTP_IF_NONE_MATCH": '"v1"'}, "POST", HTTP_PRECONDITION_FAILED),
    ({"HTTP_IF_MATCH": '"v2"'}, "GET", HTTP_PRECONDITION_FAILED),
    ({"HTTP_IF_MATCH": "*"}, "GET", OK),
    ({"HTTP_IF_MODIFIED_SINCE": "Tue, 14 Nov 2023 22:13:20 GMT"}, "GET", HTTP_NOT_MODIFIED),
    ({"HTTP_IF_MODIFIED_SINCE": "Tue, 14 Nov 2023 22:00:00 GMT"}, "GET", OK),
    ({"HTTP_IF_UNMODIFIED_SINCE": "Tue, 14 Nov 2023 22:00:00 GMT"}, "GET", HTTP_PRECONDITION_FAILED),
])
def test_meets_conditions(make_request: RequestFactory, proxypass: dict[str, str], headers: dict[str, str],
                          method: str, expected: int) -> None:
    proxypass.update(headers, REQUEST_METHOD=method)
    req = make_request(proxypass)
    req.headers_out["ETag"] = '"v1"'
    req.update_mtime(REQUEST_TIME - 60)
    req.update_mtime(REQUEST_TIME - 3600)  # older: ignored
    assert req.meets_conditions() == expected
    req.set_last_modified()
    assert req.headers_out["Last-Modified"] == "Tue, 14 Nov 2023 22:12:20 GMT"


# --- connection and server ----------------------------------------------------------------------------------------------
def test_connection_attributes(make_request: RequestFactory) -> None:
    logged: list[tuple[int, str]] = []
    req = make_request(log=lambda level, message: logged.append((level, message)))
    conn = req.connection
    assert (conn.client_addr, conn.client_ip, conn.local_addr, conn.local_ip) == (
        ("192.0.2.7", 42038), "192.0.2.7", ("127.0.0.1", 8080), "127.0.0.1")
    assert (conn.local_host, conn.remote_host, conn.remote_logname, conn.aborted, conn.keepalive) == (
        None, None, None, 0, 0)
    assert (conn.double_reverse, conn.keepalives, conn.id, conn.notes.items()) == (0, 0, 0, [])
    assert conn.remote_ip == "192.0.2.7" and conn.remote_addr == ("192.0.2.7", 42038)
    assert len(logged) == 2 and "deprecated" in logged[0][1]
    conn.keepalive = 1
    assert conn.keepalive == 1
    with pytest.raises(AttributeError, match="of 'mp_conn' objects is not writable"):
        conn.client_ip = "x"
    assert conn.base_server is req.server


def test_server_attributes(make_request: RequestFactory) -> None:
    server = make_request(config=table({"PythonPath": "['/x'] + sys.path"})).server
    assert (server.server_hostname, server.server_admin, server.port) == ("www.example.com",
                                                                          "webmaster@example.com", 8080)
    # Defaults mod_python reported on a stock Apache 2.4.71 (observed).
    assert (server.timeout, server.keep_alive_timeout, server.keep_alive_max, server.keep_alive) == (60.0, 5.0, 100, 1)
    assert (server.limit_req_line, server.limit_req_fieldsize, server.limit_req_fields) == (8190, 8190, 100)
    assert (server.names, server.wild_names, server.path, server.pathlen, server.next) == ((), (), None, 0, None)
    assert isinstance(server.restart_time, float)
    assert server.get_config()["PythonPath"] == "['/x'] + sys.path"
    server.register_cleanup(None, print, 1)
    assert server.fcgi_child_cleanups == [(print, 1)]


def test_server_overrides(proxypass: dict[str, str]) -> None:
    from fcgi_handlers.request import Server
    server = Server(proxypass, overrides={"timeout": 30.0, "loglevel": APLOG_DEBUG})
    assert (server.timeout, server.loglevel, server.server_hostname) == (30.0, APLOG_DEBUG, "www.example.com")


def test_method_number_of_unknown_method(make_request: RequestFactory, proxypass: dict[str, str]) -> None:
    proxypass["REQUEST_METHOD"] = "BREW"
    assert make_request(proxypass).method_number == M_INVALID


def test_finfo_is_the_daemons_stat_of_the_mapped_file(make_request: RequestFactory, sethandler: dict[str, str],
                                                      tmp_path: Path) -> None:
    root = tmp_path / "www"
    (root / "sh").mkdir(parents=True)
    (root / "sh" / "script.py").write_bytes(b"twelve bytes")
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"x")
    params = {**sethandler, "DOCUMENT_ROOT": str(root), "CONTEXT_DOCUMENT_ROOT": str(root),
              "SCRIPT_FILENAME": f"proxy:fcgi://127.0.0.1:9000{root}/sh/script.py"}
    info = make_request(params).finfo
    assert isinstance(info, mp_finfo)   # `finfo` is typed `object`: a handler may assign anything to it
    (root / "sh" / "script.py").chmod(0o640)
    assert (info.size, info[FINFO_SIZE], info.filetype) == (12, 12, APR_REG)
    assert info.fname == f"{root}/sh/script.py" and info.mtime == int((root / "sh" / "script.py").stat().st_mtime)
    with pytest.raises(IndexError):
        info[FINFO_FILETYPE]  # as mod_python's: its sequence stops at FINFO_NAME
    again = make_request(params).finfo
    assert isinstance(again, mp_finfo) and again[FINFO_MODE] == 0x640  # APR permission bits: a hex digit per octal one
    # Not set up by Apache's mapping (a <Location>), missing, or outside the document root: None.
    assert make_request().finfo is None
    missing = {**params, "SCRIPT_NAME": "/sh/gone.py", "SCRIPT_FILENAME": f"{root}/sh/gone.py"}
    assert make_request(missing).finfo is None
    (root / "sh" / "link.py").symlink_to(outside)
    linked = {**params, "SCRIPT_NAME": "/sh/link.py", "SCRIPT_FILENAME": f"{root}/sh/link.py"}
    assert make_request(linked).finfo is None
    # A NUL byte (never from Apache; found by fuzz/params.py, os.stat raised ValueError): no file, not an exception.
    assert make_request({**params, "DOCUMENT_ROOT": f"{root}\0"}).finfo is not None  # CONTEXT_DOCUMENT_ROOT holds it
    assert file_info(f"{root}/sh/script.py\0x", params) is None
