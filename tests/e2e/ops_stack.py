"""A private daemon and Apache for the operations tests (status page, slow log, timeouts, access log).

Each test gets its own daemon, started with the flags it is about, serving `opsmod` (below) from a temporary
directory, and its own Apache routing `/ops/<function>` to `opsmod::<function>` and the status path to the daemon's
status page, restricted to loopback as the README shows.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import pytest

from e2e.harness import ApacheServer, Backend, ManagedProcess, Response, free_port, http_request, start_daemon

STATUS_PATH = "/fh-status"
FUNCTIONS = ("hello", "sleep", "hold", "spin", "partial", "boom")
OPSMOD = '''"""Handlers for the operations tests."""
import os
import time
from mod_python import apache


def hello(req):
    req.content_type = "text/plain"
    req.write("Hello World!")
    return apache.OK


def sleep(req):
    napping(float(req.args or "1"))
    req.content_type = "text/plain"
    req.write("slept")
    return apache.OK


def hold(req):
    """Runs until the test creates the file "release" beside this module (at most 30 s)."""
    release = os.path.join(os.path.dirname(__file__), "release")
    for _ in range(600):
        if os.path.exists(release):
            break
        time.sleep(0.05)
    req.content_type = "text/plain"
    req.write("released")
    return apache.OK


def napping(seconds):
    time.sleep(seconds)


def spin(req):
    count = 0
    while True:  # a handler stuck in an endless loop
        count += 1


def partial(req):
    req.content_type = "text/plain"
    req.write("partial output\\n")  # flushed: the status line has gone out
    spin(req)


def boom(req):
    raise ValueError("boom from opsmod")
'''


def require_tool(name: str) -> str:
    """The path of a tool scripts/install-system-deps.sh installs; without it, fail under CI and skip otherwise
    (as the Apache tests do)."""
    path = shutil.which(name)
    if path is None:
        reason = f"not installed: {name} (run scripts/install-system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass
class OpsStack:
    daemon: ManagedProcess
    apache: ApacheServer
    logs: Path
    handlers: Path
    # Each held request gets its own URI: a finished one may still show in another worker's row for up to a
    # heartbeat, and must not be taken for the next one.
    holds: Iterator[int] = field(default_factory=itertools.count)

    def get(self, path: str, timeout: float = 30.0) -> Response:
        return http_request(self.apache.port, "GET", path, timeout=timeout)

    def status(self, query: str = "json&full") -> dict[str, Any]:
        response = self.get(f"{STATUS_PATH}?{query}")
        assert response.status == 200, response
        data: dict[str, Any] = json.loads(response.body)
        return data

    def daemon_log(self) -> str:
        return (self.logs / "daemon.log").read_text(errors="replace")

    @contextlib.contextmanager
    def holding(self, tag: str) -> Iterator[dict[str, Any]]:
        """A request held in `opsmod::hold` while the block runs; yields its row from `?json&full`."""
        uri = f"/ops/hold?{tag}-{next(self.holds)}"
        answers: list[Response] = []
        thread = threading.Thread(target=lambda: answers.append(self.get(uri)))
        thread.start()
        try:
            row = self.wait_for(lambda: in_flight(self.status(), uri), timeout=10.0)
            assert row, f"{uri} never showed up in flight: {self.status()}"
            yield row
        finally:
            (self.handlers / "release").touch()
            thread.join(timeout=30)
            (self.handlers / "release").unlink()
        assert answers and answers[0].status == 200 and answers[0].body == b"released"

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.1) -> Any:
        """The first truthy value of `predicate()`, polled for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(step)


def start_ops_stack(tmp_path: Path, start_apache: Callable[..., ApacheServer], extra_args: Iterable[str] = (),
                    *, reuse: bool = True, name: str = "ops") -> OpsStack:
    handlers, logs = tmp_path / "handlers", tmp_path / "logs"
    handlers.mkdir()
    logs.mkdir()
    (handlers / "opsmod.py").write_text(OPSMOD)
    port = free_port()
    daemon = start_daemon(port, logs, handlers_dir=handlers,
                          extra_args=["--status-path", STATUS_PATH, *extra_args])
    backend = Backend(port=port)
    blocks = [f'<Location "/ops/{fn}">\n    ProxyPass "{backend.worker_url()}"\n'
              f'    SetEnv PythonHandler "opsmod::{fn}"\n</Location>' for fn in FUNCTIONS]
    blocks.append(f'<Location "{STATUS_PATH}">\n    ProxyPass "{backend.worker_url()}"\n'
                  '    Require ip 127.0.0.1\n</Location>')
    try:
        apache = start_apache(blocks, name=name, backend=backend, reuse=reuse)
    except BaseException:
        daemon.stop()
        raise
    return OpsStack(daemon, apache, logs, handlers)


def in_flight(status: dict[str, Any], uri: str) -> Optional[dict[str, Any]]:
    """The row of the request for `uri` in a `?json&full` answer, if it is running."""
    for process in status.get("processes", ()):
        for row in process["requests_in_flight"]:
            if row["uri"] == uri:
                row = dict(row, pid=process["pid"])
                return row
    return None
