"""Locks for mod_python.Session that hold across the daemon's worker processes and their threads.

Rule: a lock is one byte ("slot") of a lock file, taken with `fcntl.lockf` after a per-process threading lock for the
same (file, slot). POSIX record locks belong to a process, so the threading lock is what keeps two threads of one
worker apart; the record lock keeps workers apart and is dropped by the kernel when a worker dies, so no lock goes
stale. A lock file is opened once per process and never closed, because closing any descriptor of a file releases
every lock the process holds on it. Slots: 0 guards a dbm file, 1 the FileSession cleanup, and each sid has
2 + its first 60 bits, so two sids practically never share a byte (if they do, they only wait for each other).
A thread asking again for a slot it holds gets RuntimeError (mod_python deadlocks there); `path=None` gives a
threading-only lock (MemorySession, whose data is per process anyway).
Also here: the ownership check of session storage, because pickles found there are loaded.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from typing import Dict, Optional, Tuple

DBM_SLOT, CLEANUP_SLOT, FIRST_SID_SLOT = 0, 1, 2


class _SlotLock:
    """A per-process threading lock for one (file, slot), shared by the threads that want it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.owner: Optional[int] = None


_guard = threading.Lock()
_slots: Dict[Tuple[str, int], _SlotLock] = {}
_lock_files: Dict[str, int] = {}


def _after_fork() -> None:
    # A child starts with no lock held; threading locks copied from the parent's other threads would never open.
    global _guard
    _guard = threading.Lock()
    _slots.clear()


os.register_at_fork(after_in_child=_after_fork)


def _lock_fd(path: str) -> int:
    fd = _lock_files.get(path)
    if fd is None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        _lock_files[path] = fd
    return fd


def _drop_user(key: Tuple[str, int], entry: _SlotLock) -> None:
    with _guard:
        entry.users -= 1
        if entry.users == 0 and _slots.get(key) is entry:
            del _slots[key]


def acquire_slot(path: Optional[str], slot: int, blocking: bool = True) -> bool:
    """Take slot `slot` of lock file `path` (threads only when `path` is None); False if busy and not blocking."""
    key = (path or "", slot)
    with _guard:
        entry = _slots.setdefault(key, _SlotLock())
        entry.users += 1
    if entry.owner == threading.get_ident():
        _drop_user(key, entry)
        if not blocking:
            return False
        raise RuntimeError(f"session lock {key} is already held by this thread (reuse the session object)")
    if not entry.lock.acquire(blocking):
        _drop_user(key, entry)
        return False
    try:
        if path is not None:
            fcntl.lockf(_lock_fd(path), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB), 1, slot)
    except OSError as error:
        entry.lock.release()
        _drop_user(key, entry)
        if not blocking and error.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    entry.owner = threading.get_ident()
    return True


def release_slot(path: Optional[str], slot: int) -> None:
    """Give back a slot taken with acquire_slot."""
    key = (path or "", slot)
    with _guard:
        entry = _slots[key]
    try:
        if path is not None:
            fcntl.lockf(_lock_fd(path), fcntl.LOCK_UN, 1, slot)
    finally:
        entry.owner = None
        entry.lock.release()
        _drop_user(key, entry)


def sid_slot(sid: str) -> int:
    """The lock file byte of a sid: its first 60 bits, so two sids practically never share one."""
    return FIRST_SID_SLOT + int(sid[:15], 16)


def private_dir(path: str) -> str:
    """Create `path` (0700) if needed; refuse it unless it is a real directory of this user."""
    os.makedirs(path, 0o700, exist_ok=True)
    check_owner(path)
    return path


def check_owner(path: str) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"session storage {path} is a link or owned by another user; refusing to use it")
