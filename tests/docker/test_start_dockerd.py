"""scripts/start-dockerd.sh's sharing rule, with a fake `dockerd` and `docker` first on PATH: two runs on one host use
one dockerd, and one run's `--stop` must not stop it while the other still uses it.

The fake dockerd is a shell script named `dockerd` (so /proc/PID/comm says dockerd, as the script checks) that marks
itself up in a file the fake `docker info` reads; each test gets its own state directory, so no real daemon is touched.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from compose_stack import SCRIPTS

FAKE_DOCKERD = """#!/bin/bash
trap 'rm -f "{up}"; exit 0' TERM
echo $$ > "{up}"
while :; do sleep 0.1; done
"""
FAKE_DOCKER = """#!/bin/bash
[ "$1" = info ] && [ -s "{up}" ] && kill -0 "$(cat "{up}")" 2>/dev/null
"""


class Host:
    """A fake Docker installation and a state directory of its own."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.up = root / "dockerd.up"
        self.state = root / "state"
        for name, text in (("dockerd", FAKE_DOCKERD), ("docker", FAKE_DOCKER)):
            path = self.bin / name
            path.write_text(text.format(up=self.up))
            path.chmod(0o755)
        self.holders: list[subprocess.Popen[bytes]] = []

    def holder(self) -> int:
        """A process standing for one test run."""
        proc = subprocess.Popen(["sleep", "300"])
        self.holders.append(proc)
        return proc.pid

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": f"{self.bin}:/usr/bin:/bin", "DOCKERD_STATE_DIR": str(self.state),
               "DOCKERD_START_TIMEOUT": "10"}
        return subprocess.run([str(SCRIPTS / "start-dockerd.sh"), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    def dockerd_pid(self) -> int:
        return int((self.state / "dockerd.pid").read_text())

    def running(self) -> bool:
        return self.up.exists()

    def stops_within(self, seconds: float) -> bool:
        """Whether the fake dockerd is down within `seconds` (polled)."""
        deadline = time.monotonic() + seconds
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.running()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    made = Host(tmp_path)
    yield made
    for proc in made.holders:
        proc.kill()
        proc.wait()
    pid = (made.state / "dockerd.pid")
    if pid.exists() and made.running():
        os.kill(int(pid.read_text()), 15)


def test_the_last_user_stops_the_dockerd_the_script_started(host: Host) -> None:
    first, second = host.holder(), host.holder()
    assert host.script("--holder", str(first)).returncode == 0
    started = host.dockerd_pid()
    assert host.running()
    assert host.script("--holder", str(second)).returncode == 0
    assert host.dockerd_pid() == started   # the second run uses the first run's daemon
    result = host.script("--stop", "--holder", str(first))
    assert result.returncode == 0 and "still used by" in result.stderr
    assert host.running()
    assert host.script("--stop", "--holder", str(second)).returncode == 0
    assert host.stops_within(10)


def test_a_dead_user_does_not_keep_dockerd(host: Host) -> None:
    crashed, alive = host.holder(), host.holder()
    assert host.script("--holder", str(crashed)).returncode == 0
    assert host.script("--holder", str(alive)).returncode == 0
    host.holders[0].kill()
    host.holders[0].wait()
    assert host.script("--stop", "--holder", str(alive)).returncode == 0
    assert host.stops_within(10)


def test_a_dockerd_it_did_not_start_is_left_alone(host: Host) -> None:
    other = subprocess.Popen([str(host.bin / "dockerd")])   # "someone else's" daemon, already up
    try:
        deadline = time.monotonic() + 10
        while not host.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        user = host.holder()
        assert host.script("--holder", str(user)).returncode == 0
        assert not (host.state / "dockerd.pid").exists()
        assert host.script("--stop", "--holder", str(user)).returncode == 0
        assert other.poll() is None
    finally:
        other.terminate()
        other.wait(10)


def test_bad_arguments_exit_2(host: Host) -> None:
    assert host.script("--holder").returncode == 2
    assert host.script("--bogus").returncode == 2
    assert host.script("--holder", "999999999").returncode == 2
