"""The benchmark's CPU accounting (benchmarks/bench.py): whose CPU time each target's requests are charged with.

The throughput and latency figures need Apache and wrk and are the benchmark's own output; what is tested here is
the bookkeeping those figures rest on: a process group's CPU time, the command-line filter that tells mod_wsgi's
daemon processes from Apache's own children, and how the table shows a part that was not measured.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import ProcessSet, Result, cpu_cell  # noqa: E402

# The child burns this much CPU; the group must be charged with about as much (clock ticks round it).
BURN_SECONDS = 0.4
BURN = f"import time\nend = time.process_time() + {BURN_SECONDS}\nwhile time.process_time() < end: pass\n" \
       "time.sleep(30)\n"


@pytest.fixture
def burner() -> Iterator["subprocess.Popen[bytes]"]:
    """A process in a session of its own (so its PID is its process group) that has used BURN_SECONDS of CPU."""
    proc = subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while ProcessSet(proc.pid).cpu_seconds() < BURN_SECONDS * 0.9:
            assert proc.poll() is None, "the CPU burner exited early"
            assert time.monotonic() < deadline, "the CPU burner used no CPU within 30 s"
            time.sleep(0.05)
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def test_a_process_group_is_charged_with_its_members_cpu(burner: "subprocess.Popen[bytes]") -> None:
    used = ProcessSet(burner.pid).cpu_seconds()
    assert BURN_SECONDS * 0.9 <= used < BURN_SECONDS * 3


def test_the_prefix_keeps_or_drops_members_by_command_line(burner: "subprocess.Popen[bytes]") -> None:
    argv0 = Path(f"/proc/{burner.pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    assert ProcessSet(burner.pid, prefix=argv0).cpu_seconds() >= BURN_SECONDS * 0.9
    assert ProcessSet(burner.pid, prefix=argv0, exclude=True).cpu_seconds() == 0
    assert ProcessSet(burner.pid, prefix="bench-wsgi").cpu_seconds() == 0
    assert ProcessSet(burner.pid, prefix="bench-wsgi", exclude=True).cpu_seconds() >= BURN_SECONDS * 0.9


def test_a_group_with_no_live_member_costs_nothing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait(30)
    assert ProcessSet(proc.pid).cpu_seconds() == 0


def test_the_cpu_cell_shows_each_part_or_a_dash() -> None:
    measured = Result("daemon-plain", backend_cpu_us=101.4, apache_cpu_us=130.6, wrk_cpu_us=27.0)
    assert cpu_cell(measured) == "101/131/27"
    in_apache = Result("mod_python", apache_cpu_us=94.0, wrk_cpu_us=37.2)
    assert cpu_cell(in_apache) == "-/94/37"
