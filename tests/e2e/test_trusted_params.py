"""`serve --fixed PythonDebug=Off` through real Apache: a block that sets `PythonDebug On` (what any client of the
socket can send) gets no traceback page from a raising handler; the same block on a daemon without the pin does,
which shows the check can fail. And `--allow-params`: a param outside the list has no effect, with a log line."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from e2e.harness import ApacheServer, ManagedProcess, free_port, start_daemon
from fcgi_handlers.apache import Backend, mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

DEBUG_BLOCK = """<Location "{url}">
    SetHandler mod_python
    PythonHandler content::raises
    PythonDebug On
    PythonOption shown yes
</Location>"""
OPTIONS_BLOCK = """<Location "{url}">
    SetHandler mod_python
    PythonHandler content::options
    PythonOption shown yes
    PythonOption hidden yes
</Location>"""


@pytest.fixture(scope="module")
def locked_daemon(backend_dir: Path) -> Iterator[ManagedProcess]:
    """A daemon that pins PythonDebug Off and honours only the handler and one option."""
    process = start_daemon(free_port(), backend_dir, extra_args=[
        "--fixed", "PythonDebug=Off", "--allow-params", "PythonHandler,PythonOption.shown,PythonDebug"])
    yield process
    process.stop()


def test_fixed_python_debug_off_holds_through_apache(start_apache: Callable[..., ApacheServer],
                                                      locked_daemon: ManagedProcess, daemon: ManagedProcess) -> None:
    locked, plain = Backend(port=locked_daemon.port), Backend(port=daemon.port)
    server = start_apache([mod_python_block_to_daemon(DEBUG_BLOCK.format(url="/locked/"), locked),
                           mod_python_block_to_daemon(DEBUG_BLOCK.format(url="/plain/"), plain)],
                          name="trusted-params")
    unpinned = server.get("/plain/x")
    assert unpinned.status == 500 and b"Traceback" in unpinned.body and b"boom" in unpinned.body
    pinned = server.get("/locked/x")
    assert pinned.status == 500, server.failure_report()
    assert b"Traceback" not in pinned.body and b"boom" not in pinned.body
    assert b"Internal Server Error" in pinned.body  # Apache's stock page instead
    assert "ValueError: boom" in server.error_log()  # the traceback still reaches Apache's error log


def test_allow_params_ignores_the_others_through_apache(start_apache: Callable[..., ApacheServer],
                                                       locked_daemon: ManagedProcess) -> None:
    server = start_apache([mod_python_block_to_daemon(OPTIONS_BLOCK.format(url="/opts/"),
                                                      Backend(port=locked_daemon.port))], name="allowed-params")
    response = server.get("/opts/x")
    assert response.status == 200 and b"shown" in response.body and b"hidden" not in response.body
    assert "ignoring the param PythonOption.hidden sent by the client: not in --allow-params" in \
        locked_daemon.log_path.read_text()
