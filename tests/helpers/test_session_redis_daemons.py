"""RedisSession across real daemons: three `fcgi-handlers serve` processes (two workers each) share one session in a
real redis-server, the way daemons on three hosts would.

- Several clients send concurrent read-sleep-write requests for one session to the three daemons in turn: with the
  session lock no update is lost; the same load without the lock (`Session(req, lock=0)`) loses some, which shows
  that the load can catch a missing lock.
- A worker is killed with SIGKILL while its request holds the session: nothing releases the lock, its expiry
  (`lock_timeout`) does, and the next request for the session, on another daemon, proceeds after it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import redis
from redis_support import free_port, redis_url  # noqa: F401 - the fixture

from fcgi_handlers.client import FCGIResult, fcgi_request, get_values

DAEMONS, CLIENTS, ROUNDS = 3, 6, 8
LOCK_TIMEOUT = 2.0
BOOT_TIMEOUT = 30.0

HANDLER = '''
import os, time
from mod_python import apache, Session

def handler(req):
    action = req.args or "add"
    sess = Session.Session(req, lock=int(req.get_options().get("counter.lock", "1")))
    if action == "hold":   # hold the session until killed
        with open(req.get_options()["counter.holder"], "w") as marker:
            marker.write(str(os.getpid()))
        time.sleep(60)
    value = sess.get("n", 0)
    if action == "add":
        time.sleep(0.02)   # widen the window a missing lock lets another writer in
        sess["n"] = value + 1
    sess.save()
    req.content_type = "text/plain"
    req.write("%s %s %d" % (sess.id(), sess.get("n", 0), os.getpid()))
    return apache.OK
'''


class Daemons:
    """Three daemons serving `counter.py` on free loopback ports; stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, tmp_path: Path) -> None:
        handlers = tmp_path / "handlers"
        handlers.mkdir()
        (handlers / "counter.py").write_text(HANDLER)
        self.addresses: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [tmp_path / f"daemon{index}.log" for index in range(DAEMONS)]
        for log in self.logs:
            address = f"127.0.0.1:{free_port()}"
            with open(log, "wb") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "fcgi_handlers", "serve", "--bind", address, "--path", str(handlers),
                     "--workers", "2", "--threads", "4", "--graceful-timeout", "5"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            self.addresses.append(address)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        for address, proc in zip(self.addresses, self.procs):
            while True:
                assert proc.poll() is None, f"daemon {address} exited:\n{self.log_text()}"
                try:
                    get_values(address, [b"FCGI_MAX_CONNS"], timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"daemon {address} never answered:\n{self.log_text()}"
                    time.sleep(0.1)

    def log_text(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)   # the daemon's own session: its arbiter and workers
                proc.wait(10)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    started = Daemons(tmp_path)
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


def params(options: dict[str, str], sid: str = "", action: str = "add") -> dict[str, str]:
    """What mod_proxy_fcgi sends for GET /counter?<action> under `PythonHandler counter` and these PythonOptions."""
    result = {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
              "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "DOCUMENT_ROOT": "/srv/www",
              "SCRIPT_NAME": "/counter", "REQUEST_URI": f"/counter?{action}", "QUERY_STRING": action,
              "HTTP_HOST": "localhost", "PythonHandler": "counter"}
    if sid:
        result["HTTP_COOKIE"] = f"pysid={sid}"
    result.update({f"PythonOption.{key}": value for key, value in options.items()})
    return result


def answer(result: FCGIResult) -> tuple[str, int, int]:
    """(sid, counter, worker pid) from the handler's body."""
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"Status: 200" in head or b"Status:" not in head, result.stdout[:500]
    sid, value, pid = body.decode().split()
    return sid, int(value), int(pid)


def run_load(daemons: Daemons, options: dict[str, str], sid: str) -> list[str]:
    """CLIENTS threads, each sending ROUNDS requests over the daemons in turn; returns the errors seen."""
    errors: list[str] = []

    def client(index: int) -> None:
        for round_ in range(ROUNDS):
            address = daemons.addresses[(index + round_) % DAEMONS]
            try:
                answer(fcgi_request(address, params(options, sid), timeout=60))
            except (OSError, AssertionError, ValueError) as exc:
                errors.append(f"{address}: {exc!r}")

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "lock=0"])
def test_concurrent_clients_on_three_daemons_lose_no_update(daemons: Daemons, redis_url: str,  # noqa: F811
                                                            locked: bool) -> None:
    options = {"mod_python.session.session_type": "RedisSession", "mod_python.redis_session.address": redis_url,
               "counter.lock": "1" if locked else "0"}
    sid, value, _ = answer(fcgi_request(daemons.addresses[0], params(options, action="read")))
    assert value == 0
    began = time.monotonic()
    errors = run_load(daemons, options, sid)
    took = time.monotonic() - began
    assert not errors, f"{errors[:5]}\n{daemons.log_text()}"
    _, value, _ = answer(fcgi_request(daemons.addresses[1], params(options, sid, "read")))
    sent = CLIENTS * ROUNDS
    print(f"\n{'locked' if locked else 'lock=0'}: {sent} increments from {CLIENTS} clients over {DAEMONS} daemons "
          f"in {took:.1f} s, counter {value}")
    if locked:
        assert value == sent
    else:
        assert value < sent, "without the lock no update was lost: the load cannot tell a missing lock"


def test_killed_lock_holder_frees_the_session_after_the_lock_timeout(daemons: Daemons, redis_url: str,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    holder_file = tmp_path / "holder.pid"
    options = {"mod_python.session.session_type": "RedisSession", "mod_python.redis_session.address": redis_url,
               "mod_python.redis_session.lock_timeout": str(LOCK_TIMEOUT), "counter.holder": str(holder_file)}
    sid, _, _ = answer(fcgi_request(daemons.addresses[0], params(options)))
    held = threading.Thread(target=lambda: _ignore_errors(daemons.addresses[0], params(options, sid, "hold")))
    held.start()
    deadline = time.monotonic() + 20
    while not holder_file.exists() or not holder_file.read_text():
        assert time.monotonic() < deadline, daemons.log_text()
        time.sleep(0.05)
    worker = int(holder_file.read_text())
    store = redis.Redis.from_url(redis_url)
    time.sleep(LOCK_TIMEOUT * 1.5)   # the renewer keeps the lock of a live holder past its timeout
    assert store.exists(f"mp_sess:lock:{sid}"), "the lock of a live holder expired"
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    held.join(30)
    _, value, pid = answer(fcgi_request(daemons.addresses[1], params(options, sid), timeout=30))
    waited = time.monotonic() - killed
    print(f"\nworker {worker} killed holding the lock; the next request got the session after {waited:.1f} s")
    assert value == 2 and pid != worker
    # Not before the dead holder's last renewal ran out, and not much after (the renewal interval is a third).
    assert LOCK_TIMEOUT / 3 <= waited <= LOCK_TIMEOUT + 5
    store.close()


def _ignore_errors(address: str, request_params: dict[str, str]) -> None:
    try:
        fcgi_request(address, request_params, timeout=70)
    except OSError:
        pass   # the worker serving it is killed
