"""`--allowed-clients`: a peer outside the list is closed at accept, before a byte is read, and logged once per
address per minute; names are resolved lazily and at most once a second; the default for a loopback bind is
loopback only. The filter is tested as a unit with a fake clock and resolver, then in a real daemon on loopback."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Callable, FrozenSet, List

import pytest

from fcgi_handlers.client import fcgi_request
from fcgi_handlers.protocol import ClientConnection, RequestEnded
from fcgi_handlers.server import clients
from fcgi_handlers.server.clients import ClientFilter, filter_for, parse_entries

from .conftest import Daemon
from .fcgiconn import body_of, status_of

StartDaemon = Callable[..., Daemon]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_addresses_and_ranges() -> None:
    allowed = ClientFilter(parse_entries(["10.0.0.0/8, 192.0.2.7", "2001:db8::/32"]))
    assert allowed.allows("10.1.2.3") and allowed.allows("192.0.2.7") and allowed.allows("2001:db8::1")
    assert not allowed.allows("192.0.2.8") and not allowed.allows("11.0.0.1") and not allowed.allows("::1")
    assert allowed.allows("::ffff:10.9.9.9")  # an IPv4 peer on a dual-stack listener
    assert not allowed.allows("not an address")


def test_memory_stays_bounded_whatever_the_number_of_peers() -> None:
    allowed = ClientFilter(["10.0.0.0/8", "compose_apache_1"], resolver=lambda name: frozenset())
    for index in range(clients.MAX_REMEMBERED * 3):
        assert allowed.allows(f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}")
        allowed.refused(f"2001:db8::{index:x}", "[::]:9000")
    assert len(allowed._verdicts) <= clients.MAX_REMEMBERED and len(allowed._logged) <= clients.MAX_REMEMBERED


@pytest.mark.parametrize("bad", ["", "10.0.0.0/33", "host name", "-bad.example", "a..b", "ex@mple"])
def test_bad_entries_are_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="neither|no address"):
        parse_entries(bad)


def test_names_are_resolved_when_a_peer_matches_nothing_at_most_once_a_second() -> None:
    clock = Clock()
    lookups: List[str] = []
    answers = {"apache": frozenset({"172.20.0.5"})}

    def resolver(name: str) -> FrozenSet[str]:
        lookups.append(name)
        return answers[name]

    allowed = ClientFilter(["127.0.0.1", "apache"], resolver=resolver, clock=clock)
    assert allowed.allows("127.0.0.1") and lookups == []        # an address entry matched: no lookup
    assert allowed.allows("172.20.0.5") and lookups == ["apache"]
    assert not allowed.allows("172.20.0.9") and lookups == ["apache"]  # cached within the interval
    answers["apache"] = frozenset({"172.20.0.9"})               # the container restarted with a new address
    clock.now += clients.RESOLVE_INTERVAL
    assert allowed.allows("172.20.0.9") and lookups == ["apache", "apache"]


def test_refusals_are_logged_once_per_address_per_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    allowed = ClientFilter(["127.0.0.2/32"], clock=clock)
    with caplog.at_level(logging.WARNING, logger="fcgi_handlers.server.clients"):
        for _ in range(3):
            allowed.refused("127.0.0.1", "127.0.0.1:9000")
        allowed.refused("127.0.0.3", "127.0.0.1:9000")
        clock.now += clients.LOG_INTERVAL - 1
        allowed.refused("127.0.0.1", "127.0.0.1:9000")
        clock.now += 1
        allowed.refused("127.0.0.1", "127.0.0.1:9000")
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" from ")[1].split(":")[0] for line in lines] == ["127.0.0.1", "127.0.0.3", "127.0.0.1"]
    assert "not in the allowed clients (127.0.0.2/32)" in lines[0]


def test_defaults_loopback_only_on_a_loopback_bind() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        default = filter_for(host, None)
        assert default is not None and default.allows("127.0.0.5") and not default.allows("192.0.2.1")
    assert filter_for("0.0.0.0", None) is None and filter_for("192.0.2.1", None) is None
    configured = filter_for("0.0.0.0", ("192.0.2.0/24",))
    assert configured is not None and configured.allows("192.0.2.1") and not configured.allows("127.0.0.1")


def _request_from(source: str, address: str, params: dict[str, str]) -> bytes:
    """One FastCGI request from the local address `source`; the raw bytes the daemon sent back before closing."""
    host, _, port = address.rpartition(":")
    conn = ClientConnection()
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(conn.begin_request(1, 1, False) + conn.send_params(1, params) + conn.send_stdin(1, b"", end=True))
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not data:
                return received
            received += data
            if any(isinstance(event, RequestEnded) for event in conn.receive_data(data)):
                return received


def test_a_client_outside_the_list_is_closed_and_nothing_runs(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon(allowed_clients=["127.0.0.2/32"], workers=1)
    mark = tmp_path / "ran"
    for _ in range(3):
        assert _request_from("127.0.0.1", daemon.address, {"SCRIPT_NAME": "/mark", "MARK": str(mark)}) == b""
    assert not mark.exists()
    daemon.wait_for(r"refused a connection to 127\.0\.0\.1:\d+ from 127\.0\.0\.1: not in the allowed clients")
    assert daemon.count(r"refused a connection") == 1  # once per address per minute
    # The same daemon serves the allowed address.
    answer = _request_from("127.0.0.2", daemon.address, {"SCRIPT_NAME": "/mark", "MARK": str(mark)})
    assert b"marked" in answer and mark.exists()


def test_a_host_name_is_resolved_by_the_system(start_daemon: StartDaemon, tmp_path: Path) -> None:
    # What the compose file relies on (`apache`, through Docker's DNS), shown with the name every host resolves.
    assert ClientFilter(["localhost"]).allows("127.0.0.1")
    assert not ClientFilter(["name.invalid"]).allows("127.0.0.1")  # RFC 6761: never resolves
    daemon = start_daemon(bind="127.0.0.1:0", allowed_clients=["localhost"], workers=1)
    mark = tmp_path / "ran"
    assert status_of(fcgi_request(daemon.address, {"SCRIPT_NAME": "/mark", "MARK": str(mark)})) == 200
    assert mark.exists()


def test_an_allowed_client_is_served(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon(allowed_clients=["127.0.0.1"], workers=1)
    mark = tmp_path / "ran"
    result = fcgi_request(daemon.address, {"SCRIPT_NAME": "/mark", "MARK": str(mark)})
    assert (status_of(result), body_of(result)) == (200, b"marked") and mark.exists()
    assert daemon.count(r"refused a connection") == 0
    assert daemon.count(r"listening at 127\.0\.0\.1:\d+ \(allowed clients: 127\.0\.0\.1\)") == 1


def test_a_bind_open_to_everyone_is_warned_about(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(bind=["127.0.0.1:0", "0.0.0.0:0"], workers=1)
    daemon.wait_for(r"listening at 0\.0\.0\.0:\d+ for any client: .* name Apache's addresses with --allowed-clients")
    assert daemon.count(r"for any client") == 1  # not the loopback one


def test_allowed_clients_on_a_unix_socket_only_is_warned_about(start_daemon: StartDaemon, tmp_path: Path) -> None:
    daemon = start_daemon(bind=f"unix:{tmp_path / 'd.sock'}", allowed_clients=["127.0.0.1"], workers=1)
    daemon.wait_for(r"--allowed-clients applies to TCP binds only")
