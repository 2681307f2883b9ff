"""Processes on 127.0.0.1 for the demo, the end-to-end tests, the conformance report and the benchmark: a private
Apache httpd from a generated config, the daemon, and plain HTTP requests to them.

Every process here is started by this module and stopped by the PID it got at start, with bounded waits: SIGTERM,
then SIGKILL of its own process group (each child starts in a new session, so the group holds only what it started).
Apache runs in the foreground (`-k start -DFOREGROUND`) as our child, so a config error is seen as an exit with its
message instead of a port that never answers. Apache starts with a clean PATH (`/usr/sbin:/usr/bin:/sbin:/bin`):
mod_python's embedded interpreter otherwise picks up the Python prefix of whatever venv is first on PATH. Run
directories are world-readable temporary directories because Apache's children run as www-data under root.
"""
from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from .config import BASE_MODULES, Backend, Mpm, httpd_conf
from .paths import APACHE_BIN, CLEAN_PATH, MODULES_DIR, find_httpd

# The directory holding the `fcgi_handlers` and `mod_python` packages: the daemon's children import from it.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0     # seconds for a process to answer on its port
STOP_TIMEOUT = 10.0      # seconds between SIGTERM and SIGKILL
REQUEST_TIMEOUT = 30.0   # seconds for one HTTP exchange; above Apache's proxy timeouts used in tests
TOKEN = re.compile(r"@([A-Z][A-Z_]*)@")


class HttpdError(RuntimeError):
    """A process could not be started; the message carries the tail of its log (and Apache's error log)."""



def readable_by_apache(path: Path) -> bool:
    """Whether Apache's children can reach and read `path`: started as root they run as www-data, which is "other"
    to a root-owned checkout, so every parent directory needs o+x and every file o+r."""
    if os.geteuid() != 0:
        return True  # Apache then runs as this user
    for part in (path, *path.parents):
        if not part.stat().st_mode & stat.S_IXOTH:
            return False
    return all(f.stat().st_mode & stat.S_IROTH for f in path.rglob("*") if f.is_file())

def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_run_dir(prefix: str) -> Path:
    """A fresh directory Apache's www-data children can traverse (pytest's tmp dirs are 0700 under root)."""
    path = Path(tempfile.mkdtemp(prefix=f"fcgi-handlers-{prefix}-"))
    path.chmod(0o755)
    return path


def remove_run_dir(path: Path) -> None:
    """Remove a run directory, unless FCGI_HANDLERS_KEEP_RUN_DIRS is set (to read its logs afterwards)."""
    if not os.environ.get("FCGI_HANDLERS_KEEP_RUN_DIRS"):
        shutil.rmtree(path, ignore_errors=True)


def missing_apache(*modules: str) -> list[str]:
    """The apache2 binary and module files (short names) that are not installed."""
    missing = [] if os.access(APACHE_BIN, os.X_OK) else [APACHE_BIN]
    return missing + [path for path in (f"{MODULES_DIR}/mod_{name}.so" for name in modules) if not os.path.exists(path)]


def apache_user() -> tuple[Optional[str], Optional[str]]:
    """User/Group lines Apache needs when started as root; it refuses to serve requests as root."""
    return ("www-data", "www-data") if os.geteuid() == 0 else (None, None)


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_size(path: Path) -> int:
    """Where a log file ends now (0 when it does not exist yet): a mark for `log_since`."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_since(path: Optional[Path], offset: int) -> str:
    """What a log file holds past `offset` ("" when there is no file)."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no output)"


