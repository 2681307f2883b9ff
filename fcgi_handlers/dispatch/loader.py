"""Handler import: by dotted name, only from the configured directories, with a real auto-reload.

The rule: code runs only if its file lies inside the daemon's allowed directories (`--path`) or inside the
`mod_python` package that ships with the daemon.  A module named in a handler directive is checked *before* it
executes: each dotted prefix is looked up (or, if already imported, its `__file__` is checked) and refused with
`ImportRefused` when it lies elsewhere, so `PythonHandler os::system` or a stray `subprocess` never runs.

How lookups stay restricted without swapping `sys.path` per request: each `Loader` puts two finders on
`sys.meta_path`, and lists the allowed directories once at the end of `sys.path` (as mod_python lists a handler's
directory there; code and mod_python's own test suite look for it) with a path hook that answers nothing for them,
so the standard path finder never imports from them.
- The *front* finder (first on `sys.meta_path`) answers top-level imports only while a request's handlers run: the
  dispatcher activates the request's search path (its PythonPath, already validated against the allowed
  directories, else the allowed directories) in a `ContextVar`, so each pool thread sees its own request's path and
  handler modules shadow same-named ones elsewhere, as mod_python's prepended handler directory does.  It also
  serves submodules of packages that live in the allowed directories.
- The *tail* finder (last) searches the allowed directories for names nothing else found, so a thread a handler
  started (which has no request context) can still import the handler's sibling modules.
- The names `mod_python` and `fcgi_handlers` are never served from handler directories.
Modules from the allowed directories are compiled from source (no .pyc is read or written there): a reload never
picks up stale bytecode, and the daemon never writes into handler directories.

PythonAutoReload: a module's file mtime is checked at most once per `CHECK_INTERVAL` per module; a changed file is
re-imported through the normal import machinery, so concurrent `import` statements wait for it, while
`import_module` callers keep the old module until the new one is complete.  mod_python logs "(Re)importing" but on
Python 3 returns the cached module; we really reload.  A failed reload keeps the old module and retries on the next
check.  Concurrent first imports are serialised by Python's per-module import lock (mod_python could hand out a
half-initialised module from `sys.modules`).

PythonInterpreter: this `Loader` is the process-wide namespace (`sys.modules`), which serves `main_interpreter`;
`namespaces.PrivateLoader` reuses its lookups, restrictions and auto-reload for the other interpreter names, with a
module table of its own (`_current` and `_import` are the two places that differ).
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import CodeType, ModuleType
from typing import Any, Optional, Tuple, cast

from .errors import DispatchError

# mod_python checks a module's mtime at most once a second (apache.py's import_module).
CHECK_INTERVAL = 1.0

# Package names a handler directory may never shadow: the API handlers import, and the daemon itself.
RESERVED_NAMES = frozenset({"mod_python", "fcgi_handlers"})


class ImportRefused(DispatchError, ImportError):
    """A module that is not inside the configured paths (or a malformed module name)."""


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compile from the source file every time; never read or write bytecode in a handler directory."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


_LOADER_DETAILS: tuple[tuple[Any, list[str]], ...] = (
    (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
    (_SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES),
)


@dataclass
class _Record:
    """What the loader knows about a module it imported."""

    module: ModuleType
    mtime_ns: Optional[int]
    checked_at: float
    path: Tuple[str, ...]
    reloading: bool = False


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


class _ListedOnly:
    """The path-entry finder of an allowed directory on `sys.path`: it finds nothing, because the loader's meta-path
    finders serve that directory (restricted, from source)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def find_spec(self, fullname: str, target: Optional[ModuleType] = None) -> None:
        return None

    def invalidate_caches(self) -> None:
        return None


_LISTED: set[str] = set()   # the allowed directories a loader put on sys.path


def _listed_only_hook(path: str) -> _ListedOnly:
    if path not in _LISTED:
        raise ImportError("not an allowed directory")  # the next path hook gets it
    return _ListedOnly(path)


