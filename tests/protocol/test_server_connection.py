"""ServerConnection, one rule at a time: byte literals in, events and bytes out."""

from __future__ import annotations

import pytest

from fcgi_handlers.protocol import (
    DEFAULT_MAX_PARAMS_SIZE,
    FCGI_OVERLOADED,
    ParamsReceived,
    ProtocolError,
    RequestAborted,
    RequestBegun,
    ServerConnection,
    StdinEnded,
    StdinReceived,
)

from .wire import (
    ABORT_REQUEST,
    AUTHORIZER,
    BEGIN_REQUEST,
    DATA,
    END_REQUEST,
    FILTER,
    GET_VALUES,
    GET_VALUES_RESULT,
    KEEP_CONN,
    PARAMS,
    RESPONDER,
    STDERR,
    STDIN,
    STDOUT,
    UNKNOWN_TYPE,
    aligned,
    begin,
    end_request,
    pairs,
    parse,
    record,
)

HEAD = begin() + record(PARAMS, 1, pairs((b"A", b"1"))) + record(PARAMS, 1)


def started(roles: set[int] | None = None, role: int = RESPONDER, flags: int = 0) -> ServerConnection:
    """A connection whose request 1 has begun and received its params."""
    conn = ServerConnection() if roles is None else ServerConnection(roles=roles)
    events = conn.receive_data(begin(1, role, flags) + record(PARAMS, 1))
    assert [type(event) for event in events] == [RequestBegun, ParamsReceived]
    return conn


def test_begin_reports_role_and_keep_conn() -> None:
    conn = ServerConnection()
    assert conn.receive_data(begin(5, AUTHORIZER, KEEP_CONN)) == [RequestBegun(5, AUTHORIZER, True)]
    assert conn.request_id == 5 and conn.keep_conn
    assert conn.data_to_send() == b""


def test_params_are_reported_once_when_the_stream_closes() -> None:
    conn = ServerConnection()
    assert conn.receive_data(begin() + record(PARAMS, 1, pairs((b"A", b"1")))) == [RequestBegun(1, RESPONDER, False)]
    assert conn.receive_data(record(PARAMS, 1, pairs((b"B", b"")))) == []
    assert conn.receive_data(record(PARAMS, 1)) == [ParamsReceived(1, {b"A": b"1", b"B": b""})]


def test_params_up_to_the_limit_pass_and_one_byte_more_closes() -> None:
    encoded = pairs((b"N", b"v" * 90))
    conn = ServerConnection(max_params_size=len(encoded))
    assert conn.receive_data(begin() + record(PARAMS, 1, encoded) + record(PARAMS, 1))[1] == ParamsReceived(
        1, {b"N": b"v" * 90}
    )
    conn = ServerConnection(max_params_size=len(encoded) - 1)
    conn.receive_data(begin() + record(PARAMS, 1, encoded[:50]))
    with pytest.raises(ProtocolError, match="exceed max_params_size") as info:
        conn.receive_data(record(PARAMS, 1, encoded[50:]))
    assert info.value.close


def test_default_params_limit_is_a_mebibyte() -> None:
    assert DEFAULT_MAX_PARAMS_SIZE == 1024 * 1024


def test_malformed_params_are_a_protocol_error() -> None:
    conn = ServerConnection()
    with pytest.raises(ProtocolError, match="name-value"):
        conn.receive_data(begin() + record(PARAMS, 1, b"\x05\x01AB") + record(PARAMS, 1))


