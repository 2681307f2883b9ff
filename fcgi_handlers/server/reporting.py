"""A worker's side of the status page: its own row for the arbiter, and the page itself when a request asks for it.

The main thread sends the worker's row (``status.WorkerRow``) with every heartbeat. A request for the status path
is answered by the request thread that got it, without going through the app: it sends a QUERY with a fresh row of
its own worker over the control channel and waits (at most ``QUERY_TIMEOUT``) for the arbiter's REPLY, which the
main thread receives and hands over by query id. Without an answer (no arbiter: a worker run on its own) the page
shows this worker alone. Only the status path is intercepted, and only when ``status_path`` is set; Apache decides
who may reach it (``Require ip``), as it does for php-fpm's.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import resource
import socket
import threading
import time
from typing import Dict, List, Optional, Tuple

from . import control, status
from .pool import EventPool
from .status import PoolStatus, RequestRow, WorkerRow
from .status_page import render
from .transport import App, FastCGIRequest
from .watch import RequestWatch

log = logging.getLogger(__name__)

# How long a status request waits for the arbiter's answer (it answers from its loop, at once unless busy forking).
QUERY_TIMEOUT = 2.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """This process's resident memory (the second field of /proc/self/statm, in pages); 0 where unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class StatusReporter:
    """Builds this worker's row and serves the status page; ``attach(pool)`` once the pool exists."""

    def __init__(self, channel: socket.socket, watch: RequestWatch, generation: int, threads: int,
                 status_path: str) -> None:
        self._channel = channel
        self._watch = watch
        self._generation = generation
        self._threads = threads
        self._path = status_path.encode("latin-1")
        self._pool: Optional[EventPool] = None
        self._started = time.time()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: Dict[int, Tuple[threading.Event, List[PoolStatus]]] = {}

    def attach(self, pool: EventPool) -> None:
        self._pool = pool
        self._started = time.time()

    def row(self) -> WorkerRow:
        """This worker now (any thread may call it: it only reads)."""
        pool = self._pool
        assert pool is not None
        now = time.monotonic()
        running = pool.activities()
        current = [RequestRow(method=a.param(b"REQUEST_METHOD"), uri=status.cut(a.param(b"REQUEST_URI")),
                              remote=a.param(b"REMOTE_ADDR"), phase=a.note.phase, handler=a.note.handler,
                              duration=round(now - a.started, 3), thread=lane.tid)
                   for lane, a in running[: status.MAX_REQUEST_ROWS]]
        usage = resource.getrusage(resource.RUSAGE_SELF)  # microseconds, where os.times() counts clock ticks
        return WorkerRow(pid=os.getpid(), generation=self._generation, started=self._started, threads=self._threads,
                         accepted=pool.accepted, requests=pool.served, busy=len(running),
                         max_busy=pool.max_busy, kept=pool.counts()[1], slow=self._watch.slow,
                         timed_out=self._watch.timed_out, rss=rss_bytes(), cpu=usage.ru_utime + usage.ru_stime,
                         current=current)

    def heartbeat(self) -> bytes:
        """(main) The payload of a heartbeat."""
        return status.encode(dataclasses.asdict(self.row()))

    def deliver(self, payload: bytes) -> None:
        """(main) A REPLY from the arbiter: wake the request thread waiting for it."""
        try:
            data = status.decode(payload)
            query_id, answer = int(data["id"]), PoolStatus.from_dict(data["status"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable status reply from the arbiter: %s", exc)
            return
        with self._lock:
            waiting = self._waiting.get(query_id)
        if waiting is not None:
            waiting[1].append(answer)
            waiting[0].set()

    def gather(self) -> PoolStatus:
        """(request thread) The whole daemon from the arbiter; this worker alone if the arbiter does not answer."""
        row = self.row()
        query_id = next(self._ids)
        done = threading.Event()
        answers: List[PoolStatus] = []
        with self._lock:
            self._waiting[query_id] = (done, answers)
        try:
            payload = status.encode({"id": query_id, "row": dataclasses.asdict(row)})
            control.send(self._channel, control.QUERY, timeout=QUERY_TIMEOUT, payload=payload)
            done.wait(QUERY_TIMEOUT)
        except (OSError, ValueError) as exc:
            log.warning("status query not sent to the arbiter: %s", exc)
        finally:
            with self._lock:
                del self._waiting[query_id]
        if answers:
            return answers[0]
        log.warning("status page: no answer from the arbiter within %.0f s; showing worker %d alone",
                    QUERY_TIMEOUT, os.getpid())
        now = time.time()
        return PoolStatus(pid=os.getppid(), start_time=self._started, now=now, recycled=0, max_busy=row.max_busy,
                          workers=[row])

    def wrap(self, app: App) -> App:
        """``app``, with the status path answered here (unchanged when there is no status path)."""
        path = self._path
        if not path:
            return app

        def app_or_status(request: FastCGIRequest) -> int:
            uri = request.params.get(b"REQUEST_URI", b"")
            if uri.startswith(path) and (len(uri) == len(path) or uri[len(path)] == 0x3F):  # "?"
                return self.serve(request)
            return app(request)
        return app_or_status

    def serve(self, request: FastCGIRequest) -> int:
        """(request thread) Answer a status page request."""
        if request.note is not None:
            request.note.phase, request.note.handler = "status", "status page"
        content_type, body = render(self.gather(), request.params.get(b"QUERY_STRING", b"").decode("latin-1"))
        head = (f"Status: 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        request.sink.stdout(head + body, flush=False)
        return 0

