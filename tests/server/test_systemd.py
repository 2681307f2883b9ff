"""systemd's protocols without systemd: the tests set NOTIFY_SOCKET and read the datagrams a real daemon sends, and
pass listening sockets as descriptors 3, 4 with LISTEN_FDS/LISTEN_PID as systemd does (through bash, which sets
LISTEN_PID to its own pid and execs the daemon, so the pid is the daemon's)."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from fcgi_handlers.client import fcgi_request
from fcgi_handlers.server import systemd
from fcgi_handlers.server.sockets import BindError, inherit, open_listeners
from fcgi_handlers.server.systemd import Notifier, listen_fds

from .conftest import REPO, Daemon
from .fcgiconn import body_of


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    yield sock
    sock.close()


def datagrams(sock: socket.socket, until: str, timeout: float = 15.0) -> List[str]:
    """Datagrams read until one contains the line `until` (bounded by `timeout`)."""
    found: List[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            found.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if until in found[-1].splitlines():
            return found
    raise AssertionError(f"no {until!r} within {timeout} s; got {found}")


def test_notifier_sends_one_datagram_and_forgets_the_variable(notify_socket: socket.socket) -> None:
    environ = {"NOTIFY_SOCKET": notify_socket.getsockname()}
    notifier = Notifier(environ)
    assert environ == {}  # a handler's subprocess must not notify systemd in our name
    assert notifier.ready("serving")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=serving"
    assert notifier.reloading()
    lines = notify_socket.recv(4096).decode().splitlines()
    assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=") and int(lines[1][15:]) > 0


def test_notifier_abstract_address_and_absent_socket() -> None:
    name = f"fcgi-handlers-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"
    finally:
        sock.close()
    assert not Notifier({}).ready("x")  # not under systemd: nothing to do


def test_listen_fds_only_for_this_pid() -> None:
    assert listen_fds({"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "2"}) == []
    environ = {"LISTEN_FDS": "2"}
    assert listen_fds(environ) == [] and environ == {}
    with pytest.raises(ValueError):
        listen_fds({"LISTEN_PID": "x", "LISTEN_FDS": "1"})


def test_passed_tcp_sockets_admit_the_allowed_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    passed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    passed.bind(("127.0.0.1", 0))
    passed.listen(4)
    monkeypatch.setattr(systemd, "listen_fds", lambda: [passed.fileno()])
    try:
        (listener,) = open_listeners(["127.0.0.1:1"], 4, 0o660, allowed_clients=["192.0.2.1"])
        assert listener.sock.getsockname() == passed.getsockname()   # the passed socket, not --bind
        assert listener.clients is not None and listener.clients.allows("192.0.2.1")
        assert not listener.clients.allows("127.0.0.1")
        listener.sock.detach()
    finally:
        passed.close()


def test_inherit_refuses_a_socket_that_is_not_listening() -> None:
    left, right = socket.socketpair()
    try:
        with pytest.raises(BindError, match="not a listening stream socket"):
            inherit(left.fileno())
        assert left.fileno() >= 0  # left open for its owner
    finally:
        left.close()
        right.close()


def test_daemon_notifies_ready_reloading_and_stopping(start_daemon: Callable[..., Daemon],
                                                      notify_socket: socket.socket) -> None:
    daemon = start_daemon(workers=2, env={"NOTIFY_SOCKET": notify_socket.getsockname()})
    first = datagrams(notify_socket, "READY=1")
    assert [line for d in first for line in d.splitlines() if line.startswith("READY")] == ["READY=1"]
    assert "STATUS=serving: 2 workers of generation 0" in first[-1]
    daemon.signal(signal.SIGHUP)
    reload = datagrams(notify_socket, "READY=1")
    assert reload[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert "STATUS=serving: 2 workers of generation 1" in reload[-1]
    daemon.wait_booted(2, generation=1)
    daemon.signal(signal.SIGTERM)
    assert datagrams(notify_socket, "STOPPING=1")[-1] == "STOPPING=1\nSTATUS=stopping"
    assert daemon.wait_exit(20) == 0


def _high_fd(sock: socket.socket) -> int:
    """A duplicate of `sock` at descriptor 20 or above, so moving it to 3 or 4 cannot clobber another."""
    fd = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD, 20)
    os.set_inheritable(fd, True)
    return fd


def test_daemon_serves_on_sockets_passed_by_listen_fds(tmp_path: Path) -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    path = str(tmp_path / "activated.sock")
    unix.bind(path)
    unix.listen(16)
    fds = [_high_fd(tcp), _high_fd(unix)]
    options = json.dumps({"bind": "127.0.0.1:1", "workers": 1, "threads": 2, "graceful_timeout": 5})
    # As systemd does between fork and exec: descriptors 3 and 4, LISTEN_PID the pid that will run the daemon
    # (bash, not dash: dash refuses descriptor numbers above 9 in redirections).
    script = (f'LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" -m server.run_daemon "$1" '
              f'3<&{fds[0]} {fds[0]}<&- 4<&{fds[1]} {fds[1]}<&-')
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'tests'}:{REPO}")
    proc = subprocess.Popen(["/bin/bash", "-c", script, sys.executable, options], cwd=REPO, env=env, pass_fds=fds,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    for fd in fds:
        os.close(fd)
    try:
        host, port = tcp.getsockname()
        deadline = time.monotonic() + 15
        answers: List[bytes] = []
        while time.monotonic() < deadline and len(answers) < 2:
            try:
                answers = [body_of(fcgi_request(f"{host}:{port}", {"SCRIPT_NAME": "/hello"}, timeout=5)),
                           body_of(fcgi_request(f"unix:{path}", {"SCRIPT_NAME": "/hello"}, timeout=5))]
            except OSError:
                time.sleep(0.1)
        assert answers == [b"Hello World", b"Hello World"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        tcp.close()
        unix.close()
    assert proc.returncode == 0, err
    assert "serving on 2 sockets passed by systemd (LISTEN_FDS); --bind is not used" in err
    assert "127.0.0.1:1" not in err  # the --bind address was never bound
    assert os.path.exists(path)  # systemd's socket: the daemon leaves the path alone
