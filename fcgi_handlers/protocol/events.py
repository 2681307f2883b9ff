"""Events: what the protocol objects report after reading bytes, one immutable noun per thing that happened.

A caller dispatches on the event class and never sees a record. The first group is what ``ServerConnection``
reports about the web server's requests; the second is what ``ClientConnection`` reports about the application's
answers. Every event that belongs to a request carries its ``request_id`` (Apache always uses 1, but the spec allows
any non-zero id, and a tested client may use others).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Union


@dataclass(frozen=True)
class RequestBegun:
    """FCGI_BEGIN_REQUEST for a role we serve; ``keep_conn`` is the FCGI_KEEP_CONN flag."""

    request_id: int
    role: int
    keep_conn: bool


@dataclass(frozen=True)
class ParamsReceived:
    """The whole FCGI_PARAMS stream, decoded once its empty closing record arrived. Names and values are bytes."""

    request_id: int
    params: Dict[bytes, bytes] = field(hash=False)


@dataclass(frozen=True)
class StdinReceived:
    """One non-empty FCGI_STDIN record's content."""

    request_id: int
    data: bytes


@dataclass(frozen=True)
class StdinEnded:
    """The empty FCGI_STDIN record: the request body is complete."""

    request_id: int


@dataclass(frozen=True)
class DataReceived:
    """One non-empty FCGI_DATA record's content (FILTER role: the file to filter)."""

    request_id: int
    data: bytes


@dataclass(frozen=True)
class DataEnded:
    """The empty FCGI_DATA record (FILTER role)."""

    request_id: int


@dataclass(frozen=True)
class RequestAborted:
    """FCGI_ABORT_REQUEST: the web server gave up; the application should still end the request."""

    request_id: int


Event = Union[RequestBegun, ParamsReceived, StdinReceived, StdinEnded, DataReceived, DataEnded, RequestAborted]


@dataclass(frozen=True)
class StdoutReceived:
    """One non-empty FCGI_STDOUT record's content, as a client sees it."""

    request_id: int
    data: bytes


@dataclass(frozen=True)
class StderrReceived:
    """One non-empty FCGI_STDERR record's content, as a client sees it."""

    request_id: int
    data: bytes


@dataclass(frozen=True)
class RequestEnded:
    """FCGI_END_REQUEST: the application's exit status and the protocol status (``FCGI_REQUEST_COMPLETE``...)."""

    request_id: int
    app_status: int
    protocol_status: int


@dataclass(frozen=True)
class ValuesReceived:
    """FCGI_GET_VALUES_RESULT: the variables the application chose to answer."""

    values: Dict[bytes, bytes] = field(hash=False)


@dataclass(frozen=True)
class UnknownTypeReported:
    """FCGI_UNKNOWN_TYPE: the application did not understand a management record of ``record_type``."""

    record_type: int


ClientEvent = Union[StdoutReceived, StderrReceived, RequestEnded, ValuesReceived, UnknownTypeReported]
