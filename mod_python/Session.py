"""`mod_python.Session`: server-side sessions keyed by the `pysid` cookie, stored in files, a dbm file or memory.

Rule: mod_python 3.5's API and behaviour (`reference/mod_python-behaviour.md` §4): `Session(req, sid, secret, timeout,
lock)` picks the class from `PythonOption mod_python.session.session_type`; a session from a cookie that is unknown,
expired or not 32 hex digits is silently replaced by a new one with a new `Set-Cookie`; data lives until `timeout`
(30 minutes by default) after the last `save()`; one cleanup in about 1000 instantiations removes expired data.
While `lock` is true, a session object holds its sid's lock from creation until `unlock()` or the end of the request
(`req.register_cleanup`), so only one live object per sid exists at a time.

The daemon runs requests in threads of several worker processes, so the sid lock is a record lock of a lock file
beside the data plus a threading lock (`_session_locks.py`); taking a sid the same thread holds raises RuntimeError.

Intended differences from mod_python:
- The default class is FileSession (mod_python picks DbmSession or MemorySession from the MPM): the daemon's workers
  are separate processes, and MemorySession keeps its sessions inside one process only.
- The data directory is the `database_directory` option, else the `FCGI_HANDLERS_SESSION_DIR` environment variable
  (a volume shared by all containers when the daemon is scaled out), else the temp dir: FileSession keeps
  `<dir>/mp_sess/<2 hex>/<sid>`, DbmSession `<dir>/mp_sess.dbm`. Directories are created 0700 and refused when owned
  by another user (their pickles would be loaded); files are written to a temporary name and renamed into place.
- New sids come from `secrets` (mod_python hashes time, pid and `random`); `Session(secret=...)` works (its
  SignedCookie crashes on Python 3); FileSession's verifying cleanup reads pickles in binary mode (mod_python's text
  mode makes it fail on every file) and skips sessions that are locked.
- Two additions, for deployments over several hosts: `RedisSession` (`_session_redis.py`, needs the `redis`
  package, imported only when chosen) keeps sessions and their locks in a Redis every daemon reaches; and when the
  handler passes no secret, `PythonOption mod_python.session.secret_file` (else `FCGI_HANDLERS_SESSION_SECRET_FILE`)
  names a file whose content signs the session cookie, so an orchestrator's secret reaches unchanged handler code.
"""

from __future__ import annotations

import dbm as dbm_module
import importlib
import os
import pickle
import random
import re
import secrets
import tempfile
import threading
import time
from typing import Any, Dict, Optional, Tuple

from fcgi_handlers.request.constants import APLOG_NOTICE

from . import Cookie
from ._session_locks import CLEANUP_SLOT, DBM_SLOT, acquire_slot, check_owner, private_dir, release_slot, sid_slot

COOKIE_NAME = "pysid"
DFT_TIMEOUT = 30 * 60
DFT_LOCK = True
CLEANUP_CHANCE = 1000  # one cleanup in CLEANUP_CHANCE instantiations, as mod_python
DFT_FAST_CLEANUP = True
DFT_VERIFY_CLEANUP = True
DFT_GRACE_PERIOD = 240
DFT_CLEANUP_TIME_LIMIT = 2
FS_STAT_VERSION = "MPFS_3.2"
SESSION_DIR_ENV = "FCGI_HANDLERS_SESSION_DIR"
# A file holding the key that signs session cookies when the handler passes no secret (a Docker/Kubernetes secret).
SECRET_FILE_ENV = "FCGI_HANDLERS_SESSION_SECRET_FILE"
_secrets: Dict[str, Tuple[int, str]] = {}
tempdir = tempfile.gettempdir()
validate_sid_re = re.compile(r"[0-9a-f]{32}")

# --- options, ids and directories ---------------------------------------------------------------------------------
def _option(options: Any, *names: str, default: Any = None) -> Any:
    # mod_python reads the 3.3+ name first, then the pre-3.3 alias.
    for name in names:
        if name in options:
            return options[name]
    return default


