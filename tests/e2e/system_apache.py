"""A private copy of the system's Apache configuration (/etc/apache2), started and stopped by the tests.

The copy's ports.conf listens on a free loopback port and its envvars put the pid file, logs, lock and runtime
directories in the copy's own directory, so `apache2 -d COPY` and `apache2ctl` with `APACHE_CONFDIR=COPY` run it
without touching the system's Apache, its port 80 or its files (`APACHE_STATE_DIRECTORY` keeps a2enmod/a2enconf's
markers in the copy too). Started in the foreground as this process's child, stopped by that PID.
"""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Mapping, Optional

from fcgi_handlers.apache.paths import APACHE_BIN, CLEAN_PATH
from fcgi_handlers.apache.runner import free_port, http_request, port_answers

REPO = Path(__file__).resolve().parents[2]
SYSTEM_CONF = Path("/etc/apache2")
START_TIMEOUT = 20.0


class SystemCopy:
    """A copy of the system's Apache configuration that runs on 127.0.0.1:`port` with its state in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "apache2"
        self.port = free_port()
        shutil.copytree(SYSTEM_CONF, self.conf, symlinks=True)
        (self.conf / "ports.conf").write_text(f"Listen 127.0.0.1:{self.port}\n")
        for name in ("run", "lock", "log", "state"):
            (root / name).mkdir()
        # What apache2ctl reads: Debian's envvars, pointed into the private directory.
        (self.conf / "envvars").write_text("".join(f"export {key}={value}\n" for key, value in self.env.items()
                                                   if key.startswith("APACHE_")))

    @property
    def env(self) -> dict[str, str]:
        """What /etc/apache2/envvars gives apache2ctl, pointed into the private directory."""
        return {"PATH": CLEAN_PATH, "LANG": "C", "APACHE_RUN_USER": "www-data", "APACHE_RUN_GROUP": "www-data",
                "APACHE_PID_FILE": str(self.root / "run" / "apache2.pid"), "APACHE_RUN_DIR": str(self.root / "run"),
                "APACHE_LOCK_DIR": str(self.root / "lock"), "APACHE_LOG_DIR": str(self.root / "log")}

    def run(self, *args: str, env: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env={**self.env, **(env or {})})

    def modules(self) -> set[str]:
        """The modules this configuration loads (`-t -D DUMP_MODULES`: parsed and loaded, not started)."""
        result = self.run(APACHE_BIN, "-d", str(self.conf), "-t", "-D", "DUMP_MODULES")
        assert result.returncode == 0, result.stderr
        return {line.split()[0] for line in result.stdout.splitlines() if line.startswith(" ")}

    def syntax_ok(self) -> bool:
        result = self.run(APACHE_BIN, "-d", str(self.conf), "-t")
        return result.returncode == 0 and "Syntax OK" in result.stderr

    def start(self) -> tuple[subprocess.Popen[bytes], bool]:
        """Start it in the foreground; the process and whether it answered HTTP (False: it exited or timed out)."""
        with open(self.root / "log" / "stderr.log", "ab") as out:
            proc = subprocess.Popen([APACHE_BIN, "-d", str(self.conf), "-k", "start", "-DFOREGROUND"],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if port_answers(self.port):
                try:
                    return proc, http_request(self.port, "GET", "/").status > 0
                except (OSError, http.client.HTTPException):
                    pass  # the port opens before the modules' start-up checks, which may still make it exit
            time.sleep(0.05)
        return proc, False

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the Apache parent this test started (it stops its children), SIGKILL its group if it hangs."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def errors(self, since: int = 0) -> str:
        """Apache's stderr and error log (from byte `since` of the error log)."""
        text = (self.root / "log" / "stderr.log").read_text(errors="replace")
        error_log = self.root / "log" / "error.log"
        if error_log.exists():
            with open(error_log, "rb") as log:
                log.seek(since)
                text += log.read().decode(errors="replace")
        return text

    def error_log_size(self) -> int:
        error_log = self.root / "log" / "error.log"
        return error_log.stat().st_size if error_log.exists() else 0

    def start_and_stop(self) -> tuple[bool, str]:
        """Start it, stop it; whether it answered HTTP, and its error output."""
        proc, answered = self.start()
        self.stop(proc)
        return answered, self.errors()

    def enable(self, *modules: str) -> None:
        for name in modules:
            link = self.conf / "mods-enabled" / f"{name}.load"
            if not link.exists():
                link.symlink_to(f"../mods-available/{name}.load")

    def install_script(self, env: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess[str]:
        """scripts/install-system-deps.sh with a2dismod (and its checks) pointed at this copy."""
        full_env = {"PATH": os.environ.get("PATH", CLEAN_PATH), "APACHE_CONFDIR": str(self.conf),
                    "APACHE_STATE_DIRECTORY": str(self.root / "state"), **(env or {})}
        return subprocess.run([str(REPO / "scripts" / "install-system-deps.sh")], capture_output=True, text=True,
                              timeout=900, env=full_env)
