"""systemd's two process protocols, spoken directly (no libsystemd): readiness notification and socket activation.

Readiness (``Type=notify``): systemd passes a datagram socket's address in ``NOTIFY_SOCKET`` (a path, or ``@name``
for the abstract namespace) and reads ``KEY=VALUE`` lines sent to it. The arbiter sends ``READY=1`` once every
worker of a generation has booted (so ``systemctl start`` returns when requests can be served, not when the process
exists), ``RELOADING=1`` on SIGHUP and ``READY=1`` again when the new generation has taken over, and
``STOPPING=1`` on a graceful stop. ``RELOADING=1`` carries ``MONOTONIC_USEC``, which ``Type=notify-reload`` requires.

Socket activation: systemd opens the listening sockets of a ``.socket`` unit and starts the service with them as
descriptors 3, 4, ... and ``LISTEN_FDS`` (their count) and ``LISTEN_PID`` (the pid meant, so a child never takes
them for its own). The daemon then serves on those sockets instead of binding ``--bind``; being systemd's, a unix
socket path is never removed by the daemon. Both variables are removed from the environment once read, as
``sd_listen_fds(1)`` does, so handler subprocesses do not see them; ``NOTIFY_SOCKET`` too.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import List, MutableMapping, Optional

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3


class Notifier:
    """Sends state lines to systemd's notification socket; does nothing when the service is not ``Type=notify``."""

    def __init__(self, environ: MutableMapping[str, str] = os.environ) -> None:
        raw = environ.pop("NOTIFY_SOCKET", "")
        self.address: Optional[str] = None
        if raw.startswith("@"):
            self.address = "\0" + raw[1:]  # the abstract namespace
        elif raw.startswith("/"):
            self.address = raw
        elif raw:
            log.warning("NOTIFY_SOCKET=%r is not a unix socket address; not notifying systemd", raw)

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; False when there is nowhere to send or the send failed (logged)."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", self.address.replace("\0", "@"), exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=stopping")


def listen_fds(environ: MutableMapping[str, str] = os.environ) -> List[int]:
    """The descriptors systemd passed to this process (none when the variables are absent or meant for another
    process); the variables are removed once read. ``ValueError`` when they are malformed."""
    pid, count = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)
    if pid is None or count is None:
        return []
    if not pid.isdigit() or not count.isdigit():
        raise ValueError(f"LISTEN_PID={pid!r} LISTEN_FDS={count!r}: expected numbers")
    if int(pid) != os.getpid():
        return []
    fds = list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)))
    for fd in fds:
        os.set_inheritable(fd, False)  # ours, not a handler subprocess's
    return fds
