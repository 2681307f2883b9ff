"""The response writer: mod_python's status/headers/write timing turned into a CGI-style block for mod_proxy_fcgi.

Rule: the handler's view is mod_python's (`reference/mod_python-behaviour.md` §5); what goes down the sink is what
Apache's CGI header parser expects (`reference/apache-fastcgi.md` §1.6).
- Headers go out with the first flushed write. `write()` flushes by default; `write(data, 0)` buffers until more
  than 8000 bytes are queued (APR_BUCKET_BUFF_SIZE, where Apache's ap_rwrite buffer passes data down the chain);
  `flush()` sends the headers even with nothing queued; an empty `write()` does nothing at all. After that,
  status/header/content-type changes are ignored.
- The block always starts with `Status: NNN Reason`: without a reason phrase Apache invents "Unknown Reason", and an
  unknown code must go out as `500 Internal Server Error`, as Apache sends for mod_python (`req.status = 299`).
  `status_line` is used only when its first three digits equal `status` and a space follows (Apache's rule).
- Then err_headers_out, headers_out (each entry its own line), Content-Type only when one was set, and `Expires`
  for `no_cache`, in the order Apache 2.4 writes them for mod_python.
- Any control character in a name, value or status line, or a name that is not an HTTP token, raises
  InvalidResponseHeader before anything is sent (Apache answers such a response with 500; CVE-2026-33523).
- Once the headers are sent, `status_line` reads back the line that went out (Apache's header filter stores it).
- `Transfer-Encoding` and `Status` entries are never copied from the tables: Apache drops the first from a CGI-like
  response and would take the second as the status. `Content-Length` (set_content_length) *is* sent, as mod_python
  sends it, but Apache >= 2.4.59 ignores it unless `ap_trust_cgilike_cl` is set (CVE-2024-24795) and picks chunked
  or its own length.
This module does no I/O of its own: it hands bytes to `sink.stdout()`, one call per flush.
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from typing import Iterable, Optional, Protocol, Sequence

from .constants import M_TRACE, METHOD_NUMBERS, status_line
from .exceptions import InvalidResponseHeader
from .table import latin1_text, table, wire_text

OUTPUT_BUFFER_LIMIT = 8000
ERROR_CONTENT_TYPE = "text/html; charset=iso-8859-1"  # what Apache's ap_send_error_response() sets
WRITE_FAILED = "Write failed, client closed connection."  # mod_python's IOError text

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every C0 control but HTAB, and DEL
_NOT_COPIED = frozenset({"status", "transfer-encoding"})
_BODYLESS_STATUSES = frozenset({204, 304})  # AP_STATUS_IS_HEADER_ONLY: no error page, headers kept


class Sink(Protocol):
    """Where response bytes go (the server layer's transport); `stdout` may raise OSError when the peer is gone."""

    def stdout(self, data: bytes) -> None: ...


def wire_status(status: int, line: Optional[str]) -> str:
    """The status line Apache sends for `status` and mod_python's `status_line`."""
    if line is not None and len(line) > 3 and line[:3].isdigit() and int(line[:3]) == status and line[3] in " \t":
        if _CONTROL.search(line):
            raise InvalidResponseHeader("status line", line)
        return line
    return status_line(status)


def header_line(name: str, value: str) -> str:
    """`Name: value`, refusing anything that could split or corrupt the header block."""
    if not _TOKEN.match(name):
        raise InvalidResponseHeader("header name", name)
    if _CONTROL.search(value):
        raise InvalidResponseHeader(f"value of header {name}", value)
    return f"{name}: {value}"


def body_bytes(data: object) -> bytes:
    """What req.write() sends for `data`: str as UTF-8, bytes as is; mod_python's TypeErrors for anything else
    (its argument parser takes read-only buffers only, so bytearray and memoryview are refused too; observed)."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes):
        return bytes(data)
    if isinstance(data, (bytearray, memoryview)):
        raise TypeError(f"argument 1 must be read-only bytes-like object, not {type(data).__name__}")
    raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'")


def allow_header(methods: Iterable[str]) -> str:
    """The `Allow` value for 405/501: known methods in Apache's method-number order (HEAD with GET), then TRACE.

    Apache lists registered methods only (an extension method given to allow_methods is left out, observed) and
    always appends TRACE (TraceEnable defaults to on). Its own order follows a hash table; this one is stable.
    """
    numbers = {METHOD_NUMBERS[name] for name in methods if name in METHOD_NUMBERS}
    numbers.discard(M_TRACE)
    names = [name for name, number in METHOD_NUMBERS.items() if number in numbers]
    return ",".join(names + ["TRACE"])


class Response:
    """Status, headers and body of one request, sent through `sink` with mod_python's timing."""

    def __init__(self, sink: Sink, header_only: bool = False, *, request_time: Optional[float] = None,
                 buffer_limit: int = OUTPUT_BUFFER_LIMIT) -> None:
        self.sink = sink
        self.header_only = header_only
        self.request_time = time.time() if request_time is None else request_time
        self.buffer_limit = buffer_limit
        self.headers_out = table()
        self.err_headers_out = table()
        self.allow_list: list[str] = []
        self.clength = 0
        self.bytes_sent = 0
        self.headers_sent = False
        self.finished = False
        self.aborted = False
        # While an internal redirect's target runs, the original's writes go into the target's response (Apache
        # points the original's output filters at the new request); once the target ended they are dropped.
        self.forward_to: Optional[Response] = None
        self._status = 200
        self._status_line: Optional[str] = None
        self._content_type: Optional[str] = None
        self._content_type_set = 0
        self._no_cache = 0
        self._buffer = bytearray()

    # --- mod_python's writable attributes, with its type rules ----------------------------------------------------
    @property
    def status(self) -> int:
        return self._status

    @status.setter
    def status(self, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        self._status = int(value)

    @property
    def status_line(self) -> Optional[str]:
        return self._status_line

    @status_line.setter
    def status_line(self, value: str) -> None:
        self._status_line = latin1_text(value)

    @property
    def content_type(self) -> Optional[str]:
        return self._content_type

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._content_type = latin1_text(value)
        self._content_type_set = 1

    @property
    def content_type_set(self) -> int:
        """1 once content_type was assigned (mod_python's `_content_type_set`)."""
        return self._content_type_set

    @property
    def no_cache(self) -> int:
        return self._no_cache

    @no_cache.setter
    def no_cache(self, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        self._no_cache = int(value)

    @property
    def buffered(self) -> int:
        """Bytes written with flush=0 and not sent yet (mod_python's `_bytes_queued`)."""
        return len(self._buffer)

    # --- output ---------------------------------------------------------------------------------------------------
    def write(self, data: object, flush: object = True) -> None:
        """req.write(): queue `data` (str is UTF-8 encoded) and send it with the headers if `flush` or over 8000 B."""
        if self.forward_to is not None:
            self.forward_to.write(data, flush)
            return
        chunk = body_bytes(data)
        if self.finished or not chunk:
            # After the response ended (log and cleanup phases) output has nowhere to go; an empty write neither
            # sends the headers nor flushes what is queued (observed: a header set after write("") is still sent).
            return
        self._buffer += chunk
        if flush or len(self._buffer) > self.buffer_limit:
            self._emit()

    def flush(self) -> None:
        """req.flush(): send the headers if not sent yet, and everything queued."""
        if self.forward_to is not None:
            self.forward_to.flush()
        elif not self.finished:
            self._emit()

    def finish(self) -> None:
        """End of the request: send the headers if nothing was flushed, then whatever is queued."""
        if not self.finished:
            self._emit()
            self.finished = True

    def set_content_length(self, length: int) -> None:
        """req.set_content_length(): remember it and set `Content-Length` in headers_out."""
        if not isinstance(length, int):
            raise TypeError(f"'{type(length).__name__}' object cannot be interpreted as an integer")
        self.clength = int(length)
        self.headers_out["Content-Length"] = str(int(length))

    def allow_methods(self, methods: Sequence[str], reset: object = False) -> None:
        """req.allow_methods(): methods for the `Allow` header of a 405/501 error response."""
        if isinstance(methods, (str, bytes)) or not all(isinstance(name, str) for name in methods):
            raise TypeError("methods must be a sequence of strings")
        if reset:
            self.allow_list = []
        self.allow_list.extend(methods)

    def send_error(self, status: int, body: bytes, content_type: str = ERROR_CONTENT_TYPE,
                   extra_headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send the error response for a handler's error return, as Apache's ap_send_error_response() does.

        headers_out is dropped except a Location on 3xx/201 (it replaces one in err_headers_out); err_headers_out is
        kept; 405/501 get `Allow`; queued unflushed output is discarded; 204/304 keep all headers and send no body.
        If headers already went out, the status cannot change: `body` is appended to the output, as Apache appends
        its error page after a mod_python handler's partial output. The dispatcher renders `body`.
        """
        if self.finished:
            return
        if self.headers_sent:
            self.write(body)
            self.finish()
            return
        self._buffer.clear()
        self.status = status
        self._status_line = None
        if status not in _BODYLESS_STATUSES:
            self._adopt_error_headers(status, content_type, extra_headers)
            self._buffer += body
        try:
            head = self._header_block()
        except InvalidResponseHeader:
            # Apache clears both tables when a header is invalid and sends the error page without them.
            self.headers_out, self.err_headers_out = table(), table()
            head = self._header_block()
        self._sent_status_line()
        self._send_block(head)
        self.finished = True

    def _adopt_error_headers(self, status: int, content_type: str, extra: Iterable[tuple[str, str]]) -> None:
        location = self.headers_out.get("Location") or self.err_headers_out.get("Location")
        kept = self.err_headers_out.copy()
        if 300 <= status < 400 or status == 201:
            if location:
                kept["Location"] = location
        else:
            del kept["Location"]
        if status in (405, 501):
            kept["Allow"] = allow_header(self.allow_list)
        for name, value in extra:
            kept.add(name, value)
        self.headers_out, self.err_headers_out = kept, table()
        self.content_type = content_type

    def _emit(self) -> None:
        head = b"" if self.headers_sent else self._header_block()
        if head:
            self._sent_status_line()
        self._send_block(head)

    def _sent_status_line(self) -> None:
        # Apache's header filter leaves the line it sent in r->status_line, which mod_python then reads back.
        self._status_line = wire_status(self._status, self._status_line)

    def _send_block(self, head: bytes) -> None:
        body = b"" if self.header_only else bytes(self._buffer)
        self._buffer.clear()
        self.headers_sent = True
        if head or body:
            try:
                self.sink.stdout(head + body)
            except OSError as error:
                self.aborted = True
                raise OSError(WRITE_FAILED) from error
            self.bytes_sent += len(body)

    def header_block(self) -> bytes:
        """The CGI-style header block the current state would send (validated; does not send anything)."""
        return self._header_block()

    def _header_block(self) -> bytes:
        lines = [f"Status: {wire_status(self._status, self._status_line)}"]
        has_type = self._content_type is not None
        for source in (self.err_headers_out, self.headers_out):
            for name, value in source._items:  # read only: no copy
                folded = name.lower()
                if folded in _NOT_COPIED or (has_type and folded == "content-type"):
                    continue
                lines.append(header_line(name, wire_text(value)))  # the bytes the handler stored
        if self._content_type is not None:
            lines.append(header_line("Content-Type", self._content_type))
        if self._no_cache and "Expires" not in self.headers_out and "Expires" not in self.err_headers_out:
            lines.append(f"Expires: {formatdate(self.request_time, usegmt=True)}")
        text = "\r\n".join(lines) + "\r\n\r\n"
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidResponseHeader("header block", text) from None
