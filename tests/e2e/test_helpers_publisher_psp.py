"""mod_python.publisher, mod_python.psp and mod_python.wsgi behind real Apache: the daemon answers as real mod_python
(Debian's 3.5.0) does for the same configuration, except where mod_python is broken on Python 3.

Pages live in tests/e2e/handlers (the daemon's --path); each Apache maps a URL to them with an Alias and a
<Directory> block, the SetHandler form in which Apache gives the daemon the page's file name. The tests ask for the
`daemon` fixture themselves: the conftest starts it for snippets naming its worker URL, which this form does not.
"""
from __future__ import annotations

import base64

import pytest

from e2e.harness import ApacheServer, ManagedProcess
from fcgi_handlers.apache import Backend, mod_python_block_to_daemon

pytestmark = pytest.mark.e2e


def directory_block(alias: str, folder: str, handler: str) -> str:
    return (f'<Directory "@HANDLERS@/{folder}">\n    Require all granted\n    CGIPassAuth On\n'
            f'    SetHandler mod_python\n    PythonHandler {handler}\n</Directory>')


def for_daemon(alias: str, folder: str, handler: str):  # type: ignore[no-untyped-def]
    """The same block sent to the daemon (SetHandler "proxy:fcgi://..."), as the marker's renderer."""
    def render(backends: object) -> str:
        backend: Backend = backends.daemon  # type: ignore[attr-defined]
        return f'Alias "{alias}" "@HANDLERS@/{folder}"\n' + \
            mod_python_block_to_daemon(directory_block(alias, folder, handler), backend)
    return render


def for_mod_python(alias: str, folder: str, handler: str) -> str:
    return f'Alias "{alias}" "@HANDLERS@/{folder}"\n' + directory_block(alias, folder, handler)


PUB = ("/e2e-pub", "pubapp", "mod_python.publisher")
PSP = ("/e2e-psp", "pspapp", "mod_python.psp")
WSGI_BLOCK = ('<Location "/e2e-wsgi">\n    SetHandler mod_python\n    PythonHandler mod_python.wsgi\n'
              '    PythonOption mod_python.wsgi.application wsgi_echo\n</Location>')


@pytest.mark.mod_python_apache(for_mod_python(*PUB))
@pytest.mark.apache.with_args(for_daemon(*PUB))
def test_publisher_answers_like_mod_python(apache: ApacheServer, mod_python_apache: ApacheServer,
                                           daemon: ManagedProcess) -> None:
    for path in ("/e2e-pub/", "/e2e-pub/hello?name=apache", "/e2e-pub/index.py/hello", "/e2e-pub/_private",
                 "/e2e-pub/missing"):
        ours, theirs = apache.get(path), mod_python_apache.get(path)
        assert (ours.status, ours.header("Content-Type")) == (theirs.status, theirs.header("Content-Type")), path
        if theirs.status == 200:
            assert ours.body == theirs.body, path
    assert apache.get("/e2e-pub/hello?name=apache").body == b"hello apache"
    assert apache.get("/e2e-pub/_private").status == 403


@pytest.mark.mod_python_apache(for_mod_python(*PUB))
@pytest.mark.apache.with_args(for_daemon(*PUB))
def test_publisher_nested_auth_works_where_mod_python_fails(apache: ApacheServer, mod_python_apache: ApacheServer,
                                                            daemon: ManagedProcess) -> None:
    challenge = apache.get("/e2e-pub/members")
    assert challenge.status == mod_python_apache.get("/e2e-pub/members").status == 401
    assert challenge.header("WWW-Authenticate") == 'Basic realm="Members"'
    credentials = {"Authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
    assert mod_python_apache.get("/e2e-pub/members", credentials).status == 400  # base64.decodestring is gone
    ours = apache.get("/e2e-pub/members", credentials)
    assert (ours.status, ours.body) == (200, b"welcome Basic")
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:nope").decode()}
    assert apache.get("/e2e-pub/members", wrong).status == 401


@pytest.mark.mod_python_apache(for_mod_python(*PSP))
@pytest.mark.apache.with_args(for_daemon(*PSP))
def test_psp_page_renders_like_mod_python(apache: ApacheServer, mod_python_apache: ApacheServer,
                                          daemon: ManagedProcess) -> None:
    ours, theirs = apache.get("/e2e-psp/page.psp?x=1"), mod_python_apache.get("/e2e-psp/page.psp?x=1")
    assert theirs.status == 200 and b"<li>B</li>" in theirs.body
    assert (ours.status, ours.header("Content-Type"), ours.body) == \
        (theirs.status, theirs.header("Content-Type"), theirs.body)


@pytest.mark.mod_python_apache(WSGI_BLOCK)
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(WSGI_BLOCK, b.daemon))
def test_wsgi_mount_matches_mod_python(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    ours, theirs = apache.get("/e2e-wsgi/foo/bar?x=1"), mod_python_apache.get("/e2e-wsgi/foo/bar?x=1")
    assert theirs.body == b"SCRIPT_NAME='/e2e-wsgi' PATH_INFO='/foo/bar' QUERY_STRING='x=1'"
    assert (ours.status, ours.body) == (theirs.status, theirs.body)
