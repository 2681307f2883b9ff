"""`fcgi_handlers.testing.HttpdServer` on its own: a real Apache and the daemon from a whole configuration file with
two sections, its logs, and a failing test's report sections."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator
from urllib.request import urlopen

import pytest

from fcgi_handlers.testing import HttpdServer
from fcgi_handlers.testing.server import missing

pytestmark = pytest.mark.e2e

HANDLER = '''
from mod_python import apache

def handler(req):
    req.log_error("noted %s" % req.uri)
    req.content_type = "text/plain"
    req.write("%s %s" % (req.get_options().get("side"), req.uri))
    return apache.OK
'''
CONFIG = '''# two sections of a production httpd.conf
<Location "/one/">
    SetHandler mod_python
    PythonHandler noted
    PythonOption side one
</Location>

<Location "/two/">
    SetHandler mod_python
    PythonHandler noted
    PythonOption side two
</Location>
'''


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HttpdServer]:
    reason = missing("daemon")
    if reason:
        pytest.skip(reason)
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "noted.py").write_text(HANDLER)
    config = tmp_path / "httpd-sections.conf"
    config.write_text(CONFIG)
    started = HttpdServer(handlers, config).start()
    yield started
    started.stop()


def test_both_sections_answer_and_the_logs_are_readable(server: HttpdServer) -> None:
    server.begin_test()
    with urlopen(server.url("/one/a"), timeout=30) as answer:
        assert answer.read() == b"one /one/a"
    response = server.get("/two/b")
    assert (response.status, response.text) == (200, "two /two/b")
    assert any("noted /two/b" in line for line in response.log)
    assert "noted /one/a" in server.error_log and "noted /two/b" in server.error_log
    assert "listening at 127.0.0.1:" in server.daemon_log
    sections = dict(server.failure_report())
    assert "curl -sS -i http://127.0.0.1:" in sections["fcgi_handlers httpd: requests (curl)"]
    assert "-> 200 OK" in sections["fcgi_handlers httpd: last response"]
    assert "noted /two/b" in sections["fcgi_handlers httpd: Apache error log (daemon)"]
    assert "fcgi_handlers httpd: daemon log" in sections


def test_stop_ends_both_processes(server: HttpdServer) -> None:
    assert server.apache is not None and server.daemon is not None
    server.stop()
    assert not server.apache.alive and not server.daemon.alive
