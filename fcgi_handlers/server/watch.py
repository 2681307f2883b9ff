"""The worker's watch over running requests: the slow log and the request timeout, both from the main thread.

A request thread cannot be interrupted, so the worker's main thread looks at every thread's current request
(``pool.activities()``) on each turn of its loop. A request running past ``slowlog_timeout`` gets one slow-log entry
with its request line, handler and the Python stack of its thread (``sys._current_frames()``), as php-fpm's
``request_slowlog_timeout`` dumps a slow script's backtrace. A request past ``request_timeout`` is reported the same
way and handed back to the worker, which answers it (504) and has itself replaced: the thread may never return, so
only a new process gets that capacity back (php-fpm's ``request_terminate_timeout`` kills the process outright;
here the worker's other requests finish first). ``check`` returns when it next needs to look, so the main thread
sleeps exactly that long.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from typing import List, Optional, Tuple

from .activity import Activity

log = logging.getLogger(__name__)


def thread_stack(ident: int) -> str:
    """The Python stack of thread ``ident``, innermost call last, as a traceback prints it."""
    frame = sys._current_frames().get(ident)
    if frame is None:
        return "  (thread has no Python frame)\n"
    return "".join(traceback.format_stack(frame))


def describe(activity: Activity, now: float) -> str:
    """One line: the request, where it is, and for how long."""
    return (f"{activity.request_line()} phase={activity.note.phase or '-'} handler={activity.note.handler or '-'} "
            f"remote={activity.param(b'REMOTE_ADDR') or '-'} running {now - activity.started:.1f} s")


class RequestWatch:
    """Slow-log and timeout checks over one worker's requests; ``slow`` and ``timed_out`` count what it found."""

    def __init__(self, slowlog_timeout: float, request_timeout: float, slowlog_path: str = "") -> None:
        self.slowlog_timeout = slowlog_timeout
        self.request_timeout = request_timeout
        self.slow = 0
        self.timed_out = 0
        self._path = slowlog_path
        self._fd: Optional[int] = None

    @property
    def active(self) -> bool:
        return bool(self.slowlog_timeout or self.request_timeout)

    def check(self, activities: List[Activity], now: float) -> Tuple[List[Activity], Optional[float]]:
        """Log requests that just became slow; return those that just timed out, and when to look again."""
        timed_out: List[Activity] = []
        next_check: Optional[float] = None
        for activity in activities:
            elapsed = now - activity.started
            if self.request_timeout and not activity.timed_out:
                if elapsed >= self.request_timeout:
                    activity.timed_out = True
                    self.timed_out += 1
                    timed_out.append(activity)
                    continue
                next_check = _earliest(next_check, activity.started + self.request_timeout)
            if self.slowlog_timeout and not activity.slow_logged:
                if elapsed >= self.slowlog_timeout:
                    activity.slow_logged = True
                    self.slow += 1
                    self.write_slow(activity, now)
                else:
                    next_check = _earliest(next_check, activity.started + self.slowlog_timeout)
        return timed_out, next_check

    def write_slow(self, activity: Activity, now: float) -> None:
        """One slow-log entry: a header line, then the thread's stack."""
        header = f"slow request (slowlog_timeout {self.slowlog_timeout:g} s) in worker {os.getpid()}: "
        entry = header + describe(activity, now) + "\n" + thread_stack(activity.thread)
        if not self._path:
            log.warning("%s", entry.rstrip("\n"))
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        try:
            if self._fd is None:
                # O_APPEND: every worker writes whole entries with one write(2), so entries never interleave.
                self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            os.write(self._fd, f"[{stamp}] {entry}\n".encode("utf-8", "replace"))
        except OSError as exc:
            log.warning("cannot write the slow log (%s): %s", exc, entry.rstrip("\n"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _earliest(current: Optional[float], candidate: float) -> float:
    return candidate if current is None else min(current, candidate)
