"""Per-worker state that mod_python keeps per interpreter: the loader, the main server, child-exit cleanups.

mod_python's module-level API (`apache.import_module`, `apache.register_cleanup`, `apache.main_server`) reads
interpreter-wide state that lives inside Apache. In the daemon that state belongs to the worker process: the app sets
it once when a worker boots (`install`), the module-level API reads it (`state`), and the worker runs the child
cleanups when it exits (`run_child_cleanups`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

from fcgi_handlers.dispatch.loader import Loader

log = logging.getLogger("fcgi_handlers.runtime")

Cleanup = Tuple[Callable[..., Any], Any]

# mod_python names the interpreter after the virtual host unless PythonInterpreter says otherwise; this is the name
# used outside any request (PythonImport, module-level code).
MAIN_INTERPRETER = "main_interpreter"


@dataclass
class WorkerState:
    loader: Loader
    main_server: Any = None
    interpreter: str = MAIN_INTERPRETER
    workers: int = 1
    threads: int = 1
    child_cleanups: List[Cleanup] = field(default_factory=list)


_state: Optional[WorkerState] = None


def install(state: WorkerState) -> None:
    global _state
    _state = state


def state() -> WorkerState:
    if _state is None:
        raise RuntimeError("mod_python API used outside the fcgi_handlers daemon (no worker state installed)")
    return _state


def run_child_cleanups() -> None:
    """Call the `apache.register_cleanup` callbacks with their data (None by default), newest first; an error is logged and the rest still run."""
    if _state is None:
        return
    while _state.child_cleanups:
        callback, data = _state.child_cleanups.pop()
        try:
            callback(data)
        except Exception:
            log.exception("child-exit cleanup %r failed", callback)
