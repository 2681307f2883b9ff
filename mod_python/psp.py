"""mod_python.psp: Python Server Pages, `PythonHandler mod_python.psp`, and `PSP` objects for templates.

Rule: a page is translated by `_psp_parser` (mod_python's language and indentation rules) and run with the globals
mod_python gives it: `req`, `psp` (a `PSPInterface`), `form` and `session`, the `vars` passed in, and the names a
page could use because it ran in mod_python's psp module (`apache`, `util`, `Session`, `os`, `sys`, `escape`, `PSP`).
`form` is a `util.FieldStorage` and `session` a `Session.Session(req)`, each made only when the page's code (or a
function it defines) names it; a session made for the page is saved after the run, then unlocked and removed from
the request.
Compiled code is cached in memory: pages by file, rebuilt when the page or a file it includes changes (mod_python
looked at the page's mtime only), strings by their text (512 entries each, as mod_python's caches).

A page is code, so its file and every include must lie inside the daemon's allowed directories (403 otherwise); a
missing page is 404. Not carried over: the dbm code cache (`mod_python.psp.cache_database_filename`) and precompiled
`.psc` files, which unmarshal code from disk (the in-memory cache serves each worker process instead).
Fixed Py3 bugs: `SERVER_RETURN` (e.g. from `psp.redirect`) passes through untouched instead of being re-raised as
`SERVER_RETURN(SERVER_RETURN(...))` (a 500) and never runs the error page; other errors are re-raised as they are.
"""

from __future__ import annotations

import html
import os
import sys
import threading
from collections import OrderedDict
from types import CodeType
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Tuple

from fcgi_handlers.request.exceptions import SERVER_RETURN
from mod_python import _pages, apache
from mod_python._psp_parser import Include, PSPParseError, decode_page, translate

__all__ = ["PSP", "PSPInterface", "PSPParseError", "handler", "parse", "parsestring"]

CACHE_SIZE = 512
_file_cache: _pages.FileCache[CodeType] = _pages.FileCache(CACHE_SIZE)
_string_cache: OrderedDict[str, CodeType] = OrderedDict()
_string_guard = threading.Lock()


def _include_reader(directory: Optional[str], stamps: Optional[Dict[str, _pages.Stamp]] = None,
                    guard: Optional[Callable[[str], None]] = None) -> Include:
    """The include callback: names relative to `directory` (the page's), absolute names as they are; `guard(path)`
    refuses a file before it is read, `stamps` collects what was read."""
    def read(name: str) -> str:
        path = os.path.normpath(name if os.path.isabs(name) or not directory else os.path.join(directory, name))
        if guard is not None:
            guard(path)
        data, stamp = _pages.read_file(path)
        if stamps is not None:
            stamps[path] = stamp
        return decode_page(data)
    return read


def parse(filename: str, dir: Optional[str] = None) -> str:  # noqa: A002 - mod_python's name
    """The Python source for the page `filename` (joined to `dir` when given; includes are relative to `dir`)."""
    path = os.path.join(dir, filename) if dir else filename
    data, _ = _pages.read_file(path)
    return translate(decode_page(data), _include_reader(dir))


def parsestring(str: Any) -> str:  # noqa: A002 - mod_python's name
    """The Python source for PSP text (str, or bytes as mod_python's `_psp` wanted)."""
    text = decode_page(bytes(str)) if isinstance(str, (bytes, bytearray)) else str
    return translate(text, _include_reader(None))


def _include_guard(req: Any) -> Callable[[str], None]:
    """Includes are code too: each must be inside the allowed directories (403 otherwise)."""
    def guard(path: str) -> None:
        _pages.ensure_allowed(req, path, "mod_python.psp include")
    return guard


def _file_builder(req: Any) -> _pages.Build[CodeType]:
    """Builds a page's code for the file cache, recording the stamp of the page and of every include."""
    def build(path: str, reloading: bool) -> Tuple[CodeType, Mapping[str, _pages.Stamp]]:
        data, stamp = _pages.read_file(path)
        stamps = {path: stamp}
        source = translate(decode_page(data), _include_reader(os.path.dirname(path), stamps, _include_guard(req)))
        return compile(source, path, "exec", dont_inherit=True), stamps
    return build


def _compile_string(req: Any, text: str) -> CodeType:
    with _string_guard:
        code = _string_cache.get(text)
        if code is not None:
            _string_cache.move_to_end(text)
            return code
    source = translate(text, _include_reader(None, None, _include_guard(req)))
    code = compile(source, "__psp__", "exec", dont_inherit=True)
    with _string_guard:
        _string_cache[text] = code
        while len(_string_cache) > CACHE_SIZE:
            _string_cache.popitem(last=False)
    return code


def _names(code: CodeType) -> FrozenSet[str]:
    """Every global or attribute name the code and the functions it defines refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return frozenset(names)


def _form(req: Any) -> Any:
    """The request's FieldStorage, made (and kept on req.form, for an error page) when there is none yet."""
    form = getattr(req, "form", None)
    if form is None:
        from mod_python import util
        form = util.FieldStorage(req, keep_blank_values=1)
        req.form = form
    return form


