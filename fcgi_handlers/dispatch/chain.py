"""The one loop that runs a phase's handler chain, with mod_python's result rules (§1.2 of the reference).

For each handler of the list, left to right: import its module, resolve its object (a class parent is instantiated
with the request), call it with the request, and read the result; a `SERVER_RETURN` stands for a return, its
optional second argument being stored in `req.status` first.  The result must be an `int` (bool included: mod_python
checks the exact class); anything else is a failure with mod_python's message.  The chain goes on only while the
result is one of the phase's continue-on codes.  A missing object of a silent handler (`PythonHandlerModule`) is
skipped, and turns the initial 500 into DECLINED.  Handlers added with `req.add_handler()` for the running phase
join the end of the list while it runs.

Any failure (import, resolution, the call, a bad result; KeyboardInterrupt and SystemExit too) stops the chain and goes to `report`, which logs it and
says what the phase returns.  The phase itself is data (`phases.Phase`); nothing here names a phase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Optional, Protocol

from ..request.constants import DECLINED, HTTP_INTERNAL_SERVER_ERROR
from ..request.exceptions import SERVER_RETURN
from .directives import HandlerSpec
from .errors import InvalidHandlerResult
from .loader import resolve_object
from .phases import Phase

def unpack_server_return(args: Sequence[object]) -> tuple[object, object]:
    """`SERVER_RETURN.args` -> (result, status): `(rc,)` -> (rc, None); `(rc, status)` -> both; more -> first.

    A status is applied by the caller only when true, as mod_python does (`SERVER_RETURN(OK, None)` keeps it)."""
    if len(args) == 2:
        return args[0], args[1]
    if not args:
        return None, None  # mod_python fails with IndexError; the result check reports it instead
    return args[0], None


def checked_result(value: object) -> int:
    """`value` if its class is exactly int (True/False are refused, as mod_python's `__class__ is int`)."""
    if type(value) is not int:
        raise InvalidHandlerResult(value)
    return value


class ChainRequest(Protocol):
    """What the loop needs from the request."""

    status: int


Importer = Callable[[HandlerSpec], ModuleType]
Reporter = Callable[[Phase, Optional[HandlerSpec], BaseException], int]


def run_chain(req: ChainRequest, phase: Phase, handlers: Sequence[HandlerSpec], *, import_module: Importer,
              report: Reporter, added: Callable[[], Sequence[HandlerSpec]] = tuple,
              on_handler: Callable[[HandlerSpec], None] = lambda spec: None) -> int:
    """Run `handlers` (then whatever `added()` grows to) for `phase`; the phase's result.

    `on_handler` is told which handler is about to run (req.hlist follows it)."""
    result = HTTP_INTERNAL_SERVER_ERROR
    current: Optional[HandlerSpec] = None
    index = 0
    try:
        while True:
            pending = tuple(handlers) + tuple(added())
            if index >= len(pending):
                break
            current = pending[index]
            index += 1
            on_handler(current)
            obj: Any = resolve_object(import_module(current), current.object_for(phase), arg=req,
                                      silent=current.silent)
            if obj is None and current.silent:
                if result == HTTP_INTERNAL_SERVER_ERROR:
                    result = DECLINED
                continue
            try:
                value = obj(req)
            except SERVER_RETURN as returned:
                value, status = unpack_server_return(returned.args)
                if status:
                    req.status = status  # type: ignore[assignment]  # the request's setter checks the type
            result = checked_result(value)
            if result not in phase.continue_on:
                break
    # A handler's sys.exit() must fail the request, not end the worker thread; a KeyboardInterrupt a handler raises
    # is reported the same way (mod_python's bare except gives it the PythonDebug page too).
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        return report(phase, current, exc)
    return result
