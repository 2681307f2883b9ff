"""Pure param derivations: decoding, the path rules for ProxyPass/SetHandler, headers, host, query, protocol."""

from __future__ import annotations

import pytest
from request.request_fixtures import proxypass_params, sethandler_params

from fcgi_handlers.request.params import (decode_params, header_name, parsed_uri, protocol_number, request_args,
                                          request_header_pairs, request_hostname, resolve_paths, script_file_path,
                                          split_host)


# --- decode_params ------------------------------------------------------------------------------------------------------
def test_decode_params_utf8_with_latin1_fallback() -> None:
    raw = {b"SCRIPT_NAME": "/caf\u00e9/\u2603".encode(), b"HTTP_X_RAW": b"\xff\xfe", b"QUERY_STRING": b"a=1"}
    assert decode_params(raw) == {"SCRIPT_NAME": "/caf\u00e9/\u2603", "HTTP_X_RAW": "\u00ff\u00fe",
                                  "QUERY_STRING": "a=1"}


def test_decode_params_user_is_latin1() -> None:
    # mod_python decodes req.user as Latin-1, even when the bytes happen to be valid UTF-8.
    raw = {b"REMOTE_USER": "j\u00f6rg".encode("utf-8"), b"AUTH_TYPE": b"Basic"}
    assert decode_params(raw)["REMOTE_USER"] == "j\u00c3\u00b6rg"
    assert decode_params(raw)["REMOTE_USER"].encode("latin-1") == raw[b"REMOTE_USER"]


# --- resolve_paths --------------------------------------------------------------------------------------------------------
def test_proxypass_is_location_like() -> None:
    paths = resolve_paths(proxypass_params())
    assert paths == ("/fcgi/some/path x", None, None, "location")


def test_sethandler_is_directory_like() -> None:
    paths = resolve_paths(sethandler_params())
    assert paths == ("/sh/script.py/extra/p q", "/srv/www/sh/script.py", "/extra/p q", "directory")


def test_sethandler_generic_backend_type() -> None:
    params = sethandler_params()
    params["SCRIPT_FILENAME"] = "/srv/www/sh/script.py"  # ProxyFCGIBackendType GENERIC
    assert resolve_paths(params) == ("/sh/script.py/extra/p q", "/srv/www/sh/script.py", "/extra/p q", "directory")


def test_sethandler_without_extra_path_has_empty_path_info() -> None:
    params = sethandler_params()
    del params["PATH_INFO"], params["PATH_TRANSLATED"]
    params["REQUEST_URI"] = "/sh/script.py"
    assert resolve_paths(params) == ("/sh/script.py", "/srv/www/sh/script.py", "", "directory")


def test_path_info_is_none_after_an_internal_redirect() -> None:
    # A redirect of /sh/ to /sh/index.html inside Apache: no PATH_INFO; mod_python's new
    # request has path_info None, where a direct request to the same file has ''.
    params = sethandler_params()
    del params["PATH_INFO"], params["PATH_TRANSLATED"]
    params.update(SCRIPT_NAME="/sh/index.html", SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000/srv/www/sh/index.html",
                  REQUEST_URI="/sh/", REDIRECT_URL="/sh/")
    assert resolve_paths(params)[1:] == ("/srv/www/sh/index.html", None, "directory")
    del params["REDIRECT_URL"]   # mod_dir's fast redirect: only SCRIPT_NAME tells it from the requested path
    assert resolve_paths(params).path_info is None
    params["PATH_INFO"] = "/more"
    assert resolve_paths(params).path_info == "/more"