def true_or_false(item: Any) -> bool:
    """A PythonOption flag: yes/true/1 or no/false/0 (any case)."""
    value = item.lower() if isinstance(item, str) else item
    if value in ("yes", "true", "1", 1, True):
        return True
    if value in ("no", "false", "0", 0, None, False):
        return False
    raise ValueError(f"not a true or false value: {item!r}")


def session_directory(options: Any, specific: str) -> str:
    """Where session data lives: the class's own option, the common one, the pre-3.3 alias, the environment, tmp."""
    found = _option(options, specific, "mod_python.session.database_directory", "session_directory")
    return str(found or os.environ.get(SESSION_DIR_ENV) or tempdir)


def configured_secret(options: Any) -> Optional[str]:
    """The signing key named by `mod_python.session.secret_file` or FCGI_HANDLERS_SESSION_SECRET_FILE, if any."""
    path = _option(options, "mod_python.session.secret_file") or os.environ.get(SECRET_FILE_ENV)
    return secret_from_file(str(path), "session secret") if path else None


def secret_from_file(path: str, what: str) -> str:
    """The content of a secret file without its surrounding whitespace, read again only when the file changes."""
    try:
        mtime = os.stat(path).st_mtime_ns
        cached = _secrets.get(path)
        if cached is None or cached[0] != mtime:
            with open(path, encoding="utf-8") as handle:
                cached = _secrets[path] = (mtime, handle.read().strip())
    except OSError as error:
        raise RuntimeError(f"{what} file {path}: {error.strerror or error}") from None
    if not cached[1]:
        raise RuntimeError(f"{what} file {path} is empty")
    return cached[1]


def _new_sid(req: Any) -> str:
    return secrets.token_hex(16)


def _check_sid(sid: Any) -> bool:
    return isinstance(sid, str) and validate_sid_re.fullmatch(sid) is not None


