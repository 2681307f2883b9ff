"""mod_python.Session in one process (no daemon): the pysid cookie rules, sid validation, load/save/expiry, invalidate,
the session classes and options (with the pre-3.3 aliases), the storage directory rules and the cleanups."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Iterator, Mapping, Optional

import pytest
from util_session_support import base_params, make_request, run_cleanups

from fcgi_handlers.dispatch.dispatcher import HandlerEntry
from fcgi_handlers.request import Request
from mod_python import Session
from mod_python._session_locks import CLEANUP_SLOT, acquire_slot, release_slot, sid_slot

SID_COOKIE = re.compile(r"pysid=([0-9a-f]{32}); path=(\S+)$")


class Clock:
    """Stands in for the `time` module inside Session, so expiry can be tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def session_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(Session.SESSION_DIR_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(Session, "time", fake)
    return fake


def request(cookie: Optional[str] = None, options: Optional[Mapping[str, str]] = None,
            uri: str = "/app/page") -> Request:
    params = base_params("GET", uri=uri)
    if cookie is not None:
        params["HTTP_COOKIE"] = cookie
    return make_request(params, options=options)


def set_cookies(req: Request) -> list[str]:
    return [value for name, value in req.headers_out.items() if name == "Set-Cookie"]


@pytest.fixture
def first(session_dir: Path) -> Iterator[Session.FileSession]:
    """A saved FileSession holding {"n": 1}, its request ended."""
    req = request()
    sess = Session.Session(req)
    assert isinstance(sess, Session.FileSession)
    sess["n"] = 1
    sess.save()
    run_cleanups(req)
    yield sess


# --- cookie and sid --------------------------------------------------------------------------------------------------
def test_new_session_sets_the_cookie(session_dir: Path) -> None:
    req = request()
    sess = Session.Session(req)
    assert sess.is_new() and isinstance(sess, Session.FileSession)
    (cookie,) = set_cookies(req)
    match = SID_COOKIE.match(cookie)
    assert match is not None and match.group(1) == sess.id() and match.group(2) == "/"
    assert req.headers_out["Cache-Control"] == 'no-cache="set-cookie"'
    assert sess.timeout() == Session.DFT_TIMEOUT and sess.created() <= sess.last_accessed()
    run_cleanups(req)


def test_saved_session_comes_back_from_the_cookie(first: Session.BaseSession) -> None:
    req = request(f"pysid={first.id()}")
    again = Session.Session(req)
    assert (again.is_new(), again.id(), dict(again)) == (False, first.id(), {"n": 1})
    assert set_cookies(req) == [] and again.created() == first.created()
    run_cleanups(req)


@pytest.mark.parametrize("sid", ["../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789",
                                 "0123456789abcdef0123456789abcdef\n", "123"])
def test_invalid_cookie_sid_is_replaced(session_dir: Path, sid: str) -> None:
    req = request(f'pysid="{sid}"' if "\n" in sid else f"pysid={sid}")
    sess = Session.Session(req)
    assert sess.is_new() and sess.id() != sid and Session.validate_sid_re.fullmatch(str(sess.id()))
    run_cleanups(req)
    with pytest.raises(ValueError):
        Session.Session(request(), sid=sid)


def test_unknown_sid_gets_a_new_one(session_dir: Path) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    req = request(f"pysid={unknown}")
    sess = Session.Session(req)
    assert sess.is_new() and sess.id() != unknown and len(set_cookies(req)) == 1
    run_cleanups(req)


def test_expired_session_is_replaced(first: Session.BaseSession, clock: Clock) -> None:
    clock.now = first.last_accessed() + Session.DFT_TIMEOUT + 1
    req = request(f"pysid={first.id()}")
    sess = Session.Session(req)
    assert sess.is_new() and sess.id() != first.id() and dict(sess) == {}
    run_cleanups(req)


def test_set_timeout_is_stored(first: Session.BaseSession, clock: Clock) -> None:
    req = request(f"pysid={first.id()}")
    sess = Session.Session(req)
    sess.set_timeout(10)
    sess.save()
    run_cleanups(req)
    clock.now = sess.last_accessed() + 5
    req = request(f"pysid={first.id()}")
    assert Session.Session(req).timeout() == 10
    run_cleanups(req)
    clock.now += 11
    req = request(f"pysid={first.id()}")
    assert Session.Session(req).is_new()
    run_cleanups(req)


def test_unsaved_changes_are_lost(first: Session.BaseSession) -> None:
    req = request(f"pysid={first.id()}")
    Session.Session(req)["n"] = 2
    run_cleanups(req)
    req = request(f"pysid={first.id()}")
    assert Session.Session(req)["n"] == 1
    run_cleanups(req)


def test_invalidate(first: Session.BaseSession) -> None:
    req = request(f"pysid={first.id()}")
    sess = Session.Session(req)
    sess.invalidate()
    sess["after"] = 1
    sess.save()  # ignored once invalid
    assert set_cookies(req) == [f"pysid={first.id()}; path=/; expires=Thu, 01-Jan-1970 00:00:00 GMT"]
    run_cleanups(req)
    req = request(f"pysid={first.id()}")
    assert Session.Session(req).is_new()
    run_cleanups(req)


def test_secret_signs_the_cookie(session_dir: Path) -> None:
    req = request()
    sess = Session.Session(req, secret="k")
    sess.save()
    (cookie,) = set_cookies(req)
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) == 64 + 32 and value.endswith(str(sess.id()))
    run_cleanups(req)
    req = request(f"pysid={value}")
    assert Session.Session(req, secret="k").id() == sess.id()
    run_cleanups(req)
    req = request(f"pysid={sess.id()}")  # unsigned: ignored
    assert Session.Session(req, secret="k").id() != sess.id()
    run_cleanups(req)


