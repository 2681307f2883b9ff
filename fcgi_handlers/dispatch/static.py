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
too); other methods get 405 with the methods it allows.  Conditional GETs are answered with `req.meets_conditions()`;
ranges are not supported (no Accept-Ranges is sent), so clients fetch whole files.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Callable
from typing import Optional

from ..request.constants import HTTP_METHOD_NOT_ALLOWED, HTTP_NOT_FOUND, OK
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
    condition = req.meets_conditions()
    if condition != OK:
        send_error(req, condition)
        return
    content_type, encoding = mimetypes.guess_type(path, strict=False)
    if content_type and not encoding:
        req.content_type = content_type
    req.set_content_length(info.st_size)
    req.sendfile(path)