# --- the session ----------------------------------------------------------------------------------------------------
class BaseSession(Dict[str, Any]):
    """A dict saved under a sid; subclasses store it (do_load, do_save, do_delete, do_cleanup)."""

    def __init__(self, req: Any, sid: Optional[str] = None, secret: Optional[str] = None, lock: int = 1,
                 timeout: int = 0) -> None:
        super().__init__()
        secret = secret or configured_secret(req.get_options())
        self._req, self._sid, self._secret, self._lock = req, sid or None, secret, lock
        self._new, self._created, self._accessed, self._timeout = True, 0.0, 0.0, 0
        self._locked = self._invalid = False
        if not self._sid:
            cookie = self._read_cookie()
            if cookie is not None:
                self._sid = cookie.value
        if self._sid and not _check_sid(self._sid):
            if sid:
                raise ValueError(f"Invalid Session ID: sid={sid}")
            self._sid = None  # a forged or damaged cookie: start a new session
        self.init_lock()
        if self._sid:
            self.lock()
            if self.load():
                self._new = False
        if self._new:
            if self._sid:
                self.unlock()
            self._sid = _new_sid(req)
            self.lock()
            Cookie.add_cookie(req, self.make_cookie())
            self._created = time.time()
            self._timeout = timeout or DFT_TIMEOUT
        self._accessed = time.time()
        if random.randint(1, CLEANUP_CHANCE) == 1:
            self.cleanup()

    def _cookie_name(self) -> str:
        options = self._req.get_options()
        return str(_option(options, "mod_python.session.cookie_name", "session_cookie_name", default=COOKIE_NAME))

    def _read_cookie(self) -> Optional[Cookie.Cookie]:
        name = self._cookie_name()
        if self._secret:
            return Cookie.get_cookie(self._req, name, Class=Cookie.SignedCookie, secret=self._secret,
                                     mismatch=Cookie.Cookie.IGNORE)
        return Cookie.get_cookie(self._req, name)

    def make_cookie(self) -> Cookie.Cookie:
        """The session cookie: path from the options, else the handler's directory under DocumentRoot, else `/`."""
        options = self._req.get_options()
        name = self._cookie_name()
        cookie = (Cookie.SignedCookie(name, self._sid, secret=self._secret) if self._secret
                  else Cookie.Cookie(name, self._sid))
        if "mod_python.session.application_domain" in options:
            cookie.domain = options["mod_python.session.application_domain"]
        path = _option(options, "mod_python.session.application_path", "ApplicationPath")
        if path is None:
            path = "/"
            directory = getattr(getattr(self._req, "hlist", None), "directory", None)
            docroot = (self._req.document_root() or "").rstrip("/")
            if directory and docroot and directory.startswith(docroot + "/"):
                relative = directory[len(docroot):]
                if (self._req.uri or "").startswith(relative):
                    path = relative
        cookie.path = path
        return cookie

    def invalidate(self) -> None:
        """Expire the cookie in the browser and delete the stored session."""
        cookie = self.make_cookie()
        cookie.expires = 0
        Cookie.add_cookie(self._req, cookie)
        self.delete()
        self._invalid = True

    def load(self) -> bool:
        """Fill from storage; False when there is nothing stored or it has expired."""
        data = self.do_load()
        if data is None or time.time() - data["_accessed"] > data["_timeout"]:
            return False
        self._created, self._accessed, self._timeout = data["_created"], data["_accessed"], data["_timeout"]
        self.update(data["_data"])
        return True

    def save(self) -> None:
        """Store the data (a session that is never saved is gone after the request)."""
        if not self._invalid:
            self.do_save({"_data": dict(self), "_created": self._created, "_accessed": self._accessed,
                          "_timeout": self._timeout})

    def delete(self) -> None:
        self.do_delete()
        self.clear()

    def _lock_path(self) -> Optional[str]:
        return None  # MemorySession: the data is per process, so the lock is too

    def init_lock(self) -> None:
        pass

    def lock(self) -> None:
        """Take the sid's lock (when locking is on) until unlock() or the end of the request."""
        if self._lock and self._sid:
            acquire_slot(self._lock_path(), sid_slot(self._sid))
            self._locked = True
            self._req.register_cleanup(unlock_session_cleanup, self)

    def unlock(self) -> None:
        if self._lock and self._locked and self._sid:
            self._locked = False
            release_slot(self._lock_path(), sid_slot(self._sid))

    def is_new(self) -> bool:
        return self._new

    def id(self) -> Optional[str]:
        return self._sid

    def created(self) -> float:
        return self._created

    def last_accessed(self) -> float:
        return self._accessed

    def timeout(self) -> int:
        return self._timeout

    def set_timeout(self, secs: int) -> None:
        self._timeout = secs

    def cleanup(self) -> None:
        self.do_cleanup()

    def do_load(self) -> Optional[Dict[str, Any]]:
        raise NotImplementedError

    def do_save(self, data: Dict[str, Any]) -> None:
        raise NotImplementedError

    def do_delete(self) -> None:
        raise NotImplementedError

    def do_cleanup(self) -> None:
        raise NotImplementedError

    def __del__(self) -> None:
        try:
            self.unlock()
        except Exception:  # noqa: BLE001 - interpreter shutdown or a lock file gone: nothing left to release
            pass


def unlock_session_cleanup(sess: BaseSession) -> None:
    sess.unlock()


