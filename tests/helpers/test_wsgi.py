"""mod_python.wsgi: the application option, mounting (SCRIPT_NAME/PATH_INFO), the PEP 3333 environ, start_response
and the response iterable, through the dispatcher."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from pages_harness import Result, Site, site  # noqa: F401 - the fixture

from mod_python import wsgi

WSGI = "mod_python.wsgi"

ECHO_APP = '''
import json

def application(environ, start_response):
    body = environ["wsgi.input"].read()
    environ["wsgi.errors"].write("logged line one\\nlogged ")
    environ["wsgi.errors"].write("line two\\n")
    shown = {k: v for k, v in environ.items() if isinstance(v, (str, bool, tuple))}
    shown["body"] = body.decode("latin-1")
    shown["file_wrapper"] = environ["wsgi.file_wrapper"].__name__
    data = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("X-App", "echo")])
    return [data]
'''


def app_module(site: Site, source: str) -> str:
    name = f"wsgiapp_{uuid.uuid4().hex[:8]}"
    site.write(f"{name}.py", source)
    return name


def echo(site: Site, url: str, *, options: dict[str, str] | None = None, proxypass: bool = False,
         **kwargs: object) -> dict[str, object]:
    name = app_module(site, ECHO_APP)
    opts = {"mod_python.wsgi.application": name, **(options or {})}
    params = (site.proxypass_params if proxypass else site.params)(url, handler=WSGI, options=opts, **kwargs)
    result = site.run(params, kwargs.get("body", b""))  # type: ignore[arg-type]
    assert result.status == 200, result
    return dict(json.loads(result.body))


def test_environ_per_pep_3333(site: Site) -> None:
    env = echo(site, "/app/x?q=1", headers={"X-Custom": "yes", "Authorization": "Basic Zm9vOmJhcg=="},
               method="POST", body=b"payload")
    assert env["wsgi.version"] == [1, 0] and env["wsgi.url_scheme"] == "http"
    assert (env["wsgi.multithread"], env["wsgi.multiprocess"], env["wsgi.run_once"]) == (True, True, False)
    assert (env["REQUEST_METHOD"], env["QUERY_STRING"], env["SERVER_NAME"], env["SERVER_PORT"]) == \
        ("POST", "q=1", "localhost", "80")
    assert env["HTTP_X_CUSTOM"] == "yes" and env["HTTP_AUTHORIZATION"] == "Basic Zm9vOmJhcg=="
    assert (env["CONTENT_LENGTH"], env["body"]) == ("7", "payload")
    assert env["file_wrapper"] == "FileWrapper"


def test_https_scheme(site: Site) -> None:
    assert echo(site, "/app/", directives={"HTTPS": "on"})["wsgi.url_scheme"] == "https"


def test_errors_go_to_the_error_log_line_by_line(site: Site) -> None:
    name = app_module(site, ECHO_APP)
    result = site.get("/app/", handler=WSGI, options={"mod_python.wsgi.application": name})
    assert "logged line one" in result.log and "logged line two" in result.log


@pytest.mark.parametrize("url, base, script_name, path_info", [
    ("/mount/a/b", "/mount", "/mount", "/a/b"),
    ("/mount", "/mount", "/mount", ""),
    ("/mount/", "/mount", "/mount", "/"),
    ("/a/b", "", "", "/a/b"),
])
def test_base_uri_option(site: Site, url: str, base: str, script_name: str, path_info: str) -> None:
    env = echo(site, url, options={"mod_python.wsgi.base_uri": base}, proxypass=True)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script_name, path_info)


def test_base_uri_matches_whole_segments_only(site: Site) -> None:
    name = app_module(site, ECHO_APP)
    params = site.proxypass_params("/mountain/x", handler=WSGI, options={
        "mod_python.wsgi.application": name, "mod_python.wsgi.base_uri": "/mount"})
    result = site.run(params)
    assert result.status == 404 and result.logged("does not start with mod_python.wsgi.base_uri")


def test_base_uri_with_trailing_slash_is_an_error(site: Site) -> None:
    name = app_module(site, ECHO_APP)
    params = site.proxypass_params("/mount/x", handler=WSGI, options={
        "mod_python.wsgi.application": name, "mod_python.wsgi.base_uri": "/mount/"})
    assert site.run(params).status == 500


def test_sethandler_split_makes_the_file_the_script(site: Site) -> None:
    site.write("dir/app.wsgi", "# the mapped file")
    env = echo(site, "/dir/app.wsgi/some/path")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/dir/app.wsgi", "/some/path")


def test_proxypass_without_base_uri_mounts_at_the_root(site: Site) -> None:
    env = echo(site, "/prefix/some/path", proxypass=True)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/prefix/some/path")


def test_non_ascii_path_is_a_latin1_native_string(site: Site) -> None:
    env = echo(site, "/caf\u00e9/\u20ac", proxypass=True)
    path_info = str(env["PATH_INFO"])
    assert path_info.encode("latin-1").decode("utf-8") == "/caf\u00e9/\u20ac"


STREAM_APP = '''
import sys

closed = []

class Body:
    def __init__(self, parts):
        self.parts = parts
    def __iter__(self):
        return iter(self.parts)
    def close(self):
        closed.append(True)

def application(environ, start_response):
    mode = environ["PATH_INFO"].strip("/")
    if mode == "exc_before":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("app error")
        except ValueError:
            start_response("503 Busy Now", [("Content-Type", "text/plain"), ("Retry-After", "5")], sys.exc_info())
        return Body([b"", b"busy"])
    if mode == "exc_after":
        start_response("200 OK", [("Content-Type", "text/plain")])
        def gen():
            yield b"partial"
            try:
                raise KeyError("late")
            except KeyError:
                start_response("500 Oops", [], sys.exc_info())
        return gen()
    if mode == "twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
        return []
    if mode == "write":
        write = start_response("201 Created", [("Content-Type", "text/plain")])
        write(b"written ")
        return Body([b"and iterated"])
    if mode == "not_started":
        return [b"no start_response"]
    if mode == "text":
        start_response("200 OK", [])
        return ["a str", b" and bytes", " \u00e9"]
    if mode == "number":
        start_response("200 OK", [])
        return [42]
    if mode == "closed":
        return [str(len(closed)).encode()] if start_response("200 OK", []) else []
    if mode == "raises":
        start_response("200 OK", [])
        return Body(RaisingIter())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Body([b"one ", b"", b"two"])

class RaisingIter:
    def __iter__(self):
        yield b"x"
        raise RuntimeError("broken iterable")
'''


def stream(site: Site, mode: str, name: str = "") -> tuple[Result, str]:
    name = name or app_module(site, STREAM_APP)
    params = site.proxypass_params(f"/{mode}", handler=WSGI, options={"mod_python.wsgi.application": name})
    return site.run(params), name


def test_chunks_are_written_and_close_is_called(site: Site) -> None:
    result, name = stream(site, "plain")
    assert (result.status, result.text, result.header("Content-Type")) == (200, "one two", "text/plain")
    assert result.writes >= 2  # every non-empty chunk is flushed as it comes (PEP 3333)
    closed, _ = stream(site, "closed", name)
    assert closed.text == "1"


def test_exc_info_before_headers_replaces_the_response(site: Site) -> None:
    result, _ = stream(site, "exc_before")
    assert (result.status, result.header("Retry-After"), result.text) == (503, "5", "busy")


def test_exc_info_after_headers_reraises(site: Site) -> None:
    result, _ = stream(site, "exc_after")
    assert result.status == 200 and result.body.startswith(b"partial")
    assert result.logged("KeyError")


@pytest.mark.parametrize("mode, message", [("twice", "start_response() called again"),
                                           ("not_started", "did not call start_response"),
                                           ("number", "must be bytes")])
def test_protocol_errors_are_500(site: Site, mode: str, message: str) -> None:
    result, _ = stream(site, mode)
    assert result.status == 500 and result.logged(message)


def test_str_body_chunks_are_sent_as_utf8_with_one_warning(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsgi, "_text_warned", threading.Event())
    first, _ = stream(site, "text")
    assert (first.status, first.body) == (200, "a str and bytes \u00e9".encode())
    assert any("PEP 3333" in line for line in first.log)
    second, _ = stream(site, "text")
    assert second.status == 200 and not any("PEP 3333" in line for line in second.log)


def test_write_callable_and_status_line(site: Site) -> None:
    result, _ = stream(site, "write")
    assert (result.status, result.text) == (201, "written and iterated")


def test_close_is_called_when_iteration_fails(site: Site) -> None:
    result, name = stream(site, "raises")
    assert result.logged("broken iterable")
    closed, _ = stream(site, "closed", name)
    assert closed.text == "1"


def test_missing_callable_declines_and_missing_option_fails(site: Site) -> None:
    name = app_module(site, "other = None\n")
    declined = site.run(site.proxypass_params("/x", handler=WSGI, options={"mod_python.wsgi.application": name}))
    assert declined.status == 404 and declined.logged("not found, declining")
    custom = app_module(site, ECHO_APP.replace("def application", "def custom"))
    found = site.run(site.proxypass_params("/x", handler=WSGI,
                                           options={"mod_python.wsgi.application": f"{custom}::custom"}))
    assert found.status == 200
    unset = site.run(site.proxypass_params("/x", handler=WSGI))
    assert unset.status == 500 and unset.logged("mod_python.wsgi.application")


def test_application_outside_the_configured_paths_is_refused(site: Site) -> None:
    result = site.run(site.proxypass_params("/x", handler=WSGI, options={"mod_python.wsgi.application": "json"}))
    assert result.status == 500 and result.logged("not inside the configured paths")


def test_file_wrapper_streams_and_closes(tmp_path: object) -> None:
    class Source:
        def __init__(self) -> None:
            self.data, self.closed = b"abcdefghij", False

        def read(self, size: int) -> bytes:
            chunk, self.data = self.data[:size], self.data[size:]
            return chunk

        def close(self) -> None:
            self.closed = True

    source = Source()
    wrapper = wsgi.FileWrapper(source, 4)  # type: ignore[arg-type]
    assert list(wrapper) == [b"abcd", b"efgh", b"ij"]
    wrapper.close()
    assert source.closed
