"""`mod_python.testhandler`: the diagnostic page (`PythonHandler mod_python.testhandler`) to check an installation.

Rule: the sections of mod_python 3.5's page, answered by the daemon: general information (the server software
Apache reports, the daemon's worker model through `apache.mpm_query`, its working directory as the server root,
the document root, Python's version and path, the interpreter name, whether publisher and PSP import), then the
request's headers, environment, configuration, options and notes, and the server's configuration and options.
Every value is HTML-escaped (mod_python writes them raw). Two sections describe Apache's memory, which the daemon
cannot read: the configuration tree and the error log tail (`?view_log=1`); the page says so instead of showing them.
"""
from __future__ import annotations

import html
import sys
from typing import Any, Iterable, List, Tuple, TypeVar

from mod_python import apache, version

__all__ = ["bounded_buffer", "handler", "write_table", "write_tree"]

T = TypeVar("T")
_NOT_OUT_OF_PROCESS = "not available: the daemon runs outside Apache and cannot read it"


class bounded_buffer:  # noqa: N801 - mod_python's name
    """The last `size` items appended (a ring: appending never shifts the list)."""

    def __init__(self, size: int) -> None:
        self.max_size = size
        self.list: List[Any] = []
        self.pos = 0

    def append(self, value: Any) -> None:
        if len(self.list) < self.max_size:
            self.list.append(value)
        else:
            self.list[self.pos] = value
        self.pos = (self.pos + 1) % self.max_size

    def items(self) -> List[Any]:
        """The items, oldest first."""
        return self.list[self.pos:] + self.list[:self.pos]

    def __iter__(self) -> Any:
        return iter(self.items())


def _row(req: Any, name: str, value: object, *, pre: bool = False) -> None:
    tag = "pre" if pre else "code"
    req.write(f"<tr><td><code>{html.escape(name)}</code></td><td><{tag}>{html.escape(str(value))}</{tag}></td></tr>\n")


def write_table(req: Any, table: Any) -> None:
    """An HTML table of a mod_python table's keys and values."""
    req.write('<table border="1">')
    req.write("<tr><th>Key</th><th>Value</th></tr>\n")
    for key in table:
        _row(req, str(key), table[key])
    req.write("</table>")


def write_tree(req: Any, tree: Iterable[Any], level: int) -> None:
    """A configuration tree (nested lists of directive word lists), indented by level."""
    for entry in tree:
        if isinstance(entry, list):
            write_tree(req, entry, level + 1)
        else:
            req.write("    " * level + html.escape(" ".join(entry)) + "\n")


def _available(module: str) -> str:
    try:
        __import__(f"mod_python.{module}")
    except Exception:  # noqa: BLE001 - the page reports any failure as "No"
        return "No"
    return "Yes"


def _general(req: Any) -> List[Tuple[str, object]]:
    threaded = apache.mpm_query(apache.AP_MPMQ_IS_THREADED)
    forked = apache.mpm_query(apache.AP_MPMQ_IS_FORKED)
    return [
        ("Apache version", req.subprocess_env.get("SERVER_SOFTWARE")),
        ("mod_python version", version.version),
        ("Apache threaded MPM", f"Yes, maximum {apache.mpm_query(apache.AP_MPMQ_MAX_THREADS)} threads / process"
         if threaded else "No (single thread MPM)"),
        ("Apache forked MPM", f"Yes, maximum {apache.mpm_query(apache.AP_MPMQ_MAX_DAEMONS)} processes"
         if forked else "No (single process MPM)"),
        ("Apache server root", apache.server_root()),
        ("Apache document root", req.document_root()),
        ("Apache error log", _NOT_OUT_OF_PROCESS),
        ("Python sys.version", sys.version),
    ]


def handler(req: Any) -> int:
    """The diagnostic page."""
    if "view_log=" in (req.args or ""):
        req.content_type = "text/plain"
        req.write(f"Apache's error log is {_NOT_OUT_OF_PROCESS}.\n")
        return apache.OK
    req.add_common_vars()
    req.content_type = "text/html"
    req.write("<html><head><title>mod_python test page</title></head><body>\n")
    req.write("<h3>General information</h3>\n<table border=\"1\">\n")
    for name, value in _general(req):
        _row(req, name, value)
    _row(req, "Python sys.path", "\n".join(sys.path), pre=True)
    _row(req, "Python interpreter name", req.interpreter)
    _row(req, "mod_python.publisher available", _available("publisher"))
    _row(req, "mod_python.psp available", _available("psp"))
    req.write("</table>\n")
    sections = (("Request input headers", req.headers_in), ("Request environment", req.subprocess_env),
                ("Request configuration", req.get_config()), ("Request options", req.get_options()),
                ("Request notes", req.notes), ("Server configuration", req.server.get_config()),
                ("Server options", req.server.get_options()))
    for title, table in sections:
        req.write(f"<h3>{title}</h3>\n")
        write_table(req, table)
    req.write(f"<h3>Server configuration tree</h3>\n<p>{_NOT_OUT_OF_PROCESS}.</p>\n")
    req.write("</body></html>")
    return apache.OK
