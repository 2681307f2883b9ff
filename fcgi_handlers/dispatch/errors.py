"""Error pages: Apache 2.4.71's stock pages and mod_python's PythonDebug traceback page.

mod_python hands an error status back to Apache, which answers with its own stock page; behind mod_proxy_fcgi
nothing does that for us (Apache passes a backend's error body through unless ProxyErrorOverride is on), so the
daemon renders the page itself.  The texts below were written from the pages a running Apache 2.4.71 sent
(`tests/dispatch/test_error_pages_e2e.py` compares them byte for byte with a live Apache).  The request-dependent
parts come from the request: the method, the Location header, `SERVER_ADMIN` and `SERVER_SIGNATURE` (the
`<address>` line Apache sends as a param; empty when ServerSignature is Off, and then the page has no `<hr>`).
"""

from __future__ import annotations

import html
import traceback
from typing import ClassVar, Optional

from ..request.constants import HTTP_INTERNAL_SERVER_ERROR, REASON_PHRASES


class DispatchError(Exception):
    """Base of the dispatch layer's failures; the response status is an attribute of the class."""

    status: ClassVar[int] = HTTP_INTERNAL_SERVER_ERROR


_RESULT_MESSAGE = ("Handler has returned result or raised SERVER_RETURN\nexception with argument having non integer "
                   "type. Type of value returned\nwas {}, whereas expected {}.")


class InvalidHandlerResult(DispatchError, TypeError):
    """A handler returned (or raised SERVER_RETURN with) something that is not an int; mod_python's text.

    Defined here, in a module setup.py does not compile, with the other exceptions: a compiled module cannot define
    a subclass of a built-in exception as a native class."""

    def __init__(self, value: object) -> None:
        super().__init__(_RESULT_MESSAGE.format(type(value), int))
        self.value = value

_MOVED = '<p>The document has moved <a href="{location}">here</a>.</p>\n'
_AUTH = ("<p>This server could not verify that you\nare authorized to access the document\n"
         "requested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\n"
         "browser doesn't understand how to supply\nthe credentials required.</p>\n")

# The text between the <h1> line and the signature, per status.  {method}, {location} and {admin} are filled in
# HTML-escaped.  Statuses without an entry get _GENERIC (Apache does the same, even for 200 or 201).
_TEXTS: dict[int, str] = {
    300: "",
    301: _MOVED, 302: _MOVED, 307: _MOVED, 308: _MOVED,
    303: '<p>The answer to your request is located <a href="{location}">here</a>.</p>\n',
    305: ("<p>This resource is only accessible through the proxy\n<br />\n"
          "You will need to configure your client to use that proxy.</p>\n"),
    400: "<p>Your browser sent a request that this server could not understand.<br />\n</p>\n",
    401: _AUTH, 407: _AUTH,
    403: "<p>You don't have permission to access this resource.</p>\n",
    404: "<p>The requested URL was not found on this server.</p>\n",
    405: "<p>The requested method {method} is not allowed for this URL.</p>\n",
    406: "<p>An appropriate representation of the requested resource could not be found on this server.</p>\n",
    408: "<p>Server timeout waiting for the HTTP request from the client.</p>\n",
    410: ("<p>The requested resource is no longer available on this server and there is no forwarding address.\n"
          "Please remove all references to this resource.</p>\n"),
    411: "<p>A request of the requested method {method} requires a valid Content-length.<br />\n</p>\n",
    412: "<p>The precondition on the request for this URL evaluated to false.</p>\n",
    413: ("The requested resource does not allow request data with {method} requests, or the amount of data "
          "provided in\nthe request exceeds the capacity limit.\n"),
    414: "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n",
    415: "<p>The supplied request data is not in a format\nacceptable for processing by this resource.</p>\n",
    416: ("<p>None of the range-specifier values in the Range\nrequest-header field overlap the current extent\n"
          "of the selected resource.</p>\n"),
    417: ("<p>No expectation was seen, the Expect request-header \nfield was not presented by the client.\n"
          "</p><p>Only the 100-continue expectation is supported.</p>\n"),
    421: ("<p>The client needs a new connection for this\nrequest as the requested host name does not match\n"
          "the Server Name Indication (SNI) in use for this\nconnection.</p>\n"),
    422: ("<p>The server understands the media type of the\nrequest entity, but was unable to process the\n"
          "contained instructions.</p>\n"),
    423: ("<p>The requested resource is currently locked.\nThe lock must be released or proper identification\n"
          "given before the method can be applied.</p>\n"),
    424: ("<p>The method could not be performed on the resource\nbecause the requested action depended on another\n"
          "action and that other action failed.</p>\n"),
    426: ("<p>The requested resource can only be retrieved\nusing SSL.  The server is willing to upgrade the current\n"
          "connection to SSL, but your client doesn't support it.\nEither upgrade your client, or try requesting "
          "the page\nusing https://\n"),
    428: "<p>The request is required to be conditional.</p>\n",
    429: "<p>The user has sent too many requests\nin a given amount of time.</p>\n",
    431: "<p>The server refused this request because\nthe request header fields are too large.</p>\n",
    451: "<p>Access to this URL has been denied for legal reasons.<br />\n</p>\n",
    501: "<p>{method} not supported for current URL.<br />\n</p>\n",
    # Apache's 502 text really has CRLF line ends (observed).
    502: "<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n</p>\n",
    503: ("<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\n"
          "problems. Please try again later.</p>\n"),
    504: "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n",
    506: ("<p>A variant for the requested resource\n<pre>\n\n</pre>\n"
          "is itself a negotiable resource. This indicates a configuration error.</p>\n"),
    507: ("<p>The method could not be performed on the resource\nbecause the server is unable to store the\n"
          "representation needed to successfully complete the\nrequest.  There is insufficient free space left in\n"
          "your storage allocation.</p>\n"),
    508: "<p>The server terminated an operation because\nit encountered an infinite loop.</p>\n",
    510: "<p>A mandatory extension policy in the request is not\naccepted by the server for this resource.</p>\n",
    511: "<p>The client needs to authenticate to gain\nnetwork access.</p>\n",
}

