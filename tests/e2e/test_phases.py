"""The phases before and after the content handler through real Apache: real mod_python and the daemon answer the
same block (the daemon's from `mod_python_block_to_daemon`), for every phase and every kind of result.

The handlers (tests/e2e/handlers/phases.py) record which ran in the response body, and what ran after the response
(log phase, registered cleanups, cleanup phase) in a trace file per request; both must match mod_python's.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

from e2e.harness import ApacheServer, Response
from fcgi_handlers.apache import mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

F = TypeVar("F", bound=Callable[..., object])
# One per test run (two runs on one host must not share it); made at import because the snippets name it.
TRACE_DIR = Path(tempfile.mkdtemp(prefix="fcgi-handlers-e2e-phase-traces-"))
COMPARED_HEADERS = ("Content-Type", "Location")
TRACE_WAIT = 10.0  # seconds the daemon's after-response work may take to reach the trace file


def both(mod_python_block: str) -> Callable[[F], F]:
    """Serve `mod_python_block` from the mod_python Apache and its translation from the daemon's Apache."""
    def mark(fn: F) -> F:
        fn = pytest.mark.mod_python_apache(mod_python_block)(fn)
        return pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(mod_python_block, b.daemon))(fn)
    return mark


@pytest.fixture(scope="module", autouse=True)
def trace_dir() -> Iterator[Path]:
    """A directory Apache's children (www-data under root) and the daemon can both write; emptied afterwards."""
    TRACE_DIR.mkdir(exist_ok=True)
    TRACE_DIR.chmod(0o1777)
    yield TRACE_DIR
    shutil.rmtree(TRACE_DIR, ignore_errors=True)


def view(response: Response) -> tuple[object, ...]:
    headers = tuple((name, response.header(name)) for name in COMPARED_HEADERS)
    return response.status, response.reason, headers, re.sub(rb"Port \d+", b"Port N", response.body)


def trace_lines(token: str, last: str, wait: float = TRACE_WAIT) -> list[str]:
    """The trace file's lines once its line `last` is written (bounded wait: both servers write after the
    response, mod_python when the request's pool goes, the daemon after END_REQUEST)."""
    path = TRACE_DIR / token
    deadline = time.monotonic() + wait
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if last in lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def fetch(server: ApacheServer, path: str, query: str) -> tuple[Response, str]:
    token = uuid.uuid4().hex
    return server.get(f"{path}?t={token}&{query}" if query else f"{path}?t={token}"), token


def compare(ours: ApacheServer, theirs: ApacheServer, path: str, query: str) -> tuple[Response, list[str]]:
    """Same response and same after-response trace from both; returns the daemon's."""
    mine, my_token = fetch(ours, path, query)
    reference, their_token = fetch(theirs, path, query)
    assert view(mine) == view(reference)
    last = f"cleanup uri={path}"
    expected = trace_lines(their_token, last)
    assert trace_lines(my_token, last) == expected, (trace_lines(my_token, last), expected)
    return mine, expected


STACK = f"""<Location "/ph/">
    SetHandler mod_python
    PythonHeaderParserHandler phases::first phases::second
    PythonAccessHandler phases::first phases::second
    PythonTypeHandler phases::first phases::second
    PythonFixupHandler phases::first phases::second
    PythonHandler phases::first phases::content
    PythonLogHandler phases::log
    PythonCleanupHandler phases::cleanup
    PythonOption trace_dir {TRACE_DIR}
</Location>"""

PHASES = ("headerparser", "access", "type", "fixup", "content")
MODES = ("OK", "DECLINED", "DONE", "WDONE", "FORBIDDEN", "NOTFOUND", "RAISE", "REDIRECT", "SRDONE", "SRSTATUS")


@both(STACK)
def test_every_phase_runs_in_apaches_order_with_its_stacked_handlers(apache: ApacheServer,
                                                                      mod_python_apache: ApacheServer) -> None:
    response, after = compare(apache, mod_python_apache, "/ph/x", "")
    ran = response.text.splitlines()[0].split()
    # Type is a RUN_FIRST phase: its first handler's OK ends the chain (mod_python's _status_values).
    assert ran == ["headerparser:first", "headerparser:second", "access:first", "access:second", "type:first",
                   "fixup:first", "fixup:second", "content:first", "content:content"]
    assert after == ["log uri=/ph/x status=200 next=None", "registered cleanup uri=/ph/x", "cleanup uri=/ph/x"]


@both(STACK)
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("mode", MODES)
def test_each_result_in_each_phase(apache: ApacheServer, mod_python_apache: ApacheServer, phase: str,
                                   mode: str) -> None:
    response, after = compare(apache, mod_python_apache, "/ph/x", f"{phase}={mode}")
    # The log and cleanup phases run whatever the phases before decided.
    assert after[0].startswith("log uri=/ph/x status=") and after[-1] == "cleanup uri=/ph/x"
    if mode in ("OK", "DECLINED") and phase != "content":
        assert response.status == 200
        assert (f"{phase}:second" in response.text) == (phase != "type" or mode == "DECLINED")


@both(STACK)
@pytest.mark.parametrize("phase", ["headerparser", "type", "fixup"])
def test_handler_changed_and_handlers_added(apache: ApacheServer, mod_python_apache: ApacheServer,
                                            phase: str) -> None:
    # SetHandler is applied when the fixup phase starts: only a fixup handler's req.handler stays (then 404).
    changed, _ = compare(apache, mod_python_apache, "/ph/x", f"{phase}=HANDLER")
    assert changed.status == (404 if phase == "fixup" else 200)
    # Added to the running phase and to the content phase (after its configured handlers, so after the trace).
    response, _ = compare(apache, mod_python_apache, "/ph/x", f"{phase}=ADD")
    assert (f"{phase}:added" in response.text.split()) == (phase != "type")  # type: RUN_FIRST, OK ends it


@both(STACK)
def test_internal_redirect_runs_the_target_through_every_phase(apache: ApacheServer,
                                                               mod_python_apache: ApacheServer) -> None:
    response, after = compare(apache, mod_python_apache, "/ph/x", "content=IREDIRECT")
    assert "uri=/ph/target prev=/ph/x" in response.text
    # One pool for both: cleanups newest first, each request's cleanup phase registered when it was made.
    assert after == ["log uri=/ph/x status=200 next=/ph/target", "registered cleanup uri=/ph/x",
                     "registered cleanup uri=/ph/target", "cleanup uri=/ph/target", "cleanup uri=/ph/x"]


SLOW = f"""<Location "/ph-slow/">
    SetHandler mod_python
    PythonHandler phases::content
    PythonCleanupHandler phases::slow_cleanup
    PythonLogHandler phases::failing_log
    PythonOption trace_dir {TRACE_DIR}
</Location>"""


@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(SLOW, b.daemon))
def test_a_slow_cleanup_does_not_delay_the_response(apache: ApacheServer) -> None:
    started = time.monotonic()
    response, token = fetch(apache, "/ph-slow/x", "")
    elapsed = time.monotonic() - started
    assert response.status == 200 and response.text.startswith("content:content")
    assert elapsed < 1.5, f"the client waited {elapsed:.2f}s for a cleanup handler that sleeps 2s"
    # It did run, after the response; the failing log handler before it was only logged.
    assert trace_lines(token, "slow cleanup done") == ["registered cleanup uri=/ph-slow/x", "slow cleanup done"]
    assert time.monotonic() - started >= 2.0
