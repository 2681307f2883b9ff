"""Session locking as the daemon needs it: one live session object per sid across real worker processes (forked, as
the arbiter forks them) and their threads, a lock held by another process blocks, and a dying process releases it."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Callable, Mapping, Optional

import pytest
from util_session_support import base_params, make_request, run_cleanups

from fcgi_handlers.request import Request
from mod_python import Session
from mod_python._session_locks import acquire_slot, release_slot, sid_slot

WORKERS, THREADS, ROUNDS = 3, 3, 12
JOIN_TIMEOUT = 60.0
FORK = multiprocessing.get_context("fork")


def request(sid: str, options: Mapping[str, str]) -> Request:
    params = base_params()
    params["HTTP_COOKIE"] = f"pysid={sid}"
    return make_request(params, options=options)


def new_session(options: Mapping[str, str]) -> str:
    req = make_request(options=options)
    sess = Session.Session(req)
    sess["n"] = 0
    sess.save()
    run_cleanups(req)
    return str(sess.id())


def increment(sid: str, options: Mapping[str, str], marker: Path, rounds: int) -> int:
    """Read-sleep-write the counter `rounds` times; returns how often another holder was inside at the same time."""
    overlaps = 0
    for _ in range(rounds):
        req = request(sid, options)
        sess = Session.Session(req)
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
        except FileExistsError:
            overlaps += 1
        value = sess["n"]
        time.sleep(0.002)  # widen the window a missing lock would let another writer in
        sess["n"] = value + 1
        sess.save()
        marker.unlink(missing_ok=True)
        run_cleanups(req)  # the request ends: the lock is released by the registered cleanup
    return overlaps


def worker(sid: str, options: dict[str, str], marker: str, threads: int, rounds: int) -> None:
    """A daemon worker process: `threads` request threads contending for the same session."""
    results: list[int] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            results.append(increment(sid, options, Path(marker), rounds))
        except BaseException as exc:  # noqa: BLE001 - reported through the exit code
            failures.append(exc)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(JOIN_TIMEOUT)
    os._exit(0 if not failures and len(results) == threads and sum(results) == 0 else 1)


def start(target: Callable[..., object], *args: object) -> BaseProcess:
    process = FORK.Process(target=target, args=args)
    process.start()
    return process


def finish(processes: list[BaseProcess]) -> list[Optional[int]]:
    deadline = time.monotonic() + JOIN_TIMEOUT
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(5)
    return [process.exitcode for process in processes]


@pytest.mark.parametrize("session_type", ["FileSession", "DbmSession"])
def test_processes_and_threads_never_share_a_session(tmp_path: Path, session_type: str) -> None:
    options = {"mod_python.session.session_type": session_type,
               "mod_python.session.database_directory": str(tmp_path)}
    sid = new_session(options)
    marker = tmp_path / "inside"
    processes = [start(worker, sid, options, str(marker), THREADS, ROUNDS) for _ in range(WORKERS)]
    assert finish(processes) == [0] * WORKERS
    req = request(sid, options)
    assert Session.Session(req)["n"] == WORKERS * THREADS * ROUNDS
    run_cleanups(req)


def test_memory_session_threads_never_share_a_session(tmp_path: Path) -> None:
    options = {"mod_python.session.session_type": "MemorySession"}
    sid = new_session(options)
    marker = tmp_path / "inside"
    results: list[int] = []
    pool = [threading.Thread(target=lambda: results.append(increment(sid, options, marker, ROUNDS)))
            for _ in range(4)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(JOIN_TIMEOUT)
    assert results == [0] * 4
    req = request(sid, options)
    assert Session.Session(req)["n"] == 4 * ROUNDS
    run_cleanups(req)


def hold(sid: str, options: dict[str, str], held: multiprocessing.synchronize.Event,
         release: multiprocessing.synchronize.Event, clean_exit: bool) -> None:
    """Open the session in this process, say so, and either release it on request or die holding it."""
    req = request(sid, options)
    Session.Session(req)
    held.set()
    if clean_exit:
        release.wait(JOIN_TIMEOUT)
        run_cleanups(req)
    os._exit(0)


def wait_for_lock(path: str, slot: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if acquire_slot(path, slot, blocking=False):
            release_slot(path, slot)
            return True
        time.sleep(0.01)
    return False


def test_lock_held_by_another_process_blocks_until_released(tmp_path: Path) -> None:
    options = {"mod_python.session.database_directory": str(tmp_path)}
    sid = new_session(options)
    path, slot = str(tmp_path / "mp_sess" / ".mp_sess.lock"), sid_slot(sid)
    held, release = FORK.Event(), FORK.Event()
    process = start(hold, sid, options, held, release, True)
    try:
        assert held.wait(JOIN_TIMEOUT)
        assert not acquire_slot(path, slot, blocking=False)
        release.set()
        assert wait_for_lock(path, slot)
    finally:
        release.set()
        assert finish([process]) == [0]


def test_a_dying_process_releases_its_lock(tmp_path: Path) -> None:
    options = {"mod_python.session.database_directory": str(tmp_path)}
    sid = new_session(options)
    path, slot = str(tmp_path / "mp_sess" / ".mp_sess.lock"), sid_slot(sid)
    held = FORK.Event()
    process = start(hold, sid, options, held, FORK.Event(), False)
    assert held.wait(JOIN_TIMEOUT)
    assert finish([process]) == [0]
    assert wait_for_lock(path, slot)
    req = request(sid, options)
    assert not Session.Session(req).is_new()
    run_cleanups(req)


def test_a_forked_child_does_not_inherit_thread_locks(tmp_path: Path) -> None:
    # The arbiter forks workers while other threads may hold locks: the child must not inherit those threading locks,
    # or it would wait forever once the parent's thread has let go.
    options = {"mod_python.session.database_directory": str(tmp_path)}
    sid = new_session(options)
    path, slot = str(tmp_path / "mp_sess" / ".mp_sess.lock"), sid_slot(sid)
    holding, release = threading.Event(), threading.Event()

    def other_request() -> None:
        req = request(sid, options)
        Session.Session(req)
        holding.set()
        release.wait(JOIN_TIMEOUT)
        run_cleanups(req)

    thread = threading.Thread(target=other_request)
    thread.start()
    try:
        assert holding.wait(JOIN_TIMEOUT)
        probe = start(lambda: os._exit(0 if wait_for_lock(path, slot, 10.0) else 1))
    finally:
        release.set()
        thread.join(JOIN_TIMEOUT)
    assert finish([probe]) == [0]
