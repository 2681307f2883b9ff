"""The status page's data and formats without a daemon: rows through JSON, the four renderings, the control
channel's payloads, and the listen queues the kernel reports."""
from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Callable

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from fcgi_handlers.cli import main
from fcgi_handlers.client import fcgi_request
from fcgi_handlers.server import control
from fcgi_handlers.server.backlog import listen_queue
from fcgi_handlers.server.status import Counters, PoolStatus, QueueRow, RequestRow, WorkerRow, decode, encode
from fcgi_handlers.server.status_page import parse_query, render

from .conftest import Daemon
from .fcgiconn import body_of


def pool_status() -> PoolStatus:
    busy = RequestRow(method="GET", uri="/slow?<x>", remote="10.0.0.1", phase="PythonHandler", handler="m::h",
                      duration=2.5, thread=77)
    rows = [WorkerRow(pid=11, generation=1, started=1000.0, threads=4, accepted=5, requests=4, busy=1, max_busy=2,
                      kept=3, slow=1, timed_out=0, rss=2048, cpu=0.5, current=[busy]),
            WorkerRow(pid=12, generation=1, started=1001.0, threads=4, accepted=2, requests=2, busy=0, max_busy=1,
                      kept=1, slow=0, timed_out=1, rss=4096, cpu=0.25)]
    return PoolStatus(pid=10, start_time=990.0, now=1010.0, recycled=1, max_busy=2, workers=rows,
                      queues=[QueueRow("127.0.0.1:9000", 3, 1024)], past=Counters(accepted=10, requests=9))


def test_totals_add_the_exited_workers_counts() -> None:
    summary = pool_status().summary()
    assert summary["accepted_conns"] == 17 and summary["requests"] == 15
    assert summary["in_flight"] == 1 and summary["idle_threads"] == 7 and summary["kept_conns"] == 4
    assert summary["slow_requests"] == 1 and summary["timed_out_requests"] == 1
    assert summary["uptime"] == 20.0 and summary["listen_queue"] == 3 and summary["workers_recycled"] == 1


def test_rows_survive_the_trip_through_json() -> None:
    status = pool_status()
    assert PoolStatus.from_dict(decode(encode(status.to_dict()))) == status


@pytest.mark.parametrize("query, expected", [("", ("text", False, 5)), ("json", ("json", False, 5)),
                                             ("json&full", ("json", True, 5)), ("html&refresh=9", ("html", False, 9)),
                                             ("openmetrics&full", ("openmetrics", True, 5)),
                                             ("html&refresh=0", ("html", False, 5))])
def test_query_picks_the_format(query: str, expected: tuple[str, bool, int]) -> None:
    assert parse_query(query) == expected


def test_json_has_processes_only_with_full() -> None:
    _, short = render(pool_status(), "json")
    _, full = render(pool_status(), "json&full")
    assert "processes" not in json.loads(short)
    processes = json.loads(full)["processes"]
    assert [p["pid"] for p in processes] == [11, 12]
    assert processes[0]["requests_in_flight"][0]["uri"] == "/slow?<x>"


def test_openmetrics_parses_with_the_reference_parser() -> None:
    content_type, body = render(pool_status(), "openmetrics&full")
    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert families["fcgi_handlers_requests"].type == "counter"
    assert samples[("fcgi_handlers_requests_total", ())] == 15 and samples[("fcgi_handlers_in_flight", ())] == 1
    assert samples[("fcgi_handlers_uptime_seconds", ())] == 20
    assert samples[("fcgi_handlers_worker_rss_bytes", (("generation", "1"), ("pid", "12")))] == 4096


def test_html_escapes_what_came_from_the_request() -> None:
    _, body = render(pool_status(), "html")
    assert b'<td data-field="uri">/slow?&lt;x&gt;</td>' in body and b"<x>" not in body


def test_control_messages_carry_a_payload_and_descriptors(tmp_path: Path) -> None:
    left, right = control.channel_pair()
    try:
        fd = os.open(tmp_path, os.O_RDONLY)
        control.send(left, control.HEARTBEAT, payload=b'{"a":1}')
        control.send(left, control.HANDOFF, [fd])
        os.close(fd)
        assert control.receive(right) == (control.HEARTBEAT, [], b'{"a":1}')
        kind, fds, payload = control.receive(right) or (b"", [], b"")
        assert kind == control.HANDOFF and len(fds) == 1 and payload == b""
        os.close(fds[0])
        with pytest.raises(ValueError):
            control.send(left, control.REPLY, payload=b"x" * control.MAX_MESSAGE)
    finally:
        left.close()
        right.close()


def test_listen_queue_of_tcp_and_unix_sockets(tmp_path: Path) -> None:
    tcp = socket.create_server(("127.0.0.1", 0), backlog=17)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "s"))
    unix.listen(23)
    clients = [socket.create_connection(tcp.getsockname()) for _ in range(3)]
    for _ in range(2):
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(tmp_path / "s"))
        clients.append(client)
    try:
        assert listen_queue(tcp) == (3, 17)
        assert listen_queue(unix) == (2, 23)
        assert listen_queue(clients[0]) == (None, None)  # not a listening socket
    finally:
        for sock in (tcp, unix, *clients):
            sock.close()


def test_status_command_asks_the_daemon_directly(start_daemon: Callable[..., Daemon],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    daemon = start_daemon(workers=2, status_path="/fh-status")
    assert main(["status", daemon.address, "--json", "--full"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workers"] == 2 and sorted(p["pid"] for p in data["processes"]) == sorted(daemon.booted())
    # The asking request is in flight in the row it sent with its query.
    assert [r["uri"] for p in data["processes"] for r in p["requests_in_flight"]] == ["/fh-status?json&full"]
    assert main(["status", daemon.address, "--openmetrics"]) == 0
    assert capsys.readouterr().out.endswith("# EOF\n")
    assert main(["status", daemon.address, "--path", "/elsewhere"]) == 1
    assert "is the daemon run with --status-path /elsewhere?" in capsys.readouterr().err


def test_status_after_sighup_shows_the_new_generation_and_keeps_the_counts(
        start_daemon: Callable[..., Daemon], capsys: pytest.CaptureFixture[str]) -> None:
    daemon = start_daemon(workers=2, status_path="/fh-status")
    for _ in range(5):
        assert body_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/hello"})) == b"Hello World"
    daemon.signal(signal.SIGHUP)
    new = daemon.wait_booted(2, generation=1)
    daemon.wait_for(r"worker \d+ \(generation 0\) exited", count=2)
    assert main(["status", daemon.address, "--json", "--full"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {(p["pid"], p["generation"]) for p in data["processes"]} == {(pid, 1) for pid in new}
    assert data["requests"] >= 5 and data["accepted_conns"] >= 6  # the old generation's counts are kept
    assert data["workers_recycled"] == 0  # a reload is not a recycle
