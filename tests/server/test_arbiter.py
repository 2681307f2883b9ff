"""The arbiter driven in-process through its signal queue (the uvicorn supervisor-test style), with real forks.

Each test appends signals to ``signal_queue`` and calls ``tick()`` until a condition holds, within a deadline. The
workers are real child processes of the test process, serving a unix socket in ``tmp_path``; factories can be
closures, since they run in the forked child.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from fcgi_handlers.client import fcgi_request
from fcgi_handlers.server import App, Arbiter, Settings

from .apps import app, app_factory
from .fcgiconn import body_of

ArbiterFactory = Callable[..., Arbiter]


def tick_until(arbiter: Arbiter, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s; workers: {arbiter.workers}"
        arbiter.tick(0.05)


def booted(arbiter: Arbiter, generation: int = 0) -> List[int]:
    return [w.pid for w in arbiter.workers.values() if w.booted and w.generation == generation]


@pytest.fixture
def make_arbiter(tmp_path: Path) -> Iterator[ArbiterFactory]:
    made: List[Arbiter] = []

    def make(factory: Callable[[], App] = app_factory, **options: object) -> Arbiter:
        options.setdefault("bind", f"unix:{tmp_path / 'arbiter.sock'}")
        options.setdefault("workers", 1)
        options.setdefault("threads", 2)
        options.setdefault("graceful_timeout", 5.0)
        arbiter = Arbiter(Settings(**options), factory)  # type: ignore[arg-type]  # each test's settings, any field
        arbiter.start()
        made.append(arbiter)
        return arbiter

    yield make
    for arbiter in made:
        if arbiter.workers:
            arbiter.signal_queue.append(signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while arbiter.tick(0.05) and time.monotonic() < deadline:
                pass
        for pid in list(arbiter.workers):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        arbiter.close()


def _address(arbiter: Arbiter) -> str:
    return str(arbiter.listeners[0].bound)


def test_serves_and_stops_on_sigterm(make_arbiter: ArbiterFactory, tmp_path: Path) -> None:
    arbiter = make_arbiter()
    tick_until(arbiter, lambda: len(booted(arbiter)) == 1)
    pid = booted(arbiter)[0]
    assert int(body_of(fcgi_request(_address(arbiter), {"SCRIPT_NAME": "/pid"}))) == pid
    arbiter.signal_queue.append(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while arbiter.tick(0.05):
        assert time.monotonic() < deadline
    assert not arbiter.workers
    assert not (tmp_path / "arbiter.sock").exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped by the arbiter


def test_sigttin_and_sigttou_change_the_number_of_workers(make_arbiter: ArbiterFactory) -> None:
    arbiter = make_arbiter()
    tick_until(arbiter, lambda: len(booted(arbiter)) == 1)
    arbiter.signal_queue.append(signal.SIGTTIN)
    tick_until(arbiter, lambda: len(booted(arbiter)) == 2)
    arbiter.signal_queue.extend([signal.SIGTTOU, signal.SIGTTOU])  # never below one worker
    tick_until(arbiter, lambda: len(arbiter.workers) == 1)
    time.sleep(0.2)
    arbiter.tick(0.05)
    assert arbiter.num_workers == 1 and len(booted(arbiter)) == 1


def test_sighup_starts_the_new_generation_before_retiring_the_old(make_arbiter: ArbiterFactory) -> None:
    arbiter = make_arbiter(workers=2)
    tick_until(arbiter, lambda: len(booted(arbiter)) == 2)
    old = set(booted(arbiter))
    arbiter.signal_queue.append(signal.SIGHUP)
    arbiter.tick(0.05)
    # New workers exist while the old ones have not even been told to retire.
    assert {w.generation for w in arbiter.workers.values()} == {0, 1}
    assert all(arbiter.workers[pid].retired_at is None for pid in old)
    tick_until(arbiter, lambda: not old & set(arbiter.workers))
    new = set(booted(arbiter, 1))
    assert len(new) == 2
    pids = {int(body_of(fcgi_request(_address(arbiter), {"SCRIPT_NAME": "/pid"}))) for _ in range(10)}
    assert pids <= new


def test_second_sigint_halts_without_waiting_for_requests(make_arbiter: ArbiterFactory) -> None:
    arbiter = make_arbiter(graceful_timeout=30.0)
    tick_until(arbiter, lambda: len(booted(arbiter)) == 1)
    errors: List[BaseException] = []

    def slow() -> None:
        try:
            fcgi_request(_address(arbiter), {"SCRIPT_NAME": "/slow", "QUERY_STRING": "20"}, timeout=25)
        except BaseException as exc:
            errors.append(exc)

    client = threading.Thread(target=slow)
    client.start()
    time.sleep(0.3)
    started = time.monotonic()
    arbiter.signal_queue.append(signal.SIGINT)
    arbiter.tick(0.05)
    assert arbiter.stopping and arbiter.workers  # graceful: the slow request keeps its worker alive
    arbiter.signal_queue.append(signal.SIGINT)
    while arbiter.tick(0.05):
        assert time.monotonic() - started < 5
    client.join(5)
    assert errors and isinstance(errors[0], ConnectionError)  # the request was cut: that is what halt means


def _sleepy_factory() -> App:
    time.sleep(30)
    return app


def test_worker_that_does_not_boot_in_time_is_killed_and_retried_with_backoff(
    make_arbiter: ArbiterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fcgi_handlers")
    arbiter = make_arbiter(_sleepy_factory, boot_timeout=0.5)
    started = time.monotonic()
    while time.monotonic() - started < 3.0:
        arbiter.tick(0.05)
    spawns = sum("spawned worker" in r.getMessage() for r in caplog.records)
    kills = [r.getMessage() for r in caplog.records if "killing worker" in r.getMessage()]
    assert kills and "no boot within" in kills[0]
    # Spawn, 0.5 s boot timeout, back off 0.5 s, spawn, 0.5 s, back off 1 s, ...: 2 or 3 in 3 s, not dozens.
    assert 2 <= spawns <= 4
    assert any("boot failures in a row" in r.getMessage() for r in caplog.records)


def test_wedged_worker_is_killed_after_missing_heartbeats(
    make_arbiter: ArbiterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fcgi_handlers")
    arbiter = make_arbiter(heartbeat_timeout=1.5)
    tick_until(arbiter, lambda: len(booted(arbiter)) == 1)
    wedged = booted(arbiter)[0]
    os.kill(wedged, signal.SIGSTOP)  # its loop stops reporting, like a worker stuck with the GIL held
    tick_until(arbiter, lambda: wedged not in arbiter.workers and len(booted(arbiter)) == 1, timeout=10)
    assert any(f"killing worker {wedged}" in r.getMessage() and "no heartbeat" in r.getMessage()
               for r in caplog.records)
    assert int(body_of(fcgi_request(_address(arbiter), {"SCRIPT_NAME": "/pid"}))) != wedged


def test_gather_keeps_the_counts_of_a_recycled_worker(make_arbiter: ArbiterFactory) -> None:
    """Status rows come with heartbeats; a worker replaced after max_requests leaves its counts in the totals."""
    arbiter = make_arbiter(workers=1, max_requests=3)
    tick_until(arbiter, lambda: len(booted(arbiter)) == 1)
    first = booted(arbiter)[0]
    for _ in range(3):
        assert body_of(fcgi_request(_address(arbiter), {"SCRIPT_NAME": "/hello"})) == b"Hello World"
    tick_until(arbiter, lambda: first not in arbiter.workers and len(booted(arbiter)) == 1)
    tick_until(arbiter, lambda: set(arbiter.scoreboard.rows) == set(arbiter.workers))
    status = arbiter.scoreboard.gather(arbiter.processes(), arbiter.listeners)
    assert status.recycled == 1 and status.past.requests == 3 and status.requests == 3
    assert [row.pid for row in status.workers] == booted(arbiter) and status.workers[0].requests == 0
    assert status.pid == os.getpid() and status.queues[0].limit == 1024 and status.queues[0].queued == 0
