"""The body stream, fed from a list of stdin chunks: read sizes, lines, CONTENT_LENGTH as a bound, spooling."""

from __future__ import annotations

import tracemalloc
from typing import Callable, Iterable, List

import pytest

from fcgi_handlers.server.body import Body


def source(chunks: Iterable[bytes]) -> Callable[[], bytes]:
    """A stdin source that hands out ``chunks`` then b"" (end of stdin); it fails if pulled past the end."""
    queue: List[bytes] = list(chunks) + [b""]

    def pull() -> bytes:
        assert queue, "pulled after the end of stdin"
        return queue.pop(0)
    return pull


def test_read_sizes_cross_chunk_boundaries() -> None:
    body = Body(source([b"hel", b"lo w", b"orld"]))
    assert [body.read(2), body.read(4), body.read(0), body.read(100), body.read(1)] == [
        b"he", b"llo ", b"", b"world", b""]
    assert body.complete and body.received == 11


def test_read_pulls_only_what_it_needs() -> None:
    pulled: List[bytes] = []
    chunks = [b"abc", b"def", b"ghi"]

    def pull() -> bytes:
        chunk = chunks.pop(0) if chunks else b""
        pulled.append(chunk)
        return chunk
    body = Body(pull)
    assert body.read(4) == b"abcd"
    assert pulled == [b"abc", b"def"] and not body.complete


@pytest.mark.parametrize("size", [None, -1])
def test_read_all(size: int) -> None:
    assert Body(source([b"a", b"bc", b""])).read(size) == b"abc"


def test_readline_and_readlines() -> None:
    body = Body(source([b"one\ntw", b"o\n\nthr", b"ee"]))
    assert body.readline() == b"one\n"
    assert body.readline(2) == b"tw"
    assert body.readline() == b"o\n"
    assert body.readlines() == [b"\n", b"three"]
    assert body.readline() == b""


def test_readlines_hint_and_iteration() -> None:
    assert Body(source([b"a\nbb\nccc\n"])).readlines(3) == [b"a\n", b"bb\n"]
    assert list(Body(source([b"x\ny", b"\nz"]))) == [b"x\n", b"y\n", b"z"]


def test_content_length_is_an_upper_bound_and_ends_the_body() -> None:
    body = Body(source([b"hello", b"never pulled"]), content_length=3)
    assert body.read() == b"hel"
    assert body.complete


def test_zero_content_length_and_empty_body_never_pull() -> None:
    def must_not_pull() -> bytes:
        raise AssertionError("pulled stdin for an empty body")
    assert Body(must_not_pull, content_length=0).read() == b""
    assert Body(must_not_pull, empty=True).readline() == b""


def test_large_read_spools_and_keeps_memory_near_one_copy() -> None:
    chunk = b"x" * 65536
    count = 128  # 8 MiB
    size = len(chunk) * count
    body = Body(source([chunk] * count), spool_threshold=256 * 1024)
    tracemalloc.start()
    try:
        data = body.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data) == size
    # A growing in-memory buffer plus the final bytes would peak near 2x; the spool keeps it near 1x.
    assert peak < size * 1.3


def test_long_line_past_the_threshold() -> None:
    line = b"y" * 300_000 + b"\n"
    body = Body(source([line[i:i + 8192] for i in range(0, len(line), 8192)] + [b"tail"]), spool_threshold=65536)
    assert body.readline() == line
    assert body.read() == b"tail"
