"""Code reloading through real Apache: PythonAutoReload picks up a changed module, and SIGHUP replaces the workers
under load without failing a request (Apache keeps pooled connections: enablereuse=on).

Each test gets its own daemon (its handler directory is a temporary one the test rewrites) and its own Apache.
"""
from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from e2e.harness import ApacheServer, ManagedProcess, free_port, make_run_dir, remove_run_dir, start_daemon
from fcgi_handlers.apache import Backend

pytestmark = pytest.mark.e2e

MODULE = '''from mod_python import apache
import os

def handler(req):
    req.content_type = "text/plain"
    req.write("{version} %d" % os.getpid())
    return apache.OK
'''


def write_module(directory: Path, version: str) -> None:
    path = directory / "reloadme.py"
    path.write_text(MODULE.format(version=version))
    # mtime resolution can hide a change made within the same tick: move it forward explicitly.
    stamp = time.time() + (2 if version != "v1" else 0)
    os.utime(path, (stamp, stamp))


@pytest.fixture
def private_stack(start_apache: Callable[..., ApacheServer]) -> Iterator[tuple[ManagedProcess, ApacheServer, Path]]:
    handlers, logs = make_run_dir("reload-handlers"), make_run_dir("reload-logs")
    write_module(handlers, "v1")
    port = free_port()
    daemon = start_daemon(port, logs, handlers_dir=handlers, extra_args=["--workers", "2", "--threads", "4"])
    backend = Backend(port=port)
    blocks = [
        f'<Location "/auto">\n    ProxyPass "{backend.worker_url()}"\n    SetEnv PythonHandler "reloadme"\n</Location>',
        f'<Location "/noauto">\n    ProxyPass "{backend.worker_url()}"\n    SetEnv PythonHandler "reloadme"\n'
        '    SetEnv PythonAutoReload Off\n</Location>',
    ]
    try:
        yield daemon, start_apache(blocks, name="reload", backend=backend), handlers
    finally:
        daemon.stop()
        remove_run_dir(handlers)
        remove_run_dir(logs)


def versions(apache: ApacheServer, path: str, count: int) -> set[str]:
    return {apache.get(path).body.decode().split()[0] for _ in range(count)}


def answers(apache: ApacheServer, path: str, count: int) -> set[tuple[str, str]]:
    """(version, worker pid) of `count` answers."""
    found: set[tuple[str, str]] = set()
    for _ in range(count):
        version, pid = apache.get(path).body.decode().split()
        found.add((version, pid))
    return found


def test_auto_reload_picks_up_a_changed_module(private_stack: tuple[ManagedProcess, ApacheServer, Path]) -> None:
    _, apache, handlers = private_stack
    assert versions(apache, "/auto", 6) == {"v1"}
    write_module(handlers, "v2")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and versions(apache, "/auto", 10) != {"v2"}:
        time.sleep(0.3)
    assert versions(apache, "/auto", 10) == {"v2"}


def test_auto_reload_off_keeps_the_loaded_module(private_stack: tuple[ManagedProcess, ApacheServer, Path]) -> None:
    _, apache, handlers = private_stack
    before = answers(apache, "/noauto", 10)
    assert {version for version, _ in before} == {"v1"}
    write_module(handlers, "v2")
    time.sleep(1.5)  # past the once-a-second mtime check
    # A worker that imported v1 keeps it. (A worker that had not imported the module yet imports the file as it is
    # now, as a fresh mod_python child would; Apache's pooled connection may reach either.)
    loaded = {pid for _, pid in before}
    after = [(version, pid) for version, pid in answers(apache, "/noauto", 10) if pid in loaded]
    assert after and {version for version, _ in after} == {"v1"}


def _load(apache: ApacheServer, stop: threading.Event, results: list[tuple[int, str]], errors: list[str]) -> None:
    """Keep-alive requests on one client connection until `stop` (bounded by the caller's timer)."""
    conn = http.client.HTTPConnection("127.0.0.1", apache.port, timeout=30)
    try:
        for _ in range(100_000):
            if stop.is_set():
                break
            try:
                conn.request("GET", "/auto")
                response = conn.getresponse()
                results.append((response.status, response.read().decode(errors="replace")))
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", apache.port, timeout=30)
    finally:
        conn.close()


def test_sighup_under_load_fails_no_request(private_stack: tuple[ManagedProcess, ApacheServer, Path]) -> None:
    daemon, apache, _ = private_stack
    assert daemon.proc is not None
    stop, results, errors = threading.Event(), [], []  # type: ignore[var-annotated]
    threads = [threading.Thread(target=_load, args=(apache, stop, results, errors)) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        before = {body.split()[1] for _, body in list(results)}
        for _ in range(3):
            daemon.proc.send_signal(signal.SIGHUP)
            time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    failed = [(status, body[:80]) for status, body in results if status != 200]
    assert errors == [] and failed == [], f"{len(failed)} failed of {len(results)}: {failed[:5]} {errors[:5]}"
    after = {body.split()[1] for _, body in results[-50:]}
    assert len(results) > 200
    assert after and not after & before, "the last responses must come from new workers"
    proxy_errors = [line for line in apache.error_log().splitlines() if ":error]" in line]
    assert proxy_errors == []
