"""docker/daemon-entrypoint.sh without Docker: the flags it builds from the environment and its stop delay.

The daemon is replaced by a stand-in `fcgi-handlers` on PATH that records its arguments and the time SIGTERM reached
it, so the test sees what the entrypoint passes on and when.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parents[2] / "docker" / "daemon-entrypoint.sh"

STAND_IN = """#!/usr/bin/env bash
echo "$*" > "$RECORD.args"
trap 'date +%s.%N > "$RECORD.term"; exit 0' TERM
while true; do sleep 0.05; done
"""


def start(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "fcgi-handlers"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    record = tmp_path / "record"
    full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(record), **env}
    proc = subprocess.Popen(["bash", str(ENTRYPOINT)], env=full_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while not Path(f"{record}.args").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate(timeout=5)[0]
        time.sleep(0.02)
    return proc, record


def test_settings_become_flags(tmp_path: Path) -> None:
    proc, record = start(tmp_path, FCGI_HANDLERS_BIND="0.0.0.0:9001", FCGI_HANDLERS_PATH="/a:/b",
                         FCGI_HANDLERS_WORKERS="", FCGI_HANDLERS_DEBUG="on")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert Path(f"{record}.args").read_text().split() == ["serve", "--bind", "0.0.0.0:9001", "--path", "/a",
                                                          "--path", "/b", "--debug"]


def test_stop_delay_keeps_serving_then_passes_sigterm_on(tmp_path: Path) -> None:
    proc, record = start(tmp_path, FCGI_HANDLERS_STOP_DELAY="1")
    time.sleep(0.3)   # the shell's traps are set once the daemon runs
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, proc.communicate(timeout=5)[0]
    delayed = float(Path(f"{record}.term").read_text()) - sent
    assert 0.9 <= delayed < 5, delayed
    assert "serving 1 s more" in proc.communicate(timeout=5)[0]


def test_without_a_stop_delay_sigterm_reaches_the_daemon_at_once(tmp_path: Path) -> None:
    proc, record = start(tmp_path)
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert float(Path(f"{record}.term").read_text()) - sent < 0.9


def test_bad_stop_delay_is_a_usage_error(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = subprocess.run(["bash", str(ENTRYPOINT)], env={"PATH": f"{bin_dir}:/usr/bin:/bin",
                                                           "FCGI_HANDLERS_STOP_DELAY": "5s"},
                            capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("fcgi-handlers-entrypoint: FCGI_HANDLERS_STOP_DELAY=5s is not a whole number "
                                     "of seconds")
    assert os.listdir(bin_dir) == []
