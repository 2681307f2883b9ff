"""Fuzz target: the FastCGI record layer (``ServerConnection``) with arbitrary bytes in arbitrary chunks.

Documented error: ``ProtocolError``, and nothing else (no ``struct.error``, ``IndexError``, decode error). Invariants:
a connection that raised with ``close=True`` refuses further input; every byte the connection emits parses as
well-framed FastCGI records; the application may answer any request it was given at any point.
The first input byte picks the chunk size and the second which requests get answered; the rest is the stream.
"""

from __future__ import annotations

import os
import struct

from _harness import instrumented, main

with instrumented("fcgi_handlers.protocol"):
    from fcgi_handlers.protocol import ProtocolError, RequestBegun, ServerConnection

_HEADER = struct.Struct("!BBHHBx")


def _check_framing(out: bytes) -> None:
    """The emitted bytes are whole version-1 records (checked without the encoder under test)."""
    offset = 0
    while offset < len(out):
        assert len(out) - offset >= 8, f"truncated record header in {out!r}"
        version, _type, _rid, length, padding = _HEADER.unpack_from(out, offset)
        assert version == 1, f"version {version} written"
        offset += 8 + length + padding
        assert offset <= len(out), f"record overruns the output: {out!r}"


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    chunk = data[0] % 64 + 1
    answer_mask = data[1]
    stream = data[2:]
    conn = ServerConnection(roles={1, 2, 3}, max_params_size=64 + 32 * (data[0] % 16))
    begun = 0
    try:
        for start in range(0, len(stream), chunk):
            for event in conn.receive_data(stream[start:start + chunk]):
                if isinstance(event, RequestBegun):
                    begun += 1
                    if answer_mask >> (begun % 8) & 1:
                        _check_framing(conn.send_stdout(event.request_id, b"Status: 200\r\n\r\nok"))
                        _check_framing(conn.end_request(event.request_id))
            _check_framing(conn.data_to_send())
    except ProtocolError as exc:
        assert isinstance(exc.message, str) and exc.message, "a ProtocolError without a message"
        if exc.close:
            try:
                conn.receive_data(b"\x01")
            except ProtocolError:
                return
            raise AssertionError("a connection that must close accepted more input") from exc


def seeds() -> list[bytes]:
    """Apache's own streams (the protocol tests' captures), whole and in 7-byte chunks, every request answered."""
    captures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "protocol", "captures")
    streams = [open(os.path.join(captures, name), "rb").read() for name in sorted(os.listdir(captures))
               if name.endswith(".bin")]
    return [bytes([prefix, 0xFF]) + stream for stream in streams for prefix in (63, 6)]


if __name__ == "__main__":
    main(test_one_input, seeds)