# --- storage in files -----------------------------------------------------------------------------------------------
class FileSession(BaseSession):
    """One pickle file per session under `<dir>/mp_sess/<first 2 hex of sid>/`."""

    def __init__(self, req: Any, sid: Optional[str] = None, secret: Optional[str] = None, timeout: int = 0,
                 lock: int = 1, fast_cleanup: Any = -1, verify_cleanup: Any = -1) -> None:
        opts = req.get_options()
        if fast_cleanup == -1:
            fast_cleanup = _option(opts, "mod_python.file_session.enable_fast_cleanup", "session_fast_cleanup",
                                   default=DFT_FAST_CLEANUP)
        if verify_cleanup == -1:
            verify_cleanup = _option(opts, "mod_python.file_session.verify_session_timeout", "session_verify_cleanup",
                                     default=DFT_VERIFY_CLEANUP)
        self._fast_cleanup, self._verify_cleanup = true_or_false(fast_cleanup), true_or_false(verify_cleanup)
        self._grace_period = int(_option(opts, "mod_python.file_session.cleanup_grace_period", "session_grace_period",
                                         default=DFT_GRACE_PERIOD))
        self._cleanup_time_limit = int(_option(opts, "mod_python.file_session.cleanup_time_limit",
                                               "session_cleanup_time_limit", default=DFT_CLEANUP_TIME_LIMIT))
        directory = session_directory(opts, "mod_python.file_session.database_directory")
        self._sessdir = private_dir(os.path.join(directory, "mp_sess"))
        self._cleanup_timeout = timeout or DFT_TIMEOUT
        self._file_locked = False
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _lock_path(self) -> Optional[str]:
        return file_lock_path(self._sessdir)

    def _filename(self) -> str:
        sid = str(self._sid)  # storage calls happen after the sid was chosen
        return os.path.join(self._sessdir, sid[:2], sid)

    def lock_file(self) -> None:
        """Hold the sid's lock for one storage operation when the session itself is not locked (lock=0)."""
        if not self._locked and self._sid:
            acquire_slot(self._lock_path(), sid_slot(self._sid))
            self._file_locked = True

    def unlock_file(self) -> None:
        if self._file_locked and self._sid:
            self._file_locked = False
            release_slot(self._lock_path(), sid_slot(self._sid))

    def do_load(self) -> Optional[Dict[str, Any]]:
        self.lock_file()
        try:
            filename = self._filename()
            with open(filename, "rb") as handle:
                data: Dict[str, Any] = pickle.load(handle)
            if time.time() - data["_accessed"] <= data["_timeout"]:
                os.utime(filename)  # fast cleanup goes by mtime
            return data
        except FileNotFoundError:
            return None
        except Exception as error:  # noqa: BLE001 - a damaged file is a lost session, as in mod_python
            self._req.log_error(f"Error while loading a session: {error!r}")
            return None
        finally:
            self.unlock_file()

    def do_save(self, data: Dict[str, Any]) -> None:
        self.lock_file()
        try:
            filename = self._filename()
            private_dir(os.path.dirname(filename))
            temporary = f"{filename}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
                pickle.dump(data, handle, pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, filename)  # readers see the old file or the new one, never half of one
        finally:
            self.unlock_file()

    def do_delete(self) -> None:
        self.lock_file()
        try:
            os.unlink(self._filename())
        except FileNotFoundError:
            pass
        finally:
            self.unlock_file()

    def do_cleanup(self) -> None:
        data = {"req": self._req, "sessdir": self._sessdir, "fast_cleanup": self._fast_cleanup,
                "verify_cleanup": self._verify_cleanup, "timeout": self._cleanup_timeout,
                "grace_period": self._grace_period, "cleanup_time_limit": self._cleanup_time_limit}
        self._req.register_cleanup(filesession_cleanup, data)
        self._req.log_error("FileSession: registered filesession cleanup.", APLOG_NOTICE)


def file_lock_path(sessdir: str) -> str:
    """The lock file of a FileSession directory."""
    return os.path.join(sessdir, ".mp_sess.lock")


def make_filesession_dirs(sess_dir: str) -> None:
    """Create the 256 subdirectories (FileSession also creates each one when it first saves into it)."""
    for index in range(256):
        private_dir(os.path.join(sess_dir, f"{index:02x}"))


def filesession_cleanup(data: Dict[str, Any]) -> None:
    """Delete expired session files, resuming where the last run stopped; one process at a time."""
    req, sessdir = data["req"], data["sessdir"]
    req.log_error(f"FileSession cleanup: (fast={data['fast_cleanup']}, verify={data['verify_cleanup']}) ...",
                  APLOG_NOTICE)
    if not acquire_slot(file_lock_path(sessdir), CLEANUP_SLOT, blocking=False):
        req.log_error("FileSession cleanup: another process is already running", APLOG_NOTICE)
        return
    try:
        _cleanup_directories(req, sessdir, data)
    finally:
        release_slot(file_lock_path(sessdir), CLEANUP_SLOT)


