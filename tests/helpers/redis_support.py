"""A real redis-server for the RedisSession tests: Debian's binary on a free loopback port, its files in tmp_path.

Nothing is mocked: the tests talk to the server the way the daemons do. The server runs without persistence, is
stopped by its pid at the end of the test, and its port is found by binding port 0 first; a port someone else took
in between makes redis-server exit at once, and the fixture tries another. Without the binary the tests fail under
CI (install-system-deps.sh installs it) and skip elsewhere with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import redis

START_ATTEMPTS = 3
START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _answers(url: str, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.05)
        return False
    finally:
        client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """`redis://127.0.0.1:<port>/0` of a redis-server started for this test."""
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                              else None)
    if binary is None:
        _missing("redis-server is not installed (scripts/install-system-deps.sh installs it)")
    assert binary is not None
    directory = tmp_path / "redis"
    directory.mkdir()
    for _ in range(START_ATTEMPTS):
        port = free_port()
        log = directory / "redis.log"
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        if _answers(url, proc, time.monotonic() + START_TIMEOUT):
            try:
                yield url
            finally:
                _stop(proc)
            return
        _stop(proc)
    pytest.fail(f"redis-server did not start in {START_ATTEMPTS} attempts; its log:\n"
                f"{(directory / 'redis.log').read_text(errors='replace')[-2000:]}", pytrace=False)
