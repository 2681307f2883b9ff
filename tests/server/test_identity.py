"""Socket ownership and privilege drop: `--socket-owner/--socket-group` and `--user/--group`.

The daemon tests run `python -m fcgi_handlers serve` as a real process started as root (as a system service is), in a
world-traversable directory so that `nobody` and www-data can reach the socket and the handler; without root they
fail under CI and skip otherwise, since only root can give a socket away or switch users.
"""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from fcgi_handlers import config
from fcgi_handlers.client import fcgi_request
from fcgi_handlers.server import identity
from fcgi_handlers.server.sockets import BindError, bind

REPO = Path(__file__).resolve().parents[2]
NOBODY = pwd.getpwnam("nobody")
WWW_DATA = grp.getgrnam("www-data")
WHO = b"""import os
import sys
HELPERS = ("mod_python.util", "mod_python.Session", "mod_python.publisher", "mod_python.psp",
           "mod_python.testhandler", "mod_python.cache")
PRELOADED = all(name in sys.modules for name in HELPERS)  # before this module imports any of them
from mod_python import apache

def handler(req):
    req.write("uid=%d gid=%d groups=%s preloaded=%s" % (os.getuid(), os.getgid(), sorted(os.getgroups()),
                                                         PRELOADED))
    return apache.OK
"""


def need_root() -> None:
    if os.geteuid() != 0:
        reason = "giving a socket away and switching users need root"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A fresh directory every account can traverse (pytest's tmp_path is 0700 under root), with who.py in it."""
    path = Path(tempfile.mkdtemp(prefix="fcgi-handlers-identity-"))
    path.chmod(0o755)
    (path / "who.py").write_bytes(WHO)
    (path / "who.py").chmod(0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_names_and_numbers_resolve_and_unknown_ones_are_refused() -> None:
    assert identity.user_id("nobody") == identity.user_id(str(NOBODY.pw_uid)) == NOBODY.pw_uid
    assert identity.group_id("www-data") == identity.group_id(str(WWW_DATA.gr_gid)) == WWW_DATA.gr_gid
    with pytest.raises(ValueError, match="no such user"):
        identity.user_id("no-such-account-here")
    with pytest.raises(ValueError, match="no such group"):
        identity.group_id("no-such-group-here")


def test_run_as_takes_the_users_own_group_unless_one_is_given() -> None:
    assert identity.run_as(None, None) is None
    own = identity.run_as(NOBODY.pw_uid, None)
    assert own is not None and (own.uid, own.gid, own.name) == (NOBODY.pw_uid, NOBODY.pw_gid, "nobody")
    assert own.groups[0] == NOBODY.pw_gid
    other = identity.run_as(NOBODY.pw_uid, WWW_DATA.gr_gid)
    assert other is not None and other.gid == WWW_DATA.gr_gid and other.groups[0] == WWW_DATA.gr_gid


def test_socket_flags_default_to_the_user_and_need_a_unix_socket() -> None:
    cfg = config.load(overrides={"bind": ["unix:/run/x.sock"], "user": "nobody", "socket_group": "www-data"})
    run_as, owner, group = config.identities(cfg)
    assert run_as is not None and run_as.uid == owner == NOBODY.pw_uid and group == WWW_DATA.gr_gid
    tcp = config.load(overrides={"bind": ["127.0.0.1:9000"], "socket_group": "www-data"})
    with pytest.raises(config.ConfigError, match="no unix:PATH"):
        config.identities(tcp)


def test_without_root_the_switch_is_a_usage_error() -> None:
    """In a child that dropped to nobody: --user www-data and --socket-owner www-data are refused up front."""
    need_root()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY.pw_gid)
            os.setuid(NOBODY.pw_uid)
            refused = 0
            for overrides in ({"user": "www-data"}, {"socket_owner": "www-data"}, {"socket_group": "www-data"}):
                cfg = config.load(overrides={"bind": ["unix:/nonexistent/x.sock"], **overrides})
                try:
                    config.identities(cfg)
                except config.ConfigError as exc:
                    refused += "needs root" in str(exc) or "only root" in str(exc) or "not a member" in str(exc)
            code = 0 if refused == 3 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_bind_gives_the_unix_socket_to_its_owner_and_group(shared_dir: Path) -> None:
    need_root()
    path = shared_dir / "s.sock"
    listener = bind(f"unix:{path}", 16, 0o660, owner=NOBODY.pw_uid, group=WWW_DATA.gr_gid)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY.pw_uid, WWW_DATA.gr_gid, 0o660)
    listener.close()
    listener.remove_path()  # still recognised as ours after the chown
    assert not path.exists()


