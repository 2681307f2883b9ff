"""The README's pairing section, followed as written: a unix socket, the daemon started as root, Debian's Apache with
its children as www-data.

The test reads the section, takes its variables block, its handler and its commands, and runs each command through
bash exactly as the README prints it. Only the values of the README's own variables change (APP, SOCK, SITE,
APACHE_CONFDIR: directories of this run, and the free port of the Apache it starts), so "your existing Apache" is a
private copy of the system's /etc/apache2 (e2e/system_apache.py), started as root with Debian's `User www-data`.
`fcgi-handlers` is found on PATH as the README says (the virtualenv's bin directory, as `. .venv/bin/activate` does);
the `serve` command, which stays in the foreground, is started with `exec` so the test stops it by its PID.

Then the README's troubleshooting claims: the same `serve` without the socket flags (a root-only socket) gives 503
with `(13)Permission denied: AH02454` in Apache's error log, and a stopped daemon gives 503 with
`(2)No such file or directory: AH02454`.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import pytest

from e2e.conftest import require_apache
from e2e.system_apache import SystemCopy
from fcgi_handlers.apache.paths import CLEAN_PATH
from fcgi_handlers.apache.runner import http_request
from fcgi_handlers.client import get_values

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Pairing the daemon with an existing Apache"
TROUBLESHOOTING = "## Troubleshooting"
ANSWER = "Hello from the daemon\n"
SOCKET_FLAGS = ("--socket-group www-data", "--user www-data")
WAIT = 20.0  # seconds for the daemon to boot, or for Apache's graceful restart to serve the new config


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    return text[start:text.index("\n## ", start + len(title))]


@dataclass
class Fences:
    """A section's fenced blocks by language, each dedented, in order."""

    blocks: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> Fences:
        found = re.findall(r"^( *)```(\w+)\n(.*?)^\1```", text, re.M | re.S)
        blocks = [(lang, "".join(line[len(indent):] + "\n" for line in body.splitlines())) for indent, lang, body
                  in found]
        return cls(blocks)

    def of_lang(self, lang: str) -> list[str]:
        return [body for kind, body in self.blocks if kind == lang]


def variables_block(body: str, values: dict[str, str]) -> str:
    """A README block with its variable lines' values replaced (comments, `export` and other lines kept as they
    are); the variables must be exactly those of `values`, in that order."""
    lines, names = [], []
    for line in body.splitlines():
        match = re.fullmatch(r"(export )?([A-Z_]+)=(\S+)(\s+#.*)?", line)
        if match:
            names.append(match[2])
            line = f"{match[1] or ''}{match[2]}={values[match[2]]}{match[4] or ''}"
        lines.append(line)
    assert names == list(values), "the README's placeholders changed: update their values here"
    return "\n".join(lines) + "\n"


