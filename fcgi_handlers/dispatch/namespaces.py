"""Module namespaces per interpreter name: mod_python's sub-interpreters, emulated inside one Python process.

Rule: `main_interpreter` is the process's own namespace (`sys.modules`, served by the `Loader` as it is); every other
interpreter name gets a `PrivateLoader`, whose handler modules live in a table of its own and are never published in
`sys.modules`, so two applications may each have their own `settings` or `handler` module and module-level state.
mod_python gives each name a real sub-interpreter; one process cannot, so the separation covers what handler code
imports from the allowed directories (`--path`):
- a handler module, and every module it imports from the allowed directories with an `import` statement (absolute or
  relative), is loaded once per namespace: the module's `__builtins__` carry an `__import__` that resolves names
  found in the allowed directories (the request's PythonPath first) in the namespace's table;
- everything else (the standard library, site-packages, `mod_python` and `fcgi_handlers`) is one shared copy, as if
  every sub-interpreter had imported the same thing; a handler directive naming a `mod_python` module
  (`PythonHandler mod_python.publisher`) gets that shared copy in every interpreter;
- code that bypasses the `import` statement (`importlib.import_module("mymod")`, `pickle` of an instance of a class
  defined in a handler module) looks in `sys.modules` and so does not see the namespace: it gets (or fails to find)
  the process-wide copy.  `PythonInterpreter main_interpreter` puts an application back in the process-wide
  namespace when it needs those.

Which namespace a request uses (`Namespaces.for_request`): an explicit `PythonInterpreter NAME` (or the directory
name of `PythonInterpPerDirectory On`, the section of `PythonInterpPerDirective On`) always selects NAME's namespace.
Without one the request is *named* after the virtual host, as mod_python names it (its ServerName when the
translation passed PythonServerName, else SERVER_NAME), but it runs in that name's namespace only when the daemon
declared the name (a `--import MODULE NAME` creates it at worker start); otherwise it runs in `main_interpreter`'s.
SERVER_NAME is the client's Host header unless Apache has `UseCanonicalName On`, and a header must not make the
worker create namespaces; at most `MAX_INTERPRETERS` names are created per worker in any case.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, Optional

from .errors import DispatchError
from .loader import RESERVED_NAMES, ImportRefused, Loader, _Record

MAIN_INTERPRETER = "main_interpreter"

# The package every interpreter resolves to the daemon's one copy, as mod_python's handlers (`PythonHandler
# mod_python.publisher`) resolve in every mod_python sub-interpreter.
SHARED_PACKAGE = "mod_python"

# More interpreter names than a worker will create; a configuration error beyond (or names derived from requests).
MAX_INTERPRETERS = 64



class TooManyInterpreters(DispatchError, RuntimeError):
    """An interpreter name past the per-worker limit; the request fails with 500 and a log line naming it."""


def _resolve_relative(name: str, globals_: Optional[Mapping[str, Any]], level: int) -> str:
    """The absolute name of `from <dots><name> import ...` written in the module whose globals are given."""
    globals_ = globals_ or {}
    package = globals_.get("__package__")
    if package is None:
        module_name = str(globals_.get("__name__", ""))
        package = module_name if "__path__" in globals_ else module_name.rpartition(".")[0]
    bits = str(package).rsplit(".", level - 1)
    if not package or len(bits) < level:
        raise ImportError("attempted relative import beyond top-level package")
    return f"{bits[0]}.{name}" if name else bits[0]


class PrivateLoader(Loader):
    """A `Loader` whose modules are kept in its own table instead of `sys.modules` (see the module docstring)."""

    def __init__(self, roots: Sequence[str], name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(roots, clock=clock)
        self.name = name
        self.modules: dict[str, ModuleType] = {}
        # One lock per namespace serialises its imports (a module runs once, and a half-initialised module is only
        # visible to the thread importing it); re-entrant because a module's code imports others.
        self._import_lock = threading.RLock()
        self._builtins: dict[str, Any] = dict(vars(builtins))
        self._builtins["__import__"] = self._statement_import

    def install(self) -> None:
        """Nothing to install: the namespace's modules find each other through their own `__import__`."""

    def close(self) -> None:
        """Forget every module of the namespace."""
        with self._import_lock:
            self.modules.clear()
        with self._guard:
            self._records.clear()

    def _current(self, name: str) -> Optional[ModuleType]:
        return self.modules.get(name)

    def _import(self, name: str, dirs: Sequence[str], log: Optional[Callable[[str], None]],
                old: Optional[_Record]) -> ModuleType:
        if name.partition(".")[0] == SHARED_PACKAGE:
            # mod_python's own modules (publisher, psp, wsgi, ...) are the one shared copy in every interpreter.
            return importlib.import_module(name)
        if log is not None:
            log(f"mod_python: (Re)importing module '{name}'")
        with self._import_lock, self.search_path(dirs):
            if old is not None and self.modules.get(name) is old.module:
                del self.modules[name]  # a reload executes the file again into a fresh module
            try:
                module = self._load_chain(name, dirs)
            except BaseException:
                if old is not None:
                    self.modules[name] = old.module
                raise
        self._remember(name, module, dirs)
        return module

    def _load_chain(self, name: str, dirs: Sequence[str]) -> ModuleType:
        """`name` and each package above it, loaded into the namespace when not there yet."""
        parts = name.split(".")
        parent: Optional[ModuleType] = None
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            module = self.modules.get(prefix)
            parent = module if module is not None else self._load_one(prefix, parent, dirs)
        assert parent is not None
        return parent

    def _load_one(self, fullname: str, parent: Optional[ModuleType], dirs: Sequence[str]) -> ModuleType:
        if parent is None:
            if fullname in RESERVED_NAMES:
                raise ImportRefused(f"module {fullname!r} is not inside the configured paths", name=fullname)
            spec = self.find_in(fullname, dirs)
        else:
            locations = list(getattr(parent, "__path__", None) or ())
            if not locations:
                raise ModuleNotFoundError(f"No module named {fullname!r}; {parent.__name__!r} is not a package",
                                          name=fullname)
            spec = self.find_in(fullname, locations)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} in the configured paths", name=fullname)
        if not self._spec_allowed(spec):
            raise ImportRefused(f"module {fullname!r} is not inside the configured paths", name=fullname)
        module = importlib.util.module_from_spec(spec)
        module.__dict__["__builtins__"] = self._builtins
        self.modules[fullname] = module  # before it runs: circular imports see the partial module, as in CPython
        try:
            if spec.loader is not None:
                spec.loader.exec_module(module)
        except BaseException:
            self.modules.pop(fullname, None)
            raise
        if parent is not None:
            setattr(parent, fullname.rpartition(".")[2], module)
        return module

    def _owns(self, top: str) -> bool:
        """True when the top-level name is (or would be) a module of this namespace."""
        if top in RESERVED_NAMES:
            return False
        return top in self.modules or self.find_in(top, self.active_path() or self.roots) is not None

    def _statement_import(self, name: str, globals: Optional[Mapping[str, Any]] = None,  # noqa: A002 - builtin's
                          locals: Optional[Mapping[str, Any]] = None, fromlist: Sequence[str] = (),  # noqa: A002
                          level: int = 0) -> ModuleType:
        """`__import__` for the namespace's modules: names from the allowed directories load here, others as usual."""
        absolute = _resolve_relative(name, globals, level) if level else name
        if not self._owns(absolute.partition(".")[0]):
            return builtins.__import__(name, globals, locals, fromlist, level)
        with self._import_lock:
            module = self.modules.get(absolute) or self._load_chain(absolute, self.active_path() or self.roots)
            if fromlist:
                self._load_fromlist(module, fromlist)
                return module
        if not level:
            return self.modules[absolute.partition(".")[0]]
        cut = len(name) - len(name.partition(".")[0])
        return self.modules[absolute[:len(absolute) - cut]]

    def _load_fromlist(self, module: ModuleType, fromlist: Sequence[str]) -> None:
        """`from package import sub`: load submodules named in the list (or in `__all__` for `*`)."""
        if not hasattr(module, "__path__"):
            return
        names = list(fromlist)
        if "*" in names:
            names.remove("*")
            names.extend(getattr(module, "__all__", ()))
        for item in names:
            if hasattr(module, item):
                continue
            try:
                self._load_chain(f"{module.__name__}.{item}", self.active_path() or self.roots)
            except ModuleNotFoundError as exc:
                if exc.name != f"{module.__name__}.{item}":
                    raise  # something the submodule imports is missing; the submodule itself is then ours to report


