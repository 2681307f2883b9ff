"""What a DECLINED content handler leads to: Apache's default handler, done by the daemon.

When mod_python's content handler declines, Apache hands the request to its default handler, which serves the mapped
file or answers 404 (observed: `file.txt` came back with Last-Modified, ETag and the mod_mime type; a missing file,
a directory or a path with PATH_INFO gave 404).  Behind mod_proxy_fcgi Apache has already committed the request to
the backend, so the daemon does the same itself, and only in the one case where it is safe:
- `req.filename` is set (the request layer sets it only for the `<Directory>`/SetHandler form, where Apache mapped
  the URL to a file), there is no PATH_INFO, and the file's real path lies inside DOCUMENT_ROOT or
  CONTEXT_DOCUMENT_ROOT (Apache's own mapping; this keeps a rewritten filename from reaching any other file);
- it is a regular file the daemon can read.
Otherwise the answer is Apache's 404 page.  GET, HEAD and POST get the file (Apache's default handler serves POST
too); other methods get 405 with the methods it allows.  Conditional GETs are answered with `req.meets_conditions()`.
Ranges (RFC 9110 §14): every file answer says `Accept-Ranges: bytes`, as Apache's; a GET with one satisfiable
`bytes=` range (and an If-Range, if any, equal to the ETag or Last-Modified) gets 206 with Content-Range, an
unsatisfiable one 416; a malformed Range or several ranges get the whole file (200), which RFC 9110 allows (Apache
would answer several with multipart/byteranges).
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Callable
from typing import Optional

from ..request.constants import (HTTP_METHOD_NOT_ALLOWED, HTTP_NOT_FOUND, HTTP_PARTIAL_CONTENT,
                                  HTTP_RANGE_NOT_SATISFIABLE, OK)
from ..request.request import Request
from .directives import is_inside

# The methods Apache's default handler answers for a file (observed `Allow: OPTIONS,HEAD,GET,POST,TRACE`).
STATIC_METHODS = ("GET", "HEAD", "POST")
STATIC_ALLOW = ["GET", "POST", "OPTIONS"]

ErrorSender = Callable[[Request, int], None]


def static_file(req: Request) -> Optional[str]:
    """The real path of the file Apache mapped this request to, if the daemon may serve it; else None."""
    filename = req.filename
    if not filename or req.path_info:
        return None
    params = req.fcgi_params
    roots = [os.path.realpath(root) for root in (params.get("CONTEXT_DOCUMENT_ROOT"), params.get("DOCUMENT_ROOT"))
             if root]
    if not roots or not is_inside(filename, roots):
        return None
    real = os.path.realpath(filename)
    try:
        info = os.stat(real)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or not os.access(real, os.R_OK):
        return None
    return real


def etag(info: os.stat_result) -> str:
    """Apache's default ETag (FileETag MTime Size): size and mtime in microseconds, in hex."""
    return f'"{info.st_size:x}-{info.st_mtime_ns // 1000:x}"'


def byte_range(header: str, size: int) -> Optional[tuple[int, int]]:
    """The one range of a `bytes=` Range header as (first, last) inclusive; None to send the whole file (malformed,
    several ranges); (size, size) when it is unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = (part.strip() for part in spec.partition("-"))
    # ASCII digits only: str.isdigit() also accepts digits int() refuses ('¹'), which a client may send.
    if not dash or not (first_text or last_text) or not all(t.isascii() and t.isdigit() for t in (first_text, last_text)
                                                              if t):
        return None
    if not first_text:   # a suffix: the last N bytes
        length = int(last_text)
        return (max(0, size - length), size - 1) if length and size else (size, size)
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if last_text and int(last_text) < first:
        return None   # invalid range-spec: ignored (RFC 9110 §14.1.1)
    return (first, last) if first < size else (size, size)


def _if_range_holds(req: Request) -> bool:
    condition = req.headers_in.get("If-Range")
    if condition is None:
        return True
    return condition.strip() in (req.headers_out.get("ETag"), req.headers_out.get("Last-Modified"))


def _send_range(req: Request, path: str, size: int, send_error: ErrorSender) -> bool:
    """Answer a GET with a usable Range header (True), or leave it to the whole-file answer (False)."""
    header = req.headers_in.get("Range")
    if req.method != "GET" or header is None or not _if_range_holds(req):
        return False
    chosen = byte_range(header, size)
    if chosen is None:
        return False
    first, last = chosen
    if first >= size:
        send_error(req, HTTP_RANGE_NOT_SATISFIABLE)   # Apache's stock page, without Content-Range (observed)
        return True
    req.status = HTTP_PARTIAL_CONTENT
    req.headers_out["Content-Range"] = f"bytes {first}-{last}/{size}"
    req.set_content_length(last - first + 1)
    req.sendfile(path, first, last - first + 1)
    return True


def serve_declined(req: Request, send_error: ErrorSender) -> None:
    """Answer a request whose content handler declined, as Apache's default handler would (see module doc)."""
    response = req.fcgi_response
    if response.headers_sent:
        return  # the handler already sent output: Apache's default handler would only append to it
    path = static_file(req)
    if path is None:
        send_error(req, HTTP_NOT_FOUND)
        return
    if req.method not in STATIC_METHODS:
        response.allow_methods(STATIC_ALLOW, True)
        send_error(req, HTTP_METHOD_NOT_ALLOWED)
        return
    info = os.stat(path)
    req.update_mtime(info.st_mtime)
    req.set_last_modified()
    req.headers_out["ETag"] = etag(info)
    req.headers_out["Accept-Ranges"] = "bytes"
    condition = req.meets_conditions()
    if condition != OK:
        send_error(req, condition)
        return
    content_type, encoding = mimetypes.guess_type(path, strict=False)
    if content_type and not encoding:
        req.content_type = content_type
    if _send_range(req, path, info.st_size, send_error):
        return
    req.set_content_length(info.st_size)
    req.sendfile(path)
