"""Per-worker state that mod_python keeps per interpreter: the loaders, the main server, child-exit cleanups.

mod_python's module-level API (`apache.import_module`, `apache.register_cleanup`, `apache.main_server`,
`apache.interpreter`) reads interpreter-wide state that lives inside Apache. In the daemon that state belongs to the
worker process: the app sets it once when a worker boots (`install`), runs the PythonImport list there
(`run_imports`: Apache's server-level configuration never reaches the daemon, so PythonImport is a daemon setting,
`--import MODULE[::FUNC] [INTERPRETER]`), the module-level API reads it (`state`, `loader_for`), and the worker runs
the child cleanups when it exits (`run_child_cleanups`, registered with `atexit`, which the worker runs on a normal
exit: SIGTERM, SIGHUP's retirement, max-requests recycling).
"""
from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

from fcgi_handlers.dispatch.loader import Loader, resolve_object
from fcgi_handlers.dispatch.namespaces import MAIN_INTERPRETER, Namespaces

log = logging.getLogger("fcgi_handlers.runtime")

Cleanup = Tuple[Callable[..., Any], Any]

__all__ = ["Cleanup", "HANDLER_ARGV", "ImportSpec", "MAIN_INTERPRETER", "WorkerState", "current_interpreter", "install",
           "loader_for", "parse_import_spec", "run_child_cleanups", "run_imports", "state"]

# sys.argv inside handler code, as mod_python's apache.init() sets it in every interpreter.
HANDLER_ARGV = ("mod_python",)

# The interpreter code runs in outside a request (PythonImport sets it while importing into a named interpreter).
current_interpreter: ContextVar[Optional[str]] = ContextVar("fcgi_handlers_interpreter", default=None)


@dataclass
class WorkerState:
    loader: Loader
    main_server: Any = None
    interpreter: str = MAIN_INTERPRETER
    workers: int = 1
    threads: int = 1
    child_cleanups: List[Cleanup] = field(default_factory=list)
    namespaces: Optional[Namespaces] = None


@dataclass(frozen=True)
class ImportSpec:
    """One PythonImport: `module[::function] [interpreter]` (the function is called with no arguments)."""

    module: str
    function: Optional[str] = None
    interpreter: str = MAIN_INTERPRETER

    def __str__(self) -> str:
        target = self.module + (f"::{self.function}" if self.function else "")
        return target if self.interpreter == MAIN_INTERPRETER else f"{target} {self.interpreter}"


def parse_import_spec(text: str) -> ImportSpec:
    """`MODULE[::FUNC] [INTERPRETER]` -> ImportSpec; ValueError naming what is wrong."""
    words = str(text).split()
    if not 1 <= len(words) <= 2:
        raise ValueError("expected MODULE[::FUNC] [INTERPRETER]")
    module, sep, function = words[0].partition("::")
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise ValueError(f"{module!r} is not a dotted module name")
    if sep and not all(part.isidentifier() for part in function.split(".")):
        raise ValueError(f"{function!r} is not a dotted function name")
    return ImportSpec(module, function or None, words[1] if len(words) == 2 else MAIN_INTERPRETER)


_state: Optional[WorkerState] = None


def install(state: WorkerState) -> None:
    global _state
    _state = state


def state() -> WorkerState:
    if _state is None:
        raise RuntimeError("mod_python API used outside the fcgi_handlers daemon (no worker state installed)")
    return _state


def loader_for(interpreter: Optional[str]) -> Loader:
    """The loader of `interpreter`'s namespace (main_interpreter's when None or when the worker has no others)."""
    worker = state()
    if worker.namespaces is None or interpreter is None:
        return worker.loader
    return worker.namespaces.get(interpreter)


def run_imports(specs: Sequence[ImportSpec], namespaces: Namespaces) -> int:
    """PythonImport at worker start, in declaration order: import each module into its interpreter's namespace
    (declaring that namespace, see `namespaces`) and call its function; a failure is logged and the next one runs,
    as mod_python logs a failed PythonImport and carries on.  Returns the number of failures."""
    failures = 0
    for spec in specs:
        token = current_interpreter.set(spec.interpreter)
        try:
            loader = namespaces.main if spec.interpreter == MAIN_INTERPRETER else namespaces.declare(spec.interpreter)
            with loader.search_path():
                module = loader.import_module(spec.module)
                if spec.function:
                    resolve_object(module, spec.function)()
        except Exception:
            failures += 1
            log.exception("PythonImport %s failed", spec)
        finally:
            current_interpreter.reset(token)
    return failures


def run_child_cleanups() -> None:
    """Call the `apache.register_cleanup` callbacks with their data (None by default), newest first; an error is
    logged and the rest still run."""
    if _state is None:
        return
    while _state.child_cleanups:
        callback, data = _state.child_cleanups.pop()
        try:
            callback(data)
        except Exception:
            log.exception("child-exit cleanup %r failed", callback)
