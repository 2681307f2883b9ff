"""mod_python.cgihandler: `PythonHandler mod_python.cgihandler` runs `req.filename` as a CGI script, in the worker.

Rule: as in mod_python, the script runs inside the daemon's interpreter with the CGI view of the process: the
current directory is the script's, `os.environ` holds the CGI variables, `sys.stdin` reads the request body and
`sys.stdout` is the response (a header block, a blank line, the body). Those are process-wide, so one lock
serialises every CGI script of a worker process, as mod_python's did; all of it is put back after the run, under
the same lock, including what the script itself changed in `os.environ`, so no request's variables outlive it
(httpoxy: `HTTP_PROXY` is never set at all).
The cost of the lock: a worker runs one CGI script at a time, so a slow script delays the worker's other CGI
requests (not its other handlers); scale CGI with worker processes. While a script runs, other threads of the
worker still see the CGI variables added to `os.environ` and the changed directory; `sys.stdin`/`sys.stdout` are
routed per thread, so their output never lands in the CGI response.

The script is executed from source as `__main__` (so `if __name__ == "__main__":` runs, as for a real CGI
program; mod_python imported it under its file name), and its file must lie inside the daemon's allowed
directories (403) and exist (404). `SystemExit` ends the script normally. Output headers: `Status: NNN ...` sets the
status (Apache supplies the reason phrase), `Content-Type` the content type, `Location` without a `Status` means
302 (RFC 3875 §6.2.3), anything else is passed on. The header block may end with the output; no output, a line
without a colon or a bad Status is a 500, as Apache answers "malformed header from script". Fixed Py3 bug: mod_python's stdin mixed str and bytes, so no script could read a POST
body; here `sys.stdin` is text and `sys.stdin.buffer` bytes, both over the body. Not carried over: deleting
modules imported by earlier scripts to force re-imports (the loader already reloads changed modules).
"""

from __future__ import annotations

import io
import os
import sys
import threading
from typing import Any, Dict, Optional, Tuple

from fcgi_handlers.request.exceptions import SERVER_RETURN
from mod_python import _pages, apache

__all__ = ["handler"]

_lock = threading.Lock()
_DROPPED_VARIABLES = frozenset({"HTTP_PROXY"})  # httpoxy: never a variable a script's HTTP client could obey
MAX_HEADER_BLOCK = 64 * 1024  # output held while looking for the end of the headers; Apache's limit is 8 KB a line


class ScriptOutputError(ValueError):
    """The script's output is not a CGI response (Apache would log "malformed header from script")."""


class _BodyReader(io.RawIOBase):
    """The request body as a raw binary stream, for io.BufferedReader."""

    def __init__(self, req: Any) -> None:
        self._req = req

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._req.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _ScriptOutput(io.RawIOBase):
    """The script's stdout bytes: the CGI header block is parsed into the request, the rest is the body."""

    def __init__(self, req: Any) -> None:
        self._req = req
        self._head = b""
        self.headers_done = False
        self.final = False  # set before the handler's own last flush, which must not force req.flush()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if self.headers_done:
            if chunk:
                self._req.write(chunk, 0)
            return len(chunk)
        self._head += chunk
        ends = [(self._head.find(separator), separator) for separator in (b"\r\n\r\n", b"\n\n")]
        found = [(index, separator) for index, separator in ends if index >= 0]
        if found:
            index, separator = min(found)
            head, body = self._head[:index], self._head[index + len(separator):]
            self._apply_headers(head)
            self.headers_done = True
            self._head = b""
            if body:
                self._req.write(body, 0)
        elif len(self._head) > MAX_HEADER_BLOCK:
            raise ScriptOutputError(f"no end of the header block in the first {MAX_HEADER_BLOCK} bytes of output")
        return len(chunk)

    def flush(self) -> None:
        if self.headers_done and not self.final and not self.closed:
            self._req.flush()

    def finish(self) -> None:
        """End of the script: a header block without its blank line still counts; no header block is an error."""
        if self.headers_done:
            return
        if not self._head.strip():
            raise ScriptOutputError("End of script output before headers")
        self._apply_headers(self._head.rstrip(b"\r\n"))
        self.headers_done = True

    def _apply_headers(self, block: bytes) -> None:
        req, status_set, location = self._req, False, False
        for line in block.decode("latin-1").replace("\r\n", "\n").split("\n"):
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon or not name:
                raise ScriptOutputError(f"malformed header from script: {line!r}")
            if name.lower() == "status":
                code = value.split()[0] if value else ""
                if not (code.isdigit() and len(code) == 3):
                    raise ScriptOutputError(f"malformed Status header from script: {line!r}")
                req.status, status_set = int(code), True
            elif name.lower() == "content-type":
                req.content_type = value
            else:
                location = location or name.lower() == "location"
                req.headers_out.add(name, value)
        if location and not status_set:
            req.status = apache.HTTP_MOVED_TEMPORARILY


