"""RedisSession: mod_python.Session's data and locks in a Redis server that every daemon of a deployment reaches.

Rule: the same session semantics as FileSession, across hosts. A session is the pickle of its dict under
`<prefix><sid>`, stored with a Redis expiry of the session's timeout, so Redis itself removes what mod_python's
cleanup() sweeps for files. The sid's lock is `<prefix>lock:<sid>`: a random token set only if absent, with an expiry
(redis-py's `Lock`; releasing and renewing compare the token in a Lua script, so a holder never frees another's lock).
While a request holds the lock, one renewer thread per worker process pushes its expiry forward every third of
`lock_timeout`. The lock therefore lives as long as the process holding it, and at most `lock_timeout` seconds after
that process dies (kill -9, the OOM killer, a lost host), which is what the kernel's record lock gives FileSession on
one host, with a bounded delay. A wait for a busy session is bounded by `lock_wait` seconds (mod_python waits
forever); past it the request fails with the reason.

Options (`PythonOption`, read per request; the address falls back to the `FCGI_HANDLERS_REDIS_URL` environment
variable, then to a Redis on this host):
    mod_python.session.session_type        RedisSession
    mod_python.redis_session.address       redis://[:password@]host[:port][/db], rediss://..., unix:///path
    mod_python.redis_session.timeout       connect and read timeout of one Redis command, seconds (default 5)
    mod_python.redis_session.lock_timeout  how long a dead holder's lock outlives it, seconds (default 10)
    mod_python.redis_session.lock_wait     how long a request waits for a busy session, seconds (default 60)
    mod_python.redis_session.key_prefix    prefix of every key (default `mp_sess:`)
    mod_python.redis_session.password_file a file holding Redis's password (else FCGI_HANDLERS_REDIS_PASSWORD_FILE;
                                           a password in the address wins)

Anyone who can write to the Redis can make the daemons unpickle what they like: keep it on a private network,
with a password where others share that network.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from .Session import BaseSession, _option, secret_from_file, unlock_session_cleanup

if TYPE_CHECKING:
    import redis
    from redis.lock import Lock

REDIS_URL_ENV = "FCGI_HANDLERS_REDIS_URL"
PASSWORD_FILE_ENV = "FCGI_HANDLERS_REDIS_PASSWORD_FILE"
DFT_ADDRESS = "redis://127.0.0.1:6379/0"
DFT_TIMEOUT = 5.0
DFT_LOCK_TIMEOUT = 10.0
DFT_LOCK_WAIT = 60.0
DFT_KEY_PREFIX = "mp_sess:"
# How often a waiting request asks again for a busy lock: short against a request's length, long against a round trip.
LOCK_POLL = 0.01

log = logging.getLogger("mod_python.Session")


class SessionStoreError(RuntimeError):
    """The session store cannot be used (no client library, unreachable, a lock never freed); says which and why."""


@dataclass(frozen=True)
class RedisOptions:
    """The RedisSession options of one request."""

    address: str
    timeout: float
    lock_timeout: float
    lock_wait: float
    key_prefix: str
    password: Optional[str] = None

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> RedisOptions:
        def seconds(name: str, default: float) -> float:
            raw = _option(options, f"mod_python.redis_session.{name}")
            try:
                value = float(raw) if raw not in (None, "") else default
            except ValueError:
                raise ValueError(f"PythonOption mod_python.redis_session.{name} {raw!r} is not a number") from None
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"PythonOption mod_python.redis_session.{name} must be more than 0, not {raw!r}")
            return value

        address = str(_option(options, "mod_python.redis_session.address") or os.environ.get(REDIS_URL_ENV)
                      or DFT_ADDRESS)
        if urlsplit(address).scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"mod_python.redis_session.address {redacted(address)!r} is not a redis://, rediss:// "
                             "or unix:// URL")
        password_file = (_option(options, "mod_python.redis_session.password_file")
                         or os.environ.get(PASSWORD_FILE_ENV))
        password = secret_from_file(str(password_file), "Redis password") if password_file else None
        return cls(address=address, password=password, timeout=seconds("timeout", DFT_TIMEOUT),
                   lock_timeout=seconds("lock_timeout", DFT_LOCK_TIMEOUT),
                   lock_wait=seconds("lock_wait", DFT_LOCK_WAIT),
                   key_prefix=str(_option(options, "mod_python.redis_session.key_prefix", default=DFT_KEY_PREFIX)))


def redacted(address: str) -> str:
    """The address without its password, for messages and logs."""
    parts = urlsplit(address)
    if parts.password is None:
        return address
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# --- clients, one per address and timeout per process -----------------------------------------------------------------
_clients: Dict[Tuple[str, Optional[str], float], "redis.Redis"] = {}
_clients_guard = threading.Lock()


def client(opts: RedisOptions) -> redis.Redis:
    """The process's client for this address (redis-py's pool is thread-safe and reconnects after a fork)."""
    key = (opts.address, opts.password, opts.timeout)
    with _clients_guard:
        found = _clients.get(key)
        if found is None:
            try:
                import redis
            except ImportError:
                raise SessionStoreError("RedisSession needs the redis package: pip install 'fcgi-handlers[redis]'") \
                    from None
            found = redis.Redis.from_url(opts.address, password=opts.password, socket_timeout=opts.timeout,
                                         socket_connect_timeout=opts.timeout, health_check_interval=30)
            _clients[key] = found
        return found


# --- held locks and their renewal -------------------------------------------------------------------------------------
@dataclass
class _Held:
    lock: Lock
    interval: float     # a third of the lock's timeout
    thread: int         # the request thread holding it
    due: float          # monotonic time of the next renewal


class _Renewer:
    """The locks this process holds, each renewed every third of its timeout by one background thread.

    A forked worker starts with none: the parent's locks and thread are the parent's.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.held: Dict[str, _Held] = {}
        self.thread: Optional[threading.Thread] = None

    def add(self, key: str, lock: Lock, timeout: float) -> None:
        with self.cond:
            entry = _Held(lock, timeout / 3, threading.get_ident(), time.monotonic() + timeout / 3)
            earliest = min((held.due for held in self.held.values()), default=math.inf)
            self.held[key] = entry
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="redis-session-renewer", daemon=True)
                self.thread.start()
            if entry.due < earliest:   # the thread sleeps until the earliest due time: wake it for a nearer one
                self.cond.notify()

    def remove(self, key: str) -> None:
        with self.cond:
            self.held.pop(key, None)

    def holder(self, key: str) -> Optional[int]:
        with self.cond:
            entry = self.held.get(key)
            return entry.thread if entry else None

    def _run(self) -> None:
        while True:
            with self.cond:
                now = time.monotonic()
                earliest = min((held.due for held in self.held.values()), default=math.inf)
                if earliest > now:
                    self.cond.wait(None if earliest == math.inf else earliest - now)
                    continue
                due = [(key, held) for key, held in self.held.items() if held.due <= now]
                for _, held in due:
                    held.due = now + held.interval
            for key, held in due:
                self._renew(key, held.lock)

    def _renew(self, key: str, lock: Lock) -> None:
        from redis.exceptions import LockError, RedisError

        try:
            lock.reacquire()   # the expiry starts again from now, only if the token is still ours
        except LockError:
            with self.cond:
                entry = self.held.get(key)
                still_held = entry is not None and entry.lock is lock
                if still_held:
                    del self.held[key]
            if still_held:   # not merely released between the snapshot and now
                log.warning("RedisSession: the lock %s expired while its request held it; another request may "
                            "have the session now", key)
        except RedisError as exc:
            log.warning("RedisSession: cannot renew the lock %s (%s); retrying", key, exc)

    def reset_after_fork(self) -> None:
        self.cond = threading.Condition()
        self.held = {}
        self.thread = None