def _read_status(path: str) -> Tuple[int, int, int, float]:
    try:
        with open(path) as handle:
            version, next_i, expired, total, spent = handle.readline().split()
        if version == FS_STAT_VERSION:
            return int(next_i) % 256, int(expired), int(total), float(spent)
    except (OSError, ValueError):
        pass
    return 0, 0, 0, 0.0


def _cleanup_directories(req: Any, sessdir: str, data: Dict[str, Any]) -> None:
    status_path = os.path.join(sessdir, "fs_status.txt")
    next_i, expired, total, spent = _read_status(status_path)
    start = time.time()
    for index in range(next_i, 256):
        path = os.path.join(sessdir, f"{index:02x}")
        names = os.listdir(path) if os.path.isdir(path) else []
        total += len(names)
        expired += sum(_expire_file(req, sessdir, os.path.join(path, name), data) for name in names)
        next_i = (index + 1) % 256
        if 0 < data["cleanup_time_limit"] < time.time() - start:
            break
    spent += time.time() - start
    if next_i == 0:
        req.log_error(f"FileSession cleanup: deleted {expired} of {total} in {spent:.4f} seconds", APLOG_NOTICE)
        expired, total, spent = 0, 0, 0.0
    else:
        req.log_error(f"FileSession cleanup incomplete: next cleanup will start at index {next_i} ({next_i:02x})",
                      APLOG_NOTICE)
    with open(status_path, "w") as handle:
        handle.write(f"{FS_STAT_VERSION} {next_i} {expired} {total} {spent:f}\n")


def _expire_file(req: Any, sessdir: str, filename: str, data: Dict[str, Any]) -> bool:
    """Delete one file if it expired more than the grace period ago; True if deleted."""
    sid = os.path.basename(filename)
    lock_path = file_lock_path(sessdir)
    if _check_sid(sid) and not acquire_slot(lock_path, sid_slot(sid), blocking=False):
        return False  # in use right now, so not expired
    try:
        grace, now, is_session = data["grace_period"], time.time(), _check_sid(sid)
        fast = data["fast_cleanup"] or not is_session  # a stray temporary file goes by its mtime
        if fast and now - os.stat(filename).st_mtime < data["timeout"] + grace:
            return False
        if is_session and (not fast or data["verify_cleanup"]):
            with open(filename, "rb") as handle:
                stored = pickle.load(handle)
            if now - stored["_accessed"] <= stored["_timeout"] + grace:
                return False
        os.unlink(filename)
        return True
    except Exception as error:  # noqa: BLE001 - one bad file must not stop the sweep
        req.log_error(f"FileSession cleanup error: {error!r}", APLOG_NOTICE)
        return False
    finally:
        if _check_sid(sid):
            release_slot(lock_path, sid_slot(sid))


# --- storage in a dbm file ------------------------------------------------------------------------------------------
class DbmSession(BaseSession):
    """All sessions in one dbm file, each access under the file's lock (slot 0)."""

    def __init__(self, req: Any, dbm: Optional[str] = None, sid: Optional[str] = None, secret: Optional[str] = None,
                 dbmtype: Any = dbm_module, timeout: int = 0, lock: int = 1) -> None:
        if not dbm:
            opts = req.get_options()
            dbm = _option(opts, "mod_python.dbm_session.database_filename", "session_dbm")
            if not dbm:
                directory = session_directory(opts, "mod_python.dbm_session.database_directory")
                dbm = os.path.join(directory, "mp_sess.dbm")
        self._dbmfile, self._dbmtype = str(dbm), dbmtype
        os.makedirs(os.path.dirname(self._dbmfile) or ".", 0o700, exist_ok=True)
        for suffix in ("", ".db", ".dat", ".dir"):
            if os.path.lexists(self._dbmfile + suffix):
                check_owner(self._dbmfile + suffix)
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _lock_path(self) -> Optional[str]:
        return self._dbmfile + ".lock"

    def _locked_dbm(self, action: Any) -> Any:
        path = self._lock_path()
        acquire_slot(path, DBM_SLOT)
        try:
            db = self._dbmtype.open(self._dbmfile, "c", 0o600)
            try:
                return action(db)
            finally:
                db.close()
        finally:
            release_slot(path, DBM_SLOT)

    def do_load(self) -> Optional[Dict[str, Any]]:
        key = str(self._sid).encode()
        found = self._locked_dbm(lambda db: db[key] if key in db else None)
        return pickle.loads(found) if found is not None else None

    def do_save(self, data: Dict[str, Any]) -> None:
        key, value = str(self._sid).encode(), pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
        self._locked_dbm(lambda db: db.__setitem__(key, value))

    def do_delete(self) -> None:
        key = str(self._sid).encode()
        self._locked_dbm(lambda db: db.__delitem__(key) if key in db else None)

    def do_cleanup(self) -> None:
        self._req.register_cleanup(dbm_cleanup, (self._dbmfile, self._dbmtype))
        self._req.log_error("DbmSession: registered database cleanup.", APLOG_NOTICE)


