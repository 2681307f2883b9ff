"""What of an answer is compared, and the few normalisations applied first.

Compared: the status line, every response header except framing, and the body. Framing is left out because the two
Apaches legitimately frame the same answer differently: Apache >= 2.4.59 drops a FastCGI backend's Content-Length
and chunks instead (CVE-2024-24795 fix), so Content-Length, Transfer-Encoding, Connection and Keep-Alive are not
compared. Normalised, on both sides alike, because they must differ:
- `Date` and `Server` (mod_python's Apache adds `mod_python/... Python/...` to its tokens), `ETag` (presence only);
  `Allow` as its sorted list of methods, duplicates kept: Apache lists them in the order of a hash table whose seed
  changes with every start (observed: `GET,POST,HEAD,TRACE`, then `POST,HEAD,GET,TRACE` after a restart);
  `Expires`/`Last-Modified` values within a minute of the answer's `Date` read as "now";
- each side's own port number, where it stands alone (`Port 8080`, `127.0.0.1:8080`);
- a traceback's frames inside each implementation (mod_python's apache.py and C functions against the daemon's
  dispatch and request layers, which are Python and so show frames where mod_python's C code shows none): frames
  from files outside the scenario's handler directory and document root are removed, and so is a chained traceback
  ("During handling of the above exception...") left with no frame of the handler's: an exception raised and
  caught inside an implementation. The handler's own frames and every exception line stay;
- a scenario's declared masks (random session ids), each with its reason.
Error-log lines are read as messages: Apache's `[time] [module:level] [pid] [client]` prefix and mod_proxy_fcgi's
`AH01071: Got error '...'` wrapper around what the daemon sent on FCGI_STDERR are removed. The daemon's side also
reads the daemon's own log, where the log and cleanup phases write: they run after the response, when the request's
FCGI_STDERR is closed (its `time [pid] LEVEL logger:` prefix is removed too).
"""
from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence

from fcgi_handlers.apache.runner import Response

from .scenario import Expect, Mask

FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
NORMALISED = {"date": "<date>", "server": "<server>", "etag": "<etag>"}
NOW_HEADERS = frozenset({"expires", "last-modified"})
NOW_WINDOW = 60.0   # seconds: an Expires/Last-Modified this close to Date is "now" on either side
# One traceback frame as traceback.format_exception writes it, plain or html-escaped (PythonDebug's page), with its
# source and caret lines and the blank line mod_python's "\n".join puts after each chunk.
_FRAME = re.compile(r'  File (?:"|&quot;)(?P<path>[^\n]*?)(?:"|&quot;), line \d+, in [^\n]*\n(?:    [^\n]*\n)*\n?')
# A chained traceback whose frames were all implementation frames, up to the line that chains it to the next one.
_INNER_CONTEXT = re.compile(r"Traceback \(most recent call last\):\n\n(?:(?!  File )[^\n]*\n)+?\n*"
                            r"(?:During handling of the above exception, another exception occurred|"
                            r"The above exception was the direct cause of the following exception):\n+")
_LOG_PREFIX = re.compile(r"^\[[^\]]*\] \[[^\]]*\] \[pid [^\]]*\](?: \[client [^\]]*\])? ?")
_FCGI_STDERR = re.compile(r"^AH01071: Got error '(?P<text>.*)'$")
# The daemon's own log (what its handlers log after the response is sent, when FCGI_STDERR is closed).
_DAEMON_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \[\d+\] [A-Z]+ [\w.]+: ")


@dataclass(frozen=True)
class Side:
    """What normalisation needs to know about one side: its port and where handler code lives."""

    port: int
    code_roots: tuple[str, ...]


@dataclass(frozen=True)
class View:
    """The compared part of one answer."""

    status: str
    headers: tuple[tuple[str, tuple[str, ...]], ...]   # lower-case name -> values in order, names sorted
    body: bytes

    def header(self, name: str) -> Optional[tuple[str, ...]]:
        return dict(self.headers).get(name.lower())

    def summary(self, limit: int = 80) -> str:
        """`200 OK text/plain 'first line...'` for the report's table."""
        content_type = (self.header("content-type") or ("-",))[0]
        text = self.body.decode("utf-8", "replace").strip().replace("\n", " | ")
        text = text if len(text) <= limit else text[:limit - 1] + "…"
        return f"{self.status} {content_type} {text!r}" if text else f"{self.status} {content_type} (empty)"


def normalise_text(text: str, side: Side, masks: Sequence[Mask] = ()) -> str:
    """The port, the implementation's traceback frames and the masked values of one side, replaced."""
    text = re.sub(rf"(?<![0-9A-Za-z]){side.port}(?![0-9A-Za-z])", "<PORT>", text)
    text = collapse_frames(text, side.code_roots)
    for mask in masks:
        text = re.sub(mask.pattern, mask.replacement, text)
    return text


