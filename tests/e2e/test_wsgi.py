"""WSGI applications through real Apache: `fcgi-handlers serve --wsgi module:app`, and flup's own example script
with only its import line changed to `fcgi_handlers.flup`, started the way a web server starts a FastCGI child
(the listening socket as its stdin)."""
from __future__ import annotations

import ast
import inspect
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from e2e.harness import ApacheServer, ManagedProcess, free_port, make_run_dir, python_env, remove_run_dir
from fcgi_handlers.apache import Backend

pytestmark = pytest.mark.e2e

# The WSGI application both tests serve: the environ's path keys, the query and the body, as JSON.
ECHO_APP = '''
import json

def application(environ, start_response):
    body = environ["wsgi.input"].read()
    keys = ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_METHOD", "wsgi.url_scheme")
    answer = {key: environ[key] for key in keys}
    answer["PATH_INFO_UTF8"] = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
    answer["body"] = body.decode()
    answer["extra"] = environ.get("from.server")
    environ["wsgi.errors"].write("echo-app saw %s\\n" % answer["PATH_INFO_UTF8"])
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]

app = application
'''
FLUP_IMPORT = "from fcgi import WSGIServer"
OUR_IMPORT = "from fcgi_handlers.flup import WSGIServer"


def flup_example() -> str:
    """The example script in flup's own `flup.server.fcgi` docstring, as flup ships it."""
    import flup.server.fcgi as flup_fcgi

    doc = inspect.getdoc(flup_fcgi) or ""
    lines = doc.split("Example usage:", 1)[1].split("See the documentation", 1)[0].strip().splitlines()
    return "\n".join(line.strip() for line in lines) + "\n"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    path = tmp_path / "app"
    path.mkdir()
    (path / "myapplication.py").write_text(ECHO_APP)
    return path


def proxied(start_apache: Callable[..., ApacheServer], port: int, mount: bool) -> ApacheServer:
    backend = Backend(port=port)
    block = ['<Location "/wsgi/">', f' ProxyPass "{backend.worker_url()}"']
    if mount:
        block.append(" SetEnv FCGI_HANDLERS_WSGI_MOUNT /wsgi")
    return start_apache(["\n".join([*block, "</Location>"])], backend=backend)


@pytest.fixture
def wsgi_daemon(app_dir: Path, tmp_path: Path) -> Iterator[ManagedProcess]:
    port = free_port()
    argv = [sys.executable, "-m", "fcgi_handlers", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--wsgi", "myapplication:application", "--path", str(app_dir)]
    process = ManagedProcess("fcgi-handlers serve --wsgi", argv, port=port, log_path=tmp_path / "daemon.log",
                             env=python_env(), cwd=tmp_path)
    process.start()
    yield process
    process.stop()


def test_serve_wsgi_gives_the_app_a_pep3333_environ(wsgi_daemon: ManagedProcess,
                                                    start_apache: Callable[..., ApacheServer]) -> None:
    apache = proxied(start_apache, wsgi_daemon.port, mount=True)
    response = apache.request("POST", "/wsgi/caf%C3%A9/x?a=1&b=%20", body=b"k=v",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 200, response.text
    seen = json.loads(response.body)
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO_UTF8"]) == ("/wsgi", "/caf\u00e9/x")
    assert (seen["QUERY_STRING"], seen["REQUEST_METHOD"], seen["body"]) == ("a=1&b=%20", "POST", "k=v")
    # wsgi.errors reaches Apache's error log (which escapes the non-ASCII bytes).
    assert "echo-app saw /caf\\xc3\\xa9/x" in apache.error_log(apache.test_mark)


def test_serve_wsgi_with_a_bad_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for spec, message in (("no-such-module:app", "expected MODULE:APP"), ("nosuchmodule:app", "no module named")):
        result = subprocess.run([sys.executable, "-m", "fcgi_handlers", "serve", "--bind", "127.0.0.1:1",
                                 "--wsgi", spec], capture_output=True, text=True, timeout=60, env=python_env(),
                                cwd=tmp_path, check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_flups_example_script_runs_with_only_the_import_line_changed(
        app_dir: Path, tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> None:
    original = flup_example()
    assert FLUP_IMPORT in original
    script = original.replace(FLUP_IMPORT, OUR_IMPORT)
    changed = [(a, b) for a, b in zip(original.splitlines(), script.splitlines()) if a != b]
    assert changed == [(FLUP_IMPORT, OUR_IMPORT)]
    ast.parse(script)
    (app_dir / "example.py").write_text(script)
    # As mod_fcgid or spawn-fcgi start a FastCGI program: the listening socket is its stdin (fd 0).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = python_env()
    env["PYTHONPATH"] = f"{app_dir}:{env['PYTHONPATH']}"
    log = tmp_path / "example.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(app_dir / "example.py")], stdin=listener.fileno(), stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=app_dir, start_new_session=True)
    listener.close()
    try:
        apache = proxied(start_apache, port, mount=False)
        response = apache.request("GET", "/wsgi/a%20b?x=1")
        assert response.status == 200, (response.text, log.read_text())
        seen = json.loads(response.body)
        # No mount: the application sits at the root; PATH_INFO is the decoded path, not cut from REQUEST_URI.
        assert (seen["SCRIPT_NAME"], seen["PATH_INFO"], seen["QUERY_STRING"]) == ("", "/wsgi/a b", "x=1")
    finally:
        proc.terminate()
        try:
            assert proc.wait(15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_flup_style_unix_socket_with_umask_through_apache(
        app_dir: Path, tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> None:
    """`WSGIServer(app, bindAddress=PATH, umask=0o000)`: the socket Apache's children (www-data) connect to."""
    run_dir = make_run_dir("flup-unix")   # world-traversable, unlike pytest's tmp_path under root
    socket_path = run_dir / "app.sock"
    (app_dir / "serve_unix.py").write_text(
        "from fcgi_handlers.flup import WSGIServer\n"
        "from myapplication import app\n"
        f"WSGIServer(app, bindAddress={str(socket_path)!r}, umask=0o000,\n"
        "           environ={'from.server': 'extra'}).run()\n")
    env = python_env()
    env["PYTHONPATH"] = f"{app_dir}:{env['PYTHONPATH']}"
    log = tmp_path / "unix.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(app_dir / "serve_unix.py")], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=app_dir, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not socket_path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert socket_path.exists(), log.read_text()
        assert socket_path.stat().st_mode & 0o777 == 0o777
        backend = Backend(socket=str(socket_path))
        block = f'<Location "/wsgi/">\n ProxyPass "{backend.worker_url()}"\n</Location>'
        apache = start_apache([block], backend=backend)
        response = apache.get("/wsgi/x")
        assert response.status == 200, (response.text, log.read_text())
        assert json.loads(response.body)["extra"] == "extra"   # flup's environ= argument
    finally:
        proc.terminate()
        try:
            assert proc.wait(15) == 0, log.read_text()
            assert not socket_path.exists()   # the daemon removes the socket it created
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            remove_run_dir(run_dir)