_GENERIC = ("<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\n"
            "your request.</p>\n<p>Please contact the server administrator at \n {admin} to inform them of the "
            "time this error occurred,\n and the actions you performed just before this error.</p>\n"
            "<p>More information about this error may be available\nin the server error log.</p>\n")

_PAGE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n'
         "<html><head>\n<title>{title}</title>\n</head><body>\n<h1>{heading}</h1>\n{text}{signature}"
         "</body></html>\n")

# Apache's default when ServerAdmin is not configured (what SERVER_ADMIN then carries).
DEFAULT_ADMIN = "[no address given]"

def escape_html(text: str) -> str:
    """Apache's ap_escape_html: & < > and \" only (a single quote stays as is, observed in Location bodies)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def status_title(status: int, status_line: str | None = None) -> str:
    """The page title and status line: `status_line` when it starts with the status (as Apache checks), else
    the stock one.  A bare "404" becomes "404 Unknown Reason", as Apache sends it."""
    code = str(status)
    if status_line and status_line.startswith(code):
        if len(status_line) == len(code):
            return code + " Unknown Reason"
        if status_line[len(code)] == " ":
            return status_line
    return f"{status} {REASON_PHRASES.get(status, 'Unknown Reason')}"


def _param_text(value: str) -> str:
    """A param's text as the bytes Apache sent (the request layer decoded it as UTF-8), one char per byte."""
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def stock_page(status: int, *, method: str = "GET", location: str = "", server_admin: str = "",
               signature: str = "", status_line: Optional[str] = None) -> bytes:
    """Apache's stock error page for `status` (sent as `text/html; charset=iso-8859-1`).

    `method`, `server_admin` and `signature` are the REQUEST_METHOD, SERVER_ADMIN and SERVER_SIGNATURE params;
    `location` and `status_line` come from the handler (Latin-1 text, as mod_python's tables hold it)."""
    title = status_title(status, status_line)
    text = _TEXTS.get(status, _GENERIC).format(
        method=escape_html(_param_text(method)), location=escape_html(location),
        admin=escape_html(_param_text(server_admin or DEFAULT_ADMIN)))
    tail = ""
    if signature:
        tail = "<hr>\n" + _param_text(signature) + ("" if signature.endswith("\n") else "\n")
    page = _PAGE.format(title=title, heading=title[4:], text=text, signature=tail)
    # Apache writes these bytes unconverted under charset iso-8859-1; a character outside Latin-1 (only
    # possible in a handler-set status_line) becomes a character reference instead of failing.
    return page.encode("latin-1", "xmlcharrefreplace")


def debug_page(phase: str, handler: str, exc: BaseException) -> str:
    """mod_python's PythonDebug page: the traceback chunks, each HTML-escaped and followed by a newline."""
    parts = [f'\n<pre>\nMod_python error: "{phase} {handler}"\n\n']
    chunks = traceback.format_exception(type(exc), exc, exc.__traceback__)
    parts.extend(html.escape(chunk) + "\n" for chunk in chunks)
    parts.append("</pre>\n")
    return "".join(parts)


def log_lines(phase: str, handler: str, exc: BaseException) -> list[str]:
    """The error-log lines mod_python writes for a handler failure: one per traceback chunk, without its final
    newline, prefixed with the phase and the handler as written."""
    return [f"{phase} {handler}: {chunk[:-1] if chunk.endswith(chr(10)) else chunk}"
            for chunk in traceback.format_exception(type(exc), exc, exc.__traceback__)]
