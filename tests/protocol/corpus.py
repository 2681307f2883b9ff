"""Record streams and the events they must produce: captured from Apache 2.4.71, plus hand-built ones for what
Apache never sends (management records, padding, pairs split across records, FILTER, abort, multiplexing).

A case is a list of exchanges. Each exchange is what the web server writes before it waits for an answer, the
events it must yield, the bytes the connection must queue on its own, and which request the test application then
ends. Apache never sends the next request on a kept connection before FCGI_END_REQUEST, so a keep-conn capture is
split into one exchange per request. ``captures/README.md`` says how the ``.bin`` files were recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from fcgi_handlers.protocol.events import (
    DataEnded,
    DataReceived,
    Event,
    ParamsReceived,
    RequestAborted,
    RequestBegun,
    StdinEnded,
    StdinReceived,
)

from .wire import (
    ABORT_REQUEST,
    AUTHORIZER,
    BEGIN_REQUEST,
    CANT_MPX_CONN,
    DATA,
    FILTER,
    GET_VALUES,
    GET_VALUES_RESULT,
    KEEP_CONN,
    PARAMS,
    RESPONDER,
    STDIN,
    UNKNOWN_ROLE,
    aligned,
    begin,
    end_request,
    pairs,
    parse,
    record,
    stream,
    unknown_type,
)

CAPTURES = Path(__file__).with_name("captures")


@dataclass
class Exchange:
    sent: bytes
    events: List[Event]
    replies: bytes = b""
    ends: Optional[int] = None


@dataclass
class Case:
    name: str
    exchanges: List[Exchange]
    options: Dict[str, Any] = field(default_factory=dict)


def by_request(data: bytes) -> List[bytes]:
    """Cut a captured connection before each FCGI_BEGIN_REQUEST (found with the tests' own parser)."""
    cuts, offset = [], 0
    for rtype, _rid, content, padding in parse(data):
        if rtype == BEGIN_REQUEST and offset:
            cuts.append(offset)
        offset += 8 + len(content) + padding
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def captured(name: str) -> bytes:
    return (CAPTURES / f"{name}.bin").read_bytes()


# What curl sent in the captures.
BODY_20K = bytes(range(256)) * 80
BODY_47K = (b"0123456789abcdef" * 3)[:47] * 1000

APACHE_COMMON: Dict[bytes, bytes] = {
    b"HTTP_HOST": b"127.0.0.1:18081",
    b"HTTP_USER_AGENT": b"curl/7.88.1",
    b"HTTP_ACCEPT": b"*/*",
    b"PATH": b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    b"SERVER_SIGNATURE": b"",
    b"SERVER_SOFTWARE": b"Apache/2.4.71 (Debian)",
    b"SERVER_NAME": b"127.0.0.1",
    b"SERVER_ADDR": b"127.0.0.1",
    b"SERVER_PORT": b"18081",
    b"REMOTE_ADDR": b"127.0.0.1",
    b"DOCUMENT_ROOT": b"/tmp/cap",
    b"REQUEST_SCHEME": b"http",
    b"CONTEXT_PREFIX": b"",
    b"CONTEXT_DOCUMENT_ROOT": b"/tmp/cap",
    b"SERVER_ADMIN": b"webmaster@localhost",
    b"GATEWAY_INTERFACE": b"CGI/1.1",
    b"SERVER_PROTOCOL": b"HTTP/1.1",
}


def apache_params(**extra: bytes) -> Dict[bytes, bytes]:
    return {**APACHE_COMMON, **{name.encode("ascii"): value for name, value in extra.items()}}


GET_PARAMS = apache_params(
    SCRIPT_FILENAME=b"proxy:fcgi://127.0.0.1:19091/app/some/path%20x",
    REMOTE_PORT=b"41020",
    REQUEST_METHOD=b"GET",
    QUERY_STRING=b"q=1&r=%41",
    REQUEST_URI=b"/app/some/path%20x?q=1&r=%41",
    SCRIPT_NAME=b"/app/some/path x",
)
POST_PARAMS = apache_params(
    CONTENT_TYPE=b"application/octet-stream",
    CONTENT_LENGTH=b"20480",
    SCRIPT_FILENAME=b"proxy:fcgi://127.0.0.1:19091/app/upload",
    REMOTE_PORT=b"41034",
    REQUEST_METHOD=b"POST",
    QUERY_STRING=b"",
    REQUEST_URI=b"/app/upload",
    SCRIPT_NAME=b"/app/upload",
)
# A chunked body larger than Apache's 16 KB prefetch: no CONTENT_LENGTH, Transfer-Encoding still announced.
CHUNKED_PARAMS = apache_params(
    HTTP_TRANSFER_ENCODING=b"chunked",
    CONTENT_TYPE=b"application/octet-stream",
    SCRIPT_FILENAME=b"proxy:fcgi://127.0.0.1:19091/app/chunked",
    REMOTE_PORT=b"41042",
    REQUEST_METHOD=b"POST",
    QUERY_STRING=b"",
    REQUEST_URI=b"/app/chunked",
    SCRIPT_NAME=b"/app/chunked",
)
REUSE_FIRST_PARAMS = apache_params(
    SCRIPT_FILENAME=b"proxy:fcgi://127.0.0.1:19091/reuse/first",
    REMOTE_PORT=b"41046",
    REQUEST_METHOD=b"GET",
    QUERY_STRING=b"",
    REQUEST_URI=b"/reuse/first",
    SCRIPT_NAME=b"/reuse/first",
)
REUSE_SECOND_PARAMS = apache_params(
    SCRIPT_FILENAME=b"proxy:fcgi://127.0.0.1:19091/reuse/second",
    REMOTE_PORT=b"41048",
    REQUEST_METHOD=b"GET",
    QUERY_STRING=b"x=2",
    REQUEST_URI=b"/reuse/second?x=2",
    SCRIPT_NAME=b"/reuse/second",
)
_AUTH_COMMON = dict(
    SCRIPT_FILENAME=b"proxy:fcgi://127.0.0.1:19091/auth/x",
    REMOTE_PORT=b"41062",
    REMOTE_USER=b"alice",
    AUTH_TYPE=b"Basic",
    REQUEST_METHOD=b"GET",
    QUERY_STRING=b"",
    REQUEST_URI=b"/auth/x",
)
# mod_authnz_fcgi: FCGI_ROLE and friends added, SCRIPT_NAME removed, Connection forced to close
# (docs/apache-facts.md §8).
AUTHN_PARAMS = apache_params(
    **_AUTH_COMMON,
    FCGI_ROLE=b"AUTHORIZER",
    FCGI_APACHE_ROLE=b"AUTHENTICATOR",
    REMOTE_PASSWD=b"secret",
    HTTP_CONNECTION=b"close",
)
AFTER_AUTHN_PARAMS = apache_params(**_AUTH_COMMON, SCRIPT_NAME=b"/auth/x")


def stdin_events(body: bytes, size: int = 8192) -> List[Event]:
    received: List[Event] = [StdinReceived(1, body[i : i + size]) for i in range(0, len(body), size)]
    return [*received, StdinEnded(1)]


def responder(params: Dict[bytes, bytes], keep_conn: bool = False) -> List[Event]:
    return [RequestBegun(1, RESPONDER, keep_conn), ParamsReceived(1, params)]


def single(name: str, sent: bytes, events: List[Event], replies: bytes = b"", ends: Optional[int] = 1,
           **options: Any) -> Case:
    """A case of one exchange."""
    return Case(name, [Exchange(sent, events, replies, ends)], options)


def captured_cases() -> List[Case]:
    first, second = by_request(captured("apache-responder-keep-conn-two-gets"))
    return [
        single("apache-responder-get", captured("apache-responder-get"), [*responder(GET_PARAMS), StdinEnded(1)]),
        single(
            "apache-responder-post-20k",
            captured("apache-responder-post-20k"),
            [*responder(POST_PARAMS), *stdin_events(BODY_20K)],
        ),
        single(
            "apache-responder-post-chunked-47k",
            captured("apache-responder-post-chunked-47k"),
            [*responder(CHUNKED_PARAMS), *stdin_events(BODY_47K)],
        ),
        Case(
            "apache-responder-keep-conn-two-gets",
            [
                Exchange(first, [*responder(REUSE_FIRST_PARAMS, keep_conn=True), StdinEnded(1)], ends=1),
                Exchange(second, [*responder(REUSE_SECOND_PARAMS, keep_conn=True), StdinEnded(1)], ends=1),
            ],
        ),
        single(
            "apache-authorizer-authn",
            captured("apache-authorizer-authn"),
            [RequestBegun(1, AUTHORIZER, False), ParamsReceived(1, AUTHN_PARAMS)],
        ),
        single(
            "apache-responder-after-authn",
            captured("apache-responder-after-authn"),
            [*responder(AFTER_AUTHN_PARAMS), StdinEnded(1)],
        ),
    ]


SMALL = {b"REQUEST_METHOD": b"GET", b"REQUEST_URI": b"/x"}
SMALL_PAIRS = pairs((b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/x"))
LONG_VALUE = bytes(range(32, 127)) * 3  # 285 bytes: a four-byte length
STRADDLING = pairs((b"A", b"1"), (b"LONG", LONG_VALUE), (b"B" * 130, b"2"))


def management_cases() -> List[Case]:
    asked = pairs((b"FCGI_MAX_CONNS", b""), (b"X_UNKNOWN", b""), (b"FCGI_MPXS_CONNS", b""), (b"FCGI_MAX_REQS", b""))
    answer = pairs((b"FCGI_MAX_CONNS", b"4"), (b"FCGI_MPXS_CONNS", b"0"), (b"FCGI_MAX_REQS", b"32"))
    return [
        single("get-values", record(GET_VALUES, 0, asked), [], aligned(GET_VALUES_RESULT, 0, answer), None,
               max_conns=4, max_reqs=32),
        # Anything on request id 0 but FCGI_GET_VALUES is a management record we do not know, even type 1.
        single("unknown-management-types", record(12, 0, b"??") + record(200, 0) + begin(0), [],
               unknown_type(12) + unknown_type(200) + unknown_type(BEGIN_REQUEST), None),
    ]


def framing_cases() -> List[Case]:
    # Cut inside the second pair's four-byte value length, then inside its value.
    thirds = [STRADDLING[:3], STRADDLING[3:150], STRADDLING[150:]]
    return [
        single(  # senders other than Apache pad every record to 8 bytes; padding may be up to 255
            "padded-records",
            begin(7) + record(PARAMS, 7, SMALL_PAIRS, padding=5) + record(PARAMS, 7, padding=7)
            + record(STDIN, 7, b"abc", padding=5) + record(STDIN, 7, padding=255),
            [RequestBegun(7, RESPONDER, False), ParamsReceived(7, SMALL), StdinReceived(7, b"abc"), StdinEnded(7)],
            ends=7,
        ),
        single(
            "pairs-straddling-records",
            begin() + b"".join(record(PARAMS, 1, part) for part in thirds) + record(PARAMS, 1) + record(STDIN, 1),
            [*responder({b"A": b"1", b"LONG": LONG_VALUE, b"B" * 130: b"2"}), StdinEnded(1)],
        ),
        single(
            "filter",
            begin(role=FILTER) + stream(PARAMS, 1, SMALL_PAIRS, 8) + stream(STDIN, 1, b"in", 8)
            + stream(DATA, 1, b"file-data", 4),
            [RequestBegun(1, FILTER, False), ParamsReceived(1, SMALL), StdinReceived(1, b"in"), StdinEnded(1),
             DataReceived(1, b"file"), DataReceived(1, b"-dat"), DataReceived(1, b"a"), DataEnded(1)],
            roles={RESPONDER, FILTER},
        ),
    ]


def lifecycle_cases() -> List[Case]:
    head = begin(flags=KEEP_CONN) + stream(PARAMS, 1, SMALL_PAIRS, 16384)
    return [
        Case(  # the app answers after 100 bytes of body; the stdin Apache still had in flight is dropped
            "ended-early-then-next-request",
            [
                Exchange(head + record(STDIN, 1, b"x" * 100),
                         [*responder(SMALL, keep_conn=True), StdinReceived(1, b"x" * 100)], ends=1),
                Exchange(stream(STDIN, 1, b"y" * 9000, 8192) + head + record(STDIN, 1),
                         [*responder(SMALL, keep_conn=True), StdinEnded(1)], ends=1),
            ],
        ),
        single(
            "abort",
            begin() + stream(PARAMS, 1, SMALL_PAIRS, 100) + record(ABORT_REQUEST, 1) + record(STDIN, 1, b"late")
            + record(ABORT_REQUEST, 1),
            [*responder(SMALL), RequestAborted(1)],
        ),
        Case(
            "second-begin-is-refused",
            [
                Exchange(begin(1) + begin(2, flags=KEEP_CONN) + record(PARAMS, 2, SMALL_PAIRS) + record(PARAMS, 1),
                         [RequestBegun(1, RESPONDER, False), ParamsReceived(1, {})],
                         replies=end_request(2, protocol_status=CANT_MPX_CONN)),
                Exchange(record(STDIN, 1), [StdinEnded(1)], ends=1),
            ],
        ),
        Case(
            "role-not-served",
            [
                Exchange(begin(3, role=FILTER) + record(PARAMS, 3, SMALL_PAIRS) + begin(4, role=99), [],
                         replies=end_request(3, 0, UNKNOWN_ROLE) + end_request(4, 0, UNKNOWN_ROLE)),
                Exchange(begin(3) + record(PARAMS, 3) + record(STDIN, 3),
                         [RequestBegun(3, RESPONDER, False), ParamsReceived(3, {}), StdinEnded(3)], ends=3),
            ],
        ),
    ]


CASES: List[Case] = captured_cases() + management_cases() + framing_cases() + lifecycle_cases()
