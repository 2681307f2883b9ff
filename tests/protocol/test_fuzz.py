"""Whatever bytes arrive, the only exception that escapes is ProtocolError (the promise fcgiproto breaks).

Two generators: raw bytes, which mostly die at the version byte, and well-framed records of random types, ids and
contents, which reach the state machine, the pair decoder and the body parsers. The server side also ends its
request at random points, as a handler would.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcgi_handlers.protocol import (
    ClientConnection,
    ProtocolError,
    RequestBegun,
    ServerConnection,
)

from .wire import begin, pairs, record

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

contents = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda role, flags: begin(1, role, flags)[8:], st.integers(0, 4), st.integers(0, 255)),
    st.builds(lambda n, v: pairs((n, v)), st.binary(max_size=200), st.binary(max_size=200)),
)
records = st.builds(
    lambda rtype, rid, content, padding: record(rtype, rid, content, padding),
    st.integers(0, 13),
    st.integers(0, 3),
    contents,
    st.integers(0, 9),
)


def _feed_server(conn: ServerConnection, chunks: list[bytes], end_after: set[int]) -> None:
    try:
        for index, data in enumerate(chunks):
            for event in conn.receive_data(data):
                if isinstance(event, RequestBegun) and index in end_after:
                    conn.send_stdout(event.request_id, b"x")
                    conn.end_request(event.request_id)
            conn.data_to_send()
    except ProtocolError as exc:
        assert isinstance(exc.message, str) and exc.message
        try:
            conn.receive_data(b"\x01")
        except ProtocolError:
            return
        raise AssertionError("a failed connection accepted more input") from exc


@FUZZ
@given(st.lists(st.binary(max_size=100), max_size=10), st.sets(st.integers(0, 10)))
def test_server_raw_bytes(chunks: list[bytes], end_after: set[int]) -> None:
    _feed_server(ServerConnection(roles={1, 2, 3}), chunks, end_after)


@FUZZ
@given(st.lists(records, max_size=20), st.data())
def test_server_records(stream: list[bytes], data: st.DataObject) -> None:
    whole = b"".join(stream)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(whole)), max_size=6)))
    chunks = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)])]
    end_after = data.draw(st.sets(st.integers(0, len(chunks))))
    _feed_server(ServerConnection(roles={1, 2, 3}, max_params_size=300), chunks, end_after)


@FUZZ
@given(st.lists(st.one_of(records, st.binary(max_size=30)), max_size=20))
def test_client_records(stream: list[bytes]) -> None:
    conn = ClientConnection()
    conn.begin_request(1)
    conn.begin_request(2)
    try:
        for data in stream:
            conn.receive_data(data)
    except ProtocolError:
        pass
