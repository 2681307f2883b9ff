"""The FastCGI peers the benchmark measures the daemon against, each started as our own child process.

Every peer answers "Hello World!" as text/plain, as the seed handler does, behind the same Apache:

- php-fpm (Debian's php-fpm 8.2), `pm = static` with 8 children, one pool on TCP and one on a unix socket;
- uWSGI's FastCGI socket (Debian's uwsgi-core + uwsgi-plugin-python3), 2 processes x 8 threads, a WSGI hello;
- a minimal multi-threaded C responder on libfcgi (benchmarks/fcgi_hello.c, built here with the system's C compiler),
  on TCP and on a unix socket: the FastCGI hop's own cost, with no language runtime behind it.

Each peer is stopped by the PID it got at start (SIGTERM, then SIGKILL of its own process group). A peer whose
binary is missing is reported as not measured, with the Debian package that brings it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

HELLO_PHP = b"<?php\nheader('Content-Type: text/plain');\necho 'Hello World!';\n"
HELLO_WSGI = ("def application(environ, start_response):\n"
              "    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '12')])\n"
              "    return [b'Hello World!']\n")
PHP_FPM = "/usr/sbin/php-fpm8.2"
UWSGI = "/usr/bin/uwsgi_python3"
C_SOURCE = Path(__file__).resolve().parent / "fcgi_hello.c"
PHP_CHILDREN = 8             # pm.max_children, pm = static
UWSGI_SHAPE = (2, 8)         # processes, threads
C_THREADS = 16               # one per wrk connection at -c16
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class PeerError(RuntimeError):
    """A peer could not be built or started; the message says why (and which package brings it)."""


@dataclass
class Peer:
    """One started peer process: `ready` says when it serves; `stop()` ends it by its PID."""

    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool]
    env: Optional[dict[str, str]] = None
    proc: Optional[subprocess.Popen[bytes]] = field(default=None, repr=False)

    @property
    def pid(self) -> Optional[int]:
        """The PID it was started with, which is also its process group (it starts a session of its own)."""
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PeerError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise PeerError(f"{self.name} did not answer within {START_TIMEOUT}s: {self.log_tail()}")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
            proc.wait(STOP_TIMEOUT)

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:].strip()
        except OSError:
            return "(no log)"


def tcp_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    return ready


def unix_ready(path: str) -> Callable[[], bool]:
    def ready() -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(path)
                return True
            except OSError:
                return False
    return ready


def _require(path: str, package: str) -> None:
    if not os.access(path, os.X_OK):
        raise PeerError(f"{path} not installed (Debian package {package}; scripts/install-system-deps.sh --bench)")


def _run_as() -> tuple[str, str]:
    """php-fpm's pool user: Apache's children must reach the unix socket, and php-fpm refuses root pools."""
    return ("www-data", "www-data") if os.geteuid() == 0 else (os.environ.get("USER", "nobody"), "")


def php_fpm(run_dir: Path, port: int, unix_path: str) -> Peer:
    """php-fpm with a TCP pool on `port` and a unix socket pool at `unix_path`; the script is run_dir/hello.php."""
    _require(PHP_FPM, "php8.2-fpm")
    (run_dir / "hello.php").write_bytes(HELLO_PHP)
    user, group = _run_as()
    pools = []
    for name, listen in (("tcp", f"127.0.0.1:{port}"), ("unix", unix_path)):
        pools += [f"[{name}]", f"user = {user}", *([f"group = {group}"] if group else []), f"listen = {listen}",
                  "listen.mode = 0666", "pm = static", f"pm.max_children = {PHP_CHILDREN}", "catch_workers_output = no",
                  ""]
    conf = run_dir / "php-fpm.conf"
    conf.write_text("\n".join(["[global]", f"pid = {run_dir}/php-fpm.pid", f"error_log = {run_dir}/php-fpm.log",
                               "daemonize = no", "", *pools]))
    argv = [PHP_FPM, "--nodaemonize", "--fpm-config", str(conf), "--php-ini", "/dev/null"]
    if os.geteuid() == 0:
        argv.append("--allow-to-run-as-root")  # the master only; the pools run as www-data
    tcp, unix = tcp_ready(port), unix_ready(unix_path)
    return Peer("php-fpm", argv, run_dir / "php-fpm.out", lambda: tcp() and unix())


def uwsgi(run_dir: Path, port: int) -> Peer:
    """uWSGI serving a WSGI hello on its FastCGI socket at 127.0.0.1:`port`."""
    _require(UWSGI, "uwsgi-core and uwsgi-plugin-python3")
    (run_dir / "hello_uwsgi.py").write_text(HELLO_WSGI)
    processes, threads = UWSGI_SHAPE
    argv = [UWSGI, "--fastcgi-socket", f"127.0.0.1:{port}", "--wsgi-file", str(run_dir / "hello_uwsgi.py"),
            "--master", "--processes", str(processes), "--threads", str(threads), "--disable-logging",
            "--die-on-term", "--need-app"]
    return Peer("uwsgi", argv, run_dir / "uwsgi.log", tcp_ready(port))


def build_c_responder(run_dir: Path) -> Path:
    """Compile benchmarks/fcgi_hello.c against libfcgi; the binary goes into run_dir."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not Path("/usr/include/fcgiapp.h").exists():
        raise PeerError("the C responder needs a C compiler and libfcgi-dev (scripts/install-system-deps.sh --bench)")
    binary = run_dir / "fcgi_hello"
    done = subprocess.run([compiler, "-O2", "-o", str(binary), str(C_SOURCE), "-lfcgi", "-lpthread"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise PeerError(f"building {C_SOURCE.name} failed: {done.stderr.strip()[-500:]}")
    return binary


def c_responders(run_dir: Path, port: int, unix_path: str) -> Sequence[Peer]:
    """The C responder twice: on 127.0.0.1:`port` and on the unix socket `unix_path` (made 0666 once it exists)."""
    binary = build_c_responder(run_dir)
    tcp = Peer("c-tcp", [str(binary), f"127.0.0.1:{port}", str(C_THREADS)], run_dir / "c-tcp.log", tcp_ready(port))
    probe = unix_ready(unix_path)

    def unix_ready_for_apache() -> bool:
        if not probe():
            return False
        os.chmod(unix_path, 0o666)  # Apache's children (www-data under root) connect to it
        return True
    unix = Peer("c-unix", [str(binary), unix_path, str(C_THREADS)], run_dir / "c-unix.log", unix_ready_for_apache)
    return tcp, unix
