"""RedisSession in one process against a real redis-server: selection by mod_python's options, load/save/expiry,
invalidate, the lock (held until the request ends, waits bounded, expires when its holder stops renewing it, renewed
while its holder lives), errors that name the cause, and the session secret from a file."""

from __future__ import annotations

import os
import pickle
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping, Optional

import pytest
import redis
from redis_support import free_port, redis_url  # noqa: F401 - the fixture
from util_session_support import base_params, make_request, run_cleanups

from fcgi_handlers.request import Request
from mod_python import Cookie, Session
from mod_python import _session_redis as rs


def request(options: Mapping[str, str], cookie: Optional[str] = None) -> Request:
    params = base_params("GET", uri="/app/page")
    if cookie is not None:
        params["HTTP_COOKIE"] = cookie
    return make_request(params, options=options)


@pytest.fixture
def options(redis_url: str) -> dict[str, str]:  # noqa: F811 - the fixture
    return {"mod_python.session.session_type": "RedisSession", "mod_python.redis_session.address": redis_url,
            "mod_python.redis_session.lock_timeout": "1", "mod_python.redis_session.lock_wait": "5"}


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:  # noqa: F811 - the fixture
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def saved(options: Mapping[str, str], **data: object) -> str:
    """A saved session holding `data`, its request ended; returns the sid."""
    req = request(options)
    sess = Session.Session(req)
    sess.update(data)
    sess.save()
    run_cleanups(req)
    return str(sess.id())


def test_session_type_option_selects_redis(options: dict[str, str], store: redis.Redis) -> None:
    req = request(options)
    sess = Session.Session(req)
    assert isinstance(sess, Session.RedisSession) and sess.is_new()
    sess["n"] = 1
    sess.save()
    run_cleanups(req)
    stored = pickle.loads(store.get(f"mp_sess:{sess.id()}"))  # type: ignore[arg-type]
    assert stored["_data"] == {"n": 1}
    # Redis expires the key with the session's timeout, so nothing has to sweep it.
    assert Session.DFT_TIMEOUT - 5 <= store.ttl(f"mp_sess:{sess.id()}") <= Session.DFT_TIMEOUT


def test_saved_session_comes_back_from_the_cookie(options: dict[str, str]) -> None:
    sid = saved(options, n=1)
    req = request(options, f"pysid={sid}")
    sess = Session.Session(req)
    assert not sess.is_new() and sess.id() == sid and sess["n"] == 1
    run_cleanups(req)


def test_unknown_and_expired_sessions_get_a_new_sid(options: dict[str, str], store: redis.Redis) -> None:
    req = request(options, "pysid=" + "ab" * 16)
    sess = Session.Session(req)
    assert sess.is_new() and sess.id() != "ab" * 16
    run_cleanups(req)
    sid = saved(options, n=1)
    stored = pickle.loads(store.get(f"mp_sess:{sid}"))  # type: ignore[arg-type]
    stored["_accessed"] -= stored["_timeout"] + 1   # as if the last save was longer ago than the timeout
    store.set(f"mp_sess:{sid}", pickle.dumps(stored))
    req = request(options, f"pysid={sid}")
    assert Session.Session(req).is_new()
    run_cleanups(req)


def test_set_timeout_sets_the_key_expiry(options: dict[str, str], store: redis.Redis) -> None:
    req = request(options)
    sess = Session.Session(req)
    sess.set_timeout(120)
    sess.save()
    run_cleanups(req)
    assert 110 <= store.ttl(f"mp_sess:{sess.id()}") <= 120


def test_invalidate_deletes_the_key_and_expires_the_cookie(options: dict[str, str], store: redis.Redis) -> None:
    sid = saved(options, n=1)
    req = request(options, f"pysid={sid}")
    sess = Session.Session(req)
    sess.invalidate()
    run_cleanups(req)
    assert store.get(f"mp_sess:{sid}") is None
    assert any("expires=" in value for name, value in req.headers_out.items() if name == "Set-Cookie")


