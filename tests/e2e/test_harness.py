"""The harness proven against real Apache with backends that already work: flup's threaded WSGIServer behind
mod_proxy_fcgi, and real mod_python. A daemon test that fails while these pass points at the daemon, not the harness.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from typing import Callable

import pytest

from e2e.harness import HELLO, ApacheServer
from fcgi_handlers.apache import mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

# A mod_python block exercising every kind of value the translation carries: handler lists that append, flags, an
# option with quotes and a backslash, and an option without a value.
MOD_PYTHON_BLOCK = r'''<Location "/converted/">
    SetHandler mod_python
    PythonHandler first
    PythonHandler second::handler
    PythonDebug on
    PythonOption greeting "say \"hi\" \\ bye"
    PythonOption emptied
</Location>'''


@pytest.mark.apache('<Location "/flup/">\n    ProxyPass "@FLUP@"\n</Location>')
def test_flup_answers_through_proxypass(apache: ApacheServer) -> None:
    response = apache.get("/flup/hello")
    assert response.status == 200
    assert response.header("Content-Type") == "text/plain"
    assert response.body == HELLO


@pytest.mark.apache('<Location "/flup/">\n    ProxyPass "@FLUP@"\n</Location>')
def test_flup_receives_request_params(apache: ApacheServer) -> None:
    params = json.loads(apache.get("/flup/some/path%20x?q=1").body)
    # mod_proxy_fcgi's ProxyPass form: whole decoded path as SCRIPT_NAME, raw target as REQUEST_URI (reference §1.2).
    assert params["SCRIPT_NAME"] == "/flup/some/path x"
    assert params["REQUEST_URI"] == "/flup/some/path%20x?q=1"
    assert params["QUERY_STRING"] == "q=1"
    assert params["SERVER_PORT"] == str(apache.port)


@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(MOD_PYTHON_BLOCK, b.flup))
def test_translated_mod_python_block_reaches_backend_as_params(apache: ApacheServer) -> None:
    params = json.loads(apache.get("/converted/x").body)
    assert params["PythonHandler"] == "first second::handler"
    assert params["PythonDebug"] == "On"
    assert params["PythonOption.greeting"] == 'say "hi" \\ bye'
    assert params["PythonOption.emptied"] == ""


@pytest.mark.apache('<Directory "@DOCROOT@/flup-sh">\n    SetHandler "@FLUP_HANDLER@"\n'
                    '    ProxyFCGIBackendType GENERIC\n</Directory>')
def test_sethandler_form_maps_uri_to_file(apache: ApacheServer) -> None:
    params = json.loads(apache.get("/flup-sh/script.py/extra/info").body)
    assert params["SCRIPT_NAME"] == "/flup-sh/script.py"
    assert params["SCRIPT_FILENAME"] == str(apache.run_dir / "htdocs" / "flup-sh" / "script.py")


@pytest.mark.apache('<Location "/flup/">\n    ProxyPass "@FLUP@"\n</Location>')
def test_error_log_since_mark_holds_only_new_lines(apache: ApacheServer) -> None:
    token = uuid.uuid4().hex
    mark = apache.error_log_mark()
    assert apache.get(f"/flup/stderr?{token}").status == 200
    # Apache writes FCGI_STDERR to the error log (AH01071) before it finishes the response.
    assert f"standin-stderr {token}" in apache.error_log(since=mark)
    assert token not in apache.error_log()[:mark]


@pytest.mark.apache('<Location "/flup/">\n    ProxyPass "@FLUP@"\n</Location>')
def test_recorded_curl_command_repeats_the_request(apache: ApacheServer) -> None:
    ours = apache.request("POST", "/flup/echo", headers={"X-Probe": "it's here"}, body=b"a=1&b=2")
    curl = subprocess.run(shlex.split(apache.history[-1]), capture_output=True, timeout=30, check=True)
    head, _, body = curl.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    theirs = json.loads(body)
    for key in ("REQUEST_METHOD", "HTTP_X_PROBE", "CONTENT_LENGTH", "SCRIPT_NAME"):
        assert theirs[key] == json.loads(ours.body)[key]


@pytest.mark.mod_python_apache('<Location "/mp/hello">\n    SetHandler mod_python\n'
                               '    PythonHandler hello\n</Location>')
def test_mod_python_serves_seed_handler(mod_python_apache: ApacheServer) -> None:
    response = mod_python_apache.get("/mp/hello")
    assert response.status == 200
    assert response.header("Content-Type") == "text/plain"
    assert response.body == HELLO
    assert "mod_python/" in (response.header("Server") or "")


def test_private_apache_serves_static_file_and_stops(start_apache: Callable[..., ApacheServer]) -> None:
    server = start_apache([], name="private", static_files={"hello.txt": HELLO})
    response = server.get("/hello.txt")
    assert (response.status, response.body) == (200, HELLO)
    assert server.stop() == 0
    assert not server.alive