@pytest.mark.parametrize("options, name", [
    ({"mod_python.session.cookie_name": "mysid"}, "mysid"),
    ({"session_cookie_name": "oldsid"}, "oldsid"),
    ({"mod_python.session.cookie_name": "new", "session_cookie_name": "old"}, "new"),
])
def test_cookie_name_options(session_dir: Path, options: dict[str, str], name: str) -> None:
    req = request(options=options)
    sess = Session.Session(req)
    assert set_cookies(req)[0].startswith(f"{name}={sess.id()};")
    run_cleanups(req)


def test_cookie_path_and_domain_options(session_dir: Path) -> None:
    req = request(options={"mod_python.session.application_path": "/shop",
                           "mod_python.session.application_domain": "example.com"})
    Session.Session(req)
    assert set_cookies(req)[0].endswith("; path=/shop; domain=example.com")
    run_cleanups(req)
    req = request(options={"ApplicationPath": "/old"})
    Session.Session(req)
    assert set_cookies(req)[0].endswith("; path=/old")
    run_cleanups(req)


@pytest.mark.parametrize("directory, uri, path", [
    ("/srv/www/app/", "/app/page", "/app/"),
    ("/srv/www/app/", "/other/page", "/"),       # the request is not under it
    ("/opt/handlers/", "/app/page", "/"),         # not under DocumentRoot
])
def test_cookie_path_from_the_handler_directory(session_dir: Path, directory: str, uri: str, path: str) -> None:
    req = request(uri=uri)
    req.fcgi_set("hlist", HandlerEntry("page", 0, 0, directory))
    Session.Session(req)
    assert set_cookies(req)[0].endswith(f"; path={path}")
    run_cleanups(req)


# --- classes, options, storage ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, cls", [
    ({}, Session.FileSession),
    ({"mod_python.session.session_type": "DbmSession"}, Session.DbmSession),
    ({"mod_python.session.session_type": "MemorySession"}, Session.MemorySession),
    ({"session": "DbmSession"}, Session.DbmSession),
])
def test_session_type_and_round_trip(session_dir: Path, options: dict[str, str], cls: type) -> None:
    req = request(options=options)
    sess = Session.Session(req)
    assert type(sess) is cls
    sess["data"] = [1, "two"]
    sess.save()
    run_cleanups(req)
    req = request(f"pysid={sess.id()}", options=options)
    again = Session.Session(req)
    assert type(again) is cls and not again.is_new() and again["data"] == [1, "two"]
    again.delete()
    assert dict(again) == {}
    run_cleanups(req)
    req = request(f"pysid={sess.id()}", options=options)
    assert Session.Session(req).is_new()
    run_cleanups(req)


def test_unknown_session_type(session_dir: Path) -> None:
    with pytest.raises(ValueError, match="Unknown session type"):
        Session.Session(request(options={"mod_python.session.session_type": "Nope"}))


