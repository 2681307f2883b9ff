"""The daemon as a real process: requests over TCP and unix sockets, kept connections, bodies, boot failures.

Signals under load (SIGTERM, SIGHUP, SIGKILL of a worker) are in ``test_signals.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Callable, List

import pytest

from fcgi_handlers.client import fcgi_request, get_values
from fcgi_handlers.protocol import FCGI_AUTHORIZER, FCGI_MAX_CONNS, FCGI_MPXS_CONNS

from .apps import BOOT_FAIL_ENV
from .conftest import Daemon
from .fcgiconn import KeptConnection, body_of, status_of

StartDaemon = Callable[..., Daemon]


def test_tcp_request_and_response(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    result = fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"})
    assert (status_of(result), body_of(result), result.app_status) == (200, b"Hello World", 0)
    logged = fcgi_request(daemon.address, {"SCRIPT_NAME": "/stderr"})
    assert (body_of(logged), logged.stderr) == (b"logged", b"a log line\n")


def test_unix_socket_and_tcp_port_at_once(start_daemon: StartDaemon, tmp_path: Path) -> None:
    """mod_proxy_fcgi is best served over a unix socket, while mod_authnz_fcgi speaks TCP only: one daemon, both."""
    daemon = start_daemon(bind=[f"unix:{tmp_path / 'both.sock'}", "127.0.0.1:0"])
    addresses = [m[1] for m in daemon.wait_for(r"listening at (\S+)", count=2)]
    assert addresses[0] == f"unix:{tmp_path / 'both.sock'}" and addresses[1].startswith("127.0.0.1:")
    for address in addresses:
        assert body_of(fcgi_request(address, {"SCRIPT_NAME": "/hello"})) == b"Hello World"


def test_authorizer_request_has_an_empty_body_and_answers_at_once(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=1)
    started = time.monotonic()
    result = fcgi_request(daemon.address, {"SCRIPT_NAME": "/echo", "FCGI_ROLE": "AUTHORIZER"},
                          role=FCGI_AUTHORIZER, timeout=5)
    assert json.loads(body_of(result))["length"] == 0
    assert time.monotonic() - started < 2  # no wait for an FCGI_STDIN that mod_authnz_fcgi never sends


def test_get_values_is_answered(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=2, threads=3)
    values = get_values(daemon.address, [FCGI_MAX_CONNS, FCGI_MPXS_CONNS])
    assert values == {FCGI_MAX_CONNS: b"6", FCGI_MPXS_CONNS: b"0"}


def test_app_exception_gives_500_and_a_stderr_line(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=1)
    result = fcgi_request(daemon.address, {"SCRIPT_NAME": "/fail"})
    assert status_of(result) == 500
    assert b"RuntimeError" in result.stderr and result.app_status != 0
    # The thread survived: the worker still answers (one worker, so it is the same process).
    assert status_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"})) == 200


@pytest.mark.parametrize("mode", [None, 0o600])
def test_unix_socket_mode_and_cleanup(start_daemon: StartDaemon, tmp_path: Path, mode: int) -> None:
    path = tmp_path / "fcgi.sock"
    options = {"bind": f"unix:{path}"} if mode is None else {"bind": f"unix:{path}", "socket_mode": mode}
    daemon = start_daemon(**options)
    assert daemon.address == f"unix:{path}"
    assert stat.S_IMODE(os.stat(path).st_mode) == (0o660 if mode is None else mode)
    assert body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"})) == b"Hello World"
    daemon.signal(15)
    assert daemon.wait_exit(15) == 0
    assert not path.exists()


def test_second_instance_refuses_a_live_unix_socket(start_daemon: StartDaemon, tmp_path: Path) -> None:
    path = tmp_path / "fcgi.sock"
    first = start_daemon(bind=f"unix:{path}", workers=1)
    second = Daemon({"bind": f"unix:{path}", "workers": 1})
    try:
        assert second.wait_exit(10) == 1
        second.wait_for("running instance")
    finally:
        second.cleanup()
    assert body_of(fcgi_request(first.address, {"SCRIPT_NAME": "/hello"})) == b"Hello World"


def test_stale_unix_socket_is_replaced(start_daemon: StartDaemon, tmp_path: Path) -> None:
    path = tmp_path / "fcgi.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the path stays, nobody listens: what a crashed instance leaves behind
    daemon = start_daemon(bind=f"unix:{path}", workers=1)
    assert body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"})) == b"Hello World"


def test_several_requests_on_one_kept_connection(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    conn = KeptConnection(daemon.address)
    try:
        pids = {body_of(conn.request({"SCRIPT_NAME": "/pid"})) for _ in range(5)}
        echoed = json.loads(body_of(conn.request({"SCRIPT_NAME": "/echo", "CONTENT_LENGTH": "3"}, b"abc")))
    finally:
        conn.close()
    assert conn.requests == 6
    assert len(pids) == 1  # a kept connection stays with the worker that accepted it
    assert echoed["head"] == "abc"


def test_idle_kept_connections_do_not_starve_new_ones(start_daemon: StartDaemon) -> None:
    workers, threads = 2, 2
    daemon = start_daemon(workers=workers, threads=threads)
    kept = [KeptConnection(daemon.address) for _ in range(workers * threads + 5)]
    try:
        for conn in kept:
            assert status_of(conn.request({"SCRIPT_NAME": "/hello"})) == 200
        # Every kept connection is now idle and open, more of them than there are threads in the daemon.
        started = time.monotonic()
        fresh = fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"}, timeout=5)
        assert status_of(fresh) == 200
        assert time.monotonic() - started < 1.0
        for conn in kept:  # and the idle ones are still served afterwards
            assert status_of(conn.request({"SCRIPT_NAME": "/hello"})) == 200
    finally:
        for conn in kept:
            conn.close()


def test_a_long_request_does_not_hold_up_other_connections(start_daemon: StartDaemon, tmp_path: Path) -> None:
    """One thread at a time waits for events and serves them inline; a request that runs long must hand the wait
    to another thread, so kept and new connections of the same worker are still served, and slow requests overlap."""
    daemon = start_daemon(workers=1, threads=3)
    slow = [KeptConnection(daemon.address) for _ in range(2)]
    idle = KeptConnection(daemon.address)
    results: List[bytes] = []
    try:
        assert status_of(idle.request({"SCRIPT_NAME": "/hello"})) == 200
        markers = [tmp_path / f"running-{n}" for n in range(2)]
        started = time.monotonic()
        def run_slow(conn: KeptConnection, marker: Path) -> None:
            params = {"SCRIPT_NAME": "/slow", "QUERY_STRING": "1.5", "MARKER": str(marker)}
            results.append(body_of(conn.request(params)))

        runners = [threading.Thread(target=run_slow, args=pair) for pair in zip(slow, markers)]
        for runner in runners:
            runner.start()
        deadline = time.monotonic() + 5
        while not all(m.exists() for m in markers) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(m.exists() for m in markers)  # both slow requests run at once on the one worker
        asked = time.monotonic()
        assert body_of(idle.request({"SCRIPT_NAME": "/hello"})) == b"Hello World"
        assert body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"}, timeout=5)) == b"Hello World"
        assert time.monotonic() - asked < 0.5
        for runner in runners:
            runner.join(10)
        assert len(results) == 2 and all(r.startswith(b"slept in") for r in results)
        assert time.monotonic() - started < 2.9  # they overlapped rather than ran one after the other
    finally:
        for conn in [*slow, idle]:
            conn.close()


@pytest.mark.parametrize("how", ["all", "1000", "lines"])
def test_body_larger_than_the_spool_threshold(start_daemon: StartDaemon, how: str) -> None:
    daemon = start_daemon(workers=1, stdin_spool_threshold=64 * 1024)
    body = os.urandom(700 * 1024) + b"\nsecond line\nthird"
    result = fcgi_request(
        daemon.address, {"SCRIPT_NAME": "/echo", "QUERY_STRING": how, "CONTENT_LENGTH": str(len(body))}, body
    )
    report = json.loads(body_of(result))
    assert (report["length"], report["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


def test_chunked_body_without_content_length_is_read_to_eof_and_not_dechunked(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=1)
    # Bytes that look like chunked framing must arrive untouched: Apache already de-chunked the client's body.
    body = b"5\r\nhello\r\n0\r\n\r\n" * 20000
    result = fcgi_request(daemon.address, {"SCRIPT_NAME": "/echo", "HTTP_TRANSFER_ENCODING": "chunked"}, body)
    report = json.loads(body_of(result))
    assert (report["length"], report["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


def test_content_length_is_an_upper_bound(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=1)
    conn = KeptConnection(daemon.address)
    try:
        report = json.loads(body_of(conn.request({"SCRIPT_NAME": "/echo", "CONTENT_LENGTH": "3"}, b"hello")))
        assert report["head"] == "hel"
        # The two stdin bytes beyond CONTENT_LENGTH did not leak into the next request on the connection.
        again = json.loads(body_of(conn.request({"SCRIPT_NAME": "/echo", "CONTENT_LENGTH": "2"}, b"ok")))
        assert again["head"] == "ok"
    finally:
        conn.close()


def test_unread_body_on_a_kept_connection_does_not_break_the_next_request(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(workers=1)
    conn = KeptConnection(daemon.address)
    try:
        body = os.urandom(300 * 1024)
        first = conn.request({"SCRIPT_NAME": "/hello", "CONTENT_LENGTH": str(len(body))}, body)
        second = conn.request({"SCRIPT_NAME": "/echo", "CONTENT_LENGTH": "2"}, b"ok")
    finally:
        conn.close()
    assert body_of(first) == b"Hello World"
    assert json.loads(body_of(second))["head"] == "ok"


def test_call_after_end_runs_after_the_answer(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon(workers=1)
    marker = tmp_path / "after"
    result = fcgi_request(daemon.address, {"SCRIPT_NAME": "/after", "MARKER": str(marker)})
    assert body_of(result) == b"after"
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists()


def test_boot_failure_backs_off_and_recovers(start_daemon: StartDaemon, tmp_path: Path) -> None:
    flag = tmp_path / "fail-boot"
    flag.touch()
    daemon = start_daemon(workers=1, env={BOOT_FAIL_ENV: str(flag)}, wait_workers=False)
    daemon.wait_for("failed to boot: exit code 3", count=3, timeout=10)
    time.sleep(2.0)
    # Back-off 0.5 s, 1 s, 2 s, 4 s...: a handful of attempts in the first seconds, not a fork loop.
    assert daemon.count("spawned worker") <= 5
    assert daemon.count("boot failure requested by the test") >= 3  # the cause is in the log
    assert daemon.proc.poll() is None
    flag.unlink()
    daemon.wait_booted(1, timeout=20)
    assert body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"})) == b"Hello World"


def test_unread_body_without_keep_conn_ends_with_a_clean_close(start_daemon: StartDaemon) -> None:
    """The app ignores a large body and Apache did not ask to keep the connection: we half-close and drain until
    the peer closes (a lingering close), so the peer sees end-of-stream, not a reset while it is still sending."""
    daemon = start_daemon(workers=1)
    conn = KeptConnection(daemon.address)
    body = os.urandom(2 * 1024 * 1024)
    try:
        result = conn.request({"SCRIPT_NAME": "/hello", "CONTENT_LENGTH": str(len(body))}, body, keep_conn=False,
                              close=False)
        assert body_of(result) == b"Hello World"
        assert conn.at_eof(5, reset_ok=False)
    finally:
        conn.close()
