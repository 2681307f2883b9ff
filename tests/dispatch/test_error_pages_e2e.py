"""Our stock error pages against a live Apache 2.4.71, byte for byte.

A private Apache (prefork, mod_alias, mod_cgi) answers `Redirect <status> /s<status>` for every status it knows,
in three virtual hosts (ServerSignature On / Off / EMail, with a ServerAdmin that needs escaping).  A CGI script in
each host reports the SERVER_SIGNATURE and SERVER_ADMIN params Apache hands a backend; `stock_page` rendered from
those must equal the body Apache sent, for GET and POST.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcgi_handlers.dispatch.errors import stock_page
from fcgi_handlers.request.constants import REASON_PHRASES
from fcgi_handlers.request.response import ERROR_CONTENT_TYPE, allow_header

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
START_TIMEOUT = 20.0
ADMIN = 'web<master>&"co"@example.com'
# A redirect target with every character Apache escapes in the page (and a quote it leaves alone).
TARGET = "/else/where?a=1&b=<x>\"q'"
HOSTS = {"on.example": "On", "off.example": "Off", "mail.example": "EMail"}
# Statuses Apache can answer through `Redirect` with a body: 1xx would be interim responses, 204/304 carry no body.
STATUSES = sorted(s for s in REASON_PHRASES if 200 <= s < 600 and s not in (204, 304))
# Apache turns codes it does not know into its 500 page; so do we (dispatcher), so the page must be the 500 one.
UNKNOWN = (299, 418, 599)

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not os.access(APACHE, os.X_OK), reason="apache2 is not installed")]

CGI = """#!/usr/bin/python3
import json, os
print("Content-Type: application/json")
print()
print(json.dumps({k: os.environ.get(k) for k in ("SERVER_SIGNATURE", "SERVER_ADMIN")}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vhost(name: str, signature: str) -> str:
    lines = [f"<VirtualHost 127.0.0.1:*>", f"ServerName {name}", f"ServerSignature {signature}",
             f"ServerAdmin '{ADMIN}'", "ScriptAlias /cgi/ @RUN@/cgi/"]
    for status in (*STATUSES, *UNKNOWN):
        target = f" {TARGET}" if 300 <= status < 400 else ""  # unquoted: a quote mid-word is literal
        lines.append(f"Redirect {status} /s{status}{target}")
    lines.append("</VirtualHost>")
    return "\n".join(lines)


def _config(run: Path, port: int) -> str:
    modules = ["mpm_prefork", "authz_core", "mime", "alias", "cgi"]
    lines = [f"ServerRoot {run}", f"PidFile {run}/httpd.pid", f"ErrorLog {run}/error.log", f"Listen 127.0.0.1:{port}",
             "ServerName localhost", "User www-data", "Group www-data", "TypesConfig /etc/mime.types",
             f"DocumentRoot {run}", *[f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in modules]]
    text = "\n".join(lines + [_vhost(name, sig) for name, sig in HOSTS.items()]) + "\n"
    return text.replace("@RUN@", str(run))


@pytest.fixture(scope="module")
def apache() -> Iterator[int]:
    run = Path(tempfile.mkdtemp(prefix="fcgi-dispatch-pages-"))
    run.chmod(0o755)
    (run / "cgi").mkdir(mode=0o755)
    script = run / "cgi" / "env.cgi"
    script.write_text(CGI)
    script.chmod(0o755)
    port = _free_port()
    (run / "httpd.conf").write_text(_config(run, port))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    with open(run / "stderr.log", "wb") as out:
        proc = subprocess.Popen([APACHE, "-f", str(run / "httpd.conf"), "-k", "start", "-DFOREGROUND"], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_for_port(proc, port, run)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        shutil.rmtree(run, ignore_errors=True)


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, run: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = "".join((run / name).read_text() for name in ("stderr.log", "error.log") if (run / name).exists())
            raise RuntimeError(f"apache2 exited with {proc.returncode}:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"apache2 did not listen on {port} within {START_TIMEOUT}s")


def _request(port: int, host: str, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _params(port: int, host: str) -> dict[str, str]:
    status, _, body = _request(port, host, "GET", "/cgi/env.cgi")
    assert status == 200, body
    params: dict[str, str] = json.loads(body)
    return params


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_stock_pages_match_apache(apache: int, host: str, method: str) -> None:
    params = _params(apache, host)
    assert params["SERVER_ADMIN"] == ADMIN
    mismatches = []
    for status in STATUSES:
        got_status, headers, body = _request(apache, host, method, f"/s{status}")
        assert got_status == status
        assert headers["content-type"] == ERROR_CONTENT_TYPE
        expected = stock_page(status, method=method, location=headers.get("location", ""),
                              server_admin=params["SERVER_ADMIN"], signature=params["SERVER_SIGNATURE"])
        if body != expected:
            mismatches.append((status, body, expected))
        if status in (405, 501):
            # No req.allow_methods() call here: Apache still lists TRACE.
            assert headers["allow"] == allow_header(())
    assert not mismatches, mismatches[0]


@pytest.mark.parametrize("status", UNKNOWN)
def test_unknown_status_is_apaches_500_page(apache: int, status: int) -> None:
    params = _params(apache, "on.example")
    got_status, _, body = _request(apache, "on.example", "GET", f"/s{status}")
    assert got_status == 500
    assert body == stock_page(500, server_admin=params["SERVER_ADMIN"], signature=params["SERVER_SIGNATURE"])


def test_signature_off_has_no_rule(apache: int) -> None:
    assert _params(apache, "off.example")["SERVER_SIGNATURE"] == ""
    _, _, body = _request(apache, "off.example", "GET", "/s404")
    assert b"<hr>" not in body and b"<address>" not in body
