"""Worker process: request threads that serve connections straight from one shared epoll, and a main thread that
only keeps the process in order.

The rule (flup's pinned threads, ``docs/apache-facts.md`` §10): a connection holds a thread only while a request runs
on it. Apache's kept connections (``enablereuse=on``) spend most of their life idle, armed in the epoll, so any number
of them can wait while new connections are still served. The request thread that leads waits on the epoll and serves
whatever socket it is given from the read to END_REQUEST (``pool.py``): one wake-up per request, no queue, no
hand-back.

Accepting: the listening sockets are shared by all workers, and a thread polls them only while it is free, so a worker
whose threads are all busy leaves new connections in the kernel backlog for whichever worker has a free thread
first. Kept connections cannot be moved that way: Apache picks the connection, so their requests may wait when every
thread of their worker is busy. (A new connection wakes one thread in each worker and one wins accept(); with a
handful of workers that costs less than the alternatives, SO_REUSEPORT per worker or the arbiter passing accepted
sockets, which would also complicate the hand-over.)

The main thread owns signals, the control channel to the arbiter, heartbeats (each carries the worker's status row,
reporting.py), the end of accept pauses and of lingering closes, stopping, the watchdog that lets another thread lead
while a request runs long, and the request watch (watch.py): slow-log entries, and for a request past
``request_timeout`` a 504 sent for it and a RECYCLE to the arbiter, which starts a replacement before this worker
retires (as after ``max_requests``), so no request waits for a boot. Stopping
(SIGTERM or STOP from the arbiter): stop accepting, finish the requests in flight and close their connections right
after END_REQUEST, close idle connections (serving one whose next request has already arrived), exit 0, all bounded
by ``graceful_timeout``. Unlike flup, a pool that keeps sending cannot hold the worker open. Retiring (RETIRE, on a
reload or after ``max_requests``) is the same except that idle connections are handed to the arbiter over the
control channel with their descriptors, for a worker of the new generation to adopt, so Apache's pooled connections
survive a reload. Only a connection whose protocol state is idle with no byte
buffered in this process is handed over, and a thread can no longer take it (``pool.py``'s ownership states); bytes
still in the kernel are read by the new owner.
"""

from __future__ import annotations

import _socket
import atexit
import logging
import math
import os
import selectors
import signal
import socket
import time
from types import FrameType
from typing import Callable, List, NoReturn, Optional, Sequence

from ..protocol import FCGI_AUTHORIZER, FCGI_RESPONDER, ServerConnection
from . import control, identity, sockets
from .accesslog import AccessLog
from .pool import RETIRING, RUNNING, STOPPING, EventPool
from .reporting import StatusReporter
from .settings import Settings
from .sockets import Listener
from .activity import Activity, answer_timed_out
from .transport import App, Connection
from .watch import RequestWatch, describe, thread_stack

log = logging.getLogger(__name__)

