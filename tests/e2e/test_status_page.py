"""The daemon's status page through real Apache, in every format, with a request visibly in flight."""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from e2e.harness import ApacheServer, Response
from e2e.ops_stack import STATUS_PATH, OpsStack, in_flight, start_ops_stack

pytestmark = pytest.mark.e2e

SLEEPER = "/ops/sleep?6"


@pytest.fixture
def stack(tmp_path: Path, start_apache: Callable[..., ApacheServer]) -> Iterator[OpsStack]:
    ops = start_ops_stack(tmp_path, start_apache, ["--workers", "2", "--threads", "4"])
    try:
        yield ops
    finally:
        ops.daemon.stop()


@pytest.fixture
def sleeping(stack: OpsStack) -> Iterator[dict[str, Any]]:
    """A request sleeping in a handler while the test looks; its row from `?json&full`."""
    answers: list[Response] = []
    thread = threading.Thread(target=lambda: answers.append(stack.get(SLEEPER)))
    thread.start()
    row = stack.wait_for(lambda: in_flight(stack.status(), SLEEPER), timeout=5.0)
    try:
        assert row, f"{SLEEPER} never showed up in flight: {stack.status()}"
        yield row
    finally:
        thread.join(timeout=30)
    assert answers and answers[0].status == 200 and answers[0].body == b"slept"


def test_json_full_shows_the_request_in_flight(stack: OpsStack, sleeping: dict[str, Any]) -> None:
    assert sleeping["method"] == "GET" and sleeping["remote"] == "127.0.0.1"
    assert sleeping["phase"] == "PythonHandler" and sleeping["handler"] == "opsmod::sleep"
    assert 0 < sleeping["duration"] < 6 and sleeping["thread"] > 0
    status = stack.status()
    assert status["pid"] == stack.daemon.pid
    assert status["workers"] == 2 and len(status["processes"]) == 2
    assert {p["generation"] for p in status["processes"]} == {0}
    # The sleeper and this status request itself are in flight.
    assert status["in_flight"] >= 2 and status["busy_threads"] == status["in_flight"]
    assert status["idle_threads"] == 8 - status["busy_threads"]
    assert status["max_busy_threads"] >= 2
    assert status["accepted_conns"] >= 1 and status["requests"] >= 1
    assert status["uptime"] > 0 and status["start_time"] > 0
    assert status["listen_queue"] == 0 and status["listen_queues"][0]["limit"] == 1024
    for process in status["processes"]:
        assert process["rss"] > 1_000_000 and process["cpu"] > 0 and process["threads"] == 4


def test_plain_text_is_the_default(stack: OpsStack, sleeping: dict[str, Any]) -> None:
    response = stack.get(STATUS_PATH)
    assert response.status == 200 and response.header("Content-Type") == "text/plain; charset=utf-8"
    fields = dict(re.findall(r"^([a-z ]+):\s+(\S.*)$", response.text, re.M))
    assert int(fields["in flight"]) >= 2 and int(fields["workers"]) == 2
    assert "request: GET" not in response.text  # one row per request only with ?full
    full = stack.get(f"{STATUS_PATH}?full").text
    assert f"request: GET {SLEEPER} phase=PythonHandler handler=opsmod::sleep" in full
    assert full.count("\npid:") == 2


def test_openmetrics(stack: OpsStack, sleeping: dict[str, Any]) -> None:
    response = stack.get(f"{STATUS_PATH}?openmetrics&full")
    assert response.status == 200
    assert response.header("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    families = list(text_string_to_metric_families(response.text))  # the reference parser: raises if malformed
    samples = {s.name: s.value for f in families for s in f.samples if not s.labels}
    assert samples["fcgi_handlers_in_flight"] >= 2 and samples["fcgi_handlers_requests_total"] >= 1
    assert samples["fcgi_handlers_workers"] == 2
    rss = [s for f in families for s in f.samples if s.name == "fcgi_handlers_worker_rss_bytes"]
    assert len(rss) == 2 and all(s.value > 1_000_000 for s in rss)


def test_html_refreshes_itself(stack: OpsStack, sleeping: dict[str, Any]) -> None:
    response = stack.get(f"{STATUS_PATH}?html&refresh=7")
    assert response.status == 200 and response.header("Content-Type") == "text/html; charset=utf-8"
    assert '<meta http-equiv="refresh" content="7">' in response.text
    assert f'<td data-field="uri">{SLEEPER}</td>' in response.text
    assert response.text.count('<tr class="worker">') == 2


def test_only_the_status_path_is_the_status_page(stack: OpsStack) -> None:
    """A longer path under the same Location reaches the handlers (none here: 404), not the status page."""
    response = stack.get(f"{STATUS_PATH}/more")
    assert response.status == 404 and b"accepted conns" not in response.body
