"""Every corpus stream, fed whole, byte by byte and in seeded random chunks, yields exactly its expected events.

Records are only acted on once complete, so the events must not depend on how the bytes were cut. After each
exchange the test application answers the way a handler would, and the answer is compared with bytes built by the
tests' own encoder.
"""

from __future__ import annotations

import pytest

from fcgi_handlers.protocol import ParamsReceived, ServerConnection

from .corpus import CASES, Case
from .wire import FEED_MODES, PARAMS, STDOUT, aligned, chunk, end_request, feed_all, parse

ANSWER = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n"


@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_stream(case: Case, mode: str) -> None:
    conn = ServerConnection(**case.options)
    for exchange in case.exchanges:
        events = feed_all(conn.receive_data, chunk(exchange.sent, mode))
        assert events == exchange.events
        assert conn.data_to_send() == exchange.replies
        if exchange.ends is not None:
            rid = exchange.ends
            assert not conn.idle
            answer = conn.send_stdout(rid, ANSWER) + conn.end_request(rid)
            assert answer == aligned(STDOUT, rid, ANSWER) + aligned(STDOUT, rid) + end_request(rid)
    assert conn.idle


@pytest.mark.parametrize("case", [case for case in CASES if case.name.startswith("apache-")], ids=lambda c: c.name)
def test_captured_params_keep_their_order(case: Case) -> None:
    """Params arrive as a dict in wire order (a request layer may rely on it, as CGI environments do)."""
    received = ServerConnection().receive_data(case.exchanges[0].sent)[1]
    assert isinstance(received, ParamsReceived)
    wire_pairs = b"".join(content for rtype, _rid, content, _pad in parse(case.exchanges[0].sent) if rtype == PARAMS)
    names = []
    offset = 0
    while offset < len(wire_pairs):  # the tests' own decoder, short lengths only (Apache's names are short)
        name_len, value_len = wire_pairs[offset], wire_pairs[offset + 1]
        assert name_len < 128 and value_len < 128
        names.append(wire_pairs[offset + 2 : offset + 2 + name_len])
        offset += 2 + name_len + value_len
    assert list(received.params) == names