def _list_on_sys_path(roots: Sequence[str]) -> tuple[str, ...]:
    """Append the roots not on `sys.path` yet, served by `_ListedOnly`; returns those this call listed."""
    if _listed_only_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _listed_only_hook)
    added = tuple(root for root in roots if root not in _LISTED and root not in sys.path)
    for root in added:
        _LISTED.add(root)
        sys.path_importer_cache.pop(root, None)
        sys.path.append(root)
    return added


def _unlist(roots: Sequence[str]) -> None:
    for root in roots:
        _LISTED.discard(root)
        sys.path_importer_cache.pop(root, None)
        while root in sys.path:
            sys.path.remove(root)


def _mtime_ns(module: ModuleType) -> Optional[int]:
    filename = getattr(module, "__file__", None)
    if not filename:
        return None
    try:
        return os.stat(filename).st_mtime_ns
    except OSError:
        return None


def check_module_name(name: str) -> None:
    """Refuse anything but a dotted name of identifiers (no relative names, no file paths)."""
    if not _is_module_name(name):
        raise ImportRefused(f"invalid module name {name!r}", name=name)


# Every request checks its handlers' module names again: the answer for a name never changes, so it is cached.
@functools.lru_cache(maxsize=1024)
def _is_module_name(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


class _Finder(importlib.abc.MetaPathFinder):
    """A meta path finder over directories inside the loader's allowed roots (see the module docstring)."""

    def __init__(self, loader: Loader, *, front: bool) -> None:
        self._loader = loader
        self._front = front

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        if path is None:
            if fullname in RESERVED_NAMES:
                return None
            dirs = self._loader.active_path() if self._front else self._loader.roots
            if dirs is None:
                return None
            return self._loader.find_in(fullname, dirs)
        # A submodule: ours only when its package lives in the allowed directories.
        if not self._front or not path or not all(self._loader.is_allowed_file(p) for p in path):
            return None
        return self._loader.find_in(fullname, [str(p) for p in path])


class Loader:
    """Imports handler modules from `roots` (the allowed directories) and the shipped `mod_python` package."""

    def __init__(self, roots: Sequence[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.roots: tuple[str, ...] = tuple(dict.fromkeys(_real(r) for r in roots))
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._guard = threading.Lock()
        self._file_finders: dict[str, importlib.machinery.FileFinder] = {}
        self._active: ContextVar[Optional[Tuple[str, ...]]] = ContextVar(f"fcgi_handlers_path_{id(self)}",
                                                                          default=None)
        self._front = _Finder(self, front=True)
        self._tail = _Finder(self, front=False)
        self._shipped = self._shipped_dirs()

    @staticmethod
    def _shipped_dirs() -> tuple[str, ...]:
        spec = importlib.util.find_spec("mod_python")
        if spec is None or not spec.submodule_search_locations:
            return ()
        return tuple(_real(p) for p in spec.submodule_search_locations)

    # -- installation ------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Put this loader's finders on `sys.meta_path` and its directories on `sys.path` (idempotent)."""
        if self._front not in sys.meta_path:
            sys.meta_path.insert(0, self._front)
        if self._tail not in sys.meta_path:
            sys.meta_path.append(self._tail)
        self._listed = _list_on_sys_path(self.roots)

    def close(self) -> None:
        """Remove the finders and forget (and unpublish) the modules this loader imported."""
        for finder in (self._front, self._tail):
            while finder in sys.meta_path:
                sys.meta_path.remove(finder)
        _unlist(getattr(self, "_listed", ()))
        with self._guard:
            records, self._records = self._records, {}
        for name, record in records.items():
            if sys.modules.get(name) is record.module:
                del sys.modules[name]

    # -- paths -------------------------------------------------------------------------------------------------

    def is_allowed_file(self, path: str) -> bool:
        """True when `path` lies inside an allowed root or the shipped mod_python package."""
        real = _real(path)
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep)
                   for root in self.roots + self._shipped)

    def active_path(self) -> Optional[tuple[str, ...]]:
        """The search path of the request whose handlers run in this context, if any."""
        return self._active.get()

    def search_path(self, path: Optional[Sequence[str]] = None) -> "_ActivePath":
        """A context manager activating `path` (default: the allowed roots) for imports made in this context."""
        return _ActivePath(self._active, tuple(path) if path is not None else self.roots)

    def find_in(self, fullname: str, dirs: Sequence[str]) -> Optional[importlib.machinery.ModuleSpec]:
        """The spec of `fullname` in the first of `dirs` holding it (namespace portions are merged)."""
        portions: list[str] = []
        for directory in dirs:
            finder = self._file_finders.get(directory)
            if finder is None:
                finder = importlib.machinery.FileFinder(directory, *_LOADER_DETAILS)
                self._file_finders[directory] = finder
            spec = finder.find_spec(fullname)
            if spec is None:
                continue
            if spec.loader is not None:
                return spec
            portions.extend(spec.submodule_search_locations or ())
        if not portions:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
        spec.submodule_search_locations = portions
        return spec

    def _module_allowed(self, module: ModuleType) -> bool:
        filename = getattr(module, "__file__", None)
        if filename:
            return self.is_allowed_file(filename)
        locations = list(getattr(module, "__path__", None) or ())
        return bool(locations) and all(self.is_allowed_file(p) for p in locations)

    def _spec_allowed(self, spec: importlib.machinery.ModuleSpec) -> bool:
        if spec.origin and spec.has_location:
            return self.is_allowed_file(spec.origin)
        locations = list(spec.submodule_search_locations or ())
        return bool(locations) and all(self.is_allowed_file(p) for p in locations)

    def _require_allowed(self, name: str, dirs: Sequence[str]) -> None:
        """Check every dotted prefix of `name` before any of them executes."""
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            loaded = sys.modules.get(prefix)
            if loaded is not None:
                if not self._module_allowed(loaded):
                    raise ImportRefused(f"module {prefix!r} is not inside the configured paths", name=prefix)
                continue
            if i == 1 and prefix not in RESERVED_NAMES:
                spec = self.find_in(prefix, dirs)
            else:
                spec = importlib.util.find_spec(prefix)  # imports (already checked) parents only
            if spec is None and i == 1 and importlib.util.find_spec(prefix) is not None:
                # It exists, but outside the paths (a top-level find_spec imports nothing): say so.
                raise ImportRefused(f"module {prefix!r} is not inside the configured paths", name=prefix)
            if spec is None:
                # Nowhere at all: Python's own text, as mod_python shows it.
                raise ModuleNotFoundError(f"No module named {prefix!r}", name=prefix)
            if not self._spec_allowed(spec):
                raise ImportRefused(f"module {prefix!r} is not inside the configured paths", name=prefix)

    # -- import ------------------------------------------------------------------------------------------------

    def import_module(self, name: str, *, autoreload: bool = True, log: Optional[Callable[[str], None]] = None,
                      path: Optional[Sequence[str]] = None) -> ModuleType:
        """Import `name` (re-importing it when auto-reload is on and its file changed).

        `path` (directories inside the allowed roots) replaces the active search path for this lookup; a module
        already imported from elsewhere is then imported again from `path`, as mod_python's `path` argument does."""
        check_module_name(name)
        dirs = self._resolve_dirs(path)
        record = self._records.get(name)
        if record is not None and self._current(name) is record.module:
            if path is not None and not self._in_dirs(record.module, dirs):
                return self._import(name, dirs, log, old=record)
            if autoreload and not record.reloading and self._clock() - record.checked_at >= CHECK_INTERVAL:
                return self._maybe_reload(name, record, log)
            return record.module
        if record is not None and record.reloading:
            return record.module
        return self._import(name, dirs, log, old=None)

    def _current(self, name: str) -> Optional[ModuleType]:
        """The module `name` is bound to in this loader's namespace (sys.modules here)."""
        return sys.modules.get(name)

    def _remember(self, name: str, module: ModuleType, dirs: Sequence[str]) -> None:
        """Record an imported module for auto-reload checks."""
        with self._guard:
            self._records[name] = _Record(module, _mtime_ns(module), self._clock(), tuple(dirs))

    def _resolve_dirs(self, path: Optional[Sequence[str]]) -> tuple[str, ...]:
        if path is None:
            return self.active_path() or self.roots
        dirs = tuple(_real(p) for p in path)
        for directory in dirs:
            # Search directories come from the allowed roots only (the shipped package is no search directory).
            if not any(directory == root or directory.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots):
                raise ImportRefused(f"path entry {directory!r} is not inside the configured paths")
        return dirs

    @staticmethod
    def _in_dirs(module: ModuleType, dirs: Sequence[str]) -> bool:
        filename: Optional[str] = getattr(module, "__file__", None)
        if not filename:
            return False
        real = _real(filename)
        return any(real.startswith(d.rstrip(os.sep) + os.sep) for d in dirs)

    def _maybe_reload(self, name: str, record: _Record, log: Optional[Callable[[str], None]]) -> ModuleType:
        with self._guard:
            if record.reloading or self._clock() - record.checked_at < CHECK_INTERVAL:
                return record.module  # another thread is checking or just checked
            record.checked_at = self._clock()
            if _mtime_ns(record.module) == record.mtime_ns:
                return record.module
            record.reloading = True
        try:
            return self._import(name, record.path, log, old=record)
        finally:
            record.reloading = False

    def _import(self, name: str, dirs: Sequence[str], log: Optional[Callable[[str], None]],
                old: Optional[_Record]) -> ModuleType:
        if log is not None:
            log(f"mod_python: (Re)importing module '{name}'")
        with self.search_path(dirs):
            if old is not None and sys.modules.get(name) is old.module:
                del sys.modules[name]
            try:
                self._require_allowed(name, dirs)
                module = importlib.import_module(name)
            except BaseException:
                if old is not None:
                    sys.modules[name] = old.module
                raise
        if not self._module_allowed(module):  # e.g. a package that rewrote its own __path__
            raise ImportRefused(f"module {name!r} is not inside the configured paths", name=name)
        self._remember(name, module, dirs)
        return module


def resolve_object(module: ModuleType, obj_str: str, arg: Any = None, silent: bool = False) -> Any:
    """mod_python's resolve_object: walk `obj_str` ("a.b.c") from `module`; when the parent of a looked-up
    attribute is a class, instantiate it with `arg` (the request) and take the attribute from the instance.
    Returns None for a missing attribute when `silent`."""
    obj: Any = module
    for part in obj_str.split("."):
        parent = obj
        if silent and not hasattr(obj, part):
            return None
        if obj is module and not hasattr(module, part):
            raise AttributeError(f"module '{getattr(module, '__file__', module.__name__)}' contains no '{part}'")
        obj = getattr(obj, part)
        if inspect.isclass(parent):
            instance = cast(Any, parent)(arg)
            obj = getattr(instance, part)
    return obj


class _ActivePath:
    """`Loader.search_path()`'s context manager: a class, not a generator, since it runs on every request."""

    __slots__ = ("_var", "_dirs", "_token")

    def __init__(self, var: ContextVar[Optional[Tuple[str, ...]]], dirs: Tuple[str, ...]) -> None:
        self._var = var
        self._dirs = dirs

    def __enter__(self) -> Tuple[str, ...]:
        self._token = self._var.set(self._dirs)
        return self._dirs

    def __exit__(self, *exc_info: object) -> None:
        self._var.reset(self._token)
