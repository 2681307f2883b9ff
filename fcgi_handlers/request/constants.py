"""The constants `mod_python.apache` exposes, with mod_python's names and values, plus Apache's reason phrases.

Handler code compares against these names (`apache.OK`, `apache.HTTP_NOT_FOUND`, `apache.M_POST`), so every name is
spelled exactly as mod_python 3.5 spells it and carries the value mod_python 3.5 reports on Apache 2.4. The reason
phrases are Apache 2.4.71's status lines (read from the running binary), not Python's `http.HTTPStatus`: Apache has no
phrase for 418, 425 or 306, and for a status without a phrase it sends `500 Internal Server Error` on the wire.
"""

from __future__ import annotations

from typing import Final

# --- handler return codes (mod_python's `apache.py`) ---------------------------------------------------------------
OK: Final = 0
REQ_PROCEED: Final = 0
DECLINED: Final = -1
REQ_NOACTION: Final = -1
DONE: Final = -2
REQ_ABORTED: Final = 500
REQ_EXIT: Final = "REQ_EXIT"

# --- HTTP status codes, with mod_python's names ---------------------------------------------------------------------
HTTP_CONTINUE: Final = 100
HTTP_SWITCHING_PROTOCOLS: Final = 101
HTTP_PROCESSING: Final = 102
HTTP_OK: Final = 200
HTTP_CREATED: Final = 201
HTTP_ACCEPTED: Final = 202
HTTP_NON_AUTHORITATIVE: Final = 203
HTTP_NO_CONTENT: Final = 204
HTTP_RESET_CONTENT: Final = 205
HTTP_PARTIAL_CONTENT: Final = 206
HTTP_MULTI_STATUS: Final = 207
HTTP_MULTIPLE_CHOICES: Final = 300
HTTP_MOVED_PERMANENTLY: Final = 301
HTTP_MOVED_TEMPORARILY: Final = 302
HTTP_SEE_OTHER: Final = 303
HTTP_NOT_MODIFIED: Final = 304
HTTP_USE_PROXY: Final = 305
HTTP_TEMPORARY_REDIRECT: Final = 307
HTTP_BAD_REQUEST: Final = 400
HTTP_UNAUTHORIZED: Final = 401
HTTP_PAYMENT_REQUIRED: Final = 402
HTTP_FORBIDDEN: Final = 403
HTTP_NOT_FOUND: Final = 404
HTTP_METHOD_NOT_ALLOWED: Final = 405
HTTP_NOT_ACCEPTABLE: Final = 406
HTTP_PROXY_AUTHENTICATION_REQUIRED: Final = 407
HTTP_REQUEST_TIME_OUT: Final = 408
HTTP_CONFLICT: Final = 409
HTTP_GONE: Final = 410
HTTP_LENGTH_REQUIRED: Final = 411
HTTP_PRECONDITION_FAILED: Final = 412
HTTP_REQUEST_ENTITY_TOO_LARGE: Final = 413
HTTP_REQUEST_URI_TOO_LARGE: Final = 414
HTTP_UNSUPPORTED_MEDIA_TYPE: Final = 415
HTTP_RANGE_NOT_SATISFIABLE: Final = 416
HTTP_EXPECTATION_FAILED: Final = 417
HTTP_IM_A_TEAPOT: Final = 418
HTTP_UNPROCESSABLE_ENTITY: Final = 422
HTTP_LOCKED: Final = 423
HTTP_FAILED_DEPENDENCY: Final = 424
HTTP_UPGRADE_REQUIRED: Final = 426
HTTP_INTERNAL_SERVER_ERROR: Final = 500
HTTP_NOT_IMPLEMENTED: Final = 501
HTTP_BAD_GATEWAY: Final = 502
HTTP_SERVICE_UNAVAILABLE: Final = 503
HTTP_GATEWAY_TIME_OUT: Final = 504
HTTP_VERSION_NOT_SUPPORTED: Final = 505
HTTP_VARIANT_ALSO_VARIES: Final = 506
HTTP_INSUFFICIENT_STORAGE: Final = 507
HTTP_NOT_EXTENDED: Final = 510