def test_stdin_records_and_end() -> None:
    conn = started()
    assert conn.receive_data(record(STDIN, 1, b"ab") + record(STDIN, 1, b"c")) == [
        StdinReceived(1, b"ab"),
        StdinReceived(1, b"c"),
    ]
    assert conn.receive_data(record(STDIN, 1)) == [StdinEnded(1)]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (begin() + record(STDIN, 1, b"x"), "FCGI_STDIN for request 1 while FCGI_PARAMS was expected"),
        (HEAD + record(PARAMS, 1, b"\x01\x01AB"), "FCGI_PARAMS for request 1 while FCGI_STDIN was expected"),
        (HEAD + record(STDIN, 1) + record(STDIN, 1, b"x"), "FCGI_STDIN for request 1 after its input was complete"),
        (HEAD + record(DATA, 1, b"x"), "FCGI_DATA for request 1 while FCGI_STDIN was expected"),
        (HEAD + record(STDOUT, 1, b"x"), "FCGI_STDOUT \\(request 1\\) is not a record a web server sends"),
        (HEAD + record(END_REQUEST, 1, bytes(8)), "FCGI_END_REQUEST \\(request 1\\) is not a record"),
        (HEAD + record(GET_VALUES, 1), "FCGI_GET_VALUES \\(request 1\\) is not a record"),
        (HEAD + record(42, 1), "type 42 \\(request 1\\) is not a record"),
        (begin() + begin(), "FCGI_BEGIN_REQUEST for request 1, which is already active"),
        (record(BEGIN_REQUEST, 1, b"\x00\x01"), "FCGI_BEGIN_REQUEST body is 2 bytes"),
        (record(STDIN, 1, version=0), "unsupported FastCGI version 0"),
    ],
)
def test_out_of_order_and_malformed_records_say_what_was_wrong(stream: bytes, message: str) -> None:
    conn = ServerConnection(roles={RESPONDER, FILTER})
    with pytest.raises(ProtocolError, match=message) as info:
        conn.receive_data(stream)
    assert info.value.close


def test_a_failed_connection_refuses_more_input() -> None:
    conn = ServerConnection()
    with pytest.raises(ProtocolError):
        conn.receive_data(record(STDIN, 1, version=2))
    with pytest.raises(ProtocolError, match="already failed: unsupported FastCGI version 2"):
        conn.receive_data(begin())


def test_authorizer_input_is_complete_when_params_end() -> None:
    conn = ServerConnection()
    events = conn.receive_data(begin(1, AUTHORIZER) + record(PARAMS, 1, pairs((b"FCGI_ROLE", b"AUTHORIZER")))
                               + record(PARAMS, 1))
    assert events == [RequestBegun(1, AUTHORIZER, False), ParamsReceived(1, {b"FCGI_ROLE": b"AUTHORIZER"})]
    # An empty FCGI_STDIN carries nothing and is dropped; a body is not the authorizer's.
    assert conn.receive_data(record(STDIN, 1)) == []
    with pytest.raises(ProtocolError, match="FCGI_STDIN for request 1 after its input was complete"):
        conn.receive_data(record(STDIN, 1, b"body"))


def test_filter_needs_stdin_closed_before_data() -> None:
    conn = started({FILTER}, FILTER)
    with pytest.raises(ProtocolError, match="FCGI_DATA for request 1 while FCGI_STDIN was expected"):
        conn.receive_data(record(DATA, 1, b"x"))


def test_filter_is_not_served_by_default() -> None:
    conn = ServerConnection()
    assert conn.receive_data(begin(1, FILTER)) == []
    assert conn.data_to_send() == end_request(1, protocol_status=3)
    assert conn.idle


def test_roles_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown FastCGI roles"):
        ServerConnection(roles={RESPONDER, 7})
    with pytest.raises(ValueError):
        ServerConnection(max_params_size=-1)


def test_records_of_inactive_requests_are_ignored() -> None:
    conn = ServerConnection()
    assert conn.receive_data(record(STDIN, 1, b"x") + record(PARAMS, 2) + record(ABORT_REQUEST, 3)
                             + record(STDOUT, 4, b"?") + record(77, 5)) == []
    assert conn.data_to_send() == b"" and conn.idle