def test_sethandler_directory_request() -> None:
    params = sethandler_params()
    del params["PATH_INFO"], params["PATH_TRANSLATED"]
    params.update(SCRIPT_NAME="/sh/", SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000/srv/www/sh/", REQUEST_URI="/sh/")
    assert resolve_paths(params)[1:] == ("/srv/www/sh/", "", "directory")


def test_sethandler_under_alias_uses_context_prefix() -> None:
    params = sethandler_params()
    params.update(SCRIPT_NAME="/app/script.py", CONTEXT_PREFIX="/app", CONTEXT_DOCUMENT_ROOT="/opt/app/htdocs",
                  SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000/opt/app/htdocs/script.py")
    assert resolve_paths(params) == ("/app/script.py/extra/p q", "/opt/app/htdocs/script.py", "/extra/p q",
                                     "directory")


def test_non_ascii_file_name_still_maps() -> None:
    # Apache 2.4.71 sends SCRIPT_FILENAME raw (not re-encoded) in SetHandler mode; before 2.4.63 it was encoded.
    for sent in ("/srv/www/sh/caf\u00e9.py", "/srv/www/sh/caf%C3%A9.py"):
        params = sethandler_params()
        params.update(SCRIPT_NAME="/sh/caf\u00e9.py", PATH_INFO="/\u2603",
                      SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000" + sent)
        paths = resolve_paths(params)
        assert (paths.uri, paths.filename, paths.path_info, paths.mode) == (
            "/sh/caf\u00e9.py/\u2603", "/srv/www/sh/caf\u00e9.py", "/\u2603", "directory")


def test_proxypass_match_onto_document_root_is_directory_like() -> None:
    # ProxyPassMatch ^/(.*\.py)$ fcgi://127.0.0.1:9000/srv/www/$1: the PHP-FPM pattern names the real file.
    params = proxypass_params()
    params.update(SCRIPT_NAME="/tools/run.py", REQUEST_URI="/tools/run.py",
                  SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000/srv/www/tools/run.py")
    assert resolve_paths(params) == ("/tools/run.py", "/srv/www/tools/run.py", "", "directory")


def test_proxypass_with_pathinfo_env_stays_location_and_passes_path_info() -> None:
    # SetEnvIf ... proxy-fcgi-pathinfo=first-dot (docs/apache-facts.md §2): SCRIPT_FILENAME is still the backend URL.
    params = proxypass_params()
    params.update(SCRIPT_NAME="/pi2/app.py", PATH_INFO="/extra/p q", REQUEST_URI="/pi2/app.py/extra/p%20q",
                  SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000/pi2/app.py/extra/p%20q")
    assert resolve_paths(params) == ("/pi2/app.py/extra/p q", None, "/extra/p q", "location")


def test_path_info_is_never_cut_from_the_raw_uri() -> None:
    # flup's _sanitizeEnv turns this into PATH_INFO='az' (docs/apache-facts.md §10).
    params = proxypass_params()
    params.update(SCRIPT_NAME="/pp/foo/bar baz", REQUEST_URI="/pp/foo/bar%20baz",
                  SCRIPT_FILENAME="proxy:fcgi://127.0.0.1:9000/pp/foo/bar%20baz")
    paths = resolve_paths(params)
    assert paths.uri == "/pp/foo/bar baz" and paths.path_info is None


def test_explicit_modes_override_auto() -> None:
    assert resolve_paths(proxypass_params(), "directory")[1:] == ("/app/some/path%20x", "", "directory")
    assert resolve_paths(sethandler_params(), "location")[1:] == (None, "/extra/p q", "location")


def test_missing_script_name_falls_back_to_decoded_request_uri() -> None:
    params = {"REQUEST_URI": "/a%20b/c?x=1"}
    assert resolve_paths(params) == ("/a b/c", None, None, "location")


@pytest.mark.parametrize("given, expected", [
    ("proxy:fcgi://127.0.0.1:9000/app/x", "/app/x"),
    ("proxy:fcgi://localhost/x/y", "/x/y"),
    ("proxy:fcgi://[::1]:9000/x?q=1", "/x"),
    ("proxy:balancer://pool/x", "/x"),
    ("proxy:fcgi://h:1", "/"),
    ("/srv/www/x.py", "/srv/www/x.py"),
])
def test_script_file_path(given: str, expected: str) -> None:
    assert script_file_path(given) == expected


# --- headers, host, query, protocol ----------------------------------------------------------------------------------------
def test_request_header_pairs_order_and_names() -> None:
    assert request_header_pairs(sethandler_params()) == [
        ("Host", "www.Example.com"), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*"),
        ("Authorization", "Basic c3BhbTplZ2dz"), ("Content-Length", "7"),
        ("Content-Type", "application/x-www-form-urlencoded")]


def test_header_name() -> None:
    assert header_name("X_FORWARDED_FOR") == "X-Forwarded-For"
    assert header_name("HOST") == "Host"


@pytest.mark.parametrize("host, expected", [
    ("Example.COM:8080", ("example.com", 8080)),
    ("example.com", ("example.com", None)),
    ("example.com:", ("example.com", None)),
    ("[::1]:8443", ("::1", 8443)),
    ("[2001:db8::1]", ("2001:db8::1", None)),
    ("example.com:\u00b9080", ("example.com", None)),  # found by fuzz/params.py: '¹'.isdigit() but int() refuses it
])
def test_split_host(host: str, expected: tuple[str, int | None]) -> None:
    assert split_host(host) == expected


def test_request_hostname_prefers_host_header() -> None:
    assert request_hostname(sethandler_params()) == "www.example.com"
    params = proxypass_params()
    del params["HTTP_HOST"]
    assert request_hostname(params) == "www.example.com"  # SERVER_NAME


@pytest.mark.parametrize("query, uri, expected", [
    ("q=1", "/x?q=1", "q=1"),
    ("", "/x", None),
    ("", "/x?", ""),
])
def test_request_args(query: str, uri: str, expected: str | None) -> None:
    assert request_args({"QUERY_STRING": query, "REQUEST_URI": uri}) == expected


@pytest.mark.parametrize("protocol, expected", [("HTTP/1.1", 1001), ("HTTP/1.0", 1000), ("HTTP/2.0", 2000),
                                                ("bogus", 1000)])
def test_protocol_number(protocol: str, expected: int) -> None:
    assert protocol_number(protocol) == expected


def test_parsed_uri_origin_form() -> None:
    # Observed: only port (from the Host header), path (decoded) and query are filled.
    assert parsed_uri(proxypass_params(), "/fcgi/some/path x", "q=1&r=%41") == (
        None, None, None, None, None, 8080, "/fcgi/some/path x", "q=1&r=%41", None)
    assert parsed_uri(sethandler_params(), "/sh/script.py", None)[5] is None


def test_parsed_uri_absolute_form() -> None:
    params = {"REQUEST_URI": "http://user:pw@Example.com:81/a%20b?x=1", "HTTP_HOST": "example.com:81"}
    assert parsed_uri(params, "/a b", "x=1") == ("http", "user:pw@Example.com:81", "user", "pw", "example.com", 81,
                                                 "/a b", "x=1", None)


@pytest.mark.parametrize("target, expected_port", [
    ("http://h:99999/x", None), ("http://h:abc/x", None), ("http://h:\u00b9/x", None), ("http://[::1/x", None),
])
def test_parsed_uri_absolute_form_with_a_bad_port_or_host(target: str, expected_port: None) -> None:
    # What a client of the socket can send as REQUEST_URI: the bad part is None, not a ValueError (a 500).
    uri = parsed_uri({"REQUEST_URI": target}, "/x", None)
    assert uri[5] is expected_port and uri[6] == "/x"