# --- log levels: syslog's numbering, as Apache's APLOG_* -----------------------------------------------------------
APLOG_EMERG: Final = 0
APLOG_ALERT: Final = 1
APLOG_CRIT: Final = 2
APLOG_ERR: Final = 3
APLOG_WARNING: Final = 4
APLOG_NOTICE: Final = 5
APLOG_INFO: Final = 6
APLOG_DEBUG: Final = 7
APLOG_NOERRNO: Final = 0  # deprecated in mod_python; kept so old `level=APLOG_NOERRNO|APLOG_ERR` code still works

# --- req.get_remote_host() lookup types -----------------------------------------------------------------------------
REMOTE_HOST: Final = 0
REMOTE_NAME: Final = 1
REMOTE_NOLOOKUP: Final = 2
REMOTE_DOUBLE_REV: Final = 3

# --- indexes into req.finfo ----------------------------------------------------------------------------------------
FINFO_MODE: Final = 0
FINFO_INO: Final = 1
FINFO_DEV: Final = 2
FINFO_NLINK: Final = 3
FINFO_UID: Final = 4
FINFO_GID: Final = 5
FINFO_SIZE: Final = 6
FINFO_ATIME: Final = 7
FINFO_MTIME: Final = 8
FINFO_CTIME: Final = 9
FINFO_FNAME: Final = 10
FINFO_NAME: Final = 11
FINFO_FILETYPE: Final = 12

# --- indexes into req.parsed_uri ------------------------------------------------------------------------------------
URI_SCHEME: Final = 0
URI_HOSTINFO: Final = 1
URI_USER: Final = 2
URI_PASSWORD: Final = 3
URI_HOSTNAME: Final = 4
URI_PORT: Final = 5
URI_PATH: Final = 6
URI_QUERY: Final = 7
URI_FRAGMENT: Final = 8

# --- req.proxyreq ---------------------------------------------------------------------------------------------------
PROXYREQ_NONE: Final = 0
PROXYREQ_PROXY: Final = 1
PROXYREQ_REVERSE: Final = 2
PROXYREQ_RESPONSE: Final = 3

# --- method numbers (req.method_number) -----------------------------------------------------------------------------
M_GET: Final = 0
M_PUT: Final = 1
M_POST: Final = 2
M_DELETE: Final = 3
M_CONNECT: Final = 4
M_OPTIONS: Final = 5
M_TRACE: Final = 6
M_PATCH: Final = 7
M_PROPFIND: Final = 8
M_PROPPATCH: Final = 9
M_MKCOL: Final = 10
M_COPY: Final = 11
M_MOVE: Final = 12
M_LOCK: Final = 13
M_UNLOCK: Final = 14
M_VERSION_CONTROL: Final = 15
M_CHECKOUT: Final = 16
M_UNCHECKOUT: Final = 17
M_CHECKIN: Final = 18
M_UPDATE: Final = 19
M_LABEL: Final = 20
M_REPORT: Final = 21
M_MKWORKSPACE: Final = 22
M_MKACTIVITY: Final = 23
M_BASELINE_CONTROL: Final = 24
M_MERGE: Final = 25
M_INVALID: Final = 26

# Apache's method registry: HEAD is not a method number of its own, it runs as M_GET.
METHOD_NUMBERS: Final[dict[str, int]] = {
    "HEAD": M_GET, "GET": M_GET, "PUT": M_PUT, "POST": M_POST, "DELETE": M_DELETE, "CONNECT": M_CONNECT,
    "OPTIONS": M_OPTIONS, "TRACE": M_TRACE, "PATCH": M_PATCH, "PROPFIND": M_PROPFIND, "PROPPATCH": M_PROPPATCH,
    "MKCOL": M_MKCOL, "COPY": M_COPY, "MOVE": M_MOVE, "LOCK": M_LOCK, "UNLOCK": M_UNLOCK,
    "VERSION-CONTROL": M_VERSION_CONTROL, "CHECKOUT": M_CHECKOUT, "UNCHECKOUT": M_UNCHECKOUT,
    "CHECKIN": M_CHECKIN, "UPDATE": M_UPDATE, "LABEL": M_LABEL, "REPORT": M_REPORT,
    "MKWORKSPACE": M_MKWORKSPACE, "MKACTIVITY": M_MKACTIVITY, "BASELINE-CONTROL": M_BASELINE_CONTROL,
    "MERGE": M_MERGE,
}