def test_bind_reports_a_chown_it_may_not_do(shared_dir: Path) -> None:
    need_root()
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        code = 1
        try:
            os.setgid(NOBODY.pw_gid)
            os.setuid(NOBODY.pw_uid)
            nobody_dir = Path(tempfile.mkdtemp())
            try:
                bind(f"unix:{nobody_dir / 's.sock'}", 16, 0o660, owner=0)
            except BindError as exc:
                code = 0 if "cannot give" in str(exc) else 1
            shutil.rmtree(nobody_dir, ignore_errors=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _serve(shared_dir: Path, *flags: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "fcgi_handlers", "serve", "--bind", f"unix:{shared_dir / 's.sock'}",
            "--path", str(shared_dir), "--workers", "1", "--threads", "2", *flags]
    log = open(shared_dir / "daemon.log", "wb")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _wait_serving(shared_dir: Path, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (shared_dir / "daemon.log").read_text()
        if "booted" in (shared_dir / "daemon.log").read_text():
            return
        time.sleep(0.05)
    raise AssertionError("no worker booted:\n" + (shared_dir / "daemon.log").read_text())


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return proc.returncode


def _uids(pid: int) -> tuple[int, int]:
    """Real uid and gid of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def _worker_pids(arbiter: int) -> list[int]:
    children = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
    return [int(pid) for pid in children]


def test_user_drops_privileges_after_binding(shared_dir: Path) -> None:
    """Root binds and keeps the arbiter; the worker (and so every handler) runs as nobody; the socket is
    nobody:www-data 0660 so Apache's group can connect; at exit root removes the socket path."""
    need_root()
    proc = _serve(shared_dir, "--user", "nobody", "--socket-group", "www-data")
    try:
        _wait_serving(shared_dir, proc)
        st = os.stat(shared_dir / "s.sock")
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY.pw_uid, WWW_DATA.gr_gid, 0o660)
        assert _uids(proc.pid) == (0, 0)
        workers = _worker_pids(proc.pid)
        assert workers and all(_uids(pid) == (NOBODY.pw_uid, NOBODY.pw_gid) for pid in workers)
        answer = fcgi_request(f"unix:{shared_dir / 's.sock'}", {"SCRIPT_NAME": "/who", "REQUEST_METHOD": "GET",
                                                                "SERVER_PROTOCOL": "HTTP/1.1", "PythonHandler": "who"})
        # nobody needs to read only the handler: the package's helper modules were imported before the switch
        assert answer.stdout.endswith(
            f"uid={NOBODY.pw_uid} gid={NOBODY.pw_gid} groups=[{NOBODY.pw_gid}] preloaded=True".encode())
    finally:
        assert _stop(proc) == 0
    assert not (shared_dir / "s.sock").exists()


def test_group_without_user_switches_the_group_and_the_socket_follows_it(shared_dir: Path) -> None:
    need_root()
    proc = _serve(shared_dir, "--socket-group", "www-data", "--group", "www-data")
    try:
        _wait_serving(shared_dir, proc)
        st = os.stat(shared_dir / "s.sock")
        assert (st.st_uid, st.st_gid) == (0, WWW_DATA.gr_gid)
        assert all(_uids(pid) == (0, WWW_DATA.gr_gid) for pid in _worker_pids(proc.pid))
        pid = os.fork()
        if pid == 0:  # pragma: no cover - a www-data process, like Apache's children, connects
            code = 1
            try:
                os.setgroups([])
                os.setgid(WWW_DATA.gr_gid)
                os.setuid(pwd.getpwnam("www-data").pw_uid)
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(str(shared_dir / "s.sock"))
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        assert _stop(proc) == 0


def test_a_path_the_user_cannot_read_is_named_at_boot(shared_dir: Path) -> None:
    need_root()
    private = shared_dir / "private"
    private.mkdir(mode=0o700)
    proc = _serve(shared_dir, "--user", "nobody", "--path", str(private))
    try:
        _wait_serving(shared_dir, proc)
        log = (shared_dir / "daemon.log").read_text()
        assert f"--path {private} is not readable by nobody" in log
        assert f"--path {shared_dir} is not readable" not in log
    finally:
        assert _stop(proc) == 0