def dbm_cleanup(data: Tuple[str, Any]) -> None:
    """Delete the expired (or unreadable) sessions of a dbm file."""
    filename, dbmtype = data
    path = filename + ".lock"
    acquire_slot(path, DBM_SLOT)
    try:
        db = dbmtype.open(filename, "c", 0o600)
        try:
            now = time.time()
            for key in list(db.keys()):
                try:
                    stored = pickle.loads(db[key])
                    expired = now - stored["_accessed"] > stored["_timeout"]
                except Exception:  # noqa: BLE001 - an unreadable entry can never be loaded again
                    expired = True
                if expired:
                    del db[key]
        finally:
            db.close()
    finally:
        release_slot(path, DBM_SLOT)


# --- storage in memory ----------------------------------------------------------------------------------------------
def mem_cleanup(sdict: Dict[str, Dict[str, Any]]) -> None:
    now = time.time()
    for sid, stored in list(sdict.items()):
        if now - stored["_accessed"] > stored["_timeout"]:
            sdict.pop(sid, None)


class MemorySession(BaseSession):
    """Sessions in a dict of this worker process: another worker does not see them (use FileSession)."""

    sdict: Dict[str, Dict[str, Any]] = {}

    def __init__(self, req: Any, sid: Optional[str] = None, secret: Optional[str] = None, timeout: int = 0,
                 lock: int = 1) -> None:
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def do_load(self) -> Optional[Dict[str, Any]]:
        return MemorySession.sdict.get(str(self._sid))

    def do_save(self, data: Dict[str, Any]) -> None:
        MemorySession.sdict[str(self._sid)] = data

    def do_delete(self) -> None:
        MemorySession.sdict.pop(str(self._sid), None)

    def do_cleanup(self) -> None:
        self._req.register_cleanup(mem_cleanup, MemorySession.sdict)
        self._req.log_error("MemorySession: registered session cleanup.", APLOG_NOTICE)


SESSION_TYPES = {"FileSession": FileSession, "DbmSession": DbmSession, "MemorySession": MemorySession}
# Classes whose module needs an optional dependency: imported when first chosen.
LAZY_SESSION_TYPES = {"RedisSession": "._session_redis"}


def __getattr__(name: str) -> Any:
    """`Session.RedisSession`, imported on first use (it needs the optional redis package)."""
    if name in LAZY_SESSION_TYPES:
        module = importlib.import_module(LAZY_SESSION_TYPES[name], __package__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def Session(req: Any, sid: Optional[str] = None, secret: Optional[str] = None, timeout: int = 0,  # noqa: N802
            lock: int = 1) -> BaseSession:
    """The session of this request, of the class named by `mod_python.session.session_type` (default FileSession)."""
    name = _option(req.get_options(), "mod_python.session.session_type", "session", default="FileSession")
    if name in LAZY_SESSION_TYPES:
        cls: Any = __getattr__(name)
    elif name in SESSION_TYPES:
        cls = SESSION_TYPES[name]
    else:
        raise ValueError(f"Unknown session type {name}")
    session: BaseSession = cls(req, sid=sid, secret=secret, timeout=timeout, lock=lock)
    return session
