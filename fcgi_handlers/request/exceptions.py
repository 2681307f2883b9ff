"""Exceptions of the request layer: mod_python's SERVER_RETURN and the response writer's header error.

`SERVER_RETURN` keeps mod_python's name and argument shape because handler code raises and catches it by name; the
dispatcher unpacks its args. `InvalidResponseHeader` is ours: a header that could split the CGI-style response we hand
to Apache (CR, LF, NUL or another control character, or a name that is not an HTTP token) must never reach the wire,
and Apache itself answers 500 for such a header (`check_headers`, AH02430), so the writer refuses it loudly.
"""

from __future__ import annotations


class SERVER_RETURN(Exception):  # noqa: N801 - mod_python's public name
    """Raised by handler code to end the phase: `SERVER_RETURN(rc)` or `SERVER_RETURN(rc, status)`.

    The dispatcher reads `args`: one int, or two items where a true `status` is stored in `req.status` before `rc`
    is applied. mod_python does not unpack a single tuple argument (`SERVER_RETURN((rc, status))` ends in a 500).
    """


class InvalidResponseHeader(ValueError):
    """A header name, value or status line that cannot be sent to Apache safely."""

    def __init__(self, where: str, text: str) -> None:
        super().__init__(f"invalid response {where}: {text!r} (control characters and non-token names are refused)")
        self.where = where
        self.text = text
