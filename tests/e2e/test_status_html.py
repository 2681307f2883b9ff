"""The status page's ?html through real Apache in headless Chromium (Debian's `chromium`): the page Chromium
renders is screenshotted into the test's tmp_path, and the numbers in its DOM are checked against ?json."""
from __future__ import annotations

import os
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Optional

import pytest

from e2e.harness import ApacheServer
from e2e.ops_stack import STATUS_PATH, require_tool, start_ops_stack

pytestmark = pytest.mark.e2e

CHROMIUM_TIMEOUT = 60


class Cells(HTMLParser):
    """`data-field` cells per table id: {"pool": [{field: text}], "workers": [...], "requests": [...]}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self._table: Optional[str] = None
        self._field: Optional[str] = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        values = dict(attrs)
        if tag == "table":
            self._table = values.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append({})
        elif tag == "td":
            self._field = values.get("data-field")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._field = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._table is not None and self._field is not None:
            self.tables[self._table][-1][self._field] = data


def chromium(*args: str, profile: Path) -> str:
    argv = [require_tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT,
                            env=dict(os.environ, HOME=str(profile)))
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_html_in_chromium_matches_json(tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> None:
    stack = start_ops_stack(tmp_path, start_apache, ["--workers", "2", "--threads", "4"])
    try:
        stack.wait_for(lambda: len(stack.status()["processes"]) == 2)
        with stack.holding("chromium") as row:
            url = f"http://127.0.0.1:{stack.apache.port}{STATUS_PATH}?html&refresh=600"
            screenshot = tmp_path / "status-page.png"
            chromium(f"--screenshot={screenshot}", "--window-size=1280,900", url, profile=tmp_path / "chromium")
            dom = chromium("--dump-dom", url, profile=tmp_path / "chromium")
            after = stack.status()
    finally:
        stack.daemon.stop()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
    cells = Cells()
    cells.feed(dom)
    pool = {k: v for row in cells.tables["pool"] for k, v in row.items()}
    # Fixed while the test runs: identity, shape and the counters nothing here changes.
    for name in ("pid", "workers", "workers_recycled", "slow_requests", "timed_out_requests", "listen_queue"):
        assert pool[name] == str(after[name]), name
    assert int(pool["idle_threads"]) + int(pool["busy_threads"]) == 8
    assert int(pool["in_flight"]) >= 2  # the held request and the page itself
    # Counters only grow between the page and the JSON (the JSON request comes later).
    for name in ("accepted_conns", "requests"):
        assert 0 < int(pool[name]) <= after[name], name
    workers = cells.tables["workers"][1:]  # the first row is the header
    assert sorted(int(row["pid"]) for row in workers) == sorted(p["pid"] for p in after["processes"])
    requests = cells.tables["requests"][1:]
    held = [r for r in requests if r.get("uri") == row["uri"]]
    assert len(held) == 1 and held[0]["handler"] == "opsmod::hold" and 0 < float(held[0]["duration"]) < 60
