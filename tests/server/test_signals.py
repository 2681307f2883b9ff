"""Real signals to a real daemon, some under load: graceful stop, reload with connection hand-over, crashes.

Each client loop is bounded by a deadline and a request count; each wait on the daemon by a log line with a timeout.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Set

import pytest

from fcgi_handlers.client import fcgi_request

from .apps import ATEXIT_DIR_ENV, BOOT_FAIL_ENV
from .conftest import Daemon
from .fcgiconn import KeptConnection, body_of, status_of

StartDaemon = Callable[..., Daemon]


def _wait_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_sigterm_finishes_the_request_in_flight_then_exits(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon()
    marker = tmp_path / "running"
    results: List[bytes] = []
    client = threading.Thread(target=lambda: results.append(body_of(fcgi_request(
        daemon.address, {"SCRIPT_NAME": "/slow", "QUERY_STRING": "1.5", "MARKER": str(marker)}, timeout=10))))
    client.start()
    _wait_file(marker, 5)
    daemon.signal(signal.SIGTERM)
    client.join(10)
    assert results and results[0].startswith(b"slept in ")
    assert daemon.wait_exit(10) == 0
    host, port = daemon.address.rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()


def test_graceful_timeout_bounds_the_drain(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon(workers=1, graceful_timeout=1)
    marker = tmp_path / "running"
    errors: List[BaseException] = []

    def slow() -> None:
        try:
            fcgi_request(daemon.address, {"SCRIPT_NAME": "/slow", "QUERY_STRING": "30", "MARKER": str(marker)},
                         timeout=20)
        except BaseException as exc:
            errors.append(exc)

    client = threading.Thread(target=slow)
    client.start()
    _wait_file(marker, 5)
    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(10) == 0
    assert time.monotonic() - started < 4
    client.join(10)
    assert errors and isinstance(errors[0], ConnectionError)
    daemon.wait_for(r"graceful timeout \(1 s\) with 1 requests still running")


def test_workers_run_the_apps_atexit_functions_but_not_the_arbiters(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon(workers=2, env={ATEXIT_DIR_ENV: str(tmp_path)})
    workers = daemon.booted()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(10) == 0
    files = {path.name for path in tmp_path.iterdir()}
    assert files == {f"worker-{pid}" for pid in workers} | {f"arbiter-{daemon.proc.pid}"}


def test_sigterm_closes_idle_kept_connections_and_exits(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    kept = [KeptConnection(daemon.address) for _ in range(6)]
    try:
        for conn in kept:
            assert status_of(conn.request({"SCRIPT_NAME": "/hello"})) == 200
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        # flup never exits while the web server holds pooled connections; we close them and go.
        assert daemon.wait_exit(5) == 0
        assert time.monotonic() - started < 3
        assert all(conn.at_eof(2) for conn in kept)
    finally:
        for conn in kept:
            conn.close()


def test_sigterm_under_load_on_kept_connections_exits_long_before_the_graceful_timeout(
    start_daemon: StartDaemon
) -> None:
    """flup serves pooled connections until the web server lets go; we close each one after its current request."""
    daemon = start_daemon(workers=2, threads=4, graceful_timeout=10)
    with _Load(daemon.address, clients=4, retry=False) as load:
        load.wait_requests(200, timeout=20)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(8) == 0
        assert time.monotonic() - started < 3


class _Load:
    """Client threads sending requests in a loop on kept connections, counting failures and answering pids."""

    def __init__(self, address: str, clients: int, fresh_every: int = 0, retry: bool = True) -> None:
        self.address = address
        self.stop = threading.Event()
        self.failures: List[str] = []
        self.ok = 0
        self.reconnects = 0
        self.pids_since: Dict[int, Set[int]] = {}
        self.mark = 0
        self._lock = threading.Lock()
        self._fresh_every = fresh_every
        self._retry = retry
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self) -> "_Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def new_phase(self) -> None:
        with self._lock:
            self.mark += 1
            self.pids_since[self.mark] = set()

    def wait_requests(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        target = self.ok + count
        while self.ok < target:
            assert time.monotonic() < deadline, f"load stalled at {self.ok} requests; failures: {self.failures}"
            time.sleep(0.01)

    def _run(self) -> None:
        conn = KeptConnection(self.address)
        deadline = time.monotonic() + 60
        n = 0
        try:
            while not self.stop.is_set() and time.monotonic() < deadline and n < 100000:
                n += 1
                fresh = bool(self._fresh_every and n % self._fresh_every == 0)
                try:
                    if fresh:
                        result = fcgi_request(self.address, {"SCRIPT_NAME": "/pid"}, timeout=10)
                    else:
                        result = conn.request({"SCRIPT_NAME": "/pid"})
                    pid = int(body_of(result))
                except Exception as exc:  # every failure is a finding; reconnect and go on
                    with self._lock:
                        self.failures.append(f"{'new' if fresh else 'kept'} connection, request {n}: {exc!r}")
                    conn.close()
                    if not self._retry:
                        return
                    conn = KeptConnection(self.address)
                    with self._lock:
                        self.reconnects += 1
                    continue
                with self._lock:
                    self.ok += 1
                    if self.mark:
                        self.pids_since[self.mark].add(pid)
        finally:
            conn.close()


@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_sighup_under_load_loses_no_request_and_hands_over_kept_connections(
    start_daemon: StartDaemon, tmp_path: Path, unix: bool
) -> None:
    daemon = start_daemon(workers=2, threads=4, **({"bind": f"unix:{tmp_path / 'd.sock'}"} if unix else {}))
    old = daemon.wait_booted(2, generation=0)
    with _Load(daemon.address, clients=4, fresh_every=5) as load:
        load.wait_requests(200, timeout=20)
        for generation in (1, 2):
            daemon.signal(signal.SIGHUP)
            new = daemon.wait_booted(2, generation=generation, timeout=15)
            daemon.wait_for(r"exited: exit code 0, as told", count=2 * generation, timeout=20)
            load.wait_requests(100, timeout=20)
            assert not new & old
            old = new
        load.new_phase()
        load.wait_requests(200, timeout=20)
    assert load.failures == [], daemon.log()
    assert load.reconnects == 0  # the kept connections survived both reloads
    assert load.pids_since[1] <= old  # after the last reload only the newest generation answers
    retired = daemon.wait_for(r"retiring done after \d+ requests, (\d+) connections handed over", count=4)
    assert sum(int(m[1]) for m in retired) >= 8  # the four kept connections moved at each of the two reloads


def test_killed_worker_is_replaced(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=2)
    victim = sorted(daemon.booted())[0]
    import os
    os.kill(victim, signal.SIGKILL)
    daemon.wait_for(rf"worker {victim} \(generation 0\) died: killed by SIGKILL")
    daemon.wait_booted(3, timeout=10)
    assert len(daemon.live_workers()) == 2 and victim not in daemon.live_workers()
    pids = {int(body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/pid"}))) for _ in range(20)}
    assert victim not in pids


def test_reload_whose_new_workers_cannot_boot_keeps_the_old_generation(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    flag = tmp_path / "fail-boot"
    daemon = start_daemon(workers=2, env={BOOT_FAIL_ENV: str(flag)})
    old = daemon.booted(0)
    flag.touch()
    daemon.signal(signal.SIGHUP)
    daemon.wait_for("reload abandoned", timeout=15)
    pids = {int(body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/pid"}))) for _ in range(20)}
    assert pids <= old
    assert old <= daemon.live_workers()
    flag.unlink()
    daemon.signal(signal.SIGHUP)
    new = daemon.wait_booted(2, generation=2, timeout=15)
    daemon.wait_for(r"exited: exit code 0, as told", count=2, timeout=15)
    pids = {int(body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/pid"}))) for _ in range(20)}
    assert pids <= new


def test_max_requests_recycles_workers_without_dropping_kept_connections(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=1, threads=2, max_requests=25)
    conn = KeptConnection(daemon.address)
    pids: List[int] = []
    deadline = time.monotonic() + 20
    try:
        # A retiring worker keeps serving until its replacement has booted, so a recycle takes more than 25 requests.
        while len(set(pids)) < 3 and len(pids) < 20000 and time.monotonic() < deadline:
            pids.append(int(body_of(conn.request({"SCRIPT_NAME": "/pid"}))))
    finally:
        conn.close()
    assert len(set(pids)) >= 3  # recycled at least twice, and the one connection followed each new worker
    assert pids.index(pids[-1]) >= 50  # ...in order, after at least 25 requests per worker
    daemon.wait_for("max_requests", count=2)