class Shell:
    """Runs README command lines with the variables block in front, as a user's root shell would."""

    def __init__(self, prelude: str, env: dict[str, str], cwd: Path) -> None:
        self.prelude, self.env, self.cwd = prelude, env, cwd

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["bash", "-c", self.prelude + line], capture_output=True, text=True, timeout=120,
                                env=self.env, cwd=self.cwd)
        assert result.returncode == 0, f"{line}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
        return result

    def start(self, line: str, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(["bash", "-c", self.prelude + "exec " + line], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                    start_new_session=True)


def wait_serving(sock: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            get_values(f"unix:{sock}", [b"FCGI_MAX_CONNS"], timeout=2.0)
            return
        except (OSError, ValueError):
            time.sleep(0.1)
    raise AssertionError(f"the daemon did not answer on {sock}:\n{log.read_text()}")


def stop(proc: Optional[subprocess.Popen[bytes]]) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def host() -> Iterator[tuple[Path, SystemCopy]]:
    """A world-traversable work directory and a private copy of the system's Apache configuration."""
    require_apache("proxy_fcgi")
    if os.geteuid() != 0:
        reason = "the README's pairing steps run as root (Debian's Apache with User www-data)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    if not shutil.which("fcgi-handlers", path=str(Path(sys.executable).parent)):
        pytest.fail(f"no fcgi-handlers beside {sys.executable}: install the project (scripts/test.sh does)")
    work = Path(tempfile.mkdtemp(prefix="fcgi-handlers-pairing-"))
    work.chmod(0o755)
    apache_root = Path(tempfile.mkdtemp(prefix="fcgi-handlers-pairing-apache-"))
    apache_root.chmod(0o755)
    yield work, SystemCopy(apache_root)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(apache_root, ignore_errors=True)


def test_readme_pairing_section_as_written(host: tuple[Path, SystemCopy]) -> None:
    work, apache = host
    fences = Fences.of(section(SECTION))
    install, variables, *command_blocks = fences.of_lang("sh")
    assert "-m venv" in install  # the system install has its own test below
    (handler,) = fences.of_lang("python")
    sock = work / "run" / "fcgi-handlers" / "myapp.sock"
    values = {"APP": str(work / "app"), "SOCK": str(sock), "SITE": f"http://127.0.0.1:{apache.port}",
              "APACHE_CONFDIR": str(apache.conf)}
    (work / "app").mkdir(mode=0o755)
    (work / "app" / "hello.py").write_text(handler)
    (work / "app" / "hello.py").chmod(0o644)
    env = {"PATH": f"{Path(sys.executable).parent}:{CLEAN_PATH}", "LANG": "C",
           "APACHE_STATE_DIRECTORY": str(apache.root / "state")}
    shell = Shell(variables_block(variables, values), env, work)
    commands = [line for block in command_blocks for line in block.splitlines() if line.strip()]
    assert not [line for line in commands if line.endswith("\\")], "the test runs one line per command"
    serve_lines = [line for line in commands if line.startswith("fcgi-handlers serve ")]
    assert len(serve_lines) == 1 and all(flag in serve_lines[0] for flag in SOCKET_FLAGS)

    existing, answered = apache.start()  # the Apache the README pairs with, running before step 2
    daemon: Optional[subprocess.Popen[bytes]] = None
    try:
        assert answered, apache.errors()
        outputs: dict[str, str] = {}
        for line in commands:
            if line in serve_lines:
                daemon = shell.start(line, work / "daemon.log")
                wait_serving(sock, daemon, work / "daemon.log")
            elif line.startswith("curl "):
                outputs[line] = retry_until(shell, line, ANSWER)
            else:
                outputs[line] = shell.run(line).stdout
        assert any(out.startswith(f"ping unix:{sock}: ok") for out in outputs.values()), outputs
        assert ANSWER in outputs.values()
        st = sock.stat()
        www_data = pwd.getpwnam("www-data")
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (www_data.pw_uid, www_data.pw_gid, 0o660)
        assert "PythonDebug is Off" in (apache.conf / "conf-available" / "fcgi-handlers.conf").read_text()
        assert_handler_errors_reach_apaches_log(apache, work / "app" / "hello.py", handler)

        # Troubleshooting, first cause: the same daemon with a root-only socket.
        stop(daemon)
        root_only = serve_lines[0]
        for flag in SOCKET_FLAGS:
            root_only = root_only.replace(" " + flag, "")
        daemon = shell.start(root_only, work / "daemon.log")
        wait_serving(sock, daemon, work / "daemon.log")
        assert (sock.stat().st_uid, sock.stat().st_gid) == (0, 0)
        assert_503(apache, "(13)Permission denied: AH02454")

        # Second cause: the daemon is down.
        stop(daemon)
        daemon = None
        assert_503(apache, "(2)No such file or directory: AH02454")
        troubleshooting = section(TROUBLESHOOTING)
        assert "(13)Permission denied: AH02454" in troubleshooting and "(2)No such file or directory" in troubleshooting
    finally:
        stop(daemon)
        apache.stop(existing)


def retry_until(shell: Shell, line: str, expected: str) -> str:
    """Run `line` until it prints `expected`: a graceful restart serves the new config a moment after it returns."""
    deadline = time.monotonic() + WAIT
    while True:
        out = shell.run(line).stdout
        if out == expected or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def assert_handler_errors_reach_apaches_log(apache: SystemCopy, module: Path, source: str) -> None:
    """Troubleshooting's claim on handler errors: the traceback is in Apache's error log. The handler is edited to
    fail; the daemon re-imports it (PythonAutoReload is On by default)."""
    mark = apache.error_log_size()
    module.write_text(source.replace('req.write("Hello from the daemon\\n")', 'raise RuntimeError("handler bug")'))
    deadline = time.monotonic() + WAIT
    while http_request(apache.port, "GET", "/app/").status != 500:
        assert time.monotonic() < deadline, "the edited handler was never re-imported"
        time.sleep(0.3)
    logged = wait_logged(apache, mark, "RuntimeError: handler bug")
    assert "AH01071: Got error" in logged and "in handler" in logged
    assert "AH01071: Got error" in section(TROUBLESHOOTING)
    module.write_text(source)


def wait_logged(apache: SystemCopy, mark: int, text: str) -> str:
    """Apache's error log since `mark`, once it holds `text` (the child that served the request writes it)."""
    deadline = time.monotonic() + 5
    while text not in apache.errors(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return apache.errors(mark)


def assert_503(apache: SystemCopy, cause: str) -> None:
    mark = apache.error_log_size()
    response = http_request(apache.port, "GET", "/app/")
    assert response.status == 503, response.text
    assert cause in wait_logged(apache, mark, cause), apache.errors(mark)


def test_readme_system_install_as_written() -> None:
    """The system install block, run in a copy of the checkout (pip writes build/ into it; two runs at once must not
    share one) with Debian's python3 (the PATH a root shell has), into a fresh PREFIX: the installed command works
    from anywhere, without the checkout."""
    install = Fences.of(section(SECTION)).of_lang("sh")[0]
    prefix = Path(tempfile.mkdtemp(prefix="fcgi-handlers-prefix-"))
    try:
        checkout = prefix / "checkout"
        shutil.copytree(README.parent, checkout, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "conformance-report"))
        script = variables_block(install, {"PREFIX": str(prefix / "venv")})
        # FCGI_HANDLERS_PURE=1 skips setup.py's mypyc compilation (minutes on a small machine; the compiled build
        # has its own tests): the install, its dependencies and the installed command are what this test checks.
        result = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=600,
                                cwd=checkout, env={"PATH": CLEAN_PATH, "LANG": "C", "HOME": str(prefix),
                                                   "FCGI_HANDLERS_PURE": "1"})
        assert result.returncode == 0, result.stdout + result.stderr
        command = prefix / "venv" / "bin" / "fcgi-handlers"
        snippet = subprocess.run([str(command), "apache-config", "--bind", "unix:/run/x.sock"], capture_output=True,
                                 text=True, timeout=60, cwd=prefix, env={"PATH": CLEAN_PATH})
        assert snippet.returncode == 0 and "unix:/run/x.sock|fcgi://localhost/" in snippet.stdout, snippet.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
