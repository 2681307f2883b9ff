"""The daemon's own logs through real Apache: handler errors with their traceback, the import notice at info, the
slow log with the Python stack of a slow request's thread, and the access log."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest

from e2e.harness import ApacheServer, http_request
from e2e.ops_stack import OpsStack, start_ops_stack

pytestmark = pytest.mark.e2e


def test_handler_error_is_one_entry_in_the_daemons_log(tmp_path: Path,
                                                         start_apache: Callable[..., ApacheServer]) -> None:
    stack = start_ops_stack(tmp_path, start_apache, ["--workers", "1", "--threads", "2"])
    try:
        mark = stack.apache.error_log_mark()
        assert stack.get("/ops/boom?x=1").status == 500
        log = stack.wait_for(lambda: "ValueError: boom from opsmod" in stack.daemon_log() and stack.daemon_log())
    finally:
        stack.daemon.stop()
    entries = re.findall(r"^\S+ \S+ \[\d+\] (\w+) fcgi_handlers\.dispatch: (.*)$", log, re.M)
    assert ("INFO", "mod_python: (Re)importing module 'opsmod'") in entries
    errors = [message for level, message in entries if level == "ERROR"]
    assert errors == ["GET /ops/boom?x=1: PythonHandler opsmod::boom failed"]
    entry = log[log.index(errors[0]):]
    assert entry.split("\n")[1] == "Traceback (most recent call last):"
    assert 'opsmod.py", line ' in entry and "in boom\n" in entry
    # Apache's error log still has mod_python's lines, one per traceback line.
    apache_log = stack.apache.error_log(mark)
    assert "PythonHandler opsmod::boom: ValueError: boom from opsmod" in apache_log
    assert "(Re)importing" not in apache_log


@pytest.mark.parametrize("to_file", [True, False], ids=["slowlog-file", "daemon-log"])
def test_slow_request_is_logged_once_with_its_stack(tmp_path: Path, start_apache: Callable[..., ApacheServer],
                                                    to_file: bool) -> None:
    slowlog = tmp_path / "slow.log"
    args = ["--workers", "1", "--threads", "3", "--slowlog-timeout", "0.5"]
    stack = start_ops_stack(tmp_path, start_apache, [*args, "--slowlog", str(slowlog)] if to_file else args)
    try:
        quick = stack.get("/ops/sleep?0.01")
        slow = stack.get("/ops/sleep?1.2")
        assert quick.status == 200 and slow.status == 200
        status = stack.status("json")
    finally:
        stack.daemon.stop()
    text = slowlog.read_text() if to_file else stack.daemon_log()
    entries = [line for line in text.splitlines() if "slow request (slowlog_timeout 0.5 s)" in line]
    assert len(entries) == 1, text  # once per request, and not for the quick one
    assert re.search(r"GET /ops/sleep\?1\.2 phase=PythonHandler handler=opsmod::sleep remote=127\.0\.0\.1 "
                     r"running 0\.\d s$", entries[0]), entries[0]
    stack_text = text[text.index(entries[0]):]
    # The thread's stack, innermost last: the handler, then the function it called, then time.sleep's caller.
    assert re.search(r'opsmod\.py", line \d+, in sleep\n +napping\(.*\n.*opsmod\.py", line \d+, in napping\n'
                     r' +time\.sleep\(seconds\)', stack_text), stack_text[:2000]
    assert status["slow_requests"] == 1


def test_access_log_combined_format_with_duration_and_pid(tmp_path: Path,
                                                            start_apache: Callable[..., ApacheServer]) -> None:
    access = tmp_path / "access.log"
    stack = start_ops_stack(tmp_path, start_apache, ["--workers", "2", "--threads", "2", "--access-log",
                                                     str(access)])
    try:
        ok = http_request(stack.apache.port, "GET", "/ops/hello?a=1",
                          headers={"User-Agent": 'agent "x"', "Referer": "http://example.test/"})
        failed = stack.get("/ops/boom")
        lines = stack.wait_for(lambda: access.exists() and len(access.read_text().splitlines()) >= 2 and
                               access.read_text().splitlines())
        pid = stack.status("json&full")["processes"]
    finally:
        stack.daemon.stop()
    assert ok.status == 200 and failed.status == 500
    pattern = (r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(?P<line>[^"]*)" (?P<status>\d{3}) '
               r'(?P<size>\d+|-) "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)" '
               r'(?P<duration>\d+\.\d{6}) (?P<pid>\d+)$')
    first, second = (re.match(pattern, line) for line in lines[:2])
    assert first is not None and second is not None, lines
    assert first["line"] == "GET /ops/hello?a=1 HTTP/1.1" and first["status"] == "200" and first["size"] == "12"
    assert first["referer"] == "http://example.test/" and first["agent"] == 'agent \\"x\\"'
    assert second["line"] == "GET /ops/boom HTTP/1.1" and second["status"] == "500"
    assert {int(first["pid"]), int(second["pid"])} <= {p["pid"] for p in pid}


def test_access_log_is_off_by_default(tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> None:
    stack: OpsStack = start_ops_stack(tmp_path, start_apache, ["--workers", "1"])
    try:
        assert stack.get("/ops/hello").status == 200
    finally:
        stack.daemon.stop()
    assert '"GET /ops/hello' not in stack.daemon_log()