def test_where_files_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(Session.SESSION_DIR_ENV, raising=False)
    monkeypatch.setattr(Session, "tempdir", str(tmp_path / "tmp"))
    cases = [({}, tmp_path / "tmp"),
             ({"session_directory": str(tmp_path / "alias")}, tmp_path / "alias"),
             ({"mod_python.session.database_directory": str(tmp_path / "common"),
               "session_directory": str(tmp_path / "alias")}, tmp_path / "common"),
             ({"mod_python.file_session.database_directory": str(tmp_path / "own"),
               "mod_python.session.database_directory": str(tmp_path / "common")}, tmp_path / "own")]
    for options, base in cases:
        (base).mkdir(exist_ok=True)
        req = request(options=options)
        sess = Session.FileSession(req)
        sess.save()
        assert (base / "mp_sess" / str(sess.id())[:2] / str(sess.id())).is_file()
        run_cleanups(req)
    monkeypatch.setenv(Session.SESSION_DIR_ENV, str(tmp_path / "env"))
    req = request()
    assert Session.DbmSession(req)._dbmfile == str(tmp_path / "env" / "mp_sess.dbm")
    run_cleanups(req)
    req = request(options={"mod_python.dbm_session.database_filename": str(tmp_path / "named.db")})
    assert Session.DbmSession(req)._dbmfile == str(tmp_path / "named.db")
    run_cleanups(req)


def test_storage_is_private(session_dir: Path) -> None:
    req = request()
    sess = Session.Session(req)
    sess.save()
    path = session_dir / "mp_sess" / str(sess.id())[:2] / str(sess.id())
    assert path.stat().st_mode & 0o777 == 0o600
    assert (session_dir / "mp_sess").stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    run_cleanups(req)


def test_linked_storage_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "mp_sess").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PermissionError):
        Session.FileSession(request(options={"mod_python.session.database_directory": str(tmp_path / "base")}))


def test_damaged_file_is_a_new_session(first: Session.BaseSession, session_dir: Path) -> None:
    (session_dir / "mp_sess" / str(first.id())[:2] / str(first.id())).write_bytes(b"not a pickle")
    req = request(f"pysid={first.id()}")
    assert Session.Session(req).is_new()
    run_cleanups(req)


# --- locking in one process ------------------------------------------------------------------------------------------
def test_lock_is_held_until_the_request_ends(first: Session.FileSession) -> None:
    req = request(f"pysid={first.id()}")
    Session.Session(req)
    taken: list[bool] = []
    probe = threading.Thread(target=lambda: taken.append(acquire_slot(
        os.path.join(first._sessdir, ".mp_sess.lock"), sid_slot(str(first.id())), blocking=False)))
    probe.start()
    probe.join(5)
    assert taken == [False]
    with pytest.raises(RuntimeError, match="already held by this thread"):
        Session.Session(request(f"pysid={first.id()}"))
    run_cleanups(req)
    req = request(f"pysid={first.id()}")
    assert not Session.Session(req).is_new()
    run_cleanups(req)


def test_unlock_and_lock_zero(first: Session.BaseSession) -> None:
    req = request(f"pysid={first.id()}")
    sess = Session.Session(req)
    sess.unlock()
    other = request(f"pysid={first.id()}")
    assert not Session.Session(other).is_new()
    run_cleanups(other)
    run_cleanups(req)
    unlocked = [Session.Session(request(f"pysid={first.id()}"), lock=0) for _ in range(2)]
    assert [s.id() for s in unlocked] == [first.id()] * 2


# --- cleanups --------------------------------------------------------------------------------------------------------
def saved_files(session_dir: Path) -> set[str]:
    return {path.name for path in (session_dir / "mp_sess").glob("??/*")}


def make_sessions(count: int, timeout: int = 0, options: Optional[Mapping[str, str]] = None) -> list[str]:
    sids = []
    for _ in range(count):
        req = request(options=options)
        sess = Session.Session(req, timeout=timeout)
        sess.save()
        run_cleanups(req)
        sids.append(str(sess.id()))
    return sids


def file_of(session_dir: Path, sid: str) -> Path:
    return session_dir / "mp_sess" / sid[:2] / sid


def run_file_cleanup(options: Mapping[str, str], monkeypatch: pytest.MonkeyPatch, timeout: int = 60) -> Request:
    """A request whose session draws the 1-in-CLEANUP_CHANCE cleanup (forced), then ends."""
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1)
    req = request(options=options)
    Session.Session(req, timeout=timeout)
    assert any(callback is Session.filesession_cleanup for callback, _ in req.fcgi_cleanups)
    run_cleanups(req)
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1000)
    return req