def test_abort_is_reported_once_and_later_input_dropped() -> None:
    conn = started()
    assert conn.receive_data(record(ABORT_REQUEST, 1)) == [RequestAborted(1)]
    assert conn.receive_data(record(ABORT_REQUEST, 1) + record(PARAMS, 1, b"junk") + record(STDIN, 1)) == []
    assert conn.end_request(1, 0) == aligned(STDOUT, 1) + end_request(1)


def test_get_values_answers_only_what_was_asked() -> None:
    conn = ServerConnection(max_conns=12, max_reqs=48)
    assert conn.receive_data(record(GET_VALUES, 0, pairs((b"FCGI_MAX_REQS", b""), (b"OTHER", b"")))) == []
    assert conn.data_to_send() == aligned(GET_VALUES_RESULT, 0, pairs((b"FCGI_MAX_REQS", b"48")))
    conn.receive_data(record(GET_VALUES, 0))
    assert conn.data_to_send() == aligned(GET_VALUES_RESULT, 0)


def test_get_values_mid_request_is_answered_and_the_request_goes_on() -> None:
    conn = started()
    assert conn.receive_data(record(GET_VALUES, 0, pairs((b"FCGI_MPXS_CONNS", b""))) + record(STDIN, 1)) == [
        StdinEnded(1)
    ]
    assert conn.data_to_send() == aligned(GET_VALUES_RESULT, 0, pairs((b"FCGI_MPXS_CONNS", b"0")))


def test_malformed_get_values_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        ServerConnection().receive_data(record(GET_VALUES, 0, b"\x09\x00abc"))


def test_unknown_management_record() -> None:
    conn = ServerConnection()
    conn.receive_data(record(UNKNOWN_TYPE, 0, bytes(8)) + record(STDIN, 0, b"x"))
    assert conn.data_to_send() == aligned(UNKNOWN_TYPE, 0, bytes((UNKNOWN_TYPE,)) + bytes(7)) + aligned(
        UNKNOWN_TYPE, 0, bytes((STDIN,)) + bytes(7)
    )
    assert conn.data_to_send() == b""


def test_send_stdout_and_stderr_in_one_bytes_object() -> None:
    conn = started()
    assert conn.send_stdout(1, b"") == b""
    assert conn.send_stdout(1, b"hello") == aligned(STDOUT, 1, b"hello")
    big = bytes(range(256)) * 1000
    records = parse(conn.send_stdout(1, big))
    assert [len(content) for _t, _r, content, _p in records] == [65528, 65528, 65528, 256000 - 3 * 65528]
    assert b"".join(content for _t, _r, content, _p in records) == big
    assert conn.send_stderr(1, b"warn") == aligned(STDERR, 1, b"warn")


def test_end_request_closes_streams() -> None:
    conn = started()
    assert conn.end_request(1, app_status=7) == aligned(STDOUT, 1) + end_request(1, 7)
    conn = started()
    conn.send_stderr(1, b"")  # no data: the stream never opened
    assert conn.end_request(1) == aligned(STDOUT, 1) + end_request(1)
    conn = started()
    conn.send_stderr(1, b"oops")
    assert conn.end_request(1, 1, FCGI_OVERLOADED) == aligned(STDOUT, 1) + aligned(STDERR, 1) + end_request(1, 1, 2)


def test_keep_conn_outlives_the_request() -> None:
    conn = started(flags=KEEP_CONN)
    conn.end_request(1)
    assert conn.keep_conn and conn.request_id is None and conn.idle
    conn = started()
    conn.end_request(1)
    assert not conn.keep_conn


def test_idle_tracks_requests_partial_records_and_queued_answers() -> None:
    conn = ServerConnection()
    assert conn.idle
    conn.receive_data(b"\x01\x01")
    assert not conn.idle
    conn.receive_data(begin()[2:])
    assert not conn.idle  # a request is active
    conn.end_request(1)
    assert conn.idle
    conn.receive_data(record(GET_VALUES, 0))
    assert not conn.idle  # the answer is still queued
    conn.data_to_send()
    assert conn.idle


