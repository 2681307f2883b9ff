"""scripts/install-system-deps.sh leaves the system Apache startable, shown by starting it, not by `apache2ctl -t`.

`apache2 -t` parses the configuration and loads every module, but mod_wsgi refuses to run beside mod_python only when
Apache starts, so a syntax check passes on a configuration that cannot start. These tests therefore start the
system configuration for real, privately: a copy of /etc/apache2 whose ports.conf listens on a free loopback port,
with its pid file, logs and runtime directory in a temporary directory, started in the foreground and stopped by the
PID this test started. The system's own Apache, its port 80 and its files are never touched.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Mapping, Optional

import pytest

from e2e.conftest import require_apache
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

    def start_and_stop(self) -> tuple[bool, str]:
        """Start it in the foreground; whether it answered HTTP, and its error output. Stopped by its PID."""
        log = self.root / "log" / "stderr.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([APACHE_BIN, "-d", str(self.conf), "-k", "start", "-DFOREGROUND"],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True)
        answered = False
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None:
                if port_answers(self.port):
                    answered = http_request(self.port, "GET", "/").status > 0
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        errors = log.read_text(errors="replace")
        error_log = self.root / "log" / "error.log"
        if error_log.exists():
            errors += error_log.read_text(errors="replace")
        return answered, errors

    def enable(self, *modules: str) -> None:
        for name in modules:
            link = self.conf / "mods-enabled" / f"{name}.load"
            if not link.exists():
                link.symlink_to(f"../mods-available/{name}.load")

    def install_script(self) -> subprocess.CompletedProcess[str]:
        """scripts/install-system-deps.sh with a2dismod (and its checks) pointed at this copy."""
        env = {"PATH": os.environ.get("PATH", CLEAN_PATH), "APACHE_CONFDIR": str(self.conf),
               "APACHE_STATE_DIRECTORY": str(self.root / "state")}
        return subprocess.run([str(REPO / "scripts" / "install-system-deps.sh")], capture_output=True, text=True,
                              timeout=900, env=env)


@pytest.fixture
def system_copy() -> Iterator[SystemCopy]:
    require_apache("python", "wsgi")
    if os.geteuid() != 0:
        reason = "starting Debian's configuration (User www-data) needs root"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="fcgi-handlers-system-apache-"))
    root.chmod(0o755)
    yield SystemCopy(root)
    shutil.rmtree(root, ignore_errors=True)


def test_the_system_configuration_starts(system_copy: SystemCopy) -> None:
    """What install-system-deps.sh left in /etc/apache2 (scripts/test.sh runs it first) starts and answers."""
    loaded = system_copy.modules()
    assert not {"python_module", "wsgi_module"} <= loaded, "mod_python and mod_wsgi are both enabled"
    answered, errors = system_copy.start_and_stop()
    assert answered, errors


def test_syntax_check_passes_where_start_fails_and_the_script_repairs_it(system_copy: SystemCopy) -> None:
    system_copy.enable("python", "wsgi")  # what Debian's postinst scripts leave after installing both
    assert {"python_module", "wsgi_module"} <= system_copy.modules()
    assert system_copy.syntax_ok()  # apache2ctl -t is satisfied...
    answered, errors = system_copy.start_and_stop()
    assert not answered and "mod_python" in errors  # ...but Apache does not start
    result = system_copy.install_script()
    assert result.returncode == 0, result.stderr
    assert "disabling both" in result.stderr
    assert not {"python_module", "wsgi_module"} & system_copy.modules()
    answered, errors = system_copy.start_and_stop()
    assert answered, errors
