"""Microseconds per typical Apache request through the sans-IO protocol alone: no sockets, no handler, no threads.

One "request" is what the daemon's protocol layer does for each request Apache sends: ``receive_data`` on every byte
of one captured connection (BEGIN_REQUEST, the PARAMS records, the empty PARAMS, STDIN), then ``send_stdout`` of a
Hello World response and ``end_request``. Each capture is fed in one call, as Apache's records usually arrive in one
recv. It measures one layer so that a change to it shows up undiluted; the end-to-end ratio against mod_wsgi is
``benchmarks/bench.py``'s job. It is a script, not a test: timing goals never live in the test suite.

    .venv/bin/python benchmarks/protocol_micro.py [--rounds 7] [--number 20000] [--captures get,keep,...]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fcgi_handlers.protocol import (  # noqa: E402
    FCGI_AUTHORIZER,
    ParamsReceived,
    RequestBegun,
    ServerConnection,
    StdinEnded,
)

CAPTURES = ROOT / "tests" / "protocol" / "captures"
# The requests a Hello World benchmark sends, plus the authorizer call; the POST captures are mostly STDIN copying.
SCENARIOS: Dict[str, str] = {
    "get": "apache-responder-get.bin",
    "keep": "apache-responder-keep-conn-two-gets.bin",
    "authn": "apache-authorizer-authn.bin",
    "after-authn": "apache-responder-after-authn.bin",
    "post-20k": "apache-responder-post-20k.bin",
}
RESPONSE = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello World!"


def split_requests(stream: bytes) -> List[bytes]:
    """The capture cut before each FCGI_BEGIN_REQUEST: what Apache writes per request (read with struct, not with
    the package under measurement)."""
    starts, offset = [], 0
    while offset < len(stream):
        _, rtype, _, length, padding, _ = struct.unpack_from("!BBHHBB", stream, offset)
        if rtype == 1:
            starts.append(offset)
        offset += 8 + length + padding
    return [stream[a:b] for a, b in zip(starts, [*starts[1:], len(stream)])]


def make_run(chunks: List[bytes]) -> Callable[[], int]:
    """One connection's worth of work: feed each request's bytes in one call, answer it once its input is complete."""

    def run() -> int:
        conn = ServerConnection()
        written = 0
        last: type = StdinEnded
        for chunk in chunks:
            for event in conn.receive_data(chunk):
                if type(event) is RequestBegun:
                    # The authorizer's input ends with its params (no FCGI_STDIN); a responder's with the empty STDIN.
                    last = ParamsReceived if event.role == FCGI_AUTHORIZER else StdinEnded
                elif type(event) is last:
                    rid = event.request_id
                    written += len(conn.send_stdout(rid, RESPONSE)) + len(conn.end_request(rid))
        return written

    return run


def measure(run: Callable[[], int], number: int, rounds: int) -> List[float]:
    """Seconds per call for each round (the minimum is the figure least disturbed by the rest of the machine)."""
    run()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            run()
        results.append((time.perf_counter() - start) / number)
    return results


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--captures", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}; {args.rounds} rounds x {args.number} connections; us per request")
    for name in args.captures.split(","):
        stream = (CAPTURES / SCENARIOS[name]).read_bytes()
        chunks = split_requests(stream)
        requests = len(chunks)
        times = [t * 1e6 / requests for t in measure(make_run(chunks), args.number, args.rounds)]
        print(f"  {name:<12} {len(stream):>6} bytes, {requests} req/conn: "
              f"min {min(times):6.2f}  median {statistics.median(times):6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
