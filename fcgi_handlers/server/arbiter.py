"""Arbiter: binds the listening sockets once, forks the workers, and keeps their number right; it knows no FastCGI.

Signal handlers only append to ``signal_queue`` (and wake the loop through ``signal.set_wakeup_fd``); the loop then
runs one method per signal, reaps exited workers, reads their control channels (boot notices, heartbeats with status
rows, status queries, handed-over connections), kills the wedged ones and tops the pool up. Under systemd it reports
READY, RELOADING and STOPPING (systemd.py). Each step is a public method, so tests drive the arbiter by appending to
the queue and calling ``tick()``.

| signal            | method                      | effect                                                    |
|-------------------|-----------------------------|-----------------------------------------------------------|
| SIGTERM           | ``stop``                    | workers finish in-flight requests, then exit 0            |
| SIGINT            | ``interrupt``               | ``stop``; ``halt`` when already stopping (Ctrl-C twice)   |
| SIGQUIT           | ``halt``                    | SIGKILL every worker now                                  |
| SIGHUP            | ``reload``                  | new generation first; the old one retires once it booted  |
| SIGTTIN / SIGTTOU | ``increment``/``decrement`` | one worker more / less (never below one)                  |

Reload follows gunicorn's shape, not uvicorn's stop-then-start: the new generation is forked (and imports fresh
handler code in ``app_factory``) while the old one keeps serving; only when every new worker has reported BOOTED are
the old ones told to RETIRE. They finish their requests and hand their idle connections back here over the control
channel; the arbiter passes them on to the new workers. If a new worker fails to boot, the reload is abandoned and
the old generation keeps serving. Boot failures with nothing to fall back on are retried with exponential back-off,
so a broken app costs a log line every few seconds, not a fork loop.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import control, systemd
from .scoreboard import Scoreboard
from .settings import Settings
from .sockets import BindError, Listener, open_listeners
from .transport import App
from .worker import Worker

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"

# Boot failures are retried after 0.5 s, 1 s, 2 s, ... up to 30 s between attempts.
BOOT_BACKOFF_FIRST = 0.5
BOOT_BACKOFF_MAX = 30.0
# Past graceful_timeout, a worker gets this much longer to exit by itself before SIGKILL (it enforces the timeout).
KILL_MARGIN = 5.0
# The loop wakes at least this often to check boot deadlines and heartbeats.
TICK = 1.0

# What signal.signal() returns: a previous handler to put back (None when it was not set from Python).
_Handler = Union[Callable[[int, Optional[FrameType]], Any], int, signal.Handlers, None]

HANDLED_SIGNALS = (
    signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD,
)


@dataclass(eq=False)
class WorkerHandle:
    """What the arbiter knows about one worker process."""

    pid: int
    generation: int
    channel: socket.socket
    started: float
    last_seen: float
    booted: bool = False
    leaving: bool = False  # to be retired once a replacement is booted (max_requests, SIGTTOU)
    retired_at: Optional[float] = None  # when RETIRE or STOP was sent
    kill_reason: str = ""


def configure_logging(level: int) -> None:
    """Log to stderr with the pid on every line, unless the application configured logging already."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    logging.getLogger("fcgi_handlers").setLevel(level)