_renewer = _Renewer()
os.register_at_fork(after_in_child=_renewer.reset_after_fork)


# --- the session ------------------------------------------------------------------------------------------------------
class RedisSession(BaseSession):
    """A session stored in Redis under `<key_prefix><sid>`; see the module docstring for the options."""

    def __init__(self, req: Any, sid: Optional[str] = None, secret: Optional[str] = None, timeout: int = 0,
                 lock: int = 1) -> None:
        self._opts = RedisOptions.from_options(req.get_options())
        self._redis = client(self._opts)
        self._redis_lock: Optional[Lock] = None
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _key(self) -> str:
        return f"{self._opts.key_prefix}{self._sid}"

    def _lock_key(self) -> str:
        return f"{self._opts.key_prefix}lock:{self._sid}"

    def _fail(self, doing: str, exc: Exception) -> SessionStoreError:
        return SessionStoreError(f"RedisSession at {redacted(self._opts.address)}: {doing}: {exc}")

    def lock(self) -> None:
        """Take the sid's lock until unlock() or the end of the request, waiting at most `lock_wait` seconds."""
        if not (self._lock and self._sid):
            return
        from redis.exceptions import RedisError

        key = self._lock_key()
        if _renewer.holder(key) == threading.get_ident():
            raise RuntimeError(f"session lock {key} is already held by this thread (reuse the session object)")
        opts = self._opts
        redis_lock = self._redis.lock(key, timeout=opts.lock_timeout, sleep=LOCK_POLL,
                                      blocking_timeout=opts.lock_wait, thread_local=False)
        began = time.monotonic()
        try:
            acquired = redis_lock.acquire()
        except RedisError as exc:
            raise self._fail("taking the session lock", exc) from exc
        if not acquired:
            waited = time.monotonic() - began
            raise SessionStoreError(f"RedisSession: session {self._sid} stayed locked for {waited:.0f} s "
                                    "(mod_python.redis_session.lock_wait); giving up")
        self._redis_lock = redis_lock
        _renewer.add(key, redis_lock, opts.lock_timeout)
        self._locked = True
        self._req.register_cleanup(unlock_session_cleanup, self)

    def unlock(self) -> None:
        if not (self._lock and self._locked and self._sid and self._redis_lock is not None):
            return
        from redis.exceptions import LockError, RedisError

        self._locked = False
        redis_lock, self._redis_lock = self._redis_lock, None
        _renewer.remove(self._lock_key())
        try:
            redis_lock.release()
        except LockError:
            log.warning("RedisSession: the lock of session %s had expired before its release", self._sid)
        except RedisError as exc:
            # The expiry frees it: a stuck lock costs the next request at most lock_timeout.
            log.warning("RedisSession: cannot release the lock of session %s (%s)", self._sid, exc)

    def do_load(self) -> Optional[Dict[str, Any]]:
        from redis.exceptions import RedisError

        try:
            raw = self._redis.get(self._key())
        except RedisError as exc:
            raise self._fail("loading a session", exc) from exc
        if raw is None:
            return None
        try:
            if not isinstance(raw, bytes):   # the client decodes nothing (no decode_responses)
                raise TypeError(f"expected bytes from Redis, got {type(raw).__name__}")
            data: Dict[str, Any] = pickle.loads(raw)
            return data
        except Exception as error:  # noqa: BLE001 - a damaged entry is a lost session, as for files
            self._req.log_error(f"Error while loading a session: {error!r}")
            return None

    def do_save(self, data: Dict[str, Any]) -> None:
        from redis.exceptions import RedisError

        expiry = max(1, math.ceil(data["_timeout"]))   # Redis drops the data when load() would refuse it
        try:
            self._redis.set(self._key(), pickle.dumps(data, pickle.HIGHEST_PROTOCOL), ex=expiry)
        except RedisError as exc:
            raise self._fail("saving a session", exc) from exc

    def do_delete(self) -> None:
        from redis.exceptions import RedisError

        try:
            self._redis.delete(self._key())
        except RedisError as exc:
            raise self._fail("deleting a session", exc) from exc

    def do_cleanup(self) -> None:
        pass  # every session key carries its own expiry: Redis removes expired sessions by itself