# --- path_info handling (req.used_path_info) -------------------------------------------------------------------------
AP_REQ_ACCEPT_PATH_INFO: Final = 0
AP_REQ_REJECT_PATH_INFO: Final = 1
AP_REQ_DEFAULT_PATH_INFO: Final = 2

# --- apache.mpm_query() codes and answers ----------------------------------------------------------------------------
AP_MPMQ_NOT_SUPPORTED: Final = 0
AP_MPMQ_STATIC: Final = 1
AP_MPMQ_DYNAMIC: Final = 2
AP_MPMQ_MAX_DAEMON_USED: Final = 1
AP_MPMQ_IS_THREADED: Final = 2
AP_MPMQ_IS_FORKED: Final = 3
AP_MPMQ_HARD_LIMIT_DAEMONS: Final = 4
AP_MPMQ_HARD_LIMIT_THREADS: Final = 5
AP_MPMQ_MAX_THREADS: Final = 6
AP_MPMQ_MIN_SPARE_DAEMONS: Final = 7
AP_MPMQ_MIN_SPARE_THREADS: Final = 8
AP_MPMQ_MAX_SPARE_DAEMONS: Final = 9
AP_MPMQ_MAX_SPARE_THREADS: Final = 10
AP_MPMQ_MAX_REQUESTS_DAEMON: Final = 11
AP_MPMQ_MAX_DAEMONS: Final = 12

# --- magic content types ---------------------------------------------------------------------------------------------
CGI_MAGIC_TYPE: Final = "application/x-httpd-cgi"
INCLUDES_MAGIC_TYPE: Final = "text/x-server-parsed-html"
INCLUDES_MAGIC_TYPE3: Final = "text/x-server-parsed-html3"
DIR_MAGIC_TYPE: Final = "httpd/unix-directory"

# --- request body policies (ap_setup_client_block) -------------------------------------------------------------------
REQUEST_NO_BODY: Final = 0
REQUEST_CHUNKED_ERROR: Final = 1
REQUEST_CHUNKED_DECHUNK: Final = 2

# --- connection keepalive state (req.connection.keepalive) ----------------------------------------------------------
AP_CONN_UNKNOWN: Final = 0
AP_CONN_CLOSE: Final = 1
AP_CONN_KEEPALIVE: Final = 2

# --- APR file types (req.finfo.filetype) -----------------------------------------------------------------------------
APR_NOFILE: Final = 0
APR_REG: Final = 1
APR_DIR: Final = 2
APR_CHR: Final = 3
APR_BLK: Final = 4
APR_PIPE: Final = 5
APR_LNK: Final = 6
APR_SOCK: Final = 7
APR_UNKFILE: Final = 127

# The Apache in front is 2.4.71 (`apache2 -V`: 20120211:142). mod_python reports the numbers it was compiled
# against; the running server's are the ones a feature check should see.
MODULE_MAGIC_NUMBER_MAJOR: Final = 20120211
MODULE_MAGIC_NUMBER_MINOR: Final = 142

# --- apache.stat() wanted-field masks ---------------------------------------------------------------------------------
APR_FINFO_LINK: Final = 0x00000001
APR_FINFO_MTIME: Final = 0x00000010
APR_FINFO_CTIME: Final = 0x00000020
APR_FINFO_ATIME: Final = 0x00000040
APR_FINFO_SIZE: Final = 0x00000100
APR_FINFO_CSIZE: Final = 0x00000200
APR_FINFO_DEV: Final = 0x00001000
APR_FINFO_INODE: Final = 0x00002000
APR_FINFO_NLINK: Final = 0x00004000
APR_FINFO_TYPE: Final = 0x00008000
APR_FINFO_USER: Final = 0x00010000
APR_FINFO_GROUP: Final = 0x00020000
APR_FINFO_UPROT: Final = 0x00100000
APR_FINFO_GPROT: Final = 0x00200000
APR_FINFO_WPROT: Final = 0x00400000
APR_FINFO_ICASE: Final = 0x01000000
APR_FINFO_NAME: Final = 0x02000000
APR_FINFO_MIN: Final = 0x00008170
APR_FINFO_IDENT: Final = 0x00003000
APR_FINFO_OWNER: Final = 0x00030000
APR_FINFO_PROT: Final = 0x00700000
APR_FINFO_NORM: Final = 0x0073B170
APR_FINFO_DIRENT: Final = 0x02000000

