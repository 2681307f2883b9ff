"""`mod_python.apache` for handlers running in the fcgi_handlers daemon.

Same names as mod_python 3.5's module: the constants, `table`/`make_table`, `SERVER_RETURN`, `log_error`,
`import_module`, `resolve_object`, `register_cleanup`, `build_cgi_env`, `mpm_query`, `exists_config_define`,
`server_root`, `stat`, `module_mtime`, `setup_cgi`/`restore_nocgi`, and the `interpreter`/`main_server` attributes.
`stat` is the daemon's own stat (it sees the files it shares with Apache, not Apache's host); `config_tree()`, Apache's
parsed configuration, exists and ends the request with 500 and one log line (see the README's "What cannot exist out
of process").
"""
from __future__ import annotations

import logging
import os
import sys
from types import ModuleType
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.loader import Loader, resolve_object
from fcgi_handlers.request.connection import log_level, log_message
from fcgi_handlers.request.constants import *  # noqa: F401,F403 - mod_python's constant names, exactly
from fcgi_handlers.request.constants import (AP_MPMQ_HARD_LIMIT_DAEMONS, AP_MPMQ_HARD_LIMIT_THREADS, AP_MPMQ_IS_FORKED,
                                             AP_MPMQ_IS_THREADED, AP_MPMQ_MAX_DAEMONS, AP_MPMQ_MAX_THREADS,
                                             AP_MPMQ_NOT_SUPPORTED, AP_MPMQ_STATIC, APLOG_ERR, APLOG_NOTICE)
from fcgi_handlers.request.context import current_request
from fcgi_handlers.request.exceptions import SERVER_RETURN
from fcgi_handlers.request.finfo import mp_finfo
from fcgi_handlers.request.outside import CONFIG_TREE, out_of_process
from fcgi_handlers.request.table import make_table, table  # noqa: F401 - mod_python's names

_log = logging.getLogger("mod_python")

def __getattr__(name: str) -> Any:
    # `apache.interpreter` and `apache.main_server` follow the worker's runtime (set at worker start): the running
    # request's interpreter, the one a PythonImport runs in, else main_interpreter.
    if name == "interpreter":
        return _interpreter()
    if name == "main_server":
        return runtime.state().main_server
    raise AttributeError(f"module 'mod_python.apache' has no attribute {name!r}")


def _interpreter() -> str:
    req = current_request.get()
    name = getattr(req, "interpreter", None) or runtime.current_interpreter.get()
    return str(name) if name else runtime.state().interpreter


def _loader() -> Loader:
    """The loader of the running code's interpreter namespace."""
    loader: Optional[Loader] = getattr(current_request.get(), "fcgi_loader", None)
    return loader if loader is not None else runtime.loader_for(runtime.current_interpreter.get())


def log_error(message: str, level: int = APLOG_ERR, server: Any = None) -> None:
    """Log to Apache's error log when called during a request (FCGI_STDERR), else to the daemon's log."""
    target = server if server is not None else current_request.get()
    if target is not None and hasattr(target, "log_error"):
        target.log_error(message, level)
        return
    _log.log(log_level(level), "%s", log_message(message))


def import_module(module_name: str, autoreload: int = 1, log: int = 0,
                  path: Optional[Sequence[str]] = None) -> ModuleType:
    """Import a module from the daemon's configured paths, re-importing it when its file changed."""
    req = current_request.get()
    logger: Optional[Callable[[str], None]] = None
    if log:
        logger = (lambda text: req.log_error(text, APLOG_NOTICE)) if req is not None else _log.info
    return _loader().import_module(module_name, autoreload=bool(autoreload), log=logger, path=path)


def register_cleanup(callback: Callable[..., Any], data: Any = None) -> None:
    """Run `callback(data)` when this worker process exits (data defaults to None, as in mod_python)."""
    if not callable(callback):
        raise ValueError("first argument must be a callable object")
    runtime.state().child_cleanups.append((callback, data))


def build_cgi_env(req: Any) -> dict[str, str]:
    """The CGI environment of `req`, as mod_python builds it for cgihandler and wsgi."""
    req.add_cgi_vars()
    env = dict(req.subprocess_env.items())
    env["GATEWAY_INTERFACE"] = "Python-CGI/1.1"
    if len(req.path_info or "") > 0 and req.uri.endswith(req.path_info):
        env["SCRIPT_NAME"] = req.uri[: -len(req.path_info)]
    else:
        env["SCRIPT_NAME"] = req.uri
    authorization = req.headers_in.get("Authorization")
    if authorization:
        env["HTTP_AUTHORIZATION"] = authorization
    return env


def mpm_query(code: int) -> int:
    """Answers for the daemon's worker model: threaded and forked, with its configured limits."""
    state = runtime.state()
    answers = {
        AP_MPMQ_IS_THREADED: AP_MPMQ_STATIC,
        AP_MPMQ_IS_FORKED: AP_MPMQ_STATIC,
        AP_MPMQ_MAX_DAEMONS: state.workers,
        AP_MPMQ_HARD_LIMIT_DAEMONS: state.workers,
        AP_MPMQ_MAX_THREADS: state.threads,
        AP_MPMQ_HARD_LIMIT_THREADS: state.threads,
    }
    return answers.get(code, AP_MPMQ_NOT_SUPPORTED)


def exists_config_define(name: str) -> bool:
    """`-Dname` on Apache's command line is not visible to the daemon: always False."""
    return False


def server_root() -> str:
    """The daemon's working directory stands in for Apache's ServerRoot."""
    return os.getcwd()


def config_tree() -> List[Any]:
    """Apache's parsed configuration is Apache's memory: 500 with one log line naming the call."""
    def log(level: int, message: str) -> None:
        log_error(message, level)
    out_of_process(log, "apache.config_tree()", CONFIG_TREE)


def stat(fname: str, wanted: int = 0) -> mp_finfo:
    """The daemon's stat of `fname` as an mp_finfo (assignable to req.finfo); OSError when it cannot be stat'ed."""
    return mp_finfo(fname, os.stat(fname))


def module_mtime(module: ModuleType) -> float:
    """The modification time of the module's file (0 when it has none)."""
    filename = getattr(module, "__file__", None)
    try:
        return os.path.getmtime(filename) if filename else 0
    except OSError:
        return 0


def setup_cgi(req: Any) -> Tuple[Dict[str, str], IO[str], IO[str]]:
    """Give CGI-style code its process state: os.environ gains `build_cgi_env(req)`, sys.stdin reads the request
    body and sys.stdout writes the response (a header block first). Returns what to give `restore_nocgi()`."""
    from mod_python import cgihandler  # cgihandler imports this module

    saved_env = cgihandler._overlay_environ(build_cgi_env(req))
    saved_in, saved_out = sys.stdin, sys.stdout
    stdin, stdout, output = cgihandler._streams(req)
    req.fcgi_cgi_output = (stdout, output)
    sys.stdin, sys.stdout = stdin, stdout
    return saved_env, saved_in, saved_out


def restore_nocgi(sav_env: Dict[str, str], si: IO[str], so: IO[str]) -> None:
    """Undo `setup_cgi()`: send what the code printed, put os.environ, sys.stdin and sys.stdout back."""
    req = current_request.get()
    pending = getattr(req, "fcgi_cgi_output", None)
    try:
        if pending is not None:
            stdout, output = pending
            output.final = True
            stdout.flush()
            output.finish()
    finally:
        sys.stdin, sys.stdout = si, so
        from mod_python import cgihandler
        cgihandler._restore_environ(sav_env)