def collapse_frames(text: str, code_roots: Sequence[str]) -> str:
    """Remove traceback frames outside `code_roots`, then chained tracebacks left without any frame."""
    def keep(match: re.Match[str]) -> str:
        return match.group(0) if any(match.group("path").startswith(root) for root in code_roots) else ""
    return _INNER_CONTEXT.sub("", _FRAME.sub(keep, text))


def _http_date(value: str) -> Optional[datetime]:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _header_value(name: str, value: str, date: Optional[datetime], side: Side, masks: Sequence[Mask]) -> str:
    if name in NORMALISED:
        return NORMALISED[name]
    if name == "allow":
        return ",".join(sorted(method.strip() for method in value.split(",")))
    if name in NOW_HEADERS and date is not None:
        when = _http_date(value)
        if when is not None and when.tzinfo is not None and abs((when - date).total_seconds()) <= NOW_WINDOW:
            return "<now>"
    return normalise_text(value, side, masks)


def view(response: Response, side: Side, masks: Sequence[Mask] = (), *, compare_headers: bool = True) -> View:
    """The normalised status, headers and body of one answer."""
    date = _http_date(response.header("Date") or "")
    grouped: dict[str, list[str]] = {}
    if compare_headers:
        for name, value in response.headers:
            key = name.lower()
            if key not in FRAMING:
                grouped.setdefault(key, []).append(_header_value(key, value, date, side, masks))
    body = normalise_text(response.body.decode("latin-1"), side, masks).encode("latin-1")
    headers = tuple((key, tuple(values)) for key, values in sorted(grouped.items()))
    return View(f"{response.status} {response.reason}", headers, body)


def differences(theirs: View, ours: View) -> list[str]:
    """What differs between mod_python's view and the daemon's, one line per difference."""
    found: list[str] = []
    if theirs.status != ours.status:
        found.append(f"status: mod_python {theirs.status!r}, daemon {ours.status!r}")
    their_headers, our_headers = dict(theirs.headers), dict(ours.headers)
    for name in sorted(set(their_headers) | set(our_headers)):
        if their_headers.get(name) != our_headers.get(name):
            found.append(f"header {name}: mod_python {their_headers.get(name)!r}, daemon {our_headers.get(name)!r}")
    if theirs.body != ours.body:
        found.append("body: " + first_difference(theirs.body, ours.body))
    return found


def first_difference(theirs: bytes, ours: bytes, context: int = 60) -> str:
    """Where two bodies part, with some context around it."""
    index = next((i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b), min(len(theirs), len(ours)))
    start = max(0, index - context)
    return (f"lengths {len(theirs)}/{len(ours)}, first difference at byte {index}: "
            f"mod_python {theirs[start:index + context]!r}, daemon {ours[start:index + context]!r}")


def check(expect: Expect, answer: View, who: str) -> list[str]:
    """Where `answer` breaks `expect`, one line each."""
    failures: list[str] = []
    if expect.status is not None and not answer.status.startswith(f"{expect.status} "):
        failures.append(f"{who}: status {answer.status!r}, expected {expect.status}")
    for name, wanted in expect.headers.items():
        values = answer.header(name)
        if wanted is None and values is not None:
            failures.append(f"{who}: header {name} {values!r} should be absent")
        elif wanted is not None and (values is None or wanted not in values):
            failures.append(f"{who}: header {name} {values!r}, expected {wanted!r}")
    if expect.body is not None and answer.body != expect.body:
        failures.append(f"{who}: body {answer.body[:300]!r}, expected {expect.body[:300]!r}")
    failures += [f"{who}: body lacks {part!r}" for part in expect.contains if part not in answer.body]
    failures += [f"{who}: body should not contain {part!r}" for part in expect.lacks if part in answer.body]
    return failures


def log_messages(text: str) -> list[str]:
    """Error-log text as messages: Apache's prefix and mod_proxy_fcgi's stderr wrapper removed, one per line of
    the message (Apache escapes a message's line breaks as `\\n`)."""
    messages: list[str] = []
    for line in text.splitlines():
        message = _DAEMON_PREFIX.sub("", _LOG_PREFIX.sub("", line))
        wrapped = _FCGI_STDERR.match(message)
        if wrapped is not None:
            message = wrapped.group("text")
        messages += [part for part in message.split("\\n") if part.strip()]
    return messages


def missing_logs(patterns: Sequence[str], messages: Sequence[str]) -> list[str]:
    """The patterns no message matches."""
    return [pattern for pattern in patterns if not any(re.search(pattern, m) for m in messages)]
