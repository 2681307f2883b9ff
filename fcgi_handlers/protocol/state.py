"""The legal order of a request's input records, per role: one table, and the small object that enforces it.

Rules (spec §6; what Apache sends is in ``docs/apache-facts.md`` §4 and §8):

1. A request starts with FCGI_BEGIN_REQUEST, which names its role. Nothing of a request may come before it.
2. The role's input streams then arrive strictly in the order of ``ROLE_RULES``. Each stream is zero or more
   non-empty records closed by exactly one empty record. A record of a stream that is not the open one (a later
   stream too early, an earlier stream again, a stream the role does not have) is an error.
3. When the role's last stream closes, the request's input is complete. A further input record for it is an error,
   except the empty records the table lists as dropped for that role.
4. FCGI_ABORT_REQUEST may come at any point after FCGI_BEGIN_REQUEST. The web server has given up on the request,
   so input records that still arrive for it are dropped, whatever their order.

Per role::

    FCGI_RESPONDER:  BEGIN -> PARAMS* -> empty PARAMS -> STDIN* -> empty STDIN
    FCGI_AUTHORIZER: BEGIN -> PARAMS* -> empty PARAMS, and nothing else
    FCGI_FILTER:     BEGIN -> PARAMS* -> empty PARAMS -> STDIN* -> empty STDIN -> DATA* -> empty DATA

The AUTHORIZER's request is complete when its params end: mod_authnz_fcgi sends no FCGI_STDIN at all, not even the
empty record ("the responder owns the request body"), so waiting for one would hang until Apache's 30 s timeout.
A sender that closes an empty stdin stream anyway adds nothing, so that one empty record is dropped, not refused.
The FILTER order is the spec's (§6.4: params, then stdin, then the data file); Apache has no FILTER role at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, FrozenSet, List, Mapping, Tuple

from .constants import (
    FCGI_AUTHORIZER,
    FCGI_DATA,
    FCGI_FILTER,
    FCGI_PARAMS,
    FCGI_RESPONDER,
    FCGI_STDIN,
    role_name,
    type_name,
)
from .errors import ProtocolError


@dataclass(frozen=True)
class RoleRule:
    """One row of the table: the role's input streams in arrival order, and the empty records dropped afterwards."""

    streams: Tuple[int, ...]
    dropped_when_complete: FrozenSet[int] = frozenset()


ROLE_RULES: Final[Mapping[int, RoleRule]] = {
    FCGI_RESPONDER: RoleRule(streams=(FCGI_PARAMS, FCGI_STDIN)),
    FCGI_AUTHORIZER: RoleRule(streams=(FCGI_PARAMS,), dropped_when_complete=frozenset({FCGI_STDIN})),
    FCGI_FILTER: RoleRule(streams=(FCGI_PARAMS, FCGI_STDIN, FCGI_DATA)),
}

# The record types that carry a request's input; anything else addressed to a request is not a stream record.
INPUT_STREAMS: Final[FrozenSet[int]] = frozenset({FCGI_PARAMS, FCGI_STDIN, FCGI_DATA})


@dataclass(slots=True)
class RequestState:
    """Everything the connection remembers about its one active request."""

    request_id: int
    role: int
    keep_conn: bool
    # Index into the role's streams of the one open now; equal to their number once the input is complete.
    stream_index: int = 0
    aborted: bool = False
    # end_request writes an empty FCGI_STDERR only when the stderr stream was opened.
    stderr_sent: bool = False
    # The FCGI_PARAMS contents received so far, joined only when there is more than one (Apache sends one).
    params: List[bytes] = field(default_factory=list)
    params_size: int = 0
    # The role's row, looked up once: accept() runs for every input record.
    rule: RoleRule = field(init=False)

    def __post_init__(self) -> None:
        self.rule = ROLE_RULES[self.role]

    @property
    def input_complete(self) -> bool:
        """True once the role's last input stream has closed."""
        return self.stream_index >= len(self.rule.streams)

    def accept(self, record_type: int, empty: bool) -> bool:
        """Check an input record against the table; True to deliver it, False to drop it.

        An empty record closes the open stream. Raises ``ProtocolError`` naming what was expected instead.
        """
        if self.aborted:
            return False
        streams = self.rule.streams
        index = self.stream_index
        if index < len(streams) and record_type == streams[index]:
            # The expected stream: by far the common case, decided before any error formatting.
            if empty:
                self.stream_index = index + 1
            return True
        if index >= len(streams):
            if empty and record_type in self.rule.dropped_when_complete:
                return False
            raise ProtocolError(
                f"{type_name(record_type)} for request {self.request_id} after its input was complete "
                f"({self._order()})"
            )
        raise ProtocolError(
            f"{type_name(record_type)} for request {self.request_id} while {type_name(streams[index])} "
            f"was expected ({self._order()})"
        )

    def _order(self) -> str:
        names = " -> ".join(f"{type_name(stream)}* -> empty {type_name(stream)}" for stream in self.rule.streams)
        return f"{role_name(self.role)}: {names}"
