"""ClientConnection: the bytes it builds (against literals), and the two halves talking to each other."""

from __future__ import annotations

import pytest

from fcgi_handlers.protocol import (
    FCGI_AUTHORIZER,
    FCGI_CANT_MPX_CONN,
    FCGI_FILTER,
    FCGI_MAX_CONNS,
    FCGI_MPXS_CONNS,
    FCGI_RESPONDER,
    ClientConnection,
    DataEnded,
    DataReceived,
    ParamsReceived,
    ProtocolError,
    RequestAborted,
    RequestBegun,
    RequestEnded,
    ServerConnection,
    StderrReceived,
    StdinEnded,
    StdinReceived,
    StdoutReceived,
    UnknownTypeReported,
    ValuesReceived,
)

from .wire import (
    ABORT_REQUEST,
    BEGIN_REQUEST,
    END_REQUEST,
    GET_VALUES,
    KEEP_CONN,
    PARAMS,
    STDIN,
    STDOUT,
    aligned,
    begin,
    end_request,
    pairs,
    record,
)


def test_request_bytes() -> None:
    client = ClientConnection()
    assert client.begin_request(1, FCGI_AUTHORIZER, keep_conn=True) == begin(1, FCGI_AUTHORIZER, KEEP_CONN)
    expected_params = aligned(PARAMS, 1, pairs((b"A", b"\xc3\xa9"), (b"B", b""))) + aligned(PARAMS, 1)
    assert client.send_params(1, {"A": "é", b"B": b""}) == expected_params
    assert client.send_params(1, {b"X": b"1"}) == aligned(PARAMS, 1, pairs((b"X", b"1"))) + aligned(PARAMS, 1)
    assert client.send_stdin(1, b"body") == aligned(STDIN, 1, b"body")
    assert client.send_stdin(1, b"", end=True) == aligned(STDIN, 1)
    assert client.abort_request(1) == aligned(ABORT_REQUEST, 1)
    assert client.get_values(["FCGI_MAX_CONNS"]) == aligned(GET_VALUES, 0, pairs((b"FCGI_MAX_CONNS", b"")))
    assert client.send_management(99, b"zz") == aligned(99, 0, b"zz")


def test_begin_request_refuses_reserved_and_active_ids() -> None:
    client = ClientConnection()
    client.begin_request(1)
    for request_id in (0, 1):
        with pytest.raises(ProtocolError) as info:
            client.begin_request(request_id)
        assert not info.value.close
    assert client.active_requests == {1}


def test_client_parses_answers() -> None:
    client = ClientConnection()
    client.begin_request(3)
    answer = record(STDOUT, 3, b"out") + record(STDOUT, 3) + record(7, 3, b"err", padding=5) + end_request(3, 9)
    assert client.receive_data(answer) == [StdoutReceived(3, b"out"), StderrReceived(3, b"err"), RequestEnded(3, 9, 0)]
    assert client.active_requests == frozenset()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (record(STDOUT, 2, b"x"), "request that is not active"),
        (record(BEGIN_REQUEST, 1, bytes(8)), "not a record an application sends"),
        (record(END_REQUEST, 1, bytes(7)), "FCGI_END_REQUEST body is 7 bytes"),
        (record(11, 0, b"\x01"), "FCGI_UNKNOWN_TYPE body is 1 bytes"),
        (record(GET_VALUES, 0), "not a record an application sends"),
        (record(STDOUT, 1, version=3), "version 3"),
    ],
)
def test_client_rejects_bad_answers(answer: bytes, message: str) -> None:
    client = ClientConnection()
    client.begin_request(1)
    with pytest.raises(ProtocolError, match=message):
        client.receive_data(answer)


def _pump(data: bytes, conn: ServerConnection) -> list[object]:
    return list(conn.receive_data(data))


def test_round_trip_responder() -> None:
    client, server = ClientConnection(), ServerConnection()
    body = bytes(range(256)) * 400
    sent = client.begin_request(1, keep_conn=True) + client.send_params(1, {"REQUEST_METHOD": "POST"})
    sent += client.send_stdin(1, body, end=True)
    events = _pump(sent, server)
    assert events[:2] == [RequestBegun(1, FCGI_RESPONDER, True), ParamsReceived(1, {b"REQUEST_METHOD": b"POST"})]
    assert b"".join(e.data for e in events if isinstance(e, StdinReceived)) == body
    assert events[-1] == StdinEnded(1)
    big = b"o" * 150_000
    answer = server.send_stdout(1, big) + server.send_stderr(1, b"warn") + server.end_request(1, 5)
    got = client.receive_data(answer)
    assert b"".join(e.data for e in got if isinstance(e, StdoutReceived)) == big
    assert [e for e in got if not isinstance(e, StdoutReceived)] == [StderrReceived(1, b"warn"), RequestEnded(1, 5, 0)]
    assert server.keep_conn and server.idle


def test_round_trip_filter_and_abort() -> None:
    client, server = ClientConnection(), ServerConnection(roles={FCGI_FILTER})
    sent = client.begin_request(2, FCGI_FILTER) + client.send_params(2, {}) + client.send_stdin(2, b"", end=True)
    sent += client.send_data(2, b"file", end=True) + client.abort_request(2)
    assert _pump(sent, server) == [RequestBegun(2, FCGI_FILTER, False), ParamsReceived(2, {}), StdinEnded(2),
                                   DataReceived(2, b"file"), DataEnded(2), RequestAborted(2)]
    assert client.receive_data(server.end_request(2)) == [RequestEnded(2, 0, 0)]


def test_round_trip_management_and_multiplexing_refusal() -> None:
    client, server = ClientConnection(), ServerConnection(max_conns=3)
    server.receive_data(client.get_values([FCGI_MAX_CONNS, FCGI_MPXS_CONNS, "NOPE"]) + client.send_management(99))
    server.receive_data(client.begin_request(1) + client.begin_request(2))
    assert client.receive_data(server.data_to_send()) == [
        ValuesReceived({FCGI_MAX_CONNS: b"3", FCGI_MPXS_CONNS: b"0"}),
        UnknownTypeReported(99),
        RequestEnded(2, 0, FCGI_CANT_MPX_CONN),
    ]
    assert client.active_requests == {1}