class PSPInterface:
    """The page's `psp` object."""

    def __init__(self, req: Any, filename: Optional[str], form: Any) -> None:
        self.req = req
        self.filename = filename
        self.error_page: Optional[PSP] = None
        self.form = form

    def set_error_page(self, page: str) -> None:
        """Run `page` (relative to DocumentRoot if it starts with '/', else to this page) if this page raises."""
        if page and page[0] == "/":
            path = self.req.document_root() + page
        else:
            base = os.path.dirname(self.filename) if self.filename else os.path.dirname(self.req.filename or "")
            path = os.path.join(base, page)
        self.error_page = PSP(self.req, path)

    def apply_data(self, object: Any) -> Any:  # noqa: A002 - mod_python's name
        """Call `object` with the form fields as keyword arguments (util.apply_fs_data)."""
        from mod_python import util
        if not self.form:
            self.form = _form(self.req)
        return util.apply_fs_data(object, self.form, req=self.req)

    def redirect(self, location: str, permanent: int = 0) -> None:
        """util.redirect(): send a 302 (301 if `permanent`) to `location` and end the request."""
        from mod_python import util
        util.redirect(self.req, location, permanent)


class PSP:
    """A PSP page from a file (default: req.filename) or a string; `run()` writes it to the request."""

    def __init__(self, req: Any, filename: Optional[str] = None, string: Optional[str] = None,
                 vars: Mapping[str, Any] = {}) -> None:  # noqa: A002,B006 - mod_python's signature; never mutated
        if string and filename:
            raise ValueError("Must specify either filename or string")
        self.req, self.vars = req, vars
        if not filename and not string:
            filename = _pages.request_file(req, "mod_python.psp")
        self.filename: Optional[str] = None
        self.string = string
        if filename:
            if not os.path.isabs(filename):
                base = os.path.dirname(_pages.request_file(req, "mod_python.psp"))
                filename = os.path.join(base, filename)
            self.filename = os.path.normpath(filename)
            self.code: CodeType = self._load_file(self.filename)
        else:
            text = string if isinstance(string, str) else decode_page(bytes(string or b""))
            self.code = _compile_string(req, text)

    def _load_file(self, path: str) -> CodeType:
        _pages.ensure_allowed(self.req, path, "mod_python.psp")
        if not os.path.isfile(path):
            raise SERVER_RETURN(apache.HTTP_NOT_FOUND)
        try:
            return _file_cache.get(path, _file_builder(self.req))
        except FileNotFoundError:
            raise SERVER_RETURN(apache.HTTP_NOT_FOUND) from None

    def _scope(self, vars: Mapping[str, Any], names: FrozenSet[str]) -> Tuple[Dict[str, Any], Any, Any]:
        """The page's globals, the session made for this run (or None) and the psp object."""
        from mod_python import Session, util
        req = self.req
        session = None
        if "session" in names and getattr(req, "session", None) is None:
            req.session = session = Session.Session(req)
        form = _form(req) if "form" in names else getattr(req, "form", None)
        psp = PSPInterface(req, self.filename, form)
        scope: Dict[str, Any] = {
            "__name__": "__psp__", "__file__": self.filename or req.filename,
            "apache": apache, "util": util, "Session": Session, "os": os, "sys": sys, "escape": html.escape,
            "PSP": PSP, "req": req, "psp": psp, "form": form, "session": getattr(req, "session", None),
        }
        scope.update(self.vars)
        scope.update(vars)
        return scope, session, psp

    def run(self, vars: Mapping[str, Any] = {}, flush: int = 0) -> None:  # noqa: B006 - never mutated
        """Run the page: its output goes to req.write(..., 0); `flush` flushes at the end."""
        code, req = self.code, self.req
        scope, session, psp = self._scope(vars, _names(code))
        try:
            try:
                exec(code, scope)
                if flush:
                    req.flush()
                # Loading a session updates its access time, so it is always saved.
                if getattr(req, "session", None) is not None:
                    req.session.save()
            except SERVER_RETURN:
                raise
            except Exception:
                if psp.error_page is None:
                    raise
                psp.error_page.run({"exception": sys.exc_info()}, flush)
        finally:
            if session is not None:
                session.unlock()
                del req.session

    def __str__(self) -> str:
        """Run the page as text/html (a published function may return a PSP object); the result is ''."""
        self.req.content_type = "text/html"
        self.run()
        return ""

    def display_code(self) -> None:
        """Write an HTML table: the generated Python beside the page's source, line by line."""
        req = self.req
        if self.filename is None:
            source_text, python = str(self.string), parsestring(str(self.string))
        else:
            data, _ = _pages.read_file(self.filename)
            source_text = decode_page(data)
            reader = _include_reader(os.path.dirname(self.filename), None, _include_guard(req))
            python = translate(source_text, reader)
        source = [line.rstrip() for line in source_text.splitlines()]
        generated = [line.rstrip() for line in python.splitlines()]

        def cell(text: str) -> str:
            return html.escape(text).replace("\t", "    ").replace(" ", "&nbsp;")

        req.write("<table>\n<tr>", 0)
        for title in ("", "&nbsp;PSP-produced Python Code:", f"&nbsp;{html.escape(self.filename or '')}:"):
            req.write(f"<td><tt>{title}</tt></td>", 0)
        req.write("</tr>\n", 0)
        for number, line in enumerate(generated, 1):
            right = cell(source[number - 1]) if number <= len(source) else ""
            req.write(f"<tr><td><tt>{number}.&nbsp;</tt></td><td><tt><font color=blue>{cell(line)}</font></tt></td>"
                      f"<td><tt>&nbsp;<font color=green>{right}</font></tt></td></tr>\n", 0)
        req.write("</table>\n", 0)


def handler(req: Any) -> int:
    """`PythonHandler mod_python.psp`: run req.filename as text/html; with PythonDebug On, `page.psp_` shows the
    generated code of `page.psp`."""
    req.content_type = "text/html"
    filename = _pages.request_file(req, "mod_python.psp")
    if _pages.config_flag(req, "PythonDebug", False) and filename.endswith("_"):
        PSP(req, filename[:-1]).display_code()
    else:
        PSP(req).run()
    return apache.OK
