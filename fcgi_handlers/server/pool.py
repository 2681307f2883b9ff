"""Request threads serving connections straight from one shared ``epoll``: no queue, no hand-back, no wake pipe.

Every connection of the worker is registered ``EPOLLIN | EPOLLONESHOT`` in one epoll. The thread that gets an
event owns that socket (a one-shot registration is reported once, then disarmed): it reads, runs the request
inline, writes, and re-arms the connection (kept) or closes it. Listening sockets stay registered level-triggered
with ``EPOLLEXCLUSIVE`` (one worker woken per connection); a listener event accepts and serves a short burst of
waiting connections before the next poll, which is what a connection per request (no ``enablereuse``) needs
most: no epoll call of its own per request. Threads take turns as leader and
followers: only the leader waits on the epoll, and it keeps serving what it gets itself, so under load one thread
runs request after request with nothing to hand over and no other thread fighting it for the GIL (with several
threads polling at once, the next event woke another thread while the first was still finishing, and the GIL
switches that cost doubled the CPU time per request). A request that runs long must not hold up the others: the
worker's main thread is a watchdog that, after a tick or two on the same event, makes a follower the leader.

A thread polls only while it leads and is free, so a worker whose threads are all busy accepts nothing and new
connections wait in the shared backlog for another worker; an idle kept connection is an armed registration, not a
thread, so any number of them never starve new ones (flup's bug 3, apache-fastcgi.md §3.5).

Ownership is arbitrated by ``Connection.state`` under one small lock: IDLE (armed, nobody's), BUSY (a thread's),
LINGER (armed, draining a half-closed socket), SETTLING (the worker's main thread decides). A thread may have taken
an event for a socket that the main thread has meanwhile handed over or closed: it finds the state changed (or the
descriptor gone from the table) and does nothing, having read nothing, so the bytes stay in the kernel for the new
owner. The main thread (``worker.py``) never reads a connection; it settles connections while the worker stops.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from ..protocol import ParamsReceived, RequestBegun, ServerConnection
from . import sockets
from .sockets import Listener
from .transport import BUSY, IDLE, LINGER, SETTLING, App, Connection, serve, stdin_outstanding

log = logging.getLogger(__name__)

ARMED = select.EPOLLIN | select.EPOLLONESHOT
# Listeners stay registered level-triggered (no re-arm per accepted connection): the leader is the only thread
# polling, and a second thread that took the same event finds accept() empty. EPOLLEXCLUSIVE wakes one worker's
# epoll per new connection instead of all of them (Linux 4.5+).
LISTENING = select.EPOLLIN | getattr(select, "EPOLLEXCLUSIVE", 0)
# After a request without FCGI_KEEP_CONN whose body was not all read, wait this long for Apache to close before we
# do, so it is not writing stdin into a closed socket (Apache's own lingering close waits 2 s per read).
LINGER_TIMEOUT = 2.0
# After accept() fails for lack of descriptors or memory, stop polling the listener this long instead of spinning.
ACCEPT_PAUSE = 0.5
# Connections one listener event may accept in a row before the leader polls again.
ACCEPT_BURST = 8
# A leader that keeps the CPU on one event for this many watchdog ticks is replaced even though it is not blocked,
# so a CPU-bound request delays the other connections' requests by tens of milliseconds, not by its whole run.
CPU_BOUND_TICKS = 10
# Worker modes, shared with worker.py: the pool only needs to know whether to keep, close or settle connections.
RUNNING, STOPPING, RETIRING = "running", "stopping", "retiring"


class _Lane:
    """What the watchdog sees of one thread: whether it is serving an event, and which one (a counter)."""

    __slots__ = ("seq", "busy", "tid")

    def __init__(self) -> None:
        self.seq = 0
        self.busy = False
        self.tid = threading.get_native_id()


def _runnable(tid: int) -> bool:
    """Whether the thread is running or waiting for a CPU (state R in /proc), not blocked."""
    try:
        fd = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY)
        try:
            stat = os.read(fd, 512)
        finally:
            os.close(fd)
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"R"


class EventPool:
    """The worker's connections and its request threads; the main thread calls the methods marked (main)."""

    def __init__(
        self, app: App, threads: int, spool_threshold: int, new_protocol: Callable[[], ServerConnection],
        wake: Callable[[], None], max_requests: int,
    ) -> None:
        self._app = app
        self._threads = threads
        self._spool_threshold = spool_threshold
        self._new_protocol = new_protocol
        self._wake = wake  # tells the main thread something needs it (only off the hot path)
        self._max_requests = max_requests
        self._epoll = select.epoll()
        self._lock = threading.Lock()
        self._conns: Dict[int, Connection] = {}  # every open connection, whatever its state
        self._listeners: Dict[int, Listener] = {}
        self._lingering: Dict[int, Connection] = {}
        self._settle: List[Connection] = []  # connections waiting for the main thread's decision
        self._accepting = False
        self.paused_until = 0.0
        self.mode = RUNNING  # changed only under the lock (main)
        self.served = 0
        self._limit_reached = False
        self._callbacks = 0  # call_after_end callbacks still running
        # Leader/followers: one thread at a time waits on the epoll and serves what it gets inline; the others wait
        # on the condition. The watchdog hands the epoll to a follower only when a request runs long.
        self._leading = threading.Condition(threading.Lock())
        self._leader: Optional[_Lane] = None
        self._watched: Optional[Tuple[_Lane, int]] = None
        self._watch_ticks = 0
        self.watch_asleep = True  # set by the main thread before a long sleep (see worker.py)

    def start(self, listeners: List[Listener]) -> None:
        """(main) Start the threads and begin accepting on ``listeners``."""
        self._listeners = {listener.fileno(): listener for listener in listeners}
        with self._lock:
            self._set_accepting(True)
        for _ in range(self._threads):
            threading.Thread(target=self._thread_main, name="fcgi-request", daemon=True).start()

    # Main-thread interface.

    def set_mode(self, mode: str) -> List[Connection]:
        """(main) Enter ``mode`` (stopping or retiring); the idle connections, now SETTLING, for ``settle``."""
        with self._lock:
            self.mode = mode
            self._set_accepting(False)
            idle = [conn for conn in self._conns.values() if conn.state is IDLE and conn.idle]
            for conn in idle:
                conn.state = SETTLING
            return idle

    def take_settling(self) -> List[Connection]:
        """(main) Connections threads gave back while the worker stops."""
        if not self._settle:
            return []  # read without the lock: a thread adding one wakes the main thread, which calls again
        with self._lock:
            conns, self._settle = self._settle, []
            return conns

    def release_to_threads(self, conn: Connection) -> None:
        """(main) A SETTLING connection whose next request is arriving: serve it after all."""
        with self._lock:
            self._arm(conn, IDLE)

    def detach(self, conn: Connection) -> None:
        """(main) Forget a SETTLING connection (to hand it over or close it); the caller closes the socket."""
        with self._lock:
            self._forget(conn)

    def adopt(self, sock: socket.socket) -> Optional[Connection]:
        """(main) A connection handed over from a retiring worker: served here from now on; SETTLING (returned)
        when this worker is stopping itself, else armed (None)."""
        conn = Connection(sock, self._new_protocol())
        with self._lock:
            self._conns[conn.fd] = conn
            if self.mode is not RUNNING:
                conn.state = SETTLING
                return conn
            self._arm(conn, IDLE)
        return None

    def resume_accepting(self, now: float) -> None:
        """(main) End an accept pause once it has run out."""
        if self._accepting or now < self.paused_until:
            return
        with self._lock:
            if self.mode is RUNNING and not self._accepting and now >= self.paused_until:
                self._set_accepting(True)

    def expire_lingering(self, now: float) -> Optional[float]:
        """(main) Close half-closed connections whose time is up; the next deadline, if any is left."""
        if not self._lingering:
            return None  # read without the lock: a thread adding one wakes the main thread, which calls again
        expired: List[Connection] = []
        with self._lock:
            for conn in list(self._lingering.values()):
                if conn.state is LINGER and conn.deadline <= now:
                    self._forget(conn)
                    expired.append(conn)
            nearest = min((conn.deadline for conn in self._lingering.values()), default=None)
        for conn in expired:
            conn.close()
        return nearest

    def drained(self) -> bool:
        """(main) No connection left and no callback running."""
        with self._lock:
            return not self._conns and not self._callbacks

    def counts(self) -> Tuple[int, int]:
        """(main) (connections in a request, all connections), for log lines."""
        with self._lock:
            return sum(1 for conn in self._conns.values() if conn.state is BUSY), len(self._conns)

    # Under the lock.

    def _count(self, served: int) -> bool:
        """Add finished requests; True the first time the total reaches max_requests (the main thread acts)."""
        self.served += served
        if self._max_requests and not self._limit_reached and self.served >= self._max_requests:
            self._limit_reached = True
            return True
        return False

    def _set_accepting(self, want: bool) -> None:
        if want == self._accepting:
            return
        self._accepting = want
        for fd in self._listeners:
            if want:
                self._epoll.register(fd, LISTENING)
            else:
                self._epoll.unregister(fd)

    def _arm(self, conn: Connection, state: str) -> None:
        conn.state = state
        if conn.registered:
            self._epoll.modify(conn.fd, ARMED)
        else:
            self._epoll.register(conn.fd, ARMED)
            conn.registered = True

    def _forget(self, conn: Connection) -> None:
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
        self._lingering.pop(conn.fd, None)
        conn.state = SETTLING
        if conn.registered:
            conn.registered = False
            try:
                self._epoll.unregister(conn.fd)
            except OSError:
                pass  # already closed by a thread that found it broken

    # The threads.

    def _thread_main(self) -> None:
        lane = _Lane()
        poll = self._epoll.poll
        listeners = self._listeners
        leading = self._leading
        while True:
            with leading:
                while self._leader is not None:
                    leading.wait()
                self._leader = lane
            while self._leads(lane):  # until the watchdog hands the epoll to another thread
                for fd, _ in poll(-1, 1):
                    lane.seq += 1
                    lane.busy = True
                    if self.watch_asleep:
                        self._wake()  # the watchdog sleeps long while no request runs: it must watch this one
                    try:
                        listener = listeners.get(fd)
                        if listener is not None:
                            # Without enablereuse every request is a new connection: while more wait in the
                            # backlog, take the next one without a trip through epoll_wait (a bounded burst, so
                            # kept connections' events wait at most that many requests).
                            burst = ACCEPT_BURST
                            while self._on_listener(listener) and burst and self._leads(lane):
                                burst -= 1
                                lane.seq += 1  # a new request for the watchdog, not one long event
                        else:
                            self._on_event(fd)
                    except BaseException:
                        log.exception("request thread: unexpected failure (the thread goes on)")
                    lane.busy = False

    def busy(self) -> bool:
        """(main) Whether the thread holding the epoll is serving an event."""
        lane = self._leader
        return lane is not None and lane.busy

    def _leads(self, lane: _Lane) -> bool:
        """Whether `lane` holds the epoll. The watchdog thread may set the leader to None at any time: read here, the
        attribute keeps its declared Optional type, where right after `self._leader = lane` the type checker narrows
        it to `_Lane` and mypyc's compiled code would then refuse the None."""
        leader = self._leader
        return leader is not None and leader is lane

    def watch(self) -> bool:
        """(main) The watchdog, called every worker.WATCH_TICK while a request runs: a leader that has been on the same
        event since the previous call is relieved of the epoll, so the next free thread serves new events. True
        while the leader is busy (call again a tick later)."""
        lane = self._leader
        if lane is None or not lane.busy:
            self._watched = None
            return False
        seen = (lane, lane.seq)
        if self._watched != seen:
            self._watched, self._watch_ticks = seen, 0
            return True
        self._watch_ticks += 1
        if self._watch_ticks < CPU_BOUND_TICKS and _runnable(lane.tid):
            # Computing, or runnable and preempted (Apache and the client share the CPUs): another leader would only
            # fight it for the GIL. A blocked leader (I/O, sleep) is replaced at once; a computing one in a while.
            return True
        with self._leading:
            if self._leads(lane) and lane.busy and lane.seq == seen[1]:
                self._leader = None
                self._leading.notify()
        self._watched = None
        return True

    def _on_listener(self, listener: Listener) -> bool:
        """Accept one connection and serve what it brought; False when there was none to accept."""
        if not self._accepting:
            return False  # stopped (or paused) after this event was queued (a plain read: the lock adds nothing)
        try:
            sock = sockets.accept(listener)
        except OSError as exc:
            log.error("accept on %s failed (%s); pausing accepts for %.1f s", listener.address, exc, ACCEPT_PAUSE)
            with self._lock:
                self.paused_until = time.monotonic() + ACCEPT_PAUSE
                self._set_accepting(False)
            self._wake()
            return False
        if sock is None:
            return False  # another worker (or thread) won the race, or the backlog is empty
        conn = Connection(sock, self._new_protocol())
        conn.state = BUSY
        with self._lock:
            self._conns[conn.fd] = conn
        # Apache sends BEGIN_REQUEST and PARAMS right after connecting: they are usually here already.
        self._serve_connection(conn)
        return True

    def _on_event(self, fd: int) -> None:
        with self._lock:
            conn = self._conns.get(fd)
            if conn is None:
                return  # handed over or closed after the event was queued: nothing was read, nothing to do
            state = conn.state
            if state is not IDLE and state is not LINGER:
                return  # owned by someone else (a stale event for a reused descriptor); its owner re-arms it
            conn.state = BUSY
        if state is LINGER:
            self._drain_lingering(conn)
        else:
            self._serve_connection(conn)

    def _serve_connection(self, conn: Connection) -> None:
        """Read what arrived, run every request it completes, then give the connection back or close it."""
        try:
            alive = conn.receive_nowait()
        except Exception as exc:  # ProtocolError, or OSError from the socket: either way the connection is done
            log.warning("closing connection %d: %s", conn.fd, exc)
            alive = False
        if not alive:
            self._close(conn, 0)
            return
        served = 0
        while True:
            try:
                start = conn.next_request()
            except OSError as lost:
                log.warning("closing connection %d: %s", conn.fd, lost)
                self._close(conn, served)
                return
            if start is None:
                break
            served += 1
            if not self._run(conn, start[0], start[1], served):
                return
        self._release(conn, served)

    def _run(self, conn: Connection, begun: RequestBegun, params: ParamsReceived, served: int) -> bool:
        """One request; True when the connection stays with this thread for the next one (kept, nothing else).

        ``served`` counts this request and the ones before it on this wake-up: whoever lets go of the connection
        adds them to the worker's total.
        """
        try:
            request = serve(conn, begun, params, self._app, self._spool_threshold)
        except BaseException:
            log.exception("request failed inside the server")
            self._close(conn, served)
            return False
        # Stopping: close right after END_REQUEST, which Apache's pool check sees before it reuses the socket;
        # keeping it would let a busy pool keep the connection alive until the graceful timeout.
        keep = request.keep_conn and self.mode is not STOPPING and not conn.broken
        if keep and not request.after_end:
            return True
        if keep:
            with self._lock:
                self._callbacks += 1
            self._release(conn, served)  # Apache may reuse the connection while the callbacks run
        elif conn.broken or not stdin_outstanding(request):
            self._close(conn, served)
        else:
            self._linger(conn, served)
        for fn in request.after_end:
            try:
                fn()
            except BaseException:
                log.exception("call_after_end callback %r failed", fn)
        if request.after_end and keep:
            with self._lock:
                self._callbacks -= 1
            if self.mode is not RUNNING:
                self._wake()
        return False

    def _release(self, conn: Connection, served: int) -> None:
        """Give a connection back: armed for its next request, or to the main thread while the worker stops."""
        wake = False
        with self._lock:
            wake = self._count(served)
            if self.mode is RUNNING or not conn.idle:
                self._arm(conn, IDLE)
            else:
                conn.state = SETTLING
                self._settle.append(conn)
                wake = True
        if wake:
            self._wake()

    def _close(self, conn: Connection, served: int) -> None:
        with self._lock:
            self._forget(conn)
            wake = self._count(served) or self.mode is not RUNNING
        conn.close()
        if wake:
            self._wake()

    def _linger(self, conn: Connection, served: int) -> None:
        """Half-close a connection whose body Apache may still be sending and drain it until Apache closes.

        Closing with unread bytes would reset the connection under Apache's feet while it writes stdin (Apache's
        own lingering close exists for the same reason). The main thread closes it when LINGER_TIMEOUT runs out.
        """
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn, served)
            return
        conn.deadline = time.monotonic() + LINGER_TIMEOUT
        with self._lock:
            self._count(served)
            self._lingering[conn.fd] = conn
            self._arm(conn, LINGER)
        self._wake()  # the main thread's timeout must now cover this deadline

    def _drain_lingering(self, conn: Connection) -> None:
        try:
            if conn.sock.recv(65536, socket.MSG_DONTWAIT):
                with self._lock:
                    self._arm(conn, LINGER)
                return
        except BlockingIOError:
            with self._lock:
                self._arm(conn, LINGER)
            return
        except OSError:
            pass
        self._close(conn, 0)
