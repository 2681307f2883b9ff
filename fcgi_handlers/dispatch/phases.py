"""The phase table: mod_python's request phases as data, in the order they run.

One row per `Python*Handler` directive says everything the dispatch loop needs: the directive name (also the
`req.phase` value and the prefix of error messages), the object a handler without `::object` resolves to, the
results that let the next handler of the chain run, whether `| .ext` lists are accepted, and where the phase runs
in a FastCGI daemon (mod_python-behaviour.md §1.1-§1.3, `_status_values` in mod_python's apache.py).  The loop in
`chain.py` reads these rows; nothing else knows a phase by name.

Continue-on codes: RUN_ALL phases go on after OK or DECLINED; RUN_FIRST phases (trans, authen, authz, type) only
after DECLINED; the content handler only after OK (the docs say DECLINED too, but mod_python 3.4+ behaves as
above, observed); cleanup only after OK (its return value is otherwise ignored).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..request.constants import DECLINED, OK


class Placement(enum.Enum):
    """Where a phase runs when Apache reaches the daemon over FastCGI."""

    # Apache-only hooks the daemon emulates, in order, before the content handler.
    BEFORE_CONTENT = "emulated before the content handler"
    # Apache's authn/authz hooks, reached through mod_authnz_fcgi's AUTHORIZER role.
    APACHE_AUTH = "in Apache's auth phases via mod_authnz_fcgi"
    CONTENT = "content"
    AFTER_RESPONSE = "after the response is sent"
    # mod_python runs PythonCleanupHandler from the request pool's cleanup, after req.register_cleanup() callbacks.
    CLEANUP = "at request cleanup, after the registered cleanups"


@dataclass(frozen=True)
class Phase:
    """One row of the phase table."""

    directive: str
    default_object: str
    continue_on: frozenset[int]
    accepts_extensions: bool
    placement: Placement
    # mod_python's C side turns OK without req.user into 500 ("After PythonAuthenHandler req->user is NULL").
    requires_user: bool = False
    # The content phase runs only when req.handler names mod_python (an earlier phase may change it).
    handler_names: frozenset[str] = frozenset()


_RUN_ALL = frozenset({OK, DECLINED})
_RUN_FIRST = frozenset({DECLINED})
_OK_ONLY = frozenset({OK})

PHASES: tuple[Phase, ...] = (
    Phase("PythonPostReadRequestHandler", "postreadrequesthandler", _RUN_ALL, False, Placement.BEFORE_CONTENT),
    Phase("PythonTransHandler", "transhandler", _RUN_FIRST, False, Placement.BEFORE_CONTENT),
    # Init is no hook of its own: configured per directory (all we get over FastCGI) it runs first in the
    # header-parser hook, so it sits just before HeaderParser in execution order.
    Phase("PythonInitHandler", "inithandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonHeaderParserHandler", "headerparserhandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonAccessHandler", "accesshandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonAuthenHandler", "authenhandler", _RUN_FIRST, True, Placement.APACHE_AUTH, requires_user=True),
    Phase("PythonAuthzHandler", "authzhandler", _RUN_FIRST, True, Placement.APACHE_AUTH),
    Phase("PythonTypeHandler", "typehandler", _RUN_FIRST, True, Placement.BEFORE_CONTENT),
    Phase("PythonFixupHandler", "fixuphandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonHandler", "handler", _OK_ONLY, True, Placement.CONTENT,
          handler_names=frozenset({"mod_python", "python-program"})),
    Phase("PythonLogHandler", "loghandler", _RUN_ALL, True, Placement.AFTER_RESPONSE),
    Phase("PythonCleanupHandler", "cleanuphandler", _OK_ONLY, True, Placement.CLEANUP),
)

BY_DIRECTIVE: Mapping[str, Phase] = MappingProxyType({phase.directive: phase for phase in PHASES})

CONTENT: Phase = BY_DIRECTIVE["PythonHandler"]


def phases_at(placement: Placement) -> tuple[Phase, ...]:
    """The phases that run at `placement`, in Apache's order."""
    return tuple(phase for phase in PHASES if phase.placement is placement)
