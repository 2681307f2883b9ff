"""A conformance scenario as data: handler source, the mod_python directives of one block, and HTTP requests.

A scenario is written once and served twice: its block goes as written into the Apache with real mod_python, and
through `mod_python_block_to_daemon` into the Apache in front of the daemon. Both import the same handler files.
Each request names the status real mod_python answers (`Call.status`, and optionally more in `Call.expect`), so a
scenario whose handler is broken fails as "the oracle did not answer as declared" instead of matching because both
sides answer 500. An intended difference names its `Reason` (a mod_python bug on Python 3, an inherent FastCGI
limit, or a deliberate improvement with its user-visible benefit); each call allowed to differ carries the daemon's asserted answer (`Call.daemon`) and, in `Call.expect`, what
mod_python's answer shows, so a stale reason is noticed too. Calls without `daemon` must still match.
A mismatch left for the lead carries its diagnosis in `known_mismatch`: it still counts and shows as a mismatch.

Tokens in directives, handler sources and files: `{mod}` the scenario's handler module, `{url}` its URL prefix,
`{dir}` its directory under the shared document root, `{state}` a per-side scratch directory (emptied before each
side runs), `{handlers}` the handler directory.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Mapping, Optional, Sequence, Union

from fcgi_handlers.apache.config import AuthnMode

Body = Union[bytes, Callable[[], bytes]]
Container = Literal["Location", "Directory"]
ReasonKind = Literal["mod_python bug", "FastCGI limit", "improvement"]
NO_ANSWER = 0   # Call.status of a request real mod_python never answers (the Apache child crashes)


@dataclass(frozen=True)
class Reason:
    """Why the daemon's answer is meant to differ from mod_python's."""

    kind: ReasonKind
    text: str


def mod_python_bug(text: str) -> Reason:
    return Reason("mod_python bug", text)


def fastcgi_limit(text: str) -> Reason:
    return Reason("FastCGI limit", text)


def improvement(text: str) -> Reason:
    """A deliberate, documented difference; `text` states the user-visible benefit (security, correctness)."""
    return Reason("improvement", text)


@dataclass(frozen=True)
class Expect:
    """An assertion on one answer: status, headers (None: must be absent) or parts of them, exact body, or parts of the
    body."""

    status: Optional[int] = None
    headers: Mapping[str, Optional[str]] = field(default_factory=dict)
    body: Optional[bytes] = None
    contains: Sequence[bytes] = ()
    lacks: Sequence[bytes] = ()
    header_parts: Sequence[tuple[str, str]] = ()    # (name, text): the header's values, joined by ", ", contain text


@dataclass(frozen=True)
class Mask:
    """A value that must differ between runs (a random session id): replaced on both sides before comparing."""

    pattern: str       # a regular expression over the body text and header values
    replacement: str
    why: str


@dataclass(frozen=True)
class Call:
    """One HTTP request of a scenario; `path` is relative to the scenario's URL unless it starts with '/'."""

    path: str = ""
    method: str = "GET"
    headers: Sequence[tuple[str, Union[str, bytes]]] = ()    # `{port}` in a value: the side's port
    body: Optional[Body] = None
    chunked: bool = False           # send the body with Transfer-Encoding: chunked (no Content-Length)
    status: int = 200               # what real mod_python answers (NO_ANSWER: its child dies, the client gets none)
    alternatives: Sequence[int] = ()    # other statuses it answers, where a mod_python bug depends on the child's past
    carry_cookies: bool = False     # send the cookies set by this scenario's earlier answers on this side
    pause: float = 0.0              # seconds to wait before sending (reload checks run at most once a second)
    rewrite: Mapping[str, str] = field(default_factory=dict)   # handler (or `{dir}/...`) files to rewrite first
    concurrent: int = 1             # send this many copies at once, each on its own connection
    stagger: float = 0.0            # ... all but the first this many seconds later
    expect: Optional[Expect] = None     # more of what real mod_python answers (checked on its answer)
    daemon: Optional[Expect] = None     # the daemon's asserted answer where an intended difference lets it differ

    def body_bytes(self) -> Optional[bytes]:
        return self.body() if callable(self.body) else self.body


