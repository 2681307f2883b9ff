"""--request-timeout through real Apache: a handler in an endless loop gets 504, its worker is replaced, and wrk load
on another handler (kept connections, enablereuse=on) sees no failed request meanwhile."""
from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from e2e.harness import ApacheServer, Response
from e2e.ops_stack import require_tool, start_ops_stack

pytestmark = pytest.mark.e2e

LOAD_SECONDS = 6


def run_wrk(port: int, path: str, out: list[str]) -> None:
    """wrk for LOAD_SECONDS on `path`, bounded by its own duration and a hard timeout."""
    argv = ["wrk", "-t2", "-c8", f"-d{LOAD_SECONDS}s", "--timeout", "10s", f"http://127.0.0.1:{port}{path}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=LOAD_SECONDS + 30)
    out.append(result.stdout + result.stderr)


def test_endless_loop_gets_504_and_its_worker_is_replaced_under_load(
        tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> None:
    require_tool("wrk")
    access = tmp_path / "access.log"
    stack = start_ops_stack(tmp_path, start_apache, ["--workers", "2", "--threads", "4", "--request-timeout", "1.5",
                                                     "--graceful-timeout", "8", "--access-log", str(access)])
    try:
        both = stack.wait_for(lambda: len(stack.status()["processes"]) == 2 and stack.status(), timeout=10)
        before = {p["pid"] for p in both["processes"]}
        wrk_out: list[str] = []
        load = threading.Thread(target=run_wrk, args=(stack.apache.port, "/ops/hello", wrk_out))
        load.start()
        sleepers: list[Response] = []
        sleeper_threads = [threading.Thread(target=lambda: sleepers.append(stack.get("/ops/sleep?1")))
                           for _ in range(4)]
        time.sleep(1.0)
        for thread in sleeper_threads:
            thread.start()
        started = time.monotonic()
        spun = stack.get("/ops/spin", timeout=30)
        answered_after = time.monotonic() - started
        for thread in sleeper_threads:
            thread.join(timeout=30)
        load.join(timeout=LOAD_SECONDS + 40)
        replaced = stack.wait_for(lambda: (lambda s: s["workers_recycled"] == 1 and len(s["processes"]) == 2 and s)(
            stack.status()), timeout=15)
    finally:
        stack.daemon.stop()
    assert spun.status == 504 and b"request timeout" in spun.body, spun
    assert 1.4 < answered_after < 10
    assert [r.status for r in sleepers] == [200] * 4
    report = wrk_out[0]
    print(report)  # shown with -s: the load the timeout happened under
    requests = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    assert requests > 50, report
    assert "Non-2xx" not in report and "Socket errors" not in report, report
    assert replaced, "the worker was not replaced"
    assert replaced["timed_out_requests"] == 1
    assert len(before - {p["pid"] for p in replaced["processes"]}) == 1  # exactly the stuck worker left
    log = stack.daemon_log()
    assert re.search(r"request timeout \(1\.5 s\) in worker (\d+): GET /ops/spin phase=PythonHandler "
                     r"handler=opsmod::spin .*answered 504; the worker will be replaced\n", log), log[-3000:]
    assert re.search(r'opsmod\.py", line \d+, in spin\n', log)
    assert re.search(r"worker \d+ \(generation 0\) exiting: retiring done", log), log[-3000:]
    spin_lines = [line for line in access.read_text().splitlines() if '"GET /ops/spin ' in line]
    assert len(spin_lines) == 1 and '" 504 ' in spin_lines[0], spin_lines


def test_timeout_after_output_ends_the_stream(tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> None:
    stack = start_ops_stack(tmp_path, start_apache, ["--workers", "1", "--threads", "2", "--request-timeout", "2",
                                                     "--graceful-timeout", "3"])
    try:
        assert stack.get("/ops/hello").status == 200  # opsmod imported: the partial write comes well before 2 s
        response = stack.get("/ops/partial", timeout=30)
        after = stack.get("/ops/hello")
        replaced = stack.wait_for(lambda: stack.status()["workers_recycled"] == 1, timeout=15)
    finally:
        stack.daemon.stop()
    # The status line went out with the first write: the client gets what was sent, and the end of the stream.
    assert response.status == 200 and response.body == b"partial output\n"
    assert after.status == 200 and after.body == b"Hello World!"
    assert replaced
    assert "stream ended after the handler's output; the worker will be replaced" in stack.daemon_log()