def test_key_prefix_option(options: dict[str, str], store: redis.Redis) -> None:
    options["mod_python.redis_session.key_prefix"] = "app1:"
    sid = saved(options, n=1)
    assert store.exists(f"app1:{sid}") and not store.exists(f"mp_sess:{sid}")


def test_damaged_entry_is_a_new_session(options: dict[str, str], store: redis.Redis) -> None:
    sid = saved(options, n=1)
    store.set(f"mp_sess:{sid}", b"not a pickle")
    req = request(options, f"pysid={sid}")
    assert Session.Session(req).is_new()
    run_cleanups(req)


def test_lock_is_held_until_the_request_ends(options: dict[str, str], store: redis.Redis) -> None:
    sid = saved(options, n=1)
    req = request(options, f"pysid={sid}")
    sess = Session.Session(req)
    assert store.exists(f"mp_sess:lock:{sid}")
    with pytest.raises(RuntimeError, match="already held by this thread"):
        Session.Session(request(options, f"pysid={sid}"))
    run_cleanups(req)
    assert not store.exists(f"mp_sess:lock:{sid}")
    again = request(options, f"pysid={sid}")
    assert Session.Session(again)["n"] == 1
    run_cleanups(again)
    del sess


def test_another_thread_waits_for_the_lock(options: dict[str, str]) -> None:
    sid = saved(options, n=0)
    holder = request(options, f"pysid={sid}")
    sess = Session.Session(holder)
    waited: list[float] = []

    def other() -> None:
        began = time.monotonic()
        req = request(options, f"pysid={sid}")
        seen = Session.Session(req)
        waited.append(time.monotonic() - began)
        assert seen["n"] == 1   # the holder's save happened before this one got the session
        run_cleanups(req)

    thread = threading.Thread(target=other)
    thread.start()
    time.sleep(0.5)
    sess["n"] = 1
    sess.save()
    run_cleanups(holder)
    thread.join(10)
    assert len(waited) == 1 and waited[0] >= 0.4


def test_lock_wait_is_bounded(options: dict[str, str], store: redis.Redis) -> None:
    options["mod_python.redis_session.lock_wait"] = "0.5"
    sid = saved(options, n=0)
    store.set(f"mp_sess:lock:{sid}", b"someone else", px=60_000)   # a live holder elsewhere
    began = time.monotonic()
    with pytest.raises(rs.SessionStoreError, match="stayed locked"):
        Session.Session(request(options, f"pysid={sid}"))
    assert time.monotonic() - began < 3


def test_lock_of_a_holder_that_stopped_renewing_expires(options: dict[str, str], store: redis.Redis) -> None:
    sid = saved(options, n=0)
    # What a killed worker leaves: its token with the expiry its last renewal set (lock_timeout = 1 s).
    store.set(f"mp_sess:lock:{sid}", b"a dead worker's token", px=1000)
    began = time.monotonic()
    req = request(options, f"pysid={sid}")
    assert Session.Session(req)["n"] == 0
    run_cleanups(req)
    assert 0.5 <= time.monotonic() - began < 4


def test_lock_is_renewed_while_its_holder_lives(options: dict[str, str], store: redis.Redis) -> None:
    options["mod_python.redis_session.lock_timeout"] = "2"
    sid = saved(options, n=0)
    req = request(options, f"pysid={sid}")
    Session.Session(req)
    time.sleep(4.5)   # more than twice the lock timeout
    assert store.exists(f"mp_sess:lock:{sid}")
    assert 0 < store.pttl(f"mp_sess:lock:{sid}") <= 2000
    run_cleanups(req)
    assert not store.exists(f"mp_sess:lock:{sid}")


