"""The arbiter ⇄ worker contract: control-channel messages, handed-over file descriptors, and worker exit codes.

Each worker shares one ``AF_UNIX``/``SOCK_SEQPACKET`` socketpair with the arbiter. Sequenced packets keep message
boundaries, so a descriptor passed with ``SCM_RIGHTS`` always arrives attached to the one-byte message that
explains it. That is how an old worker hands its idle kept connections to the arbiter on a reload, and how the
arbiter gives them to a new worker: the kernel keeps each connection open while it is in flight, and any bytes Apache
sends meanwhile wait in the socket's buffer for whoever owns it next. A closed channel means the other side is gone:
a worker whose arbiter died stops, and the arbiter reaps a worker whose channel closed.
"""

from __future__ import annotations

import array
import os
import select
import socket
import time
from typing import Final, List, Optional, Sequence, Tuple

# Worker → arbiter.
BOOTED: Final = b"B"  # the app factory returned; the worker is serving
HEARTBEAT: Final = b"H"  # the selector loop is alive; the payload is the worker's status row (status.WorkerRow)
RECYCLE: Final = b"M"  # max_requests reached, or a request timed out: replace me, then retire me
QUERY: Final = b"Q"  # a status page request: the payload is {"id", "row"}, answered by a REPLY
# Both directions: idle connections travelling to a new owner (the descriptors ride along).
HANDOFF: Final = b"C"
# Arbiter → worker.
STOP: Final = b"S"  # stop accepting, finish in-flight requests, close idle connections, exit
RETIRE: Final = b"R"  # as STOP, but hand idle connections back over the channel instead of closing them
REPLY: Final = b"A"  # the answer to a QUERY: {"id", "status"} (status.PoolStatus)

# The largest message (kind and payload) either side sends or reads; a sequenced packet longer than the reader's
# buffer would be cut, so the status rows are bounded to fit (status.MAX_REQUEST_ROWS).
MAX_MESSAGE: Final = 256 * 1024

# Linux accepts at most SCM_MAX_FD (253) descriptors per message; stay below it.
MAX_FDS_PER_MESSAGE: Final = 200

# How long a blocking send on the channel may wait for the other side to read (it reads in its main loop).
SEND_TIMEOUT: Final = 5.0

# Linux can mark received descriptors close-on-exec atomically; elsewhere receive() does it right after.
_CLOEXEC: Final = getattr(socket, "MSG_CMSG_CLOEXEC", 0)

# Worker exit codes the arbiter tells apart. Boot failure is gunicorn's WORKER_BOOT_ERROR value.
EXIT_OK: Final = 0
EXIT_BOOT_ERROR: Final = 3
EXIT_INTERNAL_ERROR: Final = 4


def channel_pair() -> Tuple[socket.socket, socket.socket]:
    """The (arbiter end, worker end) of a new control channel."""
    arbiter_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return arbiter_end, worker_end


def send(sock: socket.socket, kind: bytes, fds: Sequence[int] = (), timeout: float = SEND_TIMEOUT,
         payload: bytes = b"") -> None:
    """Send one message of ``kind`` (with ``payload`` after it); descriptors go in batches, one ``kind`` message per
    batch.

    Both ends are non-blocking (each side polls its end in its main loop); a full channel is waited on for at most
    ``timeout`` seconds, then ``BlockingIOError`` is raised. A message is sent whole or not at all.
    """
    batches = [list(fds[start : start + MAX_FDS_PER_MESSAGE]) for start in range(0, len(fds), MAX_FDS_PER_MESSAGE)]
    message = kind + payload
    if len(message) > MAX_MESSAGE:
        raise ValueError(f"control message of {len(message)} bytes is over {MAX_MESSAGE}")
    deadline = time.monotonic() + timeout
    for batch in batches or [[]]:
        while True:
            try:
                if batch:
                    socket.send_fds(sock, [message], batch)
                else:
                    sock.send(message)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                select.select([], [sock], [], left)


def receive(sock: socket.socket) -> Optional[Tuple[bytes, List[int], bytes]]:
    """One message's kind, the descriptors attached to it and its payload; None when the other side closed the
    channel.

    Raises ``BlockingIOError`` on a non-blocking socket with nothing to read. Descriptors beyond the buffer (which
    ``send`` never produces) would be closed by the kernel, and are reported as truncation.
    """
    fds = array.array("i")
    msg, ancdata, flags, _ = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(MAX_FDS_PER_MESSAGE * fds.itemsize), _CLOEXEC)
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    for fd in fds:
        # Received descriptors are inheritable unless MSG_CMSG_CLOEXEC exists; a handler's subprocess must not
        # keep Apache's connection open after we close it.
        os.set_inheritable(fd, False)
    if not msg and not fds:
        return None
    if flags & socket.MSG_CTRUNC:
        for fd in fds:
            os.close(fd)
        raise OSError(f"control message truncated ({len(fds)} descriptors received and closed)")
    return msg[:1], list(fds), msg[1:]