@dataclass(frozen=True)
class Scenario:
    """One behaviour, answered by both implementations and compared."""

    name: str
    area: str
    source: str
    directives: Sequence[str] = ("SetHandler mod_python", "PythonHandler {mod}")
    calls: Sequence[Call] = (Call(),)
    container: Container = "Location"
    modules: Mapping[str, str] = field(default_factory=dict)     # more handler modules: name -> source
    files: Mapping[str, bytes] = field(default_factory=dict)     # files under {dir}
    logs: Sequence[str] = ()              # regexes each side's error log must show for this scenario
    masks: Sequence[Mask] = ()
    compare_headers: bool = True          # False only where the reason says headers cannot match
    keepalive: bool = False               # all calls over one connection (one prefork child on mod_python's side)
    intended_difference: Optional[Reason] = None    # the calls with a `daemon` expectation may differ
    oracle_mpm: Literal["prefork", "event"] = "prefork"   # Debian's mod_python in a threaded MPM shows thread races
    known_mismatch: str = ""    # the diagnosis of a mismatch left for the lead: still counted and reported as one
    authn: AuthnMode = "check-authn"    # how the converter carries auth handlers (see mod_python_to_daemon)
    # Directives of the scenario's own virtual host, around its block; such a scenario gets its own pair of Apaches.
    server: Sequence[str] = ()
    # PythonImport arguments (`MODULE[::FUNC] INTERPRETER`) at the server level; the daemon's side gets them as
    # `--import` of a daemon of its own. Such a scenario also gets its own pair of Apaches.
    imports: Sequence[str] = ()
    # Apaches of its own even without server lines: a fresh mod_python child, whose interpreter no earlier scenario
    # changed (mod_python's cgihandler leaves sys.argv as [] for the child's later requests).
    fresh: bool = False

    @property
    def own_servers(self) -> bool:
        return bool(self.server or self.imports or self.fresh)
    description: str = ""

    @property
    def module(self) -> str:
        return "cf_" + self.name

    @property
    def url(self) -> str:
        return f"/cf/{self.name}/"

    def target(self, call: Call) -> str:
        return call.path if call.path.startswith("/") else self.url + call.path


def handler(code: str, *, imports: str = "", name: str = "handler") -> str:
    """A handler module whose `name(req)` runs `code` (a function body)."""
    header = "from mod_python import apache\n" + (imports.strip() + "\n" if imports.strip() else "")
    return f"{header}\n\ndef {name}(req):\n{textwrap.indent(textwrap.dedent(code).strip(), '    ')}\n"


SHOW_SOURCE = '''from mod_python import apache
{imports}

def _show(label, thunk):
    try:
        value = repr(thunk())
    except Exception as exc:
        value = "raised %s: %s" % (type(exc).__name__, exc)
    return "%s = %s\\n" % (label, value)


def handler(req):
{setup}    lines = []
{lines}    req.content_type = "text/plain"
    req.write("".join(lines))
    return apache.OK
'''


def show(*expressions: str, setup: str = "", imports: str = "") -> str:
    """A handler that writes `expr = repr(value)` for each expression (or the exception it raised), one per line.

    Every value is taken before anything is written, so output timing (headers sent, chunking) cannot change them.
    """
    lines = "".join(f"    lines.append(_show({expr!r}, lambda: {expr}))\n" for expr in expressions)
    body = textwrap.indent(textwrap.dedent(setup).strip() + "\n", "    ") if setup.strip() else ""
    return SHOW_SOURCE.format(imports=imports.strip(), setup=body, lines=lines)


def diagnosed(scenarios: Sequence[Scenario], diagnoses: Mapping[str, str]) -> list[Scenario]:
    """`scenarios` with the known-mismatch diagnoses by name attached; a name that is not there is an error."""
    unknown = set(diagnoses) - {scenario.name for scenario in scenarios}
    if unknown:
        raise ValueError(f"diagnoses for unknown scenarios: {', '.join(sorted(unknown))}")
    return [replace(s, known_mismatch=diagnoses[s.name]) if s.name in diagnoses else s for s in scenarios]


def fill(text: str, tokens: Mapping[str, str]) -> str:
    """Replace `{name}` tokens; other braces are left alone (handler code is full of them)."""
    for key, value in tokens.items():
        text = text.replace("{" + key + "}", value)
    return text
