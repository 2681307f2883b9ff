"""The phase table: mod_python's request phases as data, in the order they run.

One row per `Python*Handler` directive says everything the dispatch loop needs: the directive name (also the
`req.phase` value and the prefix of error messages), the object a handler without `::object` resolves to, the
results that let the next handler of the chain run, whether `| .ext` lists are accepted, and where the phase runs
in a FastCGI daemon (`docs/mod_python-facts.md` §1-§3, `_status_values` in mod_python's apache.py).  The loop in
`chain.py` reads these rows; nothing else knows a phase by name.

Where each phase runs (the README's phase table is `placement_table()`):
- Init, PostReadRequest ... Fixup except the auth pair: emulated in the daemon, in this order, before the content handler
  (Apache's own hooks for them cannot call out of process);
- Authen/Authz: inside Apache's auth phases when mod_authnz_fcgi calls the daemon as a FastCGI AUTHORIZER
  (`AUTHORIZER_PHASES` says which phases a call runs, by its FCGI_APACHE_ROLE), else emulated like the others;
  Access also runs first in such an authentication call, where there is one;
- Log, then the `req.register_cleanup()` callbacks, then Cleanup: after the last byte of the response went to
  Apache, so the client never waits for them.

Continue-on codes: RUN_ALL phases go on after OK or DECLINED; RUN_FIRST phases (trans, authen, authz, type) only
after DECLINED; the content handler only after OK (the docs say DECLINED too, but mod_python 3.4+ behaves as
above, observed); cleanup only after OK (its return value is otherwise ignored).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Optional

from ..request.constants import DECLINED, OK


class Placement(enum.Enum):
    """Where a phase runs when Apache reaches the daemon over FastCGI."""

    # Apache-only hooks the daemon emulates, in order, before the content handler.
    BEFORE_CONTENT = "in the daemon, before the content handler (emulated, in Apache's order)"
    # Apache's authn/authz hooks, reached through mod_authnz_fcgi's AUTHORIZER role.
    APACHE_AUTH = ("inside Apache's authn/authz phases (mod_authnz_fcgi calls the daemon as a FastCGI AUTHORIZER); "
                   "emulated before the content handler without it")
    CONTENT = "in the daemon: the content handler (mod_proxy_fcgi RESPONDER)"
    AFTER_RESPONSE = "in the daemon, after the response's last byte went to Apache"
    # mod_python runs PythonCleanupHandler from the request pool's cleanup, after req.register_cleanup() callbacks.
    CLEANUP = "in the daemon, after the log phase and the req.register_cleanup() callbacks"


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
    # Apache applies SetHandler when the fixup phase starts (core's fixup hook runs first), so a req.handler set in
    # an earlier phase is replaced by the configured one, while one set by a fixup handler stays (observed).
    applies_handler: bool = False


_RUN_ALL = frozenset({OK, DECLINED})
_RUN_FIRST = frozenset({DECLINED})
_OK_ONLY = frozenset({OK})

PHASES: tuple[Phase, ...] = (
    # Init is no hook of its own: mod_python 3.5 runs it in the post-read-request hook before the
    # PostReadRequest handlers, and marks it as done there, so the header-parser hook never runs a directory-level
    # Init (observed; mod_python.c's PythonPostReadRequestHandler sets python_init_ran unconditionally).  The
    # daemon cannot tell server-level from directory-level directives, so it runs Init first, whichever it is.
    Phase("PythonInitHandler", "inithandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonPostReadRequestHandler", "postreadrequesthandler", _RUN_ALL, False, Placement.BEFORE_CONTENT),
    Phase("PythonTransHandler", "transhandler", _RUN_FIRST, False, Placement.BEFORE_CONTENT),
    Phase("PythonHeaderParserHandler", "headerparserhandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonAccessHandler", "accesshandler", _RUN_ALL, True, Placement.BEFORE_CONTENT),
    Phase("PythonAuthenHandler", "authenhandler", _RUN_FIRST, True, Placement.APACHE_AUTH, requires_user=True),
    Phase("PythonAuthzHandler", "authzhandler", _RUN_FIRST, True, Placement.APACHE_AUTH),
    Phase("PythonTypeHandler", "typehandler", _RUN_FIRST, True, Placement.BEFORE_CONTENT),
    Phase("PythonFixupHandler", "fixuphandler", _RUN_ALL, True, Placement.BEFORE_CONTENT, applies_handler=True),
    Phase("PythonHandler", "handler", _OK_ONLY, True, Placement.CONTENT,
          handler_names=frozenset({"mod_python", "python-program"})),
    Phase("PythonLogHandler", "loghandler", _RUN_ALL, True, Placement.AFTER_RESPONSE),
    Phase("PythonCleanupHandler", "cleanuphandler", _OK_ONLY, True, Placement.CLEANUP),
)

BY_DIRECTIVE: Mapping[str, Phase] = MappingProxyType({phase.directive: phase for phase in PHASES})

CONTENT: Phase = BY_DIRECTIVE["PythonHandler"]

# The handler Apache chose for every request that reaches the daemon (SetHandler / AddHandler mod_python).
CONFIGURED_HANDLER = "mod_python"

# FCGI_APACHE_ROLE of a mod_authnz_fcgi call -> the phases it runs, in order.  AUTHENTICATOR comes from an `authn`
# provider (AuthBasicProvider or AuthnzFcgiCheckAuthnProvider): the daemon runs access, authen and then, when it
# has handlers, authz in the same call, so a PythonAuthzHandler's 403 reaches the client as mod_python sends it (an
# authz provider's refusal is always 401 for a user Apache authenticated).  Access comes first because mod_python
# runs it before authentication and mod_authnz_fcgi has no access-checker hook of its own: in this call it also
# guards content Apache serves itself.  AUTHORIZER comes from `Require NAME` (an `authz` provider, for blocks whose
# authentication is Apache's own); a generic `authnz` provider sends none.
_AUTHENTICATION = (BY_DIRECTIVE["PythonAccessHandler"], BY_DIRECTIVE["PythonAuthenHandler"],
                   BY_DIRECTIVE["PythonAuthzHandler"])
AUTHORIZER_PHASES: Mapping[Optional[str], tuple[Phase, ...]] = MappingProxyType({
    "AUTHENTICATOR": _AUTHENTICATION,
    "AUTHORIZER": (BY_DIRECTIVE["PythonAuthzHandler"],),
    None: _AUTHENTICATION,
})
# Every phase an authorizer call may run: the responder skips one that a call already ran (`apache_ran_marker`).
AUTHORIZER_RUNS: frozenset[Phase] = frozenset(phase for phases in AUTHORIZER_PHASES.values() for phase in phases)


def phases_at(placement: Placement) -> tuple[Phase, ...]:
    """The phases that run at `placement`, in Apache's order."""
    return tuple(phase for phase in PHASES if phase.placement is placement)


def apache_ran_marker(phase: Phase) -> str:
    """The variable an allowing authorizer answer sets (`Variable-<name>: 1`) to tell the responder that `phase`
    already ran inside Apache; mod_authnz_fcgi turns it into a param of the later FastCGI responder call."""
    return "FCGI_HANDLERS_RAN_" + phase.default_object.upper()


def placement_table() -> str:
    """The README's phase table: each directive and where it runs."""
    rows = ["| phase | continues the chain on | runs |", "|---|---|---|"]
    names = {OK: "OK", DECLINED: "DECLINED"}
    for phase in PHASES:
        codes = " or ".join(names[code] for code in sorted(phase.continue_on, reverse=True))
        rows.append(f"| `{phase.directive}` | {codes} | {phase.placement.value} |")
    return "\n".join(rows)