class Namespaces:
    """The worker's loaders by interpreter name: `main` for main_interpreter, a PrivateLoader for each other name."""

    def __init__(self, main: Loader, *, limit: int = MAX_INTERPRETERS,
                 factory: Optional[Callable[[str], Loader]] = None) -> None:
        self.main = main
        self.limit = limit
        self._factory = factory or (lambda name: PrivateLoader(main.roots, name))
        self._loaders: dict[str, Loader] = {}
        self._declared: set[str] = set()
        self._lock = threading.Lock()

    def get(self, name: str) -> Loader:
        """The loader of interpreter `name`, created on first use; TooManyInterpreters past the limit."""
        if name == MAIN_INTERPRETER:
            return self.main
        with self._lock:
            loader = self._loaders.get(name)
            if loader is None:
                if len(self._loaders) >= self.limit:
                    raise TooManyInterpreters(f"interpreter {name!r}: this worker already has {self.limit} "
                                              "interpreter namespaces (see PythonInterpreter)")
                loader = self._loaders[name] = self._factory(name)
            return loader

    def declare(self, name: str) -> Loader:
        """Create `name`'s namespace at worker start: requests named after it by default then run there."""
        loader = self.get(name)
        with self._lock:
            self._declared.add(name)
        return loader

    def for_request(self, name: str, *, explicit: bool) -> Loader:
        """The namespace a request named `name` runs in (explicit: PythonInterpreter / PythonInterpPerDirectory)."""
        if explicit or name in self._declared:
            return self.get(name)
        return self.main

    def names(self) -> list[str]:
        """The interpreter names that have a namespace of their own."""
        with self._lock:
            return list(self._loaders)

    def close(self) -> None:
        """Forget every private namespace (the main loader belongs to its owner)."""
        with self._lock:
            loaders, self._loaders = list(self._loaders.values()), {}
        for loader in loaders:
            loader.close()
