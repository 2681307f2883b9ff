"""The daemon's status page through real Apache, in every format, with a request visibly in flight."""
from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from e2e.conftest import track
from e2e.harness import ApacheFactory
from e2e.ops_stack import STATUS_PATH, OpsStack, start_ops_stack

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory, apache_factory: ApacheFactory) -> Iterator[OpsStack]:
    """One daemon and Apache for the module: every test holds its own request in flight."""
    ops = start_ops_stack(tmp_path_factory.mktemp("status-page"), apache_factory.start,
                          ["--workers", "2", "--threads", "4"], name="status-page")
    try:
        yield ops
    finally:
        ops.daemon.stop()
        ops.apache.stop()


@pytest.fixture
def stack(request: pytest.FixtureRequest, shared_stack: OpsStack) -> OpsStack:
    track(request, shared_stack.apache)  # its curl commands and error log in this test's failure report
    return shared_stack


@pytest.fixture
def held(stack: OpsStack) -> Iterator[dict[str, Any]]:
    """A request held in a handler while the test looks; its row from `?json&full`."""
    with stack.holding("status") as row:
        yield row


def test_json_full_shows_the_request_in_flight(stack: OpsStack, held: dict[str, Any]) -> None:
    assert held["method"] == "GET" and held["remote"] == "127.0.0.1"
    assert held["phase"] == "PythonHandler" and held["handler"] == "opsmod::hold"
    assert 0 < held["duration"] < 30 and held["thread"] > 0
    status = stack.status()
    assert status["pid"] == stack.daemon.pid
    assert status["workers"] == 2 and len(status["processes"]) == 2
    assert {p["generation"] for p in status["processes"]} == {0}
    # The held request and this status request itself are in flight.
    assert status["in_flight"] >= 2 and status["busy_threads"] == status["in_flight"]
    assert status["idle_threads"] == 8 - status["busy_threads"]
    assert status["max_busy_threads"] >= 2
    assert status["accepted_conns"] >= 1 and status["requests"] >= 1
    assert status["uptime"] > 0 and status["start_time"] > 0
    # TCP: the kernel reports the queue (a connection Apache just opened may be waiting in it).
    assert status["listen_queue"] >= 0 and status["listen_queues"][0]["limit"] == 1024
    for process in status["processes"]:
        assert process["rss"] > 1_000_000 and process["cpu"] > 0 and process["threads"] == 4


def test_plain_text_is_the_default(stack: OpsStack, held: dict[str, Any]) -> None:
    response = stack.get(STATUS_PATH)
    assert response.status == 200 and response.header("Content-Type") == "text/plain; charset=utf-8"
    fields = dict(re.findall(r"^([a-z ]+):\s+(\S.*)$", response.text, re.M))
    assert int(fields["in flight"]) >= 2 and int(fields["workers"]) == 2
    assert "request: GET" not in response.text  # one row per request only with ?full
    full = stack.get(f"{STATUS_PATH}?full").text
    assert f"request: GET {held['uri']} phase=PythonHandler handler=opsmod::hold" in full
    assert full.count("\npid:") == 2


def test_openmetrics(stack: OpsStack, held: dict[str, Any]) -> None:
    response = stack.get(f"{STATUS_PATH}?openmetrics&full")
    assert response.status == 200
    assert response.header("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    families = list(text_string_to_metric_families(response.text))  # the reference parser: raises if malformed
    samples = {s.name: s.value for f in families for s in f.samples if not s.labels}
    assert samples["fcgi_handlers_in_flight"] >= 2 and samples["fcgi_handlers_requests_total"] >= 1
    assert samples["fcgi_handlers_workers"] == 2
    rss = [s for f in families for s in f.samples if s.name == "fcgi_handlers_worker_rss_bytes"]
    assert len(rss) == 2 and all(s.value > 1_000_000 for s in rss)


def test_html_refreshes_itself(stack: OpsStack, held: dict[str, Any]) -> None:
    response = stack.get(f"{STATUS_PATH}?html&refresh=7")
    assert response.status == 200 and response.header("Content-Type") == "text/html; charset=utf-8"
    assert '<meta http-equiv="refresh" content="7">' in response.text
    assert f'<td data-field="uri">{held["uri"]}</td>' in response.text
    assert response.text.count('<tr class="worker">') == 2


def test_only_the_status_path_is_the_status_page(stack: OpsStack) -> None:
    """A longer path under the same Location reaches the handlers (none here: 404), not the status page."""
    response = stack.get(f"{STATUS_PATH}/more")
    assert response.status == 404 and b"accepted conns" not in response.body