class ManagedProcess:
    """A child process serving on a loopback port; started in its own process group so its children stop with it."""

    def __init__(self, name: str, argv: Sequence[str], *, port: int, log_path: Path,
                 env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None) -> None:
        self.name, self.argv, self.port, self.log_path = name, list(argv), port, log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start and wait (bounded) until the port accepts connections; raise with the log if it never does."""
        if port_answers(self.port):
            # Someone else's server there would look like ours answering.
            raise HttpdError(f"{self.name}: 127.0.0.1:{self.port} is already in use")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self._env, cwd=self._cwd, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HttpdError(f"{self.name} exited with {self.proc.returncode} before serving on port "
                                 f"{self.port}: {shlex.join(self.argv)}\n{tail(self.log_path)}")
            if port_answers(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise HttpdError(f"{self.name} did not answer on port {self.port} within {timeout}s\n{tail(self.log_path)}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM, wait up to `timeout`, then SIGKILL the process group; returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # The group holds only what this process started (start_new_session), e.g. the daemon's workers.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
        return proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, limit: int = 4000) -> str:
        return tail(self.log_path, limit)


@dataclass
class Response:
    """One HTTP response as the client saw it."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """The first value of a header, case-insensitively; None when absent."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_request(port: int, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                 body: Optional[bytes] = None, timeout: float = REQUEST_TIMEOUT) -> Response:
    """One request on a fresh connection to 127.0.0.1:`port`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return Response(resp.status, resp.reason, resp.getheaders(), resp.read())
    finally:
        conn.close()


def curl_command(url: str, method: str = "GET", headers: Optional[Mapping[str, str]] = None,
                 body: Optional[bytes] = None) -> str:
    """The curl command line that repeats a request, for failure reports."""
    argv = ["curl", "-sS", "-i"]
    if method != "GET":
        argv += ["-X", method]
    for key, value in (headers or {}).items():
        argv += ["-H", f"{key}: {value}"]
    if body is not None:
        argv += ["--data-binary", body.decode("latin-1")]
    return shlex.join([*argv, url])


@dataclass
class ApacheServer:
    """A standalone Apache with its own config, logs and pid file in `run_dir`."""

    run_dir: Path
    port: int
    conf_text: str
    name: str = "apache"
    history: list[str] = field(default_factory=list)   # curl commands for requests since `begin_test`
    test_mark: int = 0                                 # error log offset at `begin_test`
    _process: Optional[ManagedProcess] = None

    @property
    def conf_path(self) -> Path:
        return self.run_dir / "httpd.conf"

    @property
    def error_log_path(self) -> Path:
        return self.run_dir / "error.log"

    @property
    def pid(self) -> Optional[int]:
        """The Apache parent's PID while it runs."""
        return self._process.pid if self._process is not None and self._process.alive else None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.conf_path.write_text(self.conf_text)
        argv = [APACHE_BIN, "-f", str(self.conf_path), "-k", "start", "-DFOREGROUND"]
        self._process = ManagedProcess(self.name, argv, port=self.port, log_path=self.run_dir / "stderr.log",
                                       env={"PATH": CLEAN_PATH, "LANG": "C"}, cwd=self.run_dir)
        try:
            self._process.start(timeout)
        except HttpdError as exc:
            raise HttpdError(f"{exc}\nerror.log:\n{self.error_log()[-4000:]}") from None

    def graceful(self) -> None:
        """`apachectl graceful`: reload the config, let children finish their requests."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGUSR1)

    def stop(self) -> Optional[int]:
        """Stop as `apache2 -k stop` does: SIGTERM to the parent, which stops its children."""
        return self._process.stop() if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.alive

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                body: Optional[bytes] = None, timeout: float = REQUEST_TIMEOUT) -> Response:
        self.history.append(curl_command(self.url(path), method, headers, body))
        return http_request(self.port, method, path, headers, body, timeout)

    def get(self, path: str, headers: Optional[Mapping[str, str]] = None) -> Response:
        return self.request("GET", path, headers)

    def error_log_mark(self) -> int:
        """An offset into the error log; pass it to `error_log(since=...)` to read only what came after."""
        path = self.error_log_path
        return path.stat().st_size if path.exists() else 0

    def error_log(self, since: int = 0) -> str:
        try:
            with open(self.error_log_path, "rb") as log:
                log.seek(since)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def begin_test(self) -> None:
        """Forget the previous test's requests and mark the error log, for this test's failure report."""
        self.history = []
        self.test_mark = self.error_log_mark()

    def failure_report(self) -> str:
        lines = ["# reproduce:", *self.history, f"# config: {self.conf_path}", "# error log since the test began:",
                 self.error_log(self.test_mark).rstrip() or "(empty)"]
        return "\n".join(lines)


class ApacheFactory:
    """Starts standalone Apaches from location blocks and stops every one it started."""

    def __init__(self) -> None:
        self.servers: list[ApacheServer] = []

    def start(self, blocks: Sequence[str], *, name: str = "apache", backend: Optional[Backend] = None,
              reuse: bool = True, mpm: Mpm = "event", modules: Sequence[str] = (),
              global_lines: Sequence[str] = (), static_files: Optional[Mapping[str, bytes]] = None,
              tokens: Optional[Mapping[str, str]] = None, log_level: str = "info",
              base_modules: Sequence[str] = BASE_MODULES, docroot: Optional[Path] = None) -> ApacheServer:
        """Render a config from `blocks` and `global_lines` (with `@TOKEN@`s replaced), start Apache, wait for it.

        `@DOCROOT@` and `@RUN_DIR@` are always defined; `static_files` are written under the docroot, which is the
        run directory's `htdocs` unless `docroot` names one (two Apaches may serve the same tree).
        """
        run_dir, port = make_run_dir(name), free_port()
        docroot = docroot if docroot is not None else run_dir / "htdocs"
        files = dict(static_files or {})
        if not (docroot / "index.html").exists():
            files.setdefault("index.html", b"<html><body>It works</body></html>\n")
        write_tree(docroot, files)
        values = {"DOCROOT": str(docroot), "RUN_DIR": str(run_dir), **(tokens or {})}
        blocks = [substitute(block, values) for block in blocks]
        global_lines = [substitute(line, values) for line in global_lines]
        user, group = apache_user()
        text = httpd_conf(port=port, run_dir=str(run_dir), docroot=str(docroot), blocks=blocks, backend=backend,
                          reuse=reuse, mpm=mpm, modules=modules, global_lines=global_lines, user=user, group=group,
                          log_level=log_level, base_modules=base_modules, modules_dir=MODULES_DIR)
        server = ApacheServer(run_dir=run_dir, port=port, conf_text=text, name=name)
        self.servers.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        """Stop every server; remove run directories unless FCGI_HANDLERS_KEEP_RUN_DIRS is set."""
        for server in reversed(self.servers):
            server.stop()
            remove_run_dir(server.run_dir)


def write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` (relative path -> bytes) under `root`, directories 0755 and files 0644 (www-data reads them)."""
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    root.chmod(0o755)
    for rel, data in files.items():
        path = root / rel
        for parent in reversed(path.relative_to(root).parents[:-1]):
            (root / parent).mkdir(mode=0o755, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace `@NAME@` tokens; an unknown token is an error, not a silently broken config."""
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"unknown token {match.group(0)} (known: {', '.join(sorted(values))})")
        return values[match.group(1)]
    return TOKEN.sub(replace, text)


def python_env() -> dict[str, str]:
    """Environment for our Python children: this package importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_daemon(port: int, log_dir: Path, *, handlers_dir: Path, extra_args: Iterable[str] = (),
                 python: Optional[str] = None) -> ManagedProcess:
    """Start `python -m fcgi_handlers serve` on 127.0.0.1:`port` with `handlers_dir` on its import path; `python`
    is the interpreter (default: this one)."""
    argv = [python or sys.executable, "-m", "fcgi_handlers", "serve", "--bind", f"127.0.0.1:{port}",
            "--path", str(handlers_dir), *extra_args]
    daemon = ManagedProcess("fcgi_handlers daemon", argv, port=port, log_path=log_dir / "daemon.log",
                            env=python_env(), cwd=PACKAGE_ROOT)
    daemon.start()
    return daemon