class _PerThread:
    """Stands in for sys.stdin/sys.stdout: the running script's thread gets the CGI stream, others (and anyone who
    kept a reference after the run) the original."""

    def __init__(self, original: Any, script_stream: Any) -> None:
        self._original = original
        self._script_stream = script_stream
        self._owner: Optional[int] = threading.get_ident()

    def release(self) -> None:
        self._owner = None

    def __getattr__(self, name: str) -> Any:
        target = self._script_stream if threading.get_ident() == self._owner else self._original
        return getattr(target, name)


def _cgi_environment(req: Any, script: str) -> Dict[str, str]:
    env = apache.build_cgi_env(req)  # add_cgi_vars() includes the common variables
    env["SCRIPT_FILENAME"] = script
    return {name: value for name, value in env.items() if name not in _DROPPED_VARIABLES}


def _overlay_environ(env: Dict[str, str]) -> Dict[str, str]:
    """Put `env` into os.environ; returns the whole environment as it was, for `_restore_environ`."""
    saved = dict(os.environ)
    for name, value in env.items():
        try:
            os.environ[name] = value
        except ValueError:  # a NUL in a header value cannot go into the C environment
            os.environ.pop(name, None)
    return saved


def _restore_environ(saved: Dict[str, str]) -> None:
    """Back to `saved`, also undoing what the script itself changed (it would have died with a CGI process)."""
    for name in [name for name in os.environ if name not in saved]:
        del os.environ[name]
    for name, value in saved.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _streams(req: Any) -> Tuple[io.TextIOWrapper, io.TextIOWrapper, _ScriptOutput]:
    output = _ScriptOutput(req)
    stdout = io.TextIOWrapper(io.BufferedWriter(output), encoding="utf-8", newline="\n", write_through=True)
    stdin = io.TextIOWrapper(io.BufferedReader(_BodyReader(req)), encoding="utf-8", newline="\n")
    return stdin, stdout, output


def _run(req: Any, script: str, code: Any) -> None:
    """Execute the compiled script with the CGI process state, then put the state back (caller holds the lock)."""
    stdin, stdout, output = _streams(req)
    routed_in, routed_out = _PerThread(sys.stdin, stdin), _PerThread(sys.stdout, stdout)
    saved_env = _overlay_environ(_cgi_environment(req, script))
    saved_io = (sys.stdin, sys.stdout, sys.argv)
    cwd = os.getcwd()
    try:
        os.chdir(os.path.dirname(script))
        sys.stdin, sys.stdout, sys.argv = routed_in, routed_out, [script]
        try:
            exec(code, {"__name__": "__main__", "__file__": script, "__builtins__": __builtins__})
        except SystemExit as exc:
            if exc.code not in (None, 0):
                req.log_error(f"mod_python.cgihandler: {script} exited with status {exc.code}", apache.APLOG_NOTICE)
        output.final = True
        stdout.flush()
        output.finish()
    finally:
        sys.stdin, sys.stdout, sys.argv = saved_io
        routed_in.release()
        routed_out.release()
        os.chdir(cwd)
        _restore_environ(saved_env)


def handler(req: Any) -> int:
    """`PythonHandler mod_python.cgihandler`."""
    script = os.path.normpath(_pages.request_file(req, "mod_python.cgihandler"))
    _pages.ensure_allowed(req, script, "mod_python.cgihandler")
    try:
        source, _ = _pages.read_file(script)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise SERVER_RETURN(apache.HTTP_NOT_FOUND) from None
    code = compile(source, script, "exec", dont_inherit=True)
    with _lock:
        try:
            _run(req, script, code)
        except ScriptOutputError as exc:
            req.log_error(f"mod_python.cgihandler: {exc}: {script}", apache.APLOG_ERR)
            raise SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR) from None
    return apache.OK