# --- Apache 2.4.71's reason phrases -----------------------------------------------------------------------------------
# Exactly the status lines compiled into httpd 2.4.71 (`strings /usr/sbin/apache2`). A code missing here (418
# included) has no status line of its own: Apache answers `500 Internal Server Error` for it (observed with
# mod_python: `req.status = 418` and `req.status = 299` both go out as 500).
REASON_PHRASES: Final[dict[int, str]] = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
    422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
    507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended",
    511: "Network Authentication Required",
}


def effective_status(status: int) -> int:
    """The status Apache actually answers with: `status` if it has a status line, else 500."""
    return status if status in REASON_PHRASES else HTTP_INTERNAL_SERVER_ERROR


def status_line(status: int) -> str:
    """Apache's status line for `status` (`"404 Not Found"`); a code without one gives the 500 line."""
    return _status_line_cache.get(status) or _status_line_cache[HTTP_INTERNAL_SERVER_ERROR]


# Every response needs one: made once, not per response.
_status_line_cache = {code: f"{code} {phrase}" for code, phrase in REASON_PHRASES.items()}



# `from ...constants import *` gives exactly mod_python's constant names (what `mod_python.apache` re-exports).
__all__ = [
    "OK", "REQ_PROCEED", "DECLINED", "REQ_NOACTION", "DONE", "REQ_ABORTED", "REQ_EXIT", "HTTP_CONTINUE",
    "HTTP_SWITCHING_PROTOCOLS", "HTTP_PROCESSING", "HTTP_OK", "HTTP_CREATED", "HTTP_ACCEPTED", "HTTP_NON_AUTHORITATIVE",
    "HTTP_NO_CONTENT", "HTTP_RESET_CONTENT", "HTTP_PARTIAL_CONTENT", "HTTP_MULTI_STATUS", "HTTP_MULTIPLE_CHOICES",
    "HTTP_MOVED_PERMANENTLY", "HTTP_MOVED_TEMPORARILY", "HTTP_SEE_OTHER", "HTTP_NOT_MODIFIED", "HTTP_USE_PROXY",
    "HTTP_TEMPORARY_REDIRECT", "HTTP_BAD_REQUEST", "HTTP_UNAUTHORIZED", "HTTP_PAYMENT_REQUIRED", "HTTP_FORBIDDEN",
    "HTTP_NOT_FOUND", "HTTP_METHOD_NOT_ALLOWED", "HTTP_NOT_ACCEPTABLE", "HTTP_PROXY_AUTHENTICATION_REQUIRED",
    "HTTP_REQUEST_TIME_OUT", "HTTP_CONFLICT", "HTTP_GONE", "HTTP_LENGTH_REQUIRED", "HTTP_PRECONDITION_FAILED",
    "HTTP_REQUEST_ENTITY_TOO_LARGE", "HTTP_REQUEST_URI_TOO_LARGE", "HTTP_UNSUPPORTED_MEDIA_TYPE",
    "HTTP_RANGE_NOT_SATISFIABLE", "HTTP_EXPECTATION_FAILED", "HTTP_IM_A_TEAPOT", "HTTP_UNPROCESSABLE_ENTITY",
    "HTTP_LOCKED", "HTTP_FAILED_DEPENDENCY", "HTTP_UPGRADE_REQUIRED", "HTTP_INTERNAL_SERVER_ERROR",
    "HTTP_NOT_IMPLEMENTED", "HTTP_BAD_GATEWAY", "HTTP_SERVICE_UNAVAILABLE", "HTTP_GATEWAY_TIME_OUT",
    "HTTP_VERSION_NOT_SUPPORTED", "HTTP_VARIANT_ALSO_VARIES", "HTTP_INSUFFICIENT_STORAGE", "HTTP_NOT_EXTENDED",
    "APLOG_EMERG", "APLOG_ALERT", "APLOG_CRIT", "APLOG_ERR", "APLOG_WARNING", "APLOG_NOTICE", "APLOG_INFO",
    "APLOG_DEBUG", "APLOG_NOERRNO", "REMOTE_HOST", "REMOTE_NAME", "REMOTE_NOLOOKUP", "REMOTE_DOUBLE_REV", "FINFO_MODE",
    "FINFO_INO", "FINFO_DEV", "FINFO_NLINK", "FINFO_UID", "FINFO_GID", "FINFO_SIZE", "FINFO_ATIME", "FINFO_MTIME",
    "FINFO_CTIME", "FINFO_FNAME", "FINFO_NAME", "FINFO_FILETYPE", "URI_SCHEME", "URI_HOSTINFO", "URI_USER",
    "URI_PASSWORD", "URI_HOSTNAME", "URI_PORT", "URI_PATH", "URI_QUERY", "URI_FRAGMENT", "PROXYREQ_NONE",
    "PROXYREQ_PROXY", "PROXYREQ_REVERSE", "PROXYREQ_RESPONSE", "M_GET", "M_PUT", "M_POST", "M_DELETE", "M_CONNECT",
    "M_OPTIONS", "M_TRACE", "M_PATCH", "M_PROPFIND", "M_PROPPATCH", "M_MKCOL", "M_COPY", "M_MOVE", "M_LOCK", "M_UNLOCK",
    "M_VERSION_CONTROL", "M_CHECKOUT", "M_UNCHECKOUT", "M_CHECKIN", "M_UPDATE", "M_LABEL", "M_REPORT", "M_MKWORKSPACE",
    "M_MKACTIVITY", "M_BASELINE_CONTROL", "M_MERGE", "M_INVALID", "AP_REQ_ACCEPT_PATH_INFO", "AP_REQ_REJECT_PATH_INFO",
    "AP_REQ_DEFAULT_PATH_INFO", "AP_MPMQ_NOT_SUPPORTED", "AP_MPMQ_STATIC", "AP_MPMQ_DYNAMIC", "AP_MPMQ_MAX_DAEMON_USED",
    "AP_MPMQ_IS_THREADED", "AP_MPMQ_IS_FORKED", "AP_MPMQ_HARD_LIMIT_DAEMONS", "AP_MPMQ_HARD_LIMIT_THREADS",
    "AP_MPMQ_MAX_THREADS", "AP_MPMQ_MIN_SPARE_DAEMONS", "AP_MPMQ_MIN_SPARE_THREADS", "AP_MPMQ_MAX_SPARE_DAEMONS",
    "AP_MPMQ_MAX_SPARE_THREADS", "AP_MPMQ_MAX_REQUESTS_DAEMON", "AP_MPMQ_MAX_DAEMONS", "CGI_MAGIC_TYPE",
    "INCLUDES_MAGIC_TYPE", "INCLUDES_MAGIC_TYPE3", "DIR_MAGIC_TYPE", "REQUEST_NO_BODY", "REQUEST_CHUNKED_ERROR",
    "REQUEST_CHUNKED_DECHUNK", "AP_CONN_UNKNOWN", "AP_CONN_CLOSE", "AP_CONN_KEEPALIVE", "APR_NOFILE", "APR_REG",
    "APR_DIR", "APR_CHR", "APR_BLK", "APR_PIPE", "APR_LNK", "APR_SOCK", "APR_UNKFILE", "MODULE_MAGIC_NUMBER_MAJOR",
    "MODULE_MAGIC_NUMBER_MINOR", "APR_FINFO_LINK", "APR_FINFO_MTIME", "APR_FINFO_CTIME", "APR_FINFO_ATIME",
    "APR_FINFO_SIZE", "APR_FINFO_CSIZE", "APR_FINFO_DEV", "APR_FINFO_INODE", "APR_FINFO_NLINK", "APR_FINFO_TYPE",
    "APR_FINFO_USER", "APR_FINFO_GROUP", "APR_FINFO_UPROT", "APR_FINFO_GPROT", "APR_FINFO_WPROT", "APR_FINFO_ICASE",
    "APR_FINFO_NAME", "APR_FINFO_MIN", "APR_FINFO_IDENT", "APR_FINFO_OWNER", "APR_FINFO_PROT", "APR_FINFO_NORM",
    "APR_FINFO_DIRENT",
]
