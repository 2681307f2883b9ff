"""Record framing and name-value pairs, against byte literals and the tests' own encoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcgi_handlers.protocol import ProtocolError
from fcgi_handlers.protocol.records import (
    Record,
    RecordHeader,
    decode_pairs,
    encode_length,
    encode_pairs,
    pack_end_request_body,
    pack_header,
    pack_record,
    pack_stream,
    read_record,
    unpack_begin_request_body,
    unpack_end_request_body,
    unpack_header,
    unpack_unknown_type_body,
)

from .wire import STDIN, STDOUT, aligned, pairs, parse, record


def test_unpack_header_reads_every_field() -> None:
    header = unpack_header(b"\x01\x05\x12\x34\x01\x02\x07\x00")
    assert header == RecordHeader(version=1, type=5, request_id=0x1234, content_length=0x0102, padding_length=7)
    assert header.record_length == 8 + 0x0102 + 7


def test_unpack_header_at_an_offset() -> None:
    assert unpack_header(b"xx" + record(STDIN, 3, b"abc"), 2).request_id == 3


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x01\x05\x00\x01\x00\x00\x00"])
def test_unpack_header_short(data: bytes) -> None:
    with pytest.raises(ProtocolError, match="truncated record header"):
        unpack_header(data)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unpack_header_wrong_version(version: int) -> None:
    with pytest.raises(ProtocolError, match=f"version {version}") as info:
        unpack_header(record(STDIN, 1, version=version))
    assert info.value.close


def test_pack_record_pads_to_eight() -> None:
    assert pack_record(STDOUT, 1, b"hello") == b"\x01\x06\x00\x01\x00\x05\x03\x00hello\x00\x00\x00"
    assert pack_record(STDOUT, 1) == b"\x01\x06\x00\x01\x00\x00\x00\x00"
    assert pack_record(STDOUT, 258, b"12345678") == b"\x01\x06\x01\x02\x00\x08\x00\x0012345678"


@pytest.mark.parametrize("bad", [{"content_length": 65536}, {"request_id": 65536}, {"record_type": 256},
                                 {"padding_length": 256}, {"request_id": -1}])
def test_pack_header_rejects_out_of_range(bad: dict[str, int]) -> None:
    args = {"record_type": 6, "request_id": 1, "content_length": 0, "padding_length": 0, **bad}
    with pytest.raises(ValueError):
        pack_header(**args)


def test_pack_stream_empty_is_nothing() -> None:
    assert pack_stream(STDOUT, 1, b"") == b""


@pytest.mark.parametrize("size", [1, 7, 8, 65527, 65528, 65529, 65535, 65536, 200_001])
def test_pack_stream_splits_and_keeps_every_byte(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    records = parse(pack_stream(STDOUT, 9, data))
    assert all(rtype == STDOUT and rid == 9 for rtype, rid, _c, _p in records)
    assert all(0 < len(content) <= 65535 for _t, _r, content, _p in records)
    assert all((len(content) + padding) % 8 == 0 for _t, _r, content, padding in records)
    assert b"".join(content for _t, _r, content, _p in records) == data
    assert len(records) == -(-size // 65528)


def test_pack_stream_accepts_memoryview_and_bytearray() -> None:
    assert pack_stream(STDOUT, 1, memoryview(b"abc")) == aligned(STDOUT, 1, b"abc")
    assert pack_stream(STDOUT, 1, bytearray(b"abc")) == aligned(STDOUT, 1, b"abc")


def test_read_record_waits_for_the_whole_record() -> None:
    data = record(STDIN, 1, b"abc", padding=5) + b"\x01"
    for end in range(len(data) - 1):
        assert read_record(data[:end]) == (None, 0)
    assert read_record(data) == (Record(STDIN, 1, b"abc"), 16)


def test_read_record_rejects_a_bad_header_before_the_content_arrives() -> None:
    with pytest.raises(ProtocolError, match="version 9"):
        read_record(b"\x09\x05\x00\x01\xff\xff\x00\x00")


@pytest.mark.parametrize(("length", "encoded"), [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x00\x00\x80"),
                                                 (65536, b"\x80\x01\x00\x00"), (0x7FFFFFFF, b"\xff\xff\xff\xff")])
def test_encode_length(length: int, encoded: bytes) -> None:
    assert encode_length(length) == encoded


@pytest.mark.parametrize("length", [-1, 0x80000000])
def test_encode_length_out_of_range(length: int) -> None:
    with pytest.raises(ValueError):
        encode_length(length)


def test_decode_pairs_short_and_long_lengths() -> None:
    long_value = b"v" * 300
    data = b"\x04\x03NAMEval" + b"\x80\x00\x00\x81\x80\x00\x01\x2c" + b"N" * 129 + long_value + b"\x01\x00E"
    assert decode_pairs(data) == {b"NAME": b"val", b"N" * 129: long_value, b"E": b""}


def test_decode_pairs_last_duplicate_wins() -> None:
    assert decode_pairs(pairs((b"A", b"1"), (b"B", b"2"), (b"A", b"3"))) == {b"A": b"3", b"B": b"2"}


def test_decode_pairs_ignores_the_high_bit_only() -> None:
    # 0x80000003: four-byte form of 3, the flag bit is not part of the length.
    assert decode_pairs(b"\x80\x00\x00\x03\x01abcd") == {b"abc": b"d"}


def test_every_cut_inside_a_pair_is_an_error() -> None:
    data = pairs((b"SHORT", b"v"), (b"L" * 200, b"x" * 300))
    boundaries = {0, 2 + 5 + 1, len(data)}
    for end in range(len(data)):
        if end in boundaries:
            decode_pairs(data[:end])
        else:
            with pytest.raises(ProtocolError):
                decode_pairs(data[:end])


names = st.binary(max_size=300)


@given(st.lists(st.tuples(names, names), max_size=8))
def test_pairs_round_trip(items: list[tuple[bytes, bytes]]) -> None:
    assert encode_pairs(items) == pairs(*items)
    assert decode_pairs(pairs(*items)) == dict(items)


def test_begin_request_body() -> None:
    assert unpack_begin_request_body(b"\x00\x01\x01\x00\x00\x00\x00\x00") == (1, True)
    assert unpack_begin_request_body(b"\x00\x02\xfe\x00\x00\x00\x00\x00") == (2, False)  # only bit 0 is KEEP_CONN
    with pytest.raises(ProtocolError, match="FCGI_BEGIN_REQUEST body is 7 bytes"):
        unpack_begin_request_body(b"\x00\x01\x01\x00\x00\x00\x00")


def test_end_request_body() -> None:
    assert pack_end_request_body(0x01020304, 2) == b"\x01\x02\x03\x04\x02\x00\x00\x00"
    assert unpack_end_request_body(b"\xff\xff\xff\xff\x03\x00\x00\x00") == (0xFFFFFFFF, 3)
    for status in (-1, 2**32):
        with pytest.raises(ValueError):
            pack_end_request_body(status, 0)
    with pytest.raises(ValueError):
        pack_end_request_body(0, 256)
    with pytest.raises(ProtocolError):
        unpack_end_request_body(b"\x00" * 9)


def test_unknown_type_body() -> None:
    assert unpack_unknown_type_body(b"\x0c" + bytes(7)) == 12
    with pytest.raises(ProtocolError):
        unpack_unknown_type_body(b"\x0c")