@pytest.mark.parametrize("call", ["stdout", "stderr", "end"])
def test_writing_to_a_request_that_is_not_active_is_refused_without_closing(call: str) -> None:
    conn = started()
    conn.end_request(1)
    actions = {"stdout": lambda: conn.send_stdout(1, b"x"), "stderr": lambda: conn.send_stderr(1, b"x"),
               "end": lambda: conn.end_request(1)}
    with pytest.raises(ProtocolError, match="request 1: it is not active") as info:
        actions[call]()
    assert not info.value.close
    assert conn.receive_data(begin(2)) == [RequestBegun(2, RESPONDER, False)]  # the connection still works


def test_stray_stdin_after_an_early_end_is_dropped() -> None:
    conn = started()
    conn.end_request(1)
    assert conn.receive_data(record(STDIN, 1, b"late") + record(STDIN, 1)) == []
    assert conn.idle


def test_end_request_validates_statuses() -> None:
    conn = started()
    with pytest.raises(ValueError):
        conn.end_request(1, app_status=-1)
    assert conn.request_id == 1  # nothing changed


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_any_buffer_type_gives_the_same_events_as_bytes(kind: type) -> None:
    stream = HEAD + record(STDIN, 1, b"body") + record(STDIN, 1)
    expected = ServerConnection().receive_data(stream)
    conn = ServerConnection()
    # Split inside the second record, so the rest of it is held over and completed by a buffer of the same kind.
    events = conn.receive_data(kind(stream[:12])) + conn.receive_data(kind(stream[12:]))
    assert events == expected
    assert [type(e.data) for e in events if isinstance(e, StdinReceived)] == [bytes]
    assert not conn.idle and conn.request_id == 1


def test_held_over_record_is_completed_with_the_records_after_it() -> None:
    conn = ServerConnection()
    stdin = record(STDIN, 1, b"abcdefgh", padding=3)
    assert conn.receive_data(HEAD + stdin[:5]) == [RequestBegun(1, RESPONDER, False), ParamsReceived(1, {b"A": b"1"})]
    assert conn.receive_data(stdin[5:-1]) == []  # header whole, padding not yet: still no event
    assert conn.receive_data(stdin[-1:] + record(STDIN, 1) + begin()[:3]) == [StdinReceived(1, b"abcdefgh"),
                                                                              StdinEnded(1)]
    assert not conn.idle  # three bytes of the next record are held


def test_wrong_version_is_reported_when_the_eighth_header_byte_arrives() -> None:
    conn = ServerConnection()
    bad = record(STDIN, 1, bytes(100), version=3)
    for byte in range(7):
        assert conn.receive_data(bad[byte : byte + 1]) == []
    with pytest.raises(ProtocolError, match="unsupported FastCGI version 3"):
        conn.receive_data(bad[7:8])


def test_params_in_several_records_are_decoded_as_one_stream() -> None:
    encoded = pairs((b"NAME", b"v" * 300), (b"B", b"2"))
    conn = ServerConnection(max_params_size=len(encoded))
    pieces = [record(PARAMS, 1, encoded[i : i + 7]) for i in range(0, len(encoded), 7)]
    events = conn.receive_data(begin() + b"".join(pieces) + record(PARAMS, 1))
    assert events[1:] == [ParamsReceived(1, {b"NAME": b"v" * 300, b"B": b"2"})]


def test_end_request_bytes_follow_each_call_after_a_refused_one() -> None:
    conn = started()
    with pytest.raises(ValueError):
        conn.end_request(1, app_status=1 << 32)
    assert conn.end_request(1) == aligned(STDOUT, 1) + end_request(1)
    conn.receive_data(begin(2) + record(PARAMS, 2))
    conn.send_stderr(2, b"e")
    assert conn.end_request(2, 3) == aligned(STDOUT, 2) + aligned(STDERR, 2) + end_request(2, 3)
    conn.receive_data(begin(2) + record(PARAMS, 2))
    assert conn.end_request(2, 3) == aligned(STDOUT, 2) + end_request(2, 3)
