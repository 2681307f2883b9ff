"""Worker start and exit through real Apache: PythonImport (`--import`), interpreter names and their separate module
namespaces, and the child-exit cleanups (`apache.register_cleanup`, `req.server.register_cleanup`).

PythonImport and child exit are the daemon's own events (Apache's server-level configuration never reaches it), so
those tests run a daemon of their own with one worker; how the interpreter is named is compared with mod_python.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from e2e.harness import ApacheServer, ManagedProcess, free_port, make_run_dir, remove_run_dir, start_daemon
from fcgi_handlers.apache import Backend, mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

BLOCKS = [
    '<Location "/st-main/">\n SetHandler mod_python\n PythonHandler phases_startup\n</Location>',
    '<Location "/st-other/">\n SetHandler mod_python\n PythonHandler phases_startup\n'
    ' PythonInterpreter other\n</Location>',
    '<Location "/st-third/">\n SetHandler mod_python\n PythonHandler phases_startup\n'
    ' PythonInterpreter third\n</Location>',
]


@pytest.fixture
def own_daemon() -> Iterator[ManagedProcess]:
    """A daemon with one worker and two PythonImports: one into main_interpreter, one into `other`."""
    log_dir = make_run_dir("phases-startup")
    process = start_daemon(free_port(), log_dir, extra_args=[
        "--workers", "1", "--import", "phases_startup::init", "--import", "phases_startup::init other"])
    yield process
    pid = process.proc.pid if process.proc is not None else 0
    process.stop()
    Path(f"/tmp/fcgi-handlers-e2e-exit-{pid}").unlink(missing_ok=True)  # what the exit cleanups wrote
    remove_run_dir(log_dir)


def fields(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split())


def test_python_import_and_interpreter_namespaces(own_daemon: ManagedProcess,
                                                  start_apache: Callable[..., ApacheServer]) -> None:
    backend = Backend(port=own_daemon.port)
    apache = start_apache([mod_python_block_to_daemon(block, backend) for block in BLOCKS], backend=backend)
    main = [fields(apache.get("/st-main/").text) for _ in range(2)]
    # Named after SERVER_NAME (the Host header here), run in main_interpreter's namespace: that name was not
    # declared by an --import.
    assert main[0]["interpreter"] == main[0]["apache.interpreter"] == "127.0.0.1"
    assert (main[0]["imported_in"], main[0]["init_calls"]) == ("main_interpreter", "1")
    assert [m["hits"] for m in main] == ["1", "2"]
    other = fields(apache.get("/st-other/").text)
    assert (other["interpreter"], other["apache.interpreter"]) == ("other", "other")
    assert (other["imported_in"], other["init_calls"], other["hits"]) == ("other", "1", "1")  # its own module
    third = fields(apache.get("/st-third/").text)
    assert (third["imported_in"], third["init_calls"], third["hits"]) == ("None", "0", "1")
    assert fields(apache.get("/st-main/").text)["hits"] == "3"


def test_child_cleanups_run_when_the_worker_exits(own_daemon: ManagedProcess,
                                                  start_apache: Callable[..., ApacheServer]) -> None:
    backend = Backend(port=own_daemon.port)
    apache = start_apache([mod_python_block_to_daemon(BLOCKS[0], backend)], backend=backend)
    assert own_daemon.proc is not None
    exit_file = Path(f"/tmp/fcgi-handlers-e2e-exit-{own_daemon.proc.pid}")
    exit_file.unlink(missing_ok=True)
    assert apache.get("/st-main/?register").status == 200
    assert not exit_file.exists()
    assert own_daemon.stop() == 0  # SIGTERM: the worker finishes and exits normally
    lines = exit_file.read_text().splitlines()
    exit_file.unlink()
    # Newest first: the request's, then the two PythonImports' (main_interpreter's first); all of the one worker.
    assert [line.rsplit(" ", 1)[0] for line in lines] == ["req.server.register_cleanup", "apache.register_cleanup",
                                                          "apache.register_cleanup"]
    assert len({line.rsplit(" ", 1)[1] for line in lines}) == 1


NAMES = """<Location "/st-names/">
    SetHandler mod_python
    UseCanonicalName On
    PythonHandler phases_startup::names
</Location>"""
NAMED = NAMES.replace("/st-names/", "/st-named/").replace("</Location>", "    PythonInterpreter custom\n</Location>")


@pytest.mark.mod_python_apache(NAMES)
@pytest.mark.mod_python_apache(NAMED)
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(NAMES, b.daemon))
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(NAMED, b.daemon))
def test_interpreter_named_as_mod_python_names_it(apache: ApacheServer, mod_python_apache: ApacheServer) -> None:
    # With UseCanonicalName On, SERVER_NAME is the virtual host's ServerName, which mod_python names it after.
    for path, expected in (("/st-names/", "localhost"), ("/st-named/", "custom")):
        ours, theirs = apache.get(path), mod_python_apache.get(path)
        assert ours.text == theirs.text == f"req.interpreter={expected} apache.interpreter={expected}\n"
