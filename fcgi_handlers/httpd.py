"""Run a private Apache httpd from a generated config: start, wait for its port, stop by its own PID.

Used by `fcgi-handlers demo`, the end-to-end tests, the conformance report and the benchmark. Apache is started with a
clean PATH (`/usr/sbin:/usr/bin:/sbin:/bin`): mod_python's embedded interpreter otherwise picks up the Python prefix of
whatever venv is first on PATH. Only the process this module started is ever signalled, by the PID in its pid file.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class HttpdError(RuntimeError):
    """Apache could not be started or stopped; the message carries the tail of its error log."""


def find_httpd() -> Optional[str]:
    """Path of the apache2/httpd binary, or None."""
    for name in ("apache2", "httpd"):
        found = shutil.which(name, path=CLEAN_PATH)
        if found:
            return found
    return None


def apache_user() -> tuple[Optional[str], Optional[str]]:
    """`User`/`Group` for a config: as root Apache must drop to an account (www-data on Debian)."""
    if os.geteuid() != 0:
        return None, None
    return "www-data", "www-data"


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


class Httpd:
    """One Apache instance whose config, pid file and logs live in `run_dir`."""

    def __init__(self, run_dir: Path, conf_text: str, port: int) -> None:
        self.run_dir = run_dir
        self.port = port
        self.conf_path = run_dir / "httpd.conf"
        self.conf_path.write_text(conf_text)
        self.pid: Optional[int] = None

    @property
    def error_log_path(self) -> Path:
        return self.run_dir / "error.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = find_httpd()
        if binary is None:
            raise HttpdError("apache2 is not installed (Debian/Ubuntu: apt-get install apache2)")
        env = {"PATH": CLEAN_PATH, "LANG": "C"}
        return subprocess.run([binary, "-f", str(self.conf_path), *args], env=env, capture_output=True,
                              text=True, timeout=60, check=False)

    def start(self, timeout: float = 20.0) -> None:
        if port_answers(self.port):
            raise HttpdError(f"127.0.0.1:{self.port} is already in use")
        result = self._run("-k", "start")
        if result.returncode != 0:
            raise HttpdError(f"apache2 -k start failed ({result.returncode}): {result.stderr.strip()}\n"
                             f"{tail(self.error_log_path)}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid is None:
                self.pid = self._read_pid()
            if self.pid is not None and port_answers(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise HttpdError(f"Apache did not answer on 127.0.0.1:{self.port} within {timeout}s\n"
                         f"{tail(self.error_log_path)}")

    def _read_pid(self) -> Optional[int]:
        try:
            return int((self.run_dir / "httpd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def graceful(self) -> None:
        """`apachectl graceful`: reload the config, let children finish their requests."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGUSR1)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the parent we started and wait until it is gone (SIGKILL after `timeout`)."""
        pid = self.pid or self._read_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()
