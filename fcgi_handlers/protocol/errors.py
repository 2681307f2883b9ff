"""The one exception this package raises for anything wrong on the wire.

A caller of a protocol object catches exactly one class, whatever went wrong: a short header, a bad name-value
length, a record out of order. Decoding problems are turned into it where they happen, so ``struct.error``,
``IndexError`` or ``UnicodeDecodeError`` never reach the transport (fcgiproto leaks the first two). The ``close``
attribute tells the caller what to do with the connection, which is the only decision it has to make.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer broke the FastCGI protocol, or the caller asked for something the protocol forbids.

    ``close`` is True when the byte stream can no longer be trusted (the connection must be closed; the protocol
    object refuses further input). It is False when only the refused call was wrong (for instance writing to a
    request that already ended) and the connection itself is still in a consistent state.
    """

    def __init__(self, message: str, *, close: bool = True) -> None:
        super().__init__(message)
        self.message: str = message
        self.close: bool = close

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, close={self.close})"
