"""The access log: one line per request, Apache's combined format followed by the duration and the worker's pid.

    127.0.0.1 - alice [07/Dec/2026:05:40:00 +0000] "GET /app/x?y=1 HTTP/1.1" 200 12 "-" "curl/7.88" 0.001234 4242

The fields come from the FastCGI params Apache sent (REMOTE_ADDR, REMOTE_USER, REQUEST_METHOD, REQUEST_URI,
SERVER_PROTOCOL, HTTP_REFERER, HTTP_USER_AGENT) and from what the app wrote: the status is the ``Status:`` header
of its first output (200 without one, as Apache assumes; 500 with no output at all), the size counts the body only.
Each line is one ``write(2)`` to a file opened ``O_APPEND``, so lines from all workers and threads never interleave.
``-`` writes to the daemon's standard output.
"""

from __future__ import annotations

import os
import re
import time
from typing import Dict

from .activity import Activity

_STATUS = re.compile(rb"(?im)^Status:[ \t]*(\d{3})")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def response_status(head: bytes, wrote: bool) -> int:
    """The status from the header block at the start of ``head`` (the app's first output)."""
    if not wrote:
        return 500
    end = head.find(b"\r\n\r\n")
    match = _STATUS.search(head if end < 0 else head[:end])
    return int(match.group(1)) if match else 200


def body_bytes(head: bytes, total: int) -> int:
    """Bytes of stdout after the header block (all of it when the block's end is not in ``head``)."""
    end = head.find(b"\r\n\r\n")
    return total - (end + 4) if end >= 0 else total


def apache_time(stamp: float) -> str:
    """``07/Dec/2026:05:40:00 +0000``, Apache's %t in local time."""
    local = time.localtime(stamp)
    offset = local.tm_gmtoff or 0
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return (f"{local.tm_mday:02d}/{_MONTHS[local.tm_mon - 1]}/{local.tm_year}:{local.tm_hour:02d}:"
            f"{local.tm_min:02d}:{local.tm_sec:02d} {sign}{offset // 3600:02d}{offset % 3600 // 60:02d}")


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"') if value else "-"


def format_line(params: Dict[bytes, bytes], status: int, size: int, started_wall: float, duration: float,
                pid: int) -> str:
    """One access-log line (without its newline)."""
    def get(name: bytes) -> str:
        return params.get(name, b"").decode("latin-1")
    request_line = f"{get(b'REQUEST_METHOD')} {get(b'REQUEST_URI')} {get(b'SERVER_PROTOCOL')}".strip()
    return (f"{get(b'REMOTE_ADDR') or '-'} - {get(b'REMOTE_USER') or '-'} [{apache_time(started_wall)}] "
            f"\"{_quoted(request_line)}\" {status} {size if size else '-'} \"{_quoted(get(b'HTTP_REFERER'))}\" "
            f"\"{_quoted(get(b'HTTP_USER_AGENT'))}\" {duration:.6f} {pid}")


class AccessLog:
    """``AccessLog(path)`` then ``log(activity)`` after each request; ``-`` is standard output."""

    def __init__(self, path: str) -> None:
        self._own = path != "-"
        self._fd = (os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640) if self._own
                    else 1)
        self._pid = os.getpid()  # made in the worker, after fork

    def __call__(self, activity: Activity) -> None:
        now = time.monotonic()
        duration = now - activity.started
        sink = activity.sink
        if sink is None:
            return  # it never became a request
        line = format_line(activity.params, response_status(sink.head, sink.wrote_stdout),
                           body_bytes(sink.head, sink.stdout_bytes), time.time() - duration, duration,
                           self._pid)
        os.write(self._fd, (line + "\n").encode("latin-1", "replace"))

    def close(self) -> None:
        if self._own:
            os.close(self._fd)
