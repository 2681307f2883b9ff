"""Fixtures that run the daemon as a real process (``server.run_daemon``) on a random loopback port or a unix socket.

The daemon's stderr is read by a thread into a list of lines, so tests wait for log lines (listening, worker booted,
worker exited) with a deadline instead of sleeping. Teardown stops the daemon it started by pid: SIGTERM, then
SIGKILL for the arbiter and any worker pid the log named that is still alive.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOTED = re.compile(r"worker (\d+) \(generation (\d+)\) booted")
GONE = re.compile(r"worker (\d+) \(generation \d+\) (?:exited|died|failed to boot)")


class Daemon:
    """A running ``server.run_daemon`` process and its log."""

    def __init__(self, options: Dict[str, Any], env: Optional[Dict[str, str]] = None) -> None:
        self.options = options
        full_env = dict(os.environ, PYTHONPATH=f"{REPO / 'tests'}:{REPO}")
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.run_daemon", json.dumps(options)],
            cwd=REPO, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        self.lines: List[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.address = ""

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 10.0) -> List["re.Match[str]"]:
        """The first ``count`` log lines matching ``pattern``, waiting up to ``timeout`` seconds for them."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in map(regex.search, self.lines) if m]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no {count} lines matching {pattern!r}; log:\n" + "\n".join(self.lines))
                self._cond.wait(min(left, 0.2))

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines if regex.search(line))

    def booted(self, generation: Optional[int] = None) -> Set[int]:
        """Pids of workers that logged their boot (of ``generation`` if given)."""
        with self._cond:
            matches = [m for m in map(BOOTED.search, self.lines) if m]
        return {int(m[1]) for m in matches if generation is None or int(m[2]) == generation}

    def live_workers(self) -> Set[int]:
        with self._cond:
            gone = {int(m[1]) for m in map(GONE.search, self.lines) if m}
        return self.booted() - gone

    def wait_booted(self, count: int, generation: int = 0, timeout: float = 10.0) -> Set[int]:
        self.wait_for(rf"worker \d+ \(generation {generation}\) booted", count, timeout)
        return self.booted(generation)

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def log(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for pid in self.live_workers():  # normally none: workers stop when their arbiter goes
            if self._is_our_worker(pid):
                os.kill(pid, signal.SIGKILL)
        self._reader.join(5)

    @staticmethod
    def _is_our_worker(pid: int) -> bool:
        """Whether ``pid`` still runs our daemon's command line (a logged pid may have been reused since)."""
        try:
            return b"server.run_daemon" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., Daemon]]:
    """``start_daemon(bind=..., workers=..., ..., env=...)``: a daemon that is listening with its workers booted."""
    started: List[Daemon] = []

    def start(env: Optional[Dict[str, str]] = None, wait_workers: bool = True, **options: Any) -> Daemon:
        options.setdefault("bind", "127.0.0.1:0")
        options.setdefault("workers", 2)
        options.setdefault("threads", 4)
        options.setdefault("graceful_timeout", 10)
        daemon = Daemon(options, env)
        started.append(daemon)
        addresses = [m[1] for m in daemon.wait_for(r"listening at (\S+)")]
        daemon.address = addresses[0]
        if wait_workers:
            daemon.wait_booted(options["workers"])
        return daemon

    yield start
    for daemon in started:
        daemon.cleanup()