def test_unreachable_redis_names_the_address(options: dict[str, str]) -> None:
    options["mod_python.redis_session.address"] = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    options["mod_python.redis_session.timeout"] = "1"
    with pytest.raises(rs.SessionStoreError, match=r"RedisSession at redis://:\*\*\*@127\.0\.0\.1:\d+/0") as caught:
        Session.Session(request(options))
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("name, value, message", [
    ("address", "http://example.com", "not a redis://"),
    ("timeout", "soon", "is not a number"),
    ("lock_timeout", "0", "must be more than 0"),
    ("lock_wait", "nan", "must be more than 0"),
])
def test_bad_options_are_named(options: dict[str, str], name: str, value: str, message: str) -> None:
    options[f"mod_python.redis_session.{name}"] = value
    with pytest.raises(ValueError, match=message):
        Session.Session(request(options))


def test_address_from_the_environment(options: dict[str, str], redis_url: str,  # noqa: F811 - the fixture
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rs.REDIS_URL_ENV, options.pop("mod_python.redis_session.address"))
    sid = saved(options, n=3)
    assert redis.Redis.from_url(redis_url).exists(f"mp_sess:{sid}")


def test_password_from_a_file(options: dict[str, str], store: redis.Redis, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    store.config_set("requirepass", "redis-pass")
    try:
        with pytest.raises(rs.SessionStoreError, match="(?i)auth"):
            saved(options, n=1)
        password = tmp_path / "redis_password"
        password.write_text("redis-pass\n")
        monkeypatch.setenv(rs.PASSWORD_FILE_ENV, str(password))
        sid = saved(options, n=1)
        req = request(options, f"pysid={sid}")
        assert Session.Session(req)["n"] == 1
        run_cleanups(req)
    finally:
        redis.Redis.from_url(options["mod_python.redis_session.address"], password="redis-pass").config_set(
            "requirepass", "")


def test_secret_file_signs_the_cookie(options: dict[str, str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "session_secret"
    secret.write_text("s3cret-key\n")
    monkeypatch.setenv(Session.SECRET_FILE_ENV, str(secret))
    req = request(options)
    sess = Session.Session(req)
    sess.save()
    run_cleanups(req)
    cookie = next(value for name, value in req.headers_out.items() if name == "Set-Cookie").split(";")[0]
    expected = Cookie.SignedCookie("pysid", str(sess.id()), secret="s3cret-key")
    assert cookie == str(expected).split(";")[0]   # the key from the file, stripped of its newline
    req = request(options, cookie)
    assert Session.Session(req).id() == sess.id()
    run_cleanups(req)
    # A cookie signed with another key is ignored: a new session.
    forged = str(Cookie.SignedCookie("pysid", str(sess.id()), secret="another key")).split(";")[0]
    req = request(options, forged)
    assert Session.Session(req).id() != sess.id()
    run_cleanups(req)
    # The option wins over the environment, and a missing file is an error that names it.
    options["mod_python.session.secret_file"] = str(tmp_path / "missing")
    with pytest.raises(RuntimeError, match="session secret file .*missing"):
        Session.Session(request(options))


def test_a_lock_lost_while_held_is_logged(options: dict[str, str], store: redis.Redis,
                                          caplog: pytest.LogCaptureFixture) -> None:
    sid = saved(options, n=0)
    req = request(options, f"pysid={sid}")
    Session.Session(req)
    store.delete(f"mp_sess:lock:{sid}")   # as if Redis lost it (a restart without persistence)
    with caplog.at_level("WARNING", logger="mod_python.Session"):
        deadline = time.monotonic() + 5
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    assert any("expired while its request held it" in r.getMessage() for r in caplog.records), caplog.text
    run_cleanups(req)   # releasing a lock that is gone is logged, not raised


def test_a_forked_worker_holds_none_of_its_parents_locks(options: dict[str, str]) -> None:
    sid = saved(options, n=0)
    req = request(options, f"pysid={sid}")
    Session.Session(req)
    assert rs._renewer.held
    pid = os.fork()
    if pid == 0:   # the child: what the arbiter's fork gives a new worker
        os._exit(0 if not rs._renewer.held and rs._renewer.thread is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run_cleanups(req)
