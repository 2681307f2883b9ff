"""Worker process: one selector loop that owns every idle connection, and a fixed pool of threads that run requests.

The rule (flup's bug 3, apache-fastcgi.md §3.5): a connection holds a thread only while a request runs on it. Apache's
kept connections (``enablereuse=on``) spend most of their life idle, and sit in the selector then, so any number of
them can wait while new connections are still served. When a connection's params are complete the loop gives the
socket to a pool thread (``pool.py``); the thread runs the app, writes END_REQUEST and gives the socket back.

Accepting: the listening sockets are shared by all workers, and a worker stops polling them while its threads are
all taken (running, queued, or reserved by a fresh connection whose first request has not arrived yet). A connection
accepted by a busy worker would wait in its queue while another worker sits idle; left in the kernel backlog, it goes
to whichever worker has a free thread first. Kept connections cannot be moved that way: Apache picks the connection,
so their requests may queue when every thread of their worker is busy. (Every worker polls the shared listener, so a
new connection wakes them all and one wins accept(); with a handful of workers that costs less than the alternatives,
SO_REUSEPORT per worker or the arbiter passing accepted sockets, which would also complicate the hand-over.)

Stopping (SIGTERM or STOP from the arbiter): stop accepting, finish the requests in flight and close their
connections right after END_REQUEST, close idle connections (serving one whose next request has already arrived),
exit 0, all bounded by ``graceful_timeout``. Unlike flup, a pool that keeps sending cannot hold the worker open. Retiring (RETIRE,
on a reload or after ``max_requests``) is the same except that idle connections are handed to the arbiter over the
control channel with their descriptors, for a worker of the new generation to adopt, so Apache's pooled connections
survive a reload. Only a connection whose protocol state is idle with no byte buffered in this process is handed
over; bytes still in the kernel are read by the new owner.
"""

from __future__ import annotations

import atexit
import logging
import os
import selectors
import signal
import socket
import time
from functools import partial
from types import FrameType
from typing import Callable, Dict, List, NoReturn, Optional, Sequence, Set, Tuple

from ..protocol import FCGI_AUTHORIZER, FCGI_RESPONDER, ParamsReceived, RequestBegun, ServerConnection
from . import control, pool, sockets
from .pool import RequestPool
from .settings import Settings
from .sockets import Listener
from .transport import App, Connection

log = logging.getLogger(__name__)

# The loop reports to the arbiter at least this often; the arbiter allows settings.heartbeat_timeout.
HEARTBEAT_INTERVAL = 1.0
# After a request without FCGI_KEEP_CONN whose body was not all read, wait this long for Apache to close before we
# do, so it is not writing stdin into a closed socket (Apache's own lingering close waits 2 s per read).
LINGER_TIMEOUT = 2.0
# After accept() fails for lack of descriptors or memory, stop polling the listener this long instead of spinning.
ACCEPT_PAUSE = 0.5

RUNNING, STOPPING, RETIRING = "running", "stopping", "retiring"