class Arbiter:
    """``Arbiter(settings, app_factory).run()``; ``app_factory`` is called in each worker after fork."""

    def __init__(self, settings: Settings, app_factory: Callable[[], App]) -> None:
        self.settings = settings
        self.app_factory = app_factory
        self.signal_queue: List[int] = []
        self.workers: Dict[int, WorkerHandle] = {}
        self.listeners: List[Listener] = []
        self.generation = 0
        self._newest_generation = 0  # labels are never reused, even after an abandoned reload
        self.num_workers = settings.workers
        self.stopping = False
        self._stop_deadline = 0.0
        self._held: List[int] = []  # handed-over connections waiting for a booted worker
        self._next_spawn = 0.0
        self._boot_failures = 0
        self._round_robin = 0
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._saved_handlers: Dict[int, _Handler] = {}
        self._saved_wakeup_fd = -1
        self.scoreboard = Scoreboard(settings.threads)
        self._systemd = systemd.Notifier()
        self._ready_generation: Optional[int] = None  # the generation systemd was last told READY for
        self._signal_methods: Dict[int, Callable[[], None]] = {
            signal.SIGTERM: self.stop,
            signal.SIGINT: self.interrupt,
            signal.SIGQUIT: self.halt,
            signal.SIGHUP: self.reload,
            signal.SIGTTIN: self.increment,
            signal.SIGTTOU: self.decrement,
        }

    # Life cycle.

    def run(self) -> int:
        """Serve until stopped; the process exit status (0, or 1 when the sockets cannot be bound)."""
        configure_logging(self.settings.logging_level)
        try:
            self.start()
        except BindError as exc:
            log.error("%s", exc.strerror or exc)
            self.close()
            return 1
        try:
            while self.tick():
                pass
        finally:
            self.close()
        log.info("arbiter %d exiting", os.getpid())
        return 0

    def start(self) -> None:
        """Open the listening sockets (or take systemd's) and install the signal handlers (from the main thread)."""
        self.listeners = open_listeners(self.settings.addresses, self.settings.backlog, self.settings.socket_mode,
                                        self.settings.socket_owner, self.settings.socket_group,
                                        self.settings.allowed_clients)
        for listener in self.listeners:
            log.info("listening at %s%s", listener.bound, f" (allowed clients: {', '.join(listener.clients.entries)})"
                     if listener.clients is not None else "")
            if not listener.address.is_unix and listener.clients is None:
                log.warning("listening at %s for any client: whoever reaches this port chooses handlers and options; "
                            "name Apache's addresses with --allowed-clients", listener.bound)
        if self.settings.allowed_clients and all(listener.address.is_unix for listener in self.listeners):
            log.warning("--allowed-clients applies to TCP binds only; a unix socket admits whoever may write it "
                        "(its owner, group and --socket-mode)")
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        if threading.current_thread() is threading.main_thread():
            self._saved_wakeup_fd = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
            for signum in HANDLED_SIGNALS:
                self._saved_handlers[signum] = signal.signal(signum, self._on_signal)
        log.info("arbiter %d starting %d workers of %d threads", os.getpid(), self.num_workers, self.settings.threads)
        if self.settings.run_as is not None:
            log.info("workers run as %s", self.settings.run_as)

    def tick(self, timeout: float = TICK) -> bool:
        """One turn of the loop; False once stopped and every worker is gone."""
        self.handle_signals()
        self.reap()
        now = time.monotonic()
        self.check_workers(now)
        self.manage_workers(now)
        self._forward_held()
        if self.stopping and not self.workers:
            return False
        self.wait(timeout)
        return True

    def close(self) -> None:
        """Release the arbiter's sockets; a unix socket path is removed if it is still ours."""
        if self._saved_handlers:  # give the process back its own handlers (matters when embedded, e.g. in tests)
            signal.set_wakeup_fd(self._saved_wakeup_fd)
            for signum, handler in self._saved_handlers.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
            self._saved_handlers = {}
        self._close_listeners()
        self._close_held()
        for handle in self.workers.values():
            handle.channel.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        if signum != signal.SIGCHLD:  # SIGCHLD only needs the wake-up; every tick reaps
            self.signal_queue.append(signum)

    # One method per signal.

    def handle_signals(self) -> None:
        """Run the method of each queued signal, oldest first."""
        while self.signal_queue:
            signum = self.signal_queue.pop(0)
            method = self._signal_methods.get(signum)
            if method is not None:
                method()

    def interrupt(self) -> None:
        """SIGINT: a graceful stop the first time, a halt the second (Ctrl-C twice)."""
        if self.stopping:
            self.halt()
        else:
            self.stop()

    def stop(self) -> None:
        """Graceful stop: close our listeners, tell every worker to STOP, exit when they all have."""
        if self.stopping:
            log.info("already stopping")
            return
        log.info("stopping: %d workers finish their requests (at most %.0f s)", len(self.workers),
                 self.settings.graceful_timeout)
        self.stopping = True
        self._systemd.stopping()
        self._stop_deadline = time.monotonic() + self.settings.graceful_timeout + KILL_MARGIN
        self._close_listeners()
        self._close_held()
        for handle in self.workers.values():
            self._tell(handle, control.STOP)

    def halt(self) -> None:
        """Immediate stop: SIGKILL every worker."""
        log.warning("halting: killing %d workers", len(self.workers))
        self._systemd.stopping()
        self.stopping = True
        self._stop_deadline = time.monotonic()
        self._close_listeners()
        self._close_held()
        for handle in self.workers.values():
            self._kill(handle, "halt")

    def reload(self) -> None:
        """Start a new generation; the old one retires once every new worker has booted."""
        if self.stopping:
            return
        self._newest_generation += 1
        self.generation = self._newest_generation
        log.info("reloading: starting generation %d (%d workers)", self.generation, self.num_workers)
        self._systemd.reloading()
        self._next_spawn = 0.0

    def increment(self) -> None:
        self.num_workers += 1
        log.info("workers: %d", self.num_workers)

    def decrement(self) -> None:
        self.num_workers = max(1, self.num_workers - 1)
        log.info("workers: %d", self.num_workers)

    # Reaping, checking, topping up.

    def reap(self) -> None:
        """Collect every exited worker (only our own pids: the arbiter may live in a process with other children)."""
        for pid in list(self.workers):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self._exited(self.workers.pop(pid), os.waitstatus_to_exitcode(status))

    def _exited(self, handle: WorkerHandle, code: int) -> None:
        # Read what it sent before exiting: closing the channel with a HANDOFF unread would close those connections.
        self._on_channel(handle)
        handle.channel.close()
        self.scoreboard.exited(handle.pid)
        cause = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if handle.kill_reason:
            cause += f" ({handle.kill_reason})"
        boot_failed = code == control.EXIT_BOOT_ERROR or (not handle.booted and handle.retired_at is None)
        if boot_failed and not self.stopping:
            log.error("worker %d (generation %d) failed to boot: %s", handle.pid, handle.generation, cause)
            self._boot_failed(handle)
        elif handle.retired_at is not None and code == 0:
            log.info("worker %d (generation %d) exited: %s, as told", handle.pid, handle.generation, cause)
        else:
            log.warning("worker %d (generation %d) died: %s", handle.pid, handle.generation, cause)

    def _boot_failed(self, handle: WorkerHandle) -> None:
        if handle.generation != self.generation:
            return  # a generation already given up on (an abandoned reload): nothing to retry
        older = [w.generation for w in self.workers.values() if w.generation < handle.generation and w.booted
                 and w.retired_at is None]
        if older:
            # A reload whose new code cannot boot: keep the generation that works, retire the new one.
            log.error("reload abandoned: generation %d keeps serving", max(older))
            self.generation = max(older)
            self._ready_generation = None  # systemd waits for READY=1 after RELOADING=1 either way
            return
        self._boot_failures += 1
        delay = min(BOOT_BACKOFF_FIRST * 2 ** (self._boot_failures - 1), BOOT_BACKOFF_MAX)
        self._next_spawn = time.monotonic() + delay
        log.error("%d boot failures in a row; next attempt in %.1f s", self._boot_failures, delay)

    def check_workers(self, now: float) -> None:
        """Kill workers that did not boot in time, stopped heartbeating, or outlived their grace period."""
        grace = self.settings.graceful_timeout + KILL_MARGIN
        for handle in list(self.workers.values()):
            if handle.kill_reason:
                continue
            if not handle.booted and now - handle.started > self.settings.boot_timeout:
                self._kill(handle, f"no boot within {self.settings.boot_timeout:g} s")
            elif handle.booted and now - handle.last_seen > self.settings.heartbeat_timeout:
                self._kill(handle, f"no heartbeat for {now - handle.last_seen:.0f} s")
            elif handle.retired_at is not None and now - handle.retired_at > grace:
                self._kill(handle, f"still running {grace:g} s after being told to stop")
            elif self.stopping and now > self._stop_deadline:
                self._kill(handle, "stop deadline")

    def manage_workers(self, now: float) -> None:
        """Top up the current generation; once it is complete and booted, retire everything else."""
        if self.stopping:
            return
        current = self._current()
        for handle in sorted(current, key=lambda w: w.started)[: max(0, len(current) - self.num_workers)]:
            handle.leaving = True
        missing = self.num_workers - len(self._current())
        if missing > 0 and now >= self._next_spawn:
            try:
                for _ in range(missing):
                    self.spawn()
            except OSError as exc:  # fork or socketpair failed: out of processes, memory or descriptors
                self._next_spawn = now + BOOT_BACKOFF_MAX
                log.error("cannot start a worker (%s); trying again in %.0f s", exc, BOOT_BACKOFF_MAX)
        current = self._current()
        if len(current) < self.num_workers or not all(w.booted for w in current):
            return
        for handle in list(self.workers.values()):
            if handle.retired_at is None and (handle.leaving or handle.generation != self.generation):
                log.info("retiring worker %d (generation %d)", handle.pid, handle.generation)
                self._tell(handle, control.RETIRE)
        if self._ready_generation != self.generation:
            self._ready_generation = self.generation
            self._systemd.ready(f"serving: {len(current)} workers of generation {self.generation}")

    def _current(self) -> List[WorkerHandle]:
        return [
            w for w in self.workers.values()
            if w.generation == self.generation and not w.leaving and w.retired_at is None
        ]

    def spawn(self) -> WorkerHandle:
        """Fork one worker of the current generation."""
        arbiter_end, worker_end = control.channel_pair()
        try:
            pid = os.fork()
        except OSError:
            arbiter_end.close()
            worker_end.close()
            raise
        if pid == 0:  # the child: drop every descriptor of the arbiter's, then become a worker
            try:
                arbiter_end.close()
                self._forget_in_child()
                Worker(self.settings, self.listeners, worker_end, self.app_factory, self.generation).run()
            finally:
                os._exit(control.EXIT_INTERNAL_ERROR)
        worker_end.close()
        arbiter_end.setblocking(False)
        now = time.monotonic()
        handle = WorkerHandle(pid, self.generation, arbiter_end, started=now, last_seen=now)
        self.workers[pid] = handle
        self._selector.register(arbiter_end, selectors.EVENT_READ, handle)
        log.info("spawned worker %d (generation %d)", pid, self.generation)
        return handle

    def _forget_in_child(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.set_wakeup_fd(-1)
        for handle in self.workers.values():
            handle.channel.close()
        for fd in self._held:
            os.close(fd)
        self._held = []
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # Control channels.

    def wait(self, timeout: float) -> None:
        """Sleep until a signal, a worker message, or ``timeout``; handle the worker messages."""
        for key, _ in self._selector.select(timeout):
            if key.data is None:
                self._drain_wake()
            else:
                self._on_channel(key.data)
        self._forward_held()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _on_channel(self, handle: WorkerHandle) -> None:
        while True:
            try:
                message = control.receive(handle.channel)
            except BlockingIOError:
                return
            except ConnectionResetError:
                message = None  # it exited before reading what we sent (e.g. RETIRE while still booting)
            except OSError as exc:
                log.warning("control channel of worker %d: %s", handle.pid, exc)
                message = None
            if message is None:  # the worker is exiting; reap() will tell how
                try:
                    self._selector.unregister(handle.channel)
                except KeyError:
                    pass  # end of stream seen before
                return
            kind, fds, payload = message
            handle.last_seen = time.monotonic()
            if kind == control.BOOTED:
                handle.booted = True
                self._boot_failures = 0
            elif kind == control.HEARTBEAT:
                self.scoreboard.update(handle.pid, payload)
            elif kind == control.QUERY:
                self._answer_query(handle, payload)
            elif kind == control.RECYCLE:
                if not handle.leaving:
                    self.scoreboard.recycled += 1
                handle.leaving = True
            elif kind == control.HANDOFF:
                self._held.extend(fds)
                log.debug("worker %d handed over %d connections", handle.pid, len(fds))
            else:
                log.warning("unknown message %r from worker %d", kind, handle.pid)

    def _answer_query(self, handle: WorkerHandle, payload: bytes) -> None:
        """A worker serves the status page: answer with the whole daemon (scoreboard.py)."""
        answer = self.scoreboard.answer(handle.pid, payload, self.processes(), self.listeners)
        try:
            if answer is not None:
                control.send(handle.channel, control.REPLY, payload=answer, timeout=0)
        except (OSError, ValueError) as exc:
            log.warning("cannot answer the status query of worker %d: %s", handle.pid, exc)

    def processes(self) -> List[Tuple[int, int]]:
        """(pid, generation) of every worker, oldest first."""
        return [(w.pid, w.generation) for w in sorted(self.workers.values(), key=lambda w: w.started)]

    def _forward_held(self) -> None:
        """Give handed-over connections to booted workers of the current generation, spread evenly."""
        if not self._held:
            return
        if self.stopping:
            self._close_held()
            return
        targets = [w for w in self._current() if w.booted]
        while self._held and targets:
            target = targets[self._round_robin % len(targets)]
            self._round_robin += 1
            share = self._held[: max(1, len(self._held) // len(targets))]
            try:
                control.send(target.channel, control.HANDOFF, share)
            except OSError as exc:
                log.warning("cannot pass connections to worker %d: %s", target.pid, exc)
                targets.remove(target)
                continue
            del self._held[: len(share)]
            for fd in share:
                os.close(fd)

    def _tell(self, handle: WorkerHandle, message: bytes) -> None:
        if handle.retired_at is None:
            handle.retired_at = time.monotonic()
        try:
            control.send(handle.channel, message)
        except OSError as exc:
            log.warning("cannot reach worker %d (%s); sending SIGTERM", handle.pid, exc)
            self._signal(handle, signal.SIGTERM)

    def _kill(self, handle: WorkerHandle, reason: str) -> None:
        log.error("killing worker %d (generation %d): %s", handle.pid, handle.generation, reason)
        handle.kill_reason = reason
        self._signal(handle, signal.SIGKILL)

    @staticmethod
    def _signal(handle: WorkerHandle, signum: int) -> None:
        try:
            os.kill(handle.pid, signum)
        except ProcessLookupError:
            pass

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            listener.close()
            listener.remove_path()
        self.listeners = []

    def _close_held(self) -> None:
        for fd in self._held:
            os.close(fd)
        self._held = []
