"""What a FastCGI client may decide: the params the daemon pins, the `Python*` params it honours at all.

Under mod_python only Apache's configuration (files root writes) chose handlers and options. Here the directives
arrive as FastCGI params from whoever can connect to the daemon's socket, so the daemon's own settings can narrow
what such a client decides:
- `--allow-params NAME[,NAME...]` names the `Python*` params honoured (`PythonOption.*` stands for every option,
  `PythonRequire.*` for every Require line); any other `Python*` param is dropped before the directives are read,
  with a log line per name at most once a minute per worker. Without it every directive is honoured, as under
  mod_python.
- `--fixed KEY=VALUE` pins a directive (`PythonDebug=Off`, `PythonHandler=app`, `AuthName=...`) whatever the client
  sends: it is applied last, after the allow-list and after the daemon's defaults (`--handler`, `--debug`), which
  fill in only what the client left out.
The policy touches only the params that configure the daemon (`Python*`, `AuthName`, `AuthType`), never Apache's
request variables. Separately, a param holding a NUL byte is refused with 400: Apache's variables are C strings and
cannot hold one, so only another client sends it, and a path with a NUL makes `os` functions raise ValueError.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Callable, ClassVar, Dict, Optional, Tuple

from ..request.constants import HTTP_BAD_REQUEST
from .directives import (AUTH_PARAMS, DIRECTORY_PARAM, FLAG_DIRECTIVES, HANDLER_MODULE, LOCATION_PARAM,
                         OPTION_PREFIX, REQUIRE_PREFIX, SERVER_NAME_PARAM, STRING_DIRECTIVES, DirectiveError,
                         parse_directives)
from .errors import DispatchError
from .phases import BY_DIRECTIVE

log = logging.getLogger(__name__)

# The params the policy governs; `--allow-params` restricts the ones starting with this prefix.
GOVERNED_PREFIX = "Python"
# A name ending in this in `--allow-params` allows every param that starts with the rest (`PythonOption.*`); the
# numbered or keyed families are the only ones that may.
WILDCARD = "*"
FAMILIES = (OPTION_PREFIX, REQUIRE_PREFIX)
# An ignored param's name is logged at most once per this many seconds per worker.
LOG_INTERVAL = 60.0
# Names remembered for that (a client can invent any number of names; the oldest are forgotten past this).
MAX_LOGGED_NAMES = 1024


class UntrustedParam(DispatchError):
    """A param no web server sends (a NUL byte in it): the request is refused."""

    status: ClassVar[int] = HTTP_BAD_REQUEST


def known_param(name: str) -> bool:
    """True for the params that configure the daemon: every phase directive, the flags, PythonPath and the
    interpreter, PythonHandlerModule, `PythonOption.<key>` and `PythonRequire.<n>`, what the translation passes
    about the block (directory, location, server name), AuthName and AuthType."""
    return (name in BY_DIRECTIVE or name in FLAG_DIRECTIVES or name in STRING_DIRECTIVES or name in AUTH_PARAMS
            or name in (HANDLER_MODULE, DIRECTORY_PARAM, LOCATION_PARAM, SERVER_NAME_PARAM)
            or any(name.startswith(family) and len(name) > len(family) for family in FAMILIES))


def parse_fixed(text: str) -> Tuple[str, str]:
    """`KEY=VALUE` for `--fixed`; ValueError (with the reason) for an unknown key or a value the directive refuses."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError("expected KEY=VALUE, e.g. PythonDebug=Off")
    if not known_param(key):
        raise ValueError(f"{key!r} is not a directive the daemon reads (Python*, PythonOption.<key>, AuthName, "
                         "AuthType)")
    if key != "PythonPath":  # PythonPath depends on --path: checked with it (ParamPolicy.check)
        try:
            parse_directives({key: value}, ())
        except DirectiveError as exc:
            raise ValueError(str(exc)) from None
    return key, value


