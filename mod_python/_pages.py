"""Files the helpers run by path (publisher pages, PSP pages, CGI scripts): where they may come from, and a cache that
rebuilds what was made from a file when the file changes.

Rule: a page is Python code, so it obeys the loader's rule for handler modules: its real path must lie inside the
daemon's allowed directories (`--path`), asked of `runtime.state().loader.is_allowed_file`, and anything else is
refused with 403 and a log line before the file is opened. The daemon only knows a file when Apache mapped the URL
to one (SetHandler in `<Directory>`, where `req.filename` is set); behind ProxyPass there is no file, and a helper
that needs one fails with 500 and a log line that says how to route it.

`FileCache` keeps what a builder made from a file (a page module, compiled PSP code) with the stat stamp of every file
it read, and rebuilds when any stamp changed, as mod_python's `cache.ModuleCache` does with the page's mtime (it
ignored included files). The stamp is taken from the open file before reading, so a file changed while it is read is
rebuilt on the next request instead of being cached stale. One lock per path makes concurrent first requests build
once; readers of a fresh entry take only a short global lock.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Mapping, Optional, Tuple, TypeVar

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.request.exceptions import SERVER_RETURN
from mod_python import apache

T = TypeVar("T")
Stamp = Tuple[int, int]  # (st_mtime_ns, st_size)
Build = Callable[[str, bool], Tuple[T, Mapping[str, Stamp]]]


def config_flag(req: Any, name: str, default: bool) -> bool:
    """A Python* flag from req.get_config() ("1"/"0", mod_python's spelling)."""
    value = req.get_config().get(name)
    return default if value is None else value == "1"


def request_file(req: Any, helper: str) -> str:
    """req.filename, or 500 with a log line when Apache routed the request without mapping it to a file."""
    filename: Optional[str] = req.filename
    if not filename:
        req.log_error(f"{helper}: the request has no file (req.filename is None): route it with SetHandler "
                      f"\"proxy:fcgi://...\" inside a <Directory> (or an Alias to one), not with ProxyPass",
                      apache.APLOG_ERR)
        raise SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR)
    return filename


def ensure_allowed(req: Any, path: str, helper: str) -> None:
    """403 with a log line unless `path` lies inside the daemon's allowed directories."""
    if not runtime.state().loader.is_allowed_file(path):
        req.log_error(f"{helper}: refusing {path}: it is not inside the daemon's configured paths (--path)",
                      apache.APLOG_WARNING)
        raise SERVER_RETURN(apache.HTTP_FORBIDDEN)


def is_allowed(path: str) -> bool:
    """True when `path` lies inside the daemon's allowed directories (no request needed)."""
    return runtime.state().loader.is_allowed_file(path)


def file_stamp(path: str) -> Optional[Stamp]:
    """The file's (mtime_ns, size), or None when it cannot be stat'ed."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def read_file(path: str) -> Tuple[bytes, Stamp]:
    """The file's bytes with the stamp it had when opened."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        return handle.read(), (info.st_mtime_ns, info.st_size)


@dataclass
class _Entry(Generic[T]):
    value: T
    stamps: Dict[str, Stamp]


class FileCache(Generic[T]):
    """Values built from files, rebuilt when one of the files they were built from changed (see module docstring).

    `max_entries` bounds the cache (least recently used out first); None keeps every entry, as the publisher's
    page cache must: dropping a page would re-run its module code and lose its module-level state.
    """

    def __init__(self, max_entries: Optional[int] = None) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._locks: Dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, path: str, build: Build[T], *, check: bool = True) -> T:
        """The value for `path`: cached if fresh (or `check` is False and one exists), else `build(path, reloading)`."""
        with self._guard:
            entry = self._entries.get(path)
            lock = self._locks.setdefault(path, threading.Lock())
        if entry is not None and (not check or self._fresh(entry)):
            return self._touch(path, entry)
        with lock:
            with self._guard:
                entry = self._entries.get(path)
            if entry is not None and (not check or self._fresh(entry)):
                return self._touch(path, entry)
            value, stamps = build(path, entry is not None)
            self._store(path, _Entry(value, dict(stamps)))
            return value

    def clear(self) -> None:
        """Forget every entry."""
        with self._guard:
            self._entries.clear()
            self._locks.clear()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _fresh(entry: _Entry[T]) -> bool:
        return all(file_stamp(path) == stamp for path, stamp in entry.stamps.items())

    def _touch(self, path: str, entry: _Entry[T]) -> T:
        with self._guard:
            if path in self._entries:
                self._entries.move_to_end(path)
        return entry.value

    def _store(self, path: str, entry: _Entry[T]) -> None:
        with self._guard:
            self._entries[path] = entry
            self._entries.move_to_end(path)
            while self.max_entries is not None and len(self._entries) > self.max_entries:
                old, _ = self._entries.popitem(last=False)
                self._locks.pop(old, None)
