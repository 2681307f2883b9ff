"""The request body as a read-only stream that pulls FCGI_STDIN on demand, with memory bounded for huge uploads.

Only what a read asks for is pulled from the connection, so a handler that never reads the body never waits for it,
and one that reads it in pieces holds one piece at a time. A read that has to collect more than the spool threshold
before it can return (``read()`` of a large upload, a very long line) writes what it collected to a
``SpooledTemporaryFile`` as it goes, so the only full-size allocation is the bytes object returned to the caller,
not that plus a growing buffer (the way Apache's proxy-sendcl spools to a temp file past a memory limit,
``docs/apache-facts.md`` §4). ``CONTENT_LENGTH`` is an upper bound, never a promise: the body ends at stdin's empty
record or at that many bytes, whichever comes first.
"""

from __future__ import annotations

import tempfile
from typing import Callable, Iterator, List, Optional


class Body:
    """``read``/``readline``/``readlines`` over stdin; ``source()`` returns the next chunk, b"" at the end.

    Not thread-safe: it belongs to the one thread that runs the request.
    """

    __slots__ = ("_source", "_remaining", "_threshold", "_buf", "_complete", "received")

    def __init__(
        self,
        source: Callable[[], bytes],
        content_length: Optional[int] = None,
        spool_threshold: int = 1024 * 1024,
        empty: bool = False,
    ) -> None:
        self._source = source
        self._remaining = content_length
        self._threshold = max(spool_threshold, 1)
        self._buf = bytearray()
        self._complete = empty or content_length == 0
        self.received = 0

    @property
    def complete(self) -> bool:
        """True once all of stdin has been pulled from the connection (it may still sit unread in this object)."""
        return self._complete

    def read(self, size: Optional[int] = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative or None); b"" at the end of the body."""
        return self._collect(-1 if size is None or size < 0 else size, line=False)

    def readline(self, size: Optional[int] = -1) -> bytes:
        """One line including its b"\\n" (the last one may lack it), at most ``size`` bytes when that is >= 0."""
        return self._collect(-1 if size is None or size < 0 else size, line=True)

    def readlines(self, hint: Optional[int] = -1) -> List[bytes]:
        """Lines until the end, or until their total length reaches ``hint`` when that is > 0 (``io`` semantics)."""
        lines: List[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _collect(self, size: int, line: bool) -> bytes:
        """Bytes up to ``size`` (no limit if < 0); with ``line``, only up to the first newline."""
        buf = self._buf
        spool: Optional[tempfile.SpooledTemporaryFile[bytes]] = None
        spooled = 0  # bytes already moved to the spool; they come before buf
        scanned = 0  # bytes of buf already searched for a newline
        while True:
            end = -1
            if line:
                newline = buf.find(b"\n", scanned)
                scanned = len(buf)
                if newline >= 0:
                    end = newline + 1
            if 0 <= size <= spooled + len(buf):
                end = size - spooled if end < 0 else min(end, size - spooled)
            if end < 0 and self._complete:
                end = len(buf)
            if end >= 0:
                return self._take(end, spool)
            if len(buf) >= self._threshold:
                if spool is None:
                    spool = tempfile.SpooledTemporaryFile(max_size=self._threshold, prefix="fcgi-body-")
                spool.write(buf)
                spooled += len(buf)
                buf.clear()
                scanned = 0
            self._pull()

    def _take(self, end: int, spool: Optional[tempfile.SpooledTemporaryFile[bytes]]) -> bytes:
        buf = self._buf
        with memoryview(buf) as view:
            chunk = view[:end].tobytes() if spool is None else b""
            if spool is not None:
                spool.write(view[:end])
        del buf[:end]
        if spool is None:
            return chunk
        with spool:
            spool.seek(0)
            return spool.read()

    def _pull(self) -> None:
        """Append the next stdin chunk to the buffer, capped at CONTENT_LENGTH; mark the end when reached."""
        data = self._source()
        if not data:
            self._complete = True
            return
        remaining = self._remaining
        if remaining is not None:
            if len(data) >= remaining:
                data = data[:remaining]
                self._complete = True
            self._remaining = remaining - len(data)
        self.received += len(data)
        self._buf += data
