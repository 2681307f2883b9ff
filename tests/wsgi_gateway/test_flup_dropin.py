"""`fcgi_handlers.flup.WSGIServer` takes flup's constructor arguments with flup's meaning (below the server layer:
the settings it would serve with), and runs as CGI where flup does. Through Apache: tests/e2e/test_wsgi.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fcgi_handlers.flup import FCGI_RESPONDER, WSGIServer


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_bind_addresses_as_flup_takes_them() -> None:
    assert WSGIServer(app, bindAddress=("127.0.0.1", 9000)).settings().bind == "127.0.0.1:9000"
    assert WSGIServer(app, bindAddress=("", 9000)).settings().bind == "0.0.0.0:9000"
    assert WSGIServer(app, bindAddress=("::1", 9000)).settings().bind == "[::1]:9000"
    assert WSGIServer(app).settings().bind == "fd:0"   # a web server's FastCGI child: the socket is stdin
    unix = WSGIServer(app, bindAddress="/run/app.sock", umask=0o002).settings()
    assert (unix.bind, unix.socket_mode) == ("unix:/run/app.sock", 0o775)
    with pytest.raises(ValueError, match="bindAddress"):
        WSGIServer(app, bindAddress=("127.0.0.1", "9000"))   # type: ignore[arg-type]


def test_flups_web_server_list_is_the_allowed_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FCGI_WEB_SERVER_ADDRS", raising=False)
    assert WSGIServer(app, bindAddress=("127.0.0.1", 9000)).settings().allowed_clients is None
    monkeypatch.setenv("FCGI_WEB_SERVER_ADDRS", "10.0.0.5, 192.0.2.7")
    assert WSGIServer(app, bindAddress=("0.0.0.0", 9000)).settings().allowed_clients == ("10.0.0.5", "192.0.2.7")


def test_threads_and_processes_follow_flups_flags() -> None:
    default = WSGIServer(app, bindAddress=("127.0.0.1", 1)).settings()
    assert default.workers == 1 and default.threads > 1   # one process, as flup's threaded server
    single = WSGIServer(app, bindAddress=("127.0.0.1", 1), multithreaded=False).settings()
    assert single.threads == 1
    assert WSGIServer(app, bindAddress=("127.0.0.1", 1), maxThreads=40).settings().threads == 40
    assert WSGIServer(app, bindAddress=("127.0.0.1", 1), multiprocess=True, workers=3).settings().workers == 3
    WSGIServer(app, bindAddress=("127.0.0.1", 1), minSpare=1, maxSpare=5, multiplexed=True, debug=True,
               roles=(FCGI_RESPONDER,), environ={"k": "v"})


def test_unknown_arguments_fail_as_in_flup() -> None:
    with pytest.raises(TypeError, match="maxthreads"):
        WSGIServer(app, maxthreads=4)
    with pytest.raises(ValueError, match="FCGI_RESPONDER"):
        WSGIServer(app, roles=(2,))


def test_without_a_socket_on_stdin_it_runs_as_cgi(tmp_path: Path) -> None:
    script = tmp_path / "cgi_app.py"
    script.write_text("from fcgi_handlers.flup import WSGIServer\n"
                      "def app(environ, start_response):\n"
                      "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                      "    return [environ['QUERY_STRING'].encode()]\n"
                      "WSGIServer(app).run()\n")
    env = {**os.environ, "REQUEST_METHOD": "GET", "QUERY_STRING": "q=1", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "PYTHONPATH": str(Path(__file__).parents[2])}
    result = subprocess.run([sys.executable, str(script)], stdin=subprocess.DEVNULL, capture_output=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"Status: 200 OK\r\n") and result.stdout.endswith(b"\r\n\r\nq=1")