# The main thread reports to the arbiter at least this often; the arbiter allows settings.heartbeat_timeout.
HEARTBEAT_INTERVAL = 1.0
# The watchdog's period: a request blocked for one to two ticks no longer delays other connections' requests (its
# thread gives the epoll to another; pool.CPU_BOUND_TICKS for one that computes). It keeps ticking this long after it
# last saw a request, so under steady load the request threads never have to wake it.
WATCH_TICK = 0.003
WATCH_LINGER = 0.05
# While stopping, the main thread looks at the pool at least this often (threads also wake it when they finish).
STOP_POLL = 0.05


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
        self._pool: Optional[EventPool] = None
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._handed_over = 0
        self._mode = RUNNING
        self._signalled: Optional[str] = None
        self._deadline = 0.0
        self._recycle_sent = False
        self._last_beat = 0.0
        self._next_linger: Optional[float] = None
        self._roles = frozenset({FCGI_RESPONDER, FCGI_AUTHORIZER})
        self._capacity = settings.workers * settings.threads
        self._watch = RequestWatch(settings.slowlog_timeout, settings.request_timeout, settings.slowlog)
        self._next_check: Optional[float] = None
        self._reporter = StatusReporter(channel, self._watch, generation, settings.threads, settings.status_path)
        self._access_log: Optional[AccessLog] = None

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
        if self.settings.run_as is not None:
            try:
                identity.switch_to(self.settings.run_as)
            except OSError as exc:
                log.error("worker %d cannot switch to %s: %s", os.getpid(), self.settings.run_as, exc)
                return control.EXIT_BOOT_ERROR
        try:
            app = self._app_factory()
        except BaseException:
            log.exception("worker %d (generation %d) failed to boot: the app factory raised",
                          os.getpid(), self.generation)
            return control.EXIT_BOOT_ERROR
        self._channel.setblocking(False)
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._selector.register(self._channel, selectors.EVENT_READ, self._on_channel)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self._access_log = AccessLog(self.settings.access_log) if self.settings.access_log else None
        # With every operations feature off, requests are not published to the main thread at all (no cost).
        track = bool(self.settings.status_path or self._watch.active or self._access_log)
        self._pool = EventPool(self._reporter.wrap(app), self.settings.threads, self.settings.stdin_spool_threshold,
                               self._new_protocol, self._wake, self.settings.max_requests, self._access_log, track)
        self._reporter.attach(self._pool)
        self._pool.start(self._listeners)
        control.send(self._channel, control.BOOTED)
        log.info("worker %d (generation %d) booted with %d threads",
                 os.getpid(), self.generation, self.settings.threads)
        reason = self._loop(self._pool)
        log.info("worker %d (generation %d) exiting: %s", os.getpid(), self.generation, reason)
        self._beat(time.monotonic())  # the final counts, which the arbiter adds to the pool's totals
        self._watch.close()
        return control.EXIT_OK

    def _new_protocol(self) -> ServerConnection:
        return ServerConnection(
            roles=self._roles,
            max_params_size=self.settings.max_params_size,
            max_conns=self._capacity,
            max_reqs=self._capacity,
        )

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

    def _wake(self) -> None:
        """Called by request threads when the main thread must look (never on the hot path)."""
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full of wake-ups already

    def _on_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    # The main loop.

    def _loop(self, pool: EventPool) -> str:
        """Keep order until drained after a stop; return why the loop ended."""
        watching_until = 0.0
        while True:
            now = time.monotonic()
            timeout = self._timeout(now, pool)
            if now < watching_until:
                timeout = min(timeout, WATCH_TICK)
            else:
                pool.watch_asleep = True
                if pool.busy():  # a request began before the flag was up: its thread did not wake us
                    timeout = min(timeout, WATCH_TICK)
            for key, _ in self._selector.select(timeout):
                key.data()
            pool.watch_asleep = False
            now = time.monotonic()
            if pool.watch():
                watching_until = now + WATCH_LINGER
            if self._watch.active:
                self._check_requests(pool, now)
            else:
                pool.activities()  # samples max_busy
            if self._signalled is not None and self._mode != STOPPING:
                self._begin_stop(pool, handoff=False, why=self._signalled)
            if now - self._last_beat >= HEARTBEAT_INTERVAL:
                self._beat(now)
            self._next_linger = pool.expire_lingering(now)
            pool.resume_accepting(now)
            for conn in pool.take_settling():
                self._settle(pool, conn)
            self._check_max_requests(pool)
            if self._mode != RUNNING:
                if pool.drained():
                    return (f"{self._mode} done after {pool.served} requests, "
                            f"{self._handed_over} connections handed over")
                if now >= self._deadline:
                    busy, _, _ = pool.counts()
                    log.warning("worker %d: graceful timeout (%.0f s) with %d requests still running",
                                os.getpid(), self.settings.graceful_timeout, busy)
                    return f"graceful timeout, {busy} requests abandoned"

    def _timeout(self, now: float, pool: EventPool) -> float:
        until = self._last_beat + HEARTBEAT_INTERVAL
        if self._mode != RUNNING:
            until = min(until, self._deadline, now + STOP_POLL)
        if self._next_linger is not None:
            until = min(until, self._next_linger)
        if pool.paused_until > now:
            until = min(until, pool.paused_until)
        if self._next_check is not None:
            until = min(until, self._next_check)
        return max(0.0, until - now)

    def _beat(self, now: float) -> None:
        self._last_beat = now
        try:
            control.send(self._channel, control.HEARTBEAT, timeout=0, payload=self._reporter.heartbeat())
        except BlockingIOError:
            pass  # the arbiter is behind on reading; it will see the next one
        except OSError:
            pass  # the arbiter is gone: the channel's EOF is handled in _on_channel

    def _check_max_requests(self, pool: EventPool) -> None:
        limit = self.settings.max_requests
        if not limit or pool.served < limit or self._recycle_sent or self._mode != RUNNING:
            return
        log.info("worker %d served %d requests (max_requests); asking to be replaced", os.getpid(), pool.served)
        self._ask_replacement(pool, "max_requests")

    def _ask_replacement(self, pool: EventPool, why: str) -> None:
        """Have the arbiter start a replacement, then retire this worker (handing its kept connections over)."""
        if self._recycle_sent or self._mode != RUNNING:
            return
        self._recycle_sent = True
        try:
            control.send(self._channel, control.RECYCLE)
        except OSError as exc:
            log.warning("cannot ask the arbiter for a replacement (%s); stopping", exc)
            self._begin_stop(pool, handoff=False, why=why)

    def _check_requests(self, pool: EventPool, now: float) -> None:
        """The slow log and the request timeout (watch.py); a timed-out request is answered here and this worker
        is replaced: its thread may never come back."""
        timed_out, self._next_check = self._watch.check([a for _, a in pool.activities()], now)
        for activity in timed_out:
            self._time_out(pool, activity, now)

    def _time_out(self, pool: EventPool, activity: Activity, now: float) -> None:
        stack = thread_stack(activity.thread)
        done = answer_timed_out(activity)
        pool.abandon(activity)
        log.error("request timeout (%g s) in worker %d: %s; %s; the worker will be replaced\n%s",
                  self.settings.request_timeout, os.getpid(), describe(activity, now),
                  done, stack.rstrip("\n"))
        if self._access_log is not None and activity.sink is not None:
            self._access_log(activity)  # its thread may never return to log it
        if self.settings.workers > 1 and self._mode == RUNNING:
            # New connections wait in the shared backlog for the other workers rather than for a worker with a
            # thread lost; kept connections are served here until they are handed to the replacement.
            pool.pause_accepting(math.inf)
        self._ask_replacement(pool, "request timeout")

    # Control channel, stop and hand-off.

    def _on_channel(self) -> None:
        assert self._pool is not None  # the channel is polled only after boot
        pool = self._pool
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
                self._begin_stop(pool, handoff=False, why="the arbiter is gone")
                return
            kind, fds, payload = message
            if kind == control.STOP:
                self._begin_stop(pool, handoff=False, why="told to stop")
            elif kind == control.RETIRE:
                self._begin_stop(pool, handoff=True, why="told to retire")
            elif kind == control.HANDOFF:
                self._adopt(pool, fds)
            elif kind == control.REPLY:
                self._reporter.deliver(payload)
            else:
                log.warning("unknown control message %r", kind)
                for fd in fds:
                    os.close(fd)

    def _begin_stop(self, pool: EventPool, handoff: bool, why: str) -> None:
        if self._mode == STOPPING or (self._mode == RETIRING and handoff):
            return
        if self._mode == RUNNING:
            self._deadline = time.monotonic() + self.settings.graceful_timeout
        self._mode = RETIRING if handoff else STOPPING
        idle = pool.set_mode(self._mode)
        busy, _, _ = pool.counts()
        log.info(
            "worker %d %s (%s): %d requests in flight, %d idle connections to %s",
            os.getpid(), self._mode, why, busy, len(idle), "hand over" if handoff else "close",
        )
        if handoff:
            self._handoff(pool, idle)
        else:
            for conn in idle:
                self._settle(pool, conn)

    def _settle(self, pool: EventPool, conn: Connection) -> None:
        """While stopping, an idle connection (SETTLING: no thread can take it) is handed over (retiring), or
        closed unless a request is arriving, which a thread then serves."""
        if self._mode == RETIRING:
            self._handoff(pool, [conn])
        elif _bytes_waiting(conn.sock):
            pool.release_to_threads(conn)
        else:
            pool.detach(conn)
            conn.close()

    def _handoff(self, pool: EventPool, conns: List[Connection]) -> None:
        """Send idle connections to the arbiter for a new worker, then close our copies."""
        if not conns:
            return
        for conn in conns:
            pool.detach(conn)
        try:
            control.send(self._channel, control.HANDOFF, [conn.fd for conn in conns])
            self._handed_over += len(conns)
        except OSError as exc:
            log.warning("could not hand over %d connections (%s); closing them", len(conns), exc)
        for conn in conns:
            conn.close()

    def _adopt(self, pool: EventPool, fds: List[int]) -> None:
        """Connections handed over from a retiring worker: serve them as if accepted here."""
        for fd in fds:
            try:
                sock = socket.socket(fileno=fd)
                sockets.prepare(sock)
            except OSError as exc:
                log.warning("cannot adopt descriptor %d: %s", fd, exc)
                os.close(fd)
                continue
            settling = pool.adopt(sock)
            if settling is not None:
                self._settle(pool, settling)
        log.debug("worker %d adopted %d connections", os.getpid(), len(fds))


def _run_exit_hooks() -> None:
    try:
        atexit._run_exitfuncs()  # it logs each failing function's traceback itself
    except BaseException:
        log.exception("atexit functions failed")


def _bytes_waiting(sock: _socket.socket) -> bool:
    """True when the peer has sent something not read yet (a request arriving as we decide to close)."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return False
