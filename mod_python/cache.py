"""`mod_python.cache`: mod_python 3.5's generic caches, for code that builds on them.

Rule: the same classes and override points as mod_python's module, so subclasses keep working: `Cache[name]` maps a
name to a key (`key()`), asks `check(key, name, entry)` whether the cached value is stale (None when fresh, else an
opened resource) and `build(key, name, opened, entry)` for a new value; `commit()` runs after every change. A
`max_size` bounds the entries, least recently used out first (0: unbounded). Each entry has its own lock, so one
name is built once even when threads ask for it together, while other names go on.

`FileCache` (file contents, rebuilt when the mtime changes), `ModuleCache` (a module run from a file, not put in
`sys.modules`), `HTTPCache` (a URL's entity, revalidated with max-age/Expires and ETag/Last-Modified),
`FunctionCache` (memoised calls) and `WeakCache` (values held weakly) behave as mod_python's.
Inside the daemon, code runs only from its configured paths (`--path`): `ModuleCache` refuses a file elsewhere and
`HttpModuleCache`, which would run code fetched over HTTP, refuses always; both raise `ImportRefused`, whose status is
500, with a message that names the file or URL. The publisher and PSP keep their own cache (`mod_python._pages`).
"""
from __future__ import annotations

import os
import re
import threading
import time
import types
import urllib.error
import urllib.request
import weakref
from collections import OrderedDict
from email.utils import parsedate
from typing import IO, Any, Callable, Dict, Optional, Tuple

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.loader import ImportRefused

__all__ = ["Cache", "Entry", "FileCache", "FunctionCache", "HTTPCache", "HTTPEntity", "HttpModuleCache",
           "ModuleCache", "NOT_INITIALIZED", "WeakCache", "parseRFC822Time"]

NOT_INITIALIZED: Any = object()
"""An entry's value before its first build (or after a weakly held value went away)."""

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)
_NOT_WORD = re.compile(r"\W+")


class Entry:
    """One cached name: its key, value and lock; subclasses keep their metadata on it (e.g. `_timestamp`)."""

    def __init__(self, key: Any) -> None:
        self._key = key
        self._value: Any = NOT_INITIALIZED
        self._lock = threading.Lock()


class Cache:
    """A thread-safe cache of values built on demand (see the module docstring); subclasses define `build`."""

    def __init__(self, max_size: int = 0) -> None:
        self._maxsize = max_size
        self._dict: "OrderedDict[Any, Entry]" = OrderedDict()
        self._lock = threading.Lock()

    def __setitem__(self, name: Any, value: Any) -> None:
        entry = self._get_entry(self.key(name))
        with entry._lock:
            self._pack(entry, value)
            self.commit()

    def __getitem__(self, name: Any) -> Any:
        return self._checkitem(name)[2]

    def __delitem__(self, name: Any) -> None:
        with self._lock:
            del self._dict[self.key(name)]

    def _get_entry(self, key: Any) -> Entry:
        with self._lock:
            entry = self._dict.get(key)
            if entry is None:
                entry = self._dict[key] = Entry(key)
                if self._maxsize:
                    while len(self._dict) > self._maxsize:
                        self._dict.popitem(last=False)
            elif self._maxsize:
                self._dict.move_to_end(key)
            return entry

    def _checkitem(self, name: Any) -> Tuple[bool, Any, Any, Entry]:
        """(is_new, key, value, entry): the value for `name`, built again when missing or stale."""
        key = self.key(name)
        entry = self._get_entry(key)
        with entry._lock:
            value = self._unpack(entry)
            opened = self.check(key, name, entry)
            if value is not NOT_INITIALIZED and opened is None:
                return False, key, value, entry
            value = self.build(key, name, opened, entry)
            self._pack(entry, value)
            self.commit()
            return True, key, value, entry

    def mru(self) -> Any:
        """The most recently used key (None for an unbounded cache, which keeps no order)."""
        with self._lock:
            return next(reversed(self._dict)) if self._maxsize and self._dict else None

    def lru(self) -> Any:
        """The least recently used key (None for an unbounded cache)."""
        with self._lock:
            return next(iter(self._dict)) if self._maxsize and self._dict else None

    def key(self, name: Any) -> Any:
        """The key for the name given to `[]`; the name itself unless overridden."""
        return name

    def commit(self) -> None:
        """Called after each change (override to persist the cache)."""

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._dict.clear()

    def check(self, key: Any, name: Any, entry: Entry) -> Any:
        """None when the entry is fresh, else an opened resource for `build` (override; runs under the entry's lock)."""
        return None

    def build(self, key: Any, name: Any, opened: Any, entry: Entry) -> Any:
        """The value for `name` from `opened` (override; runs under the entry's lock)."""
        raise NotImplementedError()

    def _pack(self, entry: Entry, value: Any) -> None:
        entry._value = value

    def _unpack(self, entry: Entry) -> Any:
        return entry._value


class WeakCache(Cache):
    """Holds weak references: a value leaves the cache once nothing else refers to it."""

    def _pack(self, entry: Entry, value: Any) -> None:
        key = entry._key

        def forget(_: object) -> None:
            with self._lock:
                if self._dict.get(key) is entry:
                    del self._dict[key]
        entry._value = weakref.ref(value, forget)

    def _unpack(self, entry: Entry) -> Any:
        if entry._value is NOT_INITIALIZED:
            return NOT_INITIALIZED
        value = entry._value()
        return NOT_INITIALIZED if value is None else value


