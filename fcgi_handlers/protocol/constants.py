"""FastCGI 1.0 wire constants, under the names the specification gives them.

Keeping the spec's spelling (``FCGI_BEGIN_REQUEST``, ``FCGI_KEEP_CONN``, ...) lets a reader check this package against
the specification line by line. The limits this daemon chooses for itself sit at the end, each next to the precedent
it follows, so a reader can tell a spec value from a local policy.
"""

from __future__ import annotations

from typing import Dict, Final

# Spec §8: every record starts with an 8-byte header, and version 1 is the only version there is.
FCGI_HEADER_LEN: Final = 8
FCGI_VERSION_1: Final = 1

# Spec §8: record types.
FCGI_BEGIN_REQUEST: Final = 1
FCGI_ABORT_REQUEST: Final = 2
FCGI_END_REQUEST: Final = 3
FCGI_PARAMS: Final = 4
FCGI_STDIN: Final = 5
FCGI_STDOUT: Final = 6
FCGI_STDERR: Final = 7
FCGI_DATA: Final = 8
FCGI_GET_VALUES: Final = 9
FCGI_GET_VALUES_RESULT: Final = 10
FCGI_UNKNOWN_TYPE: Final = 11
FCGI_MAXTYPE: Final = FCGI_UNKNOWN_TYPE

# Spec §3.3: management records travel on request id 0; application requests use any other id.
FCGI_NULL_REQUEST_ID: Final = 0

# Spec §5.1: the flags byte of FCGI_BEGIN_REQUEST; the only defined bit.
FCGI_KEEP_CONN: Final = 1

# Spec §5.1 and §6: roles.
FCGI_RESPONDER: Final = 1
FCGI_AUTHORIZER: Final = 2
FCGI_FILTER: Final = 3

# Spec §5.5: protocolStatus values of FCGI_END_REQUEST.
FCGI_REQUEST_COMPLETE: Final = 0
FCGI_CANT_MPX_CONN: Final = 1
FCGI_OVERLOADED: Final = 2
FCGI_UNKNOWN_ROLE: Final = 3

# Spec §4.1: the variables a web server may ask about with FCGI_GET_VALUES. They are wire names, hence bytes.
FCGI_MAX_CONNS: Final = b"FCGI_MAX_CONNS"
FCGI_MAX_REQS: Final = b"FCGI_MAX_REQS"
FCGI_MPXS_CONNS: Final = b"FCGI_MPXS_CONNS"

# The header's contentLength field is 16 bits wide, so no record can carry more.
MAX_CONTENT_LENGTH: Final = 65535

# Records this package writes carry at most this much: the largest multiple of 8 that fits, so a full record needs
# no padding and every record stays 8-byte aligned as the spec recommends (§3.3).
MAX_RECORD_CHUNK: Final = 65528

# A name-value length with its high bit set takes four bytes and holds 31 bits (spec §3.4).
MAX_NAME_VALUE_LENGTH: Final = 0x7FFFFFFF

# The whole FCGI_PARAMS stream of one request. Apache sends each variable in at most 16 KB and has no overall cap
# since 2.4.7; its own default header limits (LimitRequestFields 100 x LimitRequestFieldSize 8190, about 800 KiB)
# bound what a client can make it send, so 1 MiB admits every default-configured Apache request and still stops
# a peer from making us buffer without end.
DEFAULT_MAX_PARAMS_SIZE: Final = 1024 * 1024

# What FCGI_GET_VALUES reports when the server does not say: one connection, one request, no multiplexing
# (the answer of a single-threaded application, the least a caller can promise).
DEFAULT_MAX_CONNS: Final = 1
DEFAULT_MAX_REQS: Final = 1

RECORD_TYPE_NAMES: Final[Dict[int, str]] = {
    FCGI_BEGIN_REQUEST: "FCGI_BEGIN_REQUEST",
    FCGI_ABORT_REQUEST: "FCGI_ABORT_REQUEST",
    FCGI_END_REQUEST: "FCGI_END_REQUEST",
    FCGI_PARAMS: "FCGI_PARAMS",
    FCGI_STDIN: "FCGI_STDIN",
    FCGI_STDOUT: "FCGI_STDOUT",
    FCGI_STDERR: "FCGI_STDERR",
    FCGI_DATA: "FCGI_DATA",
    FCGI_GET_VALUES: "FCGI_GET_VALUES",
    FCGI_GET_VALUES_RESULT: "FCGI_GET_VALUES_RESULT",
    FCGI_UNKNOWN_TYPE: "FCGI_UNKNOWN_TYPE",
}

ROLE_NAMES: Final[Dict[int, str]] = {
    FCGI_RESPONDER: "FCGI_RESPONDER",
    FCGI_AUTHORIZER: "FCGI_AUTHORIZER",
    FCGI_FILTER: "FCGI_FILTER",
}


def type_name(record_type: int) -> str:
    """The spec name of a record type, or ``type N`` for one the spec does not define (for error messages)."""
    return RECORD_TYPE_NAMES.get(record_type, f"type {record_type}")


def role_name(role: int) -> str:
    """The spec name of a role, or ``role N`` for one the spec does not define."""
    return ROLE_NAMES.get(role, f"role {role}")
