"""The daemon behind real Apache serves the seed handler (tests/e2e/handlers/hello.py) in both routing forms, and
answers as real mod_python does for the same configuration block."""
from __future__ import annotations

import pytest

from e2e.harness import HELLO, ApacheServer
from fcgi_handlers.apache import mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

SEED_BLOCK = '''<Location "/seed/">
    SetHandler mod_python
    PythonHandler hello
</Location>'''


@pytest.mark.apache('<Location "/smoke/">\n    ProxyPass "@DAEMON@"\n    SetEnv PythonHandler "hello"\n</Location>')
def test_seed_handler_through_proxypass(apache: ApacheServer) -> None:
    response = apache.get("/smoke/")
    assert response.status == 200
    assert response.header("Content-Type") == "text/plain"
    assert response.body == HELLO


@pytest.mark.apache('<Directory "@DOCROOT@/daemon-sh">\n    SetHandler "@DAEMON_HANDLER@"\n'
                    '    SetEnv PythonHandler "hello"\n</Directory>')
def test_seed_handler_through_sethandler(apache: ApacheServer) -> None:
    response = apache.get("/daemon-sh/script.py")
    assert response.status == 200
    assert response.header("Content-Type") == "text/plain"
    assert response.body == HELLO


@pytest.mark.mod_python_apache(SEED_BLOCK)
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(SEED_BLOCK, b.daemon))
def test_daemon_answers_like_mod_python(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    ours, theirs = apache.get("/seed/"), mod_python_apache.get("/seed/")
    assert theirs.body == HELLO
    assert (ours.status, ours.header("Content-Type"), ours.body) == \
        (theirs.status, theirs.header("Content-Type"), theirs.body)