class FileCache(Cache):
    """A file's contents by file name, read again when its modification time changes."""

    def __init__(self, max_size: int = 0, mode: str = "rb") -> None:
        super().__init__(max_size)
        self.mode = mode

    def check(self, key: Any, name: Any, entry: Entry) -> Optional[IO[Any]]:
        timestamp = os.stat(key).st_mtime
        if entry._value is not NOT_INITIALIZED and getattr(entry, "_timestamp", None) == timestamp:
            return None
        entry._timestamp = timestamp  # type: ignore[attr-defined]
        return open(key, self.mode)

    def build(self, key: Any, name: Any, opened: Any, entry: Entry) -> Any:
        with opened:
            return opened.read()


def parseRFC822Time(t: str) -> float:  # noqa: N802 - mod_python's name
    """Seconds since the epoch of an RFC 822 date (local time, as mod_python computes it)."""
    parsed = parsedate(t)
    if parsed is None:
        raise ValueError(f"not an RFC 822 date: {t!r}")
    return time.mktime(parsed)


class HTTPEntity:
    """What `HTTPCache` stores: the entity body and the response headers (`metadata`)."""

    def __init__(self, entity: Any, metadata: Dict[str, str]) -> None:
        self.entity = entity
        self.metadata = metadata

    def __repr__(self) -> str:
        return f"HTTPEntity({self.entity!r}, {self.metadata})"

    def __str__(self) -> str:
        return self.entity.decode("latin-1") if isinstance(self.entity, bytes) else str(self.entity)


class HTTPCache(Cache):
    """A URL's entity, fetched again only when Cache-Control max-age / Expires ran out, revalidated with ETag or
    Last-Modified (a 304 keeps the cached entity)."""

    def check(self, key: Any, name: Any, entry: Entry) -> Any:
        if time.time() < getattr(entry, "_expires", 0.0):
            return None
        request = urllib.request.Request(key)
        validator = getattr(entry, "_validator", None)
        if validator is not None:
            request.add_header(*validator)
        try:
            opened = urllib.request.urlopen(request)  # noqa: S310 - the URL is the caller's
        except urllib.error.HTTPError as error:
            if error.code == 304:
                error.close()
                return None
            raise
        headers = opened.info()
        match = _MAX_AGE.search(headers.get("cache-control") or "")
        if match:
            entry._expires = time.time() + int(match.group(1))  # type: ignore[attr-defined]
        elif headers.get("date") and headers.get("expires"):
            try:
                lifetime = parseRFC822Time(headers["expires"]) - parseRFC822Time(headers["date"])
                entry._expires = time.time() + lifetime  # type: ignore[attr-defined]
            except ValueError:
                pass
        if headers.get("etag"):
            entry._validator = ("If-None-Match", headers["etag"])  # type: ignore[attr-defined]
        elif headers.get("last-modified"):
            entry._validator = ("If-Modified-Since", headers["last-modified"])  # type: ignore[attr-defined]
        return opened

    def build(self, key: Any, name: Any, opened: Any, entry: Entry) -> Any:
        with opened:
            return HTTPEntity(opened.read(), dict(opened.info()))


def _refuse_outside_paths(path: str) -> None:
    """ImportRefused unless `path` lies in the daemon's configured paths (no check outside the daemon: tools, tests)."""
    try:
        loader = runtime.state().loader
    except RuntimeError:
        return
    if not loader.is_allowed_file(path):
        raise ImportRefused(f"mod_python.cache.ModuleCache: {path!r} is not inside the daemon's configured paths "
                            "(--path); the daemon runs code only from there")


class ModuleCache(FileCache):
    """A module made by running a Python file, by file name; run again when the file changes; not in sys.modules."""

    def __init__(self, max_size: int = 0) -> None:
        super().__init__(max_size, "rb")

    def check(self, key: Any, name: Any, entry: Entry) -> Optional[IO[Any]]:
        _refuse_outside_paths(str(key))
        return super().check(key, name, entry)

    def build(self, key: Any, name: Any, opened: Any, entry: Entry) -> Any:
        with opened:
            source = opened.read()
        module = types.ModuleType(_NOT_WORD.sub("_", str(key)))
        module.__file__ = str(key)
        exec(compile(source, str(key), "exec"), module.__dict__)  # noqa: S102 - the file is inside --path
        return module


class HttpModuleCache(HTTPCache):
    """mod_python's module-from-a-URL cache. Refused in the daemon: it would run code fetched over HTTP, and the
    daemon runs code only from its configured paths."""

    def check(self, key: Any, name: Any, entry: Entry) -> Any:
        raise ImportRefused(f"mod_python.cache.HttpModuleCache: refusing to run code fetched from {key!r}; the "
                            "daemon runs code only from its configured paths (--path)")

    def build(self, key: Any, name: Any, opened: Any, entry: Entry) -> Any:
        raise ImportRefused(f"mod_python.cache.HttpModuleCache: refusing to run code fetched from {key!r}")


class FunctionCache(Cache):
    """`function`'s results by arguments: `cache(*args, **kw)` calls it once per distinct (hashable) arguments."""

    def __init__(self, function: Callable[..., Any], max_size: int = 0) -> None:
        super().__init__(max_size)
        self.function = function

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self[args, tuple(kw.items())]

    def build(self, key: Any, name: Any, opened: Any, entry: Entry) -> Any:
        args, kw = key
        return self.function(*args, **dict(kw))