class Worker:
    """Everything one worker process runs; ``run()`` never returns (the process exits with a control.EXIT_* code)."""

    def __init__(
        self,
        settings: Settings,
        listeners: Sequence[Listener],
        channel: socket.socket,
        app_factory: Callable[[], App],
        generation: int = 0,
    ) -> None:
        self.settings = settings
        self.generation = generation
        self._listeners = list(listeners)
        self._channel = channel
        self._app_factory = app_factory
        self._pool: Optional[RequestPool] = None
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._conns: Dict[int, Connection] = {}  # owned by the loop (registered), idle or mid-record
        self._fresh: Set[int] = set()  # accepted, first request not dispatched yet
        self._lingering: Dict[int, Tuple[Connection, float]] = {}
        self._busy = 0  # requests handed to threads and not given back
        self._served = 0
        self._handed_over = 0
        self._mode = RUNNING
        self._signalled: Optional[str] = None
        self._deadline = 0.0
        self._accepting = False
        self._accept_paused_until = 0.0
        self._recycle_sent = False
        self._last_beat = 0.0
        self._roles = frozenset({FCGI_RESPONDER, FCGI_AUTHORIZER})
        self._capacity = settings.workers * settings.threads

    def run(self) -> NoReturn:
        """Boot, serve until told to stop, and exit the process (never raises, never returns).

        The process ends with ``os._exit``: unwinding would run the arbiter's own cleanup inherited through fork
        (removing the socket path...). What the app registered with ``atexit`` (mod_python's child cleanups) does
        run on a normal exit; handlers the arbiter registered before the fork are dropped first.
        """
        atexit._clear()
        code = control.EXIT_INTERNAL_ERROR
        try:
            code = self._run()
        except BaseException:
            log.exception("worker %d crashed", os.getpid())
        finally:
            if code in (control.EXIT_OK, control.EXIT_BOOT_ERROR):
                _run_exit_hooks()
            for handler in logging.getLogger().handlers:
                handler.flush()
            os._exit(code)

    def _run(self) -> int:
        self._install_signals()
        try:
            app = self._app_factory()
        except BaseException:
            log.exception("worker %d (generation %d) failed to boot: the app factory raised",
                          os.getpid(), self.generation)
            return control.EXIT_BOOT_ERROR
        self._pool = RequestPool(app, self.settings.threads, self.settings.stdin_spool_threshold, self._wake_w,
                                 lambda: self._mode == STOPPING)
        self._pool.start()
        self._channel.setblocking(False)
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._selector.register(self._channel, selectors.EVENT_READ, self._on_channel)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        control.send(self._channel, control.BOOTED)
        log.info("worker %d (generation %d) booted with %d threads",
                 os.getpid(), self.generation, self.settings.threads)
        self._update_accepting(time.monotonic())
        reason = self._loop()
        log.info("worker %d (generation %d) exiting: %s", os.getpid(), self.generation, reason)
        return control.EXIT_OK

    def _install_signals(self) -> None:
        """Forget the arbiter's handlers: only SIGTERM (graceful stop) and SIGQUIT (immediate exit) mean anything."""
        for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGQUIT, self._on_signal)

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        if signum == signal.SIGQUIT:
            os._exit(control.EXIT_OK)
        self._signalled = signal.Signals(signum).name  # the loop acts on it; handlers only record

    # The selector loop.

    def _loop(self) -> str:
        """Serve until drained after a stop; return why the loop ended."""
        while True:
            now = time.monotonic()
            for key, _ in self._selector.select(self._timeout(now)):
                data = key.data
                if isinstance(data, Connection):
                    self._on_readable(data)
                else:
                    data()
            self._collect_returns()
            now = time.monotonic()
            if self._signalled is not None and self._mode != STOPPING:
                self._begin_stop(handoff=False, why=self._signalled)
            if now - self._last_beat >= HEARTBEAT_INTERVAL:
                self._beat(now)
            self._expire_lingering(now)
            self._update_accepting(now)
            if self._mode != RUNNING:
                if self._busy == 0 and not self._conns and not self._lingering:
                    return (f"{self._mode} done after {self._served} requests, "
                            f"{self._handed_over} connections handed over")
                if now >= self._deadline:
                    log.warning("worker %d: graceful timeout (%.0f s) with %d requests still running",
                                os.getpid(), self.settings.graceful_timeout, self._busy)
                    return f"graceful timeout, {self._busy} requests abandoned"

    def _timeout(self, now: float) -> float:
        until = self._last_beat + HEARTBEAT_INTERVAL
        if self._mode != RUNNING:
            until = min(until, self._deadline)
        for _, deadline in self._lingering.values():
            until = min(until, deadline)
        if self._accept_paused_until > now:
            until = min(until, self._accept_paused_until)
        return max(0.0, until - now)

    def _beat(self, now: float) -> None:
        self._last_beat = now
        try:
            control.send(self._channel, control.HEARTBEAT, timeout=0)
        except BlockingIOError:
            pass  # the arbiter is behind on reading; it will see the next one
        except OSError:
            pass  # the arbiter is gone: the channel's EOF is handled in _on_channel

    def _update_accepting(self, now: float) -> None:
        want = (
            self._mode == RUNNING
            and self._busy + len(self._fresh) < self.settings.threads
            and now >= self._accept_paused_until
        )
        if want == self._accepting:
            return
        self._accepting = want
        for listener in self._listeners:
            if want:
                self._selector.register(listener.sock, selectors.EVENT_READ, partial(self._on_accept, listener))
            else:
                self._selector.unregister(listener.sock)

    def _on_accept(self, listener: Listener) -> None:
        try:
            sock = sockets.accept(listener)
        except OSError as exc:
            log.error("accept on %s failed (%s); pausing accepts for %.1f s", listener.address, exc, ACCEPT_PAUSE)
            self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE
            return
        if sock is None:
            return  # another worker won the race
        conn = self._register(sock)
        self._fresh.add(conn.fd)
        self._update_accepting(time.monotonic())

    def _register(self, sock: socket.socket) -> Connection:
        proto = ServerConnection(
            roles=self._roles,
            max_params_size=self.settings.max_params_size,
            max_conns=self._capacity,
            max_reqs=self._capacity,
        )
        conn = Connection(sock, proto)
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self._conns[conn.fd] = conn
        return conn

    def _on_readable(self, conn: Connection) -> None:
        if self._conns.get(conn.fd) is not conn:
            return  # closed or handed over earlier in this batch of events
        try:
            alive = conn.receive()
            start = conn.next_request() if alive else None
        except Exception as exc:  # ProtocolError, or OSError from the socket: either way the connection is done
            log.warning("closing connection %d: %s", conn.fd, exc)
            alive, start = False, None
        if not alive:
            self._drop(conn)
        elif start is not None:
            self._dispatch(conn, start)
        elif self._mode != RUNNING and conn.idle:
            self._settle(conn)

    def _dispatch(self, conn: Connection, start: Tuple[RequestBegun, ParamsReceived]) -> None:
        self._selector.unregister(conn.sock)
        del self._conns[conn.fd]
        self._fresh.discard(conn.fd)
        self._busy += 1
        assert self._pool is not None  # connections exist only after boot
        self._pool.submit(conn, start[0], start[1])

    def _drop(self, conn: Connection) -> None:
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
            self._selector.unregister(conn.sock)
        self._fresh.discard(conn.fd)
        conn.close()

    def _on_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _collect_returns(self) -> None:
        """Take back what pool threads finished with."""
        if self._pool is None:
            return
        for conn, flags in self._pool.collect():
            if flags & pool.FREED:
                self._busy -= 1
                self._served += 1
            if conn is None:
                continue
            if flags & pool.LINGER:
                self._linger(conn)
            elif flags & pool.KEEP:
                self._park(conn)
        limit = self.settings.max_requests
        if limit and self._served >= limit and not self._recycle_sent and self._mode == RUNNING:
            self._recycle_sent = True
            log.info("worker %d served %d requests (max_requests); asking to be replaced", os.getpid(), self._served)
            try:
                control.send(self._channel, control.RECYCLE)
            except OSError as exc:
                log.warning("cannot ask the arbiter for a replacement (%s); stopping", exc)
                self._begin_stop(handoff=False, why="max_requests")

    def _park(self, conn: Connection) -> None:
        """A connection back from a thread (or adopted): serve what already arrived, else wait in the selector."""
        self._conns[conn.fd] = conn
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        try:
            start = conn.next_request()
        except OSError as exc:
            log.warning("closing connection %d: %s", conn.fd, exc)
            self._drop(conn)
            return
        if start is not None:
            self._dispatch(conn, start)
        elif self._mode != RUNNING and conn.idle:
            self._settle(conn)

    def _settle(self, conn: Connection) -> None:
        """While stopping, an idle connection is handed over (retiring) or closed unless a request is arriving."""
        if self._mode == RETIRING:
            self._handoff([conn])
        elif not _bytes_waiting(conn.sock):
            self._drop(conn)

    def _linger(self, conn: Connection) -> None:
        self._selector.register(conn.sock, selectors.EVENT_READ, partial(self._on_linger_readable, conn))
        self._lingering[conn.fd] = (conn, time.monotonic() + LINGER_TIMEOUT)

    def _on_linger_readable(self, conn: Connection) -> None:
        if self._lingering.get(conn.fd, (None, 0.0))[0] is not conn:
            return
        try:
            if conn.sock.recv(65536):
                return
        except OSError:
            pass
        self._end_linger(conn)

    def _expire_lingering(self, now: float) -> None:
        for conn, deadline in list(self._lingering.values()):
            if now >= deadline:
                self._end_linger(conn)

    def _end_linger(self, conn: Connection) -> None:
        del self._lingering[conn.fd]
        self._selector.unregister(conn.sock)
        conn.close()

    # Control channel, stop and hand-off.

    def _on_channel(self) -> None:
        while True:
            try:
                message = control.receive(self._channel)
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("control channel failed: %s", exc)
                message = None
            if message is None:
                self._selector.unregister(self._channel)
                self._begin_stop(handoff=False, why="the arbiter is gone")
                return
            kind, fds = message
            if kind == control.STOP:
                self._begin_stop(handoff=False, why="told to stop")
            elif kind == control.RETIRE:
                self._begin_stop(handoff=True, why="told to retire")
            elif kind == control.HANDOFF:
                self._adopt(fds)
            else:
                log.warning("unknown control message %r", kind)
                for fd in fds:
                    os.close(fd)

    def _begin_stop(self, handoff: bool, why: str) -> None:
        if self._mode == STOPPING or (self._mode == RETIRING and handoff):
            return
        first = self._mode == RUNNING
        self._mode = RETIRING if handoff else STOPPING
        if first:
            self._deadline = time.monotonic() + self.settings.graceful_timeout
            self._update_accepting(time.monotonic())
            for listener in self._listeners:
                listener.close()
            self._listeners = []
        idle = [conn for conn in self._conns.values() if conn.idle]
        log.info(
            "worker %d %s (%s): %d requests in flight, %d idle connections to %s",
            os.getpid(), self._mode, why, self._busy, len(idle), "hand over" if handoff else "close",
        )
        if handoff:
            self._handoff(idle)
        else:
            for conn in idle:
                self._settle(conn)

    def _handoff(self, conns: List[Connection]) -> None:
        """Send idle connections to the arbiter for a new worker, then close our copies."""
        if not conns:
            return
        for conn in conns:
            self._selector.unregister(conn.sock)
            del self._conns[conn.fd]
            self._fresh.discard(conn.fd)
        try:
            control.send(self._channel, control.HANDOFF, [conn.fd for conn in conns])
            self._handed_over += len(conns)
        except OSError as exc:
            log.warning("could not hand over %d connections (%s); closing them", len(conns), exc)
        for conn in conns:
            conn.close()

    def _adopt(self, fds: List[int]) -> None:
        """Connections handed over from a retiring worker: serve them as if accepted here."""
        for fd in fds:
            try:
                sock = socket.socket(fileno=fd)
                sockets.prepare(sock)
            except OSError as exc:
                log.warning("cannot adopt descriptor %d: %s", fd, exc)
                os.close(fd)
                continue
            conn = self._register(sock)
            if self._mode != RUNNING and conn.idle:
                self._settle(conn)
        log.debug("worker %d adopted %d connections", os.getpid(), len(fds))


def _run_exit_hooks() -> None:
    try:
        atexit._run_exitfuncs()  # it logs each failing function's traceback itself
    except BaseException:
        log.exception("atexit functions failed")


def _bytes_waiting(sock: socket.socket) -> bool:
    """True when the peer has sent something not read yet (a request arriving as we decide to close)."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False
