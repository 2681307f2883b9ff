"""The server-level phases (PythonInitHandler, PythonPostReadRequestHandler, PythonTransHandler) through real Apache.

mod_python allows them only at server level, where they run for every request, so each side gets an Apache of its
own: real mod_python with the directives at server level, and an Apache in front of the daemon with the same
directives as server-level `SetEnv` (what the README tells users to write; a block cannot carry them).
"""
from __future__ import annotations

from typing import Callable

import pytest

from e2e.harness import HANDLERS_DIR, ApacheServer, ManagedProcess
from e2e.test_phases import TRACE_DIR, fetch, trace_dir, trace_lines, view  # noqa: F401 - trace_dir: autouse
from fcgi_handlers.apache import Backend, mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

SERVER_PHASES = {"PythonInitHandler": "phases::first phases::second",
                 "PythonPostReadRequestHandler": "phases::first phases::second",
                 "PythonTransHandler": "phases::first phases::second"}
BLOCK = f"""<Location "/pr/">
    SetHandler mod_python
    PythonHeaderParserHandler phases::first
    PythonHandler phases::content
    PythonLogHandler phases::log
    PythonCleanupHandler phases::cleanup
    PythonOption trace_dir {TRACE_DIR}
</Location>"""


@pytest.fixture(scope="module")
def pair(apache_factory: object, daemon: ManagedProcess) -> tuple[ApacheServer, ApacheServer]:
    """(the daemon's Apache, the mod_python Apache), both with the server-level phases."""
    from e2e.conftest import require_apache
    require_apache("python", "mpm_prefork")
    factory = apache_factory
    backend = Backend(port=daemon.port)
    ours = factory.start(  # type: ignore[attr-defined]
        [mod_python_block_to_daemon(BLOCK, backend)], name="phases-server-daemon", backend=backend,
        global_lines=[f'SetEnv {name} "{value}"' for name, value in SERVER_PHASES.items()])
    theirs = factory.start(  # type: ignore[attr-defined]
        [BLOCK], name="phases-server-mod_python", mpm="prefork", modules=["python"],
        global_lines=[f"PythonPath \"['{HANDLERS_DIR}'] + sys.path\"",
                      *(f"{name} {value}" for name, value in SERVER_PHASES.items())])
    return ours, theirs


@pytest.mark.parametrize("query", ["", "postreadrequest=DECLINED", "trans=DECLINED", "init=DECLINED",
                                   "postreadrequest=FORBIDDEN", "trans=FORBIDDEN", "init=FORBIDDEN",
                                   "postreadrequest=WDONE", "init=WDONE", "trans=OK", "postreadrequest=REDIRECT"])
def test_server_level_phases(pair: tuple[ApacheServer, ApacheServer], query: str,
                             request: pytest.FixtureRequest) -> None:
    from e2e.conftest import track
    ours, theirs = pair
    track(request, ours)
    track(request, theirs)
    (response, token), (reference, their_token) = fetch(ours, "/pr/x", query), fetch(theirs, "/pr/x", query)
    assert view(response) == view(reference)
    if not query:
        # Init runs in the post-read-request hook, before the PostReadRequest handlers; Trans is RUN_FIRST.
        assert response.text.split()[:6] == ["init:first", "init:second", "postreadrequest:first",
                                             "postreadrequest:second", "trans:first", "headerparser:first"]
    after = trace_lines(token, "cleanup uri=/pr/x")
    assert after[0] == f"log uri=/pr/x status={response.status} next=None" and after[-1] == "cleanup uri=/pr/x"
    if query.split("=")[-1] in ("FORBIDDEN", "WDONE", "REDIRECT") and not query.startswith("trans"):
        # Intended difference: a request that ends in post-read-request never reaches mod_python's <Location>
        # configuration (its log and cleanup handlers); the daemon has the block's directives from the start.
        assert trace_lines(their_token, "cleanup uri=/pr/x", wait=0.5) == []
    else:
        assert after == trace_lines(their_token, "cleanup uri=/pr/x")


def test_directory_level_init_differs_on_purpose(apache_factory: object, daemon: ManagedProcess,
                                                 request: pytest.FixtureRequest) -> None:
    """mod_python 3.5 never runs a directory-level PythonInitHandler (its post-read-request hook marks Init as done
    before the directory's configuration applies); the daemon cannot tell the levels apart and runs it first."""
    from e2e.conftest import track
    block = BLOCK.replace("/pr/", "/pr-init/").replace("    PythonHandler", "    PythonInitHandler phases::second\n"
                                                                            "    PythonHandler")
    backend = Backend(port=daemon.port)
    start: Callable[..., ApacheServer] = apache_factory.start  # type: ignore[attr-defined]
    ours = start([mod_python_block_to_daemon(block, backend)], name="phases-init-daemon", backend=backend)
    theirs = start([block], name="phases-init-mod_python", mpm="prefork", modules=["python"],
                   global_lines=[f"PythonPath \"['{HANDLERS_DIR}'] + sys.path\""])
    track(request, ours)
    track(request, theirs)
    assert theirs.get("/pr-init/x").text.split()[0] == "headerparser:first"
    assert ours.get("/pr-init/x").text.split()[:2] == ["init:second", "headerparser:first"]