def test_verifying_cleanup_reads_the_stored_times(session_dir: Path, clock: Clock,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    old = make_sessions(2, timeout=60)
    clock.now += 100
    young = make_sessions(1, timeout=60)
    run_file_cleanup({"session_fast_cleanup": "no", "mod_python.file_session.cleanup_grace_period": "30"},
                     monkeypatch)
    # mod_python 3.5 opens the pickles in text mode here and never deletes anything on Python 3
    assert saved_files(session_dir) == set(young)
    assert (session_dir / "mp_sess" / "fs_status.txt").read_text().startswith("MPFS_3.2 0 0 0 ")
    clock.now += 80  # 80 s after `young` was saved: within 60 s timeout + 30 s grace
    run_file_cleanup({"session_fast_cleanup": "no", "mod_python.file_session.cleanup_grace_period": "30"},
                     monkeypatch)
    assert saved_files(session_dir) == set(young) and old


def test_fast_cleanup_goes_by_mtime(session_dir: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    old_a, old_b, fresh = make_sessions(3, timeout=60)
    stray = file_of(session_dir, old_a).with_name(old_a + ".123.456.tmp")
    stray.write_bytes(b"half written")
    for path in (file_of(session_dir, old_a), file_of(session_dir, old_b), stray):
        os.utime(path, (clock.now - 400, clock.now - 400))
    os.utime(file_of(session_dir, fresh), (clock.now, clock.now))
    clock.now += 10
    # fast + verify: an mtime older than timeout (60) + grace (240) makes a candidate, but the stored access time
    # (10 s ago) keeps the sessions; the stray temporary file goes by its mtime alone
    options = {"mod_python.file_session.enable_fast_cleanup": "1", "session_verify_cleanup": "1"}
    run_file_cleanup(options, monkeypatch)
    assert saved_files(session_dir) == {old_a, old_b, fresh}
    # fast without verify: the old mtime is enough
    run_file_cleanup({"mod_python.file_session.verify_session_timeout": "false"}, monkeypatch)
    assert saved_files(session_dir) == {fresh}


def test_cleanup_skips_sessions_in_use(session_dir: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    (sid,) = make_sessions(1, timeout=60)
    clock.now += 1000
    lock_path = os.path.join(session_dir, "mp_sess", ".mp_sess.lock")
    holding, release = threading.Event(), threading.Event()

    def other_request() -> None:  # another thread of this worker has the session open
        acquire_slot(lock_path, sid_slot(sid))
        holding.set()
        release.wait(10)
        release_slot(lock_path, sid_slot(sid))

    thread = threading.Thread(target=other_request)
    thread.start()
    try:
        assert holding.wait(10)
        run_file_cleanup({"session_fast_cleanup": "0"}, monkeypatch)
        assert saved_files(session_dir) == {sid}
    finally:
        release.set()
        thread.join(10)
    run_file_cleanup({"session_fast_cleanup": "0"}, monkeypatch)
    assert saved_files(session_dir) == set()


def test_one_cleanup_at_a_time(session_dir: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    make_sessions(1, timeout=60)
    clock.now += 1000
    lock_path = os.path.join(session_dir, "mp_sess", ".mp_sess.lock")
    running, release = threading.Event(), threading.Event()

    def other_cleanup() -> None:
        acquire_slot(lock_path, CLEANUP_SLOT)
        running.set()
        release.wait(10)
        release_slot(lock_path, CLEANUP_SLOT)

    thread = threading.Thread(target=other_cleanup)
    thread.start()
    try:
        assert running.wait(10)
        messages: list[str] = []
        monkeypatch.setattr(Request, "log_error", lambda self, message, level=0: messages.append(message))
        run_file_cleanup({"session_fast_cleanup": "0"}, monkeypatch)
        assert "FileSession cleanup: another process is already running" in messages
        assert len(saved_files(session_dir)) == 1
    finally:
        release.set()
        thread.join(10)


def test_dbm_and_memory_cleanups(session_dir: Path, clock: Clock) -> None:
    for session_type in ("DbmSession", "MemorySession"):
        options = {"mod_python.session.session_type": session_type}
        old = make_sessions(2, timeout=60, options=options)
        clock.now += 100
        (young,) = make_sessions(1, timeout=60, options=options)
        req = request(options=options)
        sess = Session.Session(req)
        sess.do_cleanup()
        run_cleanups(req)
        for sid in old:
            req = request(f"pysid={sid}", options=options)
            assert Session.Session(req).is_new()
            run_cleanups(req)
        req = request(f"pysid={young}", options=options)
        assert not Session.Session(req).is_new()
        run_cleanups(req)


@pytest.mark.parametrize("value, expected", [("Yes", True), ("1", True), (True, True), ("no", False),
                                             ("FALSE", False), (0, False), (None, False)])
def test_true_or_false(value: object, expected: bool) -> None:
    assert Session.true_or_false(value) is expected


def test_true_or_false_refuses_other_values() -> None:
    with pytest.raises(ValueError):
        Session.true_or_false("maybe")