def parse_allowed(names: Iterable[str]) -> Tuple[str, ...]:
    """The `--allow-params` names (comma-separated lists allowed); ValueError naming an unknown one."""
    result: Dict[str, None] = {}
    for item in names:
        for name in (part.strip() for part in item.split(",")):
            if not name:
                continue
            if name.endswith(WILDCARD):
                if name[:-1] not in FAMILIES:
                    raise ValueError(f"{name!r}: only {' and '.join(f + WILDCARD for f in FAMILIES)} may end in "
                                     f"{WILDCARD}")
            elif not known_param(name) or not name.startswith(GOVERNED_PREFIX):
                raise ValueError(f"{name!r} is not a Python* directive")
            result[name] = None
    return tuple(result)


class _Throttle:
    """Log a name at most once per LOG_INTERVAL (per process), remembering a bounded number of names."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: Dict[str, float] = {}

    def due(self, name: str) -> bool:
        # Request threads may get here at once: every step is one dict operation, safe under the GIL.
        now = self._clock()
        last = self._last.get(name)
        if last is not None and now - last < LOG_INTERVAL:
            return False
        if len(self._last) >= MAX_LOGGED_NAMES:
            for oldest in list(self._last)[:MAX_LOGGED_NAMES // 2]:
                self._last.pop(oldest, None)
        self._last.pop(name, None)
        self._last[name] = now
        return True


class ParamPolicy:
    """The daemon's say over the directive params: defaults, an allow-list, pinned values (see the module doc)."""

    def __init__(self, defaults: Iterable[Tuple[str, str]] = (), fixed: Iterable[Tuple[str, str]] = (),
                 allowed: Optional[Iterable[str]] = None) -> None:
        self.defaults = tuple(defaults)
        self.fixed = tuple(fixed)
        self.allowed = None if allowed is None else tuple(allowed)  # None: every Python* param is honoured
        self._exact = frozenset(name for name in self.allowed or () if not name.endswith(WILDCARD))
        self._prefixes = tuple(name[:-1] for name in self.allowed or () if name.endswith(WILDCARD))
        self._throttle = _Throttle()
        self._passthrough = not (self.defaults or self.fixed or self.allowed is not None)

    def __repr__(self) -> str:
        return f"ParamPolicy(defaults={self.defaults!r}, fixed={self.fixed!r}, allowed={self.allowed!r})"

    def honoured(self, name: str) -> bool:
        """Whether a client's param `name` is kept (every param outside Python* is)."""
        if self.allowed is None or not name.startswith(GOVERNED_PREFIX):
            return True
        return name in self._exact or name.startswith(self._prefixes)

    def apply(self, params: Mapping[str, str]) -> Mapping[str, str]:
        """The params the directives are read from: the client's, less the ignored ones, plus defaults and pins.
        The mapping given is returned as it is when nothing changes (this runs on every request)."""
        if self._passthrough:
            return params
        kept: Mapping[str, str] = params
        if self.allowed is not None:
            exact, prefixes = self._exact, self._prefixes
            ignored = [name for name in params if name.startswith(GOVERNED_PREFIX) and name not in exact
                       and not name.startswith(prefixes)]
            if ignored:
                kept = {name: value for name, value in params.items() if name not in ignored}
                for name in ignored:
                    if self._throttle.due(name):
                        log.warning("ignoring the param %s sent by the client: not in --allow-params", name)
        missing = [(name, value) for name, value in self.defaults if name not in kept]
        if not missing and not self.fixed:
            return kept
        result = dict(kept)
        result.update(missing)
        for name, value in self.fixed:
            result.pop(name, None)  # the pinned value goes last, where a repeated directive takes effect
            result[name] = value
        return result

    def check(self, roots: Sequence[str]) -> None:
        """Refuse (ValueError) pinned values that cannot work with the allowed directories (a fixed PythonPath
        outside `--path` would fail every request)."""
        try:
            parse_directives(dict(self.fixed), tuple(roots))
        except DirectiveError as exc:
            raise ValueError(f"--fixed: {exc}") from None


def check_params(params: Mapping[str, str]) -> None:
    """UntrustedParam when a param holds a NUL byte (see the module doc)."""
    if "\0" in "".join(params.values()):
        name = next(name for name, value in params.items() if "\0" in value)
        raise UntrustedParam(f"the param {name} holds a NUL byte, which no web server sends; request refused")
