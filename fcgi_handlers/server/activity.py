"""What a request thread is doing, as the worker's main thread sees it, and the answer for a request that timed out.

Each request thread publishes an ``Activity`` for the request it runs (pool.py keeps it on the thread's lane): the
params, when it started, and the phase and handler the dispatcher writes in ``note`` (``FastCGIRequest.note``).
The main thread reads it for the status page, the slow log and the request timeout (watch.py), and, past
``request_timeout``, answers the request itself with ``answer_timed_out``: the thread stays stuck, so the main thread
takes the connection's write lock, sends a 504 (or ends a response already begun) and shuts the socket, after which
nothing the thread writes goes out. Everything the main thread does here is bounded in time: it must keep
heartbeating.
"""

from __future__ import annotations

import _socket
import ctypes
import errno
import logging
import os
import select
import socket
import time
from typing import Dict, Optional

from ..protocol import ProtocolError
from .transport import FAILED_APP_STATUS, Connection, HandlerNote, Sink

log = logging.getLogger(__name__)

# libc through ctypes.PyDLL: its calls keep the GIL (send_and_shut).
_LIBC = ctypes.PyDLL(None, use_errno=True)
_LIBC.send.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int)
_LIBC.send.restype = ctypes.c_ssize_t
_LIBC.shutdown.argtypes = (ctypes.c_int, ctypes.c_int)
_LIBC.shutdown.restype = ctypes.c_int
_MSG_MORE = getattr(socket, "MSG_MORE", 0)

# What Apache gets for a request that ran past request_timeout before writing anything (the worker answers for it).
TIMEOUT_RESPONSE = (b"Status: 504 Gateway Timeout\r\nContent-Type: text/plain\r\n\r\n"
                    b"Gateway Timeout: the handler ran past the daemon's request timeout\n")
# How long the worker's main thread waits for a request thread's write in progress before it ends the stream anyway.
TAKEOVER_WAIT = 0.5


class Activity:
    """One request in a thread, as the worker's main thread sees it (status page, slow log, request timeout).

    The request thread makes it before the app runs and drops it after; the main thread only reads it, except for
    the flags it sets once each (``slow_logged``, ``timed_out``) and the answer it sends for a timed-out request.
    """

    __slots__ = ("conn", "params", "started", "note", "request_id", "sink", "slow_logged", "timed_out", "thread")

    def __init__(self, conn: Connection, params: Dict[bytes, bytes], thread: int) -> None:
        self.conn = conn
        self.params = params
        self.started = time.monotonic()
        self.note = HandlerNote()
        # The request's id and sink, set once the request is built (not the request itself: it refers to this
        # object, and a cycle per request would leave every request to the cyclic garbage collector).
        self.request_id = 0
        self.sink: Optional[Sink] = None
        self.slow_logged = False
        self.timed_out = False
        self.thread = thread  # threading.get_ident() of the request thread (sys._current_frames' key)

    def param(self, name: bytes) -> str:
        return self.params.get(name, b"").decode("latin-1")

    def request_line(self) -> str:
        """``GET /uri`` (REQUEST_URI keeps the query string)."""
        return f"{self.param(b'REQUEST_METHOD') or '-'} {self.param(b'REQUEST_URI') or self.param(b'SCRIPT_NAME')}"


def answer_timed_out(activity: Activity) -> str:
    """(main thread) Answer a request past request_timeout for its stuck thread: 504 if nothing was sent yet, else
    end the stream; then shut the socket, so Apache never reuses a connection a thread still holds. Returns what was
    done, for the log."""
    conn, sink = activity.conn, activity.sink
    done = "connection shut down"
    if sink is not None and conn.lock.acquire(timeout=TAKEOVER_WAIT):
        try:
            if not conn.taken and not conn.broken:
                conn.taken = True
                proto, request_id = conn.proto, activity.request_id
                data = b"" if sink.wrote_stdout else proto.send_stdout(request_id, TIMEOUT_RESPONSE)
                send_and_shut(conn.sock, data + proto.end_request(request_id, FAILED_APP_STATUS), TAKEOVER_WAIT)
                done = "stream ended after the handler's output" if sink.wrote_stdout else "answered 504"
                if not sink.wrote_stdout:  # what the access log reports
                    sink.wrote_stdout, sink.head, sink.stdout_bytes = True, TIMEOUT_RESPONSE, len(TIMEOUT_RESPONSE)
        except (OSError, ProtocolError) as exc:
            log.info("request %s: timeout answer not delivered: %s", activity.request_line(), exc)
        finally:
            conn.lock.release()
    conn.taken = True
    conn.broken = True
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    return done


def send_and_shut(sock: _socket.socket, data: bytes, timeout: float) -> None:
    """Send ``data`` and shut the socket at once, so Apache sees the end of the connection with END_REQUEST and
    never reuses it for a request the stuck thread would hold.

    With ``socket.send`` the main thread would wait for the GIL after the send while the stuck thread computes (up to
    the switch interval), and Apache could hand the connection to its next request in that gap; through
    ``ctypes.PyDLL`` the send and the shutdown run back to back with the GIL held, and on TCP ``MSG_MORE`` keeps the
    data for the FIN's segment. A send the socket buffer cannot take whole is finished the ordinary way, bounded by
    ``timeout`` (the main thread must not hang on a web server that stopped reading; ``TimeoutError``).
    """
    fd = sock.fileno()
    sent = _LIBC.send(fd, data, len(data), socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL | _MSG_MORE)
    if sent == len(data):
        _LIBC.shutdown(fd, socket.SHUT_RDWR)
        return
    if sent < 0:
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise OSError(err, os.strerror(err))
        sent = 0
    deadline = time.monotonic() + timeout
    view = memoryview(data)[sent:]
    while view:
        try:
            view = view[sock.send(view, socket.MSG_DONTWAIT):]
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [sock], [], left)[1]:
                raise TimeoutError(f"the web server read nothing for {timeout:g} s") from None
    sock.shutdown(socket.SHUT_RDWR)
