"""Request threads: a fixed pool that runs one request per job and gives the connection back to the selector loop.

The threads are started once, when the worker boots, so no request pays for a thread. A job is a connection whose
params are complete; the thread owns its socket until END_REQUEST is written, decides what becomes of it (kept for
the next request, half-closed to linger, or closed) and appends the outcome to a deque that only the loop drains.
The loop is woken through a socketpair once per batch, not once per request: under load it is usually awake already.
"""

from __future__ import annotations

import collections
import logging
import queue
import socket
import threading
from typing import Callable, Deque, List, Optional, Tuple

from ..protocol import ParamsReceived, RequestBegun
from .transport import App, Connection, serve, stdin_outstanding

log = logging.getLogger(__name__)

# What a thread reports with a connection it gives back (flags).
KEEP = 1  # park it in the selector for the next request
LINGER = 2  # half-closed: drain until Apache closes it
FREED = 4  # the thread is free again (one request finished)

Job = Tuple[Connection, RequestBegun, ParamsReceived]
Outcome = Tuple[Optional[Connection], int]


class RequestPool:
    """``threads`` threads running ``app``; ``submit`` from the loop, ``collect`` in the loop after a wake-up."""

    def __init__(
        self, app: App, threads: int, spool_threshold: int, wake: socket.socket, stopping: Callable[[], bool]
    ) -> None:
        self._app = app
        self._threads = threads
        self._spool_threshold = spool_threshold
        self._wake = wake  # non-blocking write end of the loop's wake-up socketpair
        self._stopping = stopping
        self._jobs: "queue.SimpleQueue[Optional[Job]]" = queue.SimpleQueue()
        self._returned: Deque[Outcome] = collections.deque()
        self._wake_pending = False

    def start(self) -> None:
        for _ in range(self._threads):
            threading.Thread(target=self._thread_main, name="fcgi-request", daemon=True).start()

    def submit(self, conn: Connection, begun: RequestBegun, params: ParamsReceived) -> None:
        """Queue a request; a thread takes it as soon as one is free."""
        self._jobs.put((conn, begun, params))

    def collect(self) -> List[Outcome]:
        """What threads gave back since the last call. The flag is cleared before the deque is emptied, so an
        outcome appended meanwhile either is taken now or finds the flag clear and sends a wake-up."""
        self._wake_pending = False
        returned = self._returned
        outcomes = []
        while returned:
            outcomes.append(returned.popleft())
        return outcomes

    def _thread_main(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            conn, begun, params = job
            try:
                request = serve(conn, begun, params, self._app, self._spool_threshold)
            except BaseException:
                log.exception("request failed inside the server")
                conn.close()
                self._give_back(None, FREED)
                continue
            # Stopping: close right after END_REQUEST, which Apache's pool check sees before it reuses the socket;
            # parking it again would let a busy pool keep the connection alive until the graceful timeout.
            keep = request.keep_conn and not self._stopping()
            flags = _outcome(conn, keep, stdin_outstanding(request))
            if not request.after_end:
                self._give_back(conn if flags else None, flags | FREED)
                continue
            if flags:
                self._give_back(conn, flags)  # Apache may reuse the connection while the callbacks run
            for fn in request.after_end:
                try:
                    fn()
                except BaseException:
                    log.exception("call_after_end callback %r failed", fn)
            self._give_back(None, FREED)

    def _give_back(self, conn: Optional[Connection], flags: int) -> None:
        self._returned.append((conn, flags))
        if not self._wake_pending:
            self._wake_pending = True
            try:
                self._wake.send(b"\0")
            except BlockingIOError:
                pass  # the socket is full of wake-ups already


def _outcome(conn: Connection, keep_conn: bool, unread: bool) -> int:
    """What becomes of the connection, decided in the thread: closed here (0), kept, or half-closed to linger.

    Lingering is for a body Apache may still be sending: closing with unread bytes would reset the connection
    under Apache's feet while it writes stdin (Apache's own lingering close exists for the same reason).
    """
    if conn.broken:
        conn.close()
        return 0
    if keep_conn:
        return KEEP
    if unread:
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            return LINGER
        except OSError:
            pass
    conn.close()
    return 0
