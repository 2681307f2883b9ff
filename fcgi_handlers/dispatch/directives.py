"""mod_python's directives, read from the FastCGI params Apache sends.

Apache cannot hand mod_python's directives to a FastCGI backend, so they travel as variables set with `SetEnv` in the
same `<Location>`/`<Directory>`: `PythonHandler "mod::fn mod2 | .py"`, `PythonFixupHandler ...` (every phase of the
table; several lines of one phase joined by `;`: `"a | .py; b | .int"`), `PythonHandlerModule mod`, `PythonDebug
On|Off`, `PythonAutoReload On|Off` (default On), `PythonPath "['/srv/app'] + sys.path"`, `PythonInterpreter name` and
one `PythonOption.<key> "<value>"` per option (an empty value removes the key, as mod_python does), plus the block's
`AuthName`/`AuthType` for `req.auth_name()` and `req.auth_type()` (Apache sends neither). A block whose auth phases run
inside Apache sets them with `SetEnvIfExpr` instead of `SetEnv`: mod_env's SetEnv runs in the fixup phase, after
authentication, while SetEnvIf runs in the header-parser phase, before it (observed: only SetEnvIf values reach
mod_authnz_fcgi's call). They are parsed once per distinct set into an immutable `Directives`; any malformed value
raises `DirectiveError` (the request then fails with 500 and a log line naming the directive), as Apache would refuse
such a configuration.

PythonPath is never evaluated: it is parsed with `ast`, accepting only list literals of strings, the name
`sys.path` (which stands for the daemon's allowed directories, as it has no other search path to offer) and `+`.
Every entry must be absolute and lie inside the allowed directories; PythonPath cannot widen what can be imported.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Dict, Optional, Tuple

from ..request.table import table
from .errors import DispatchError
from .phases import BY_DIRECTIVE, PHASES, Phase

# Non-handler directives that go into req.get_config(); flags are stored as "1"/"0" (mod_python §2).
FLAG_DIRECTIVES = ("PythonDebug", "PythonAutoReload", "PythonEnablePdb", "PythonInterpPerDirectory",
                   "PythonInterpPerDirective")
STRING_DIRECTIVES = ("PythonPath", "PythonInterpreter")
OPTION_PREFIX = "PythonOption."
# Apache's own AuthName/AuthType, passed by the generated configuration for req.auth_name()/auth_type().
AUTH_PARAMS = ("AuthName", "AuthType")
# What a param's name starts with when it may be a directive: one test that rejects the other params at once.
_DIRECTIVE_PREFIXES = ("Python", "Auth")
# What Apache knows about a block but does not send a FastCGI backend: the translation
# (fcgi_handlers.apache.translate) passes it in params of these names, none of them a mod_python directive.
# The <Directory> path, for req.hlist.directory.
DIRECTORY_PARAM = "PythonDirectory"
# The <Location>/<LocationMatch> path, for req.hlist.location and everything mounted at the location.
LOCATION_PARAM = "PythonLocation"
# The virtual host's configured ServerName, for req.server.server_hostname.
SERVER_NAME_PARAM = "PythonServerName"
# The block's Require lines, in order: `PythonRequire.1`, `PythonRequire.2`, ... each the arguments of one line as
# written, for req.requires().
REQUIRE_PREFIX = "PythonRequire."
HANDLER_MODULE = "PythonHandlerModule"
# One param carries every handler line of its phase, in order, joined by this: `SetEnv PythonHandler "a | .py; b |
# .int"` is mod_python's two lines `PythonHandler a | .py` and `PythonHandler b | .int` (no handler name or
# extension holds it).
LIST_SEPARATOR = ";"

# A PythonPath longer than this is refused before parsing (Apache sends at most 16 KB per variable anyway).
MAX_PYTHON_PATH = 16 * 1024


class DirectiveError(DispatchError, ValueError):
    """A directive value that cannot be used; the request fails with its `status`."""


@dataclass(frozen=True)
class HandlerSpec:
    """One entry of a handler list: `module[::object]` as written, silent for PythonHandlerModule; `directory` is
    the search directory `req.add_handler()` may give (tried before the request's path)."""

    text: str
    module: str
    object: Optional[str]
    silent: bool = False
    directory: Optional[str] = None

    def object_for(self, phase: Phase) -> str:
        """The object to resolve: the one written, else the phase's default name."""
        return self.object if self.object is not None else phase.default_object


def _is_dotted_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def parse_handler_spec(text: str, *, silent: bool = False, directory: Optional[str] = None) -> HandlerSpec:
    """Split `module[::object]`; both parts must be dotted names (file paths are not supported since 3.4)."""
    module, sep, obj = text.partition("::")
    if not _is_dotted_name(module) or (sep and not _is_dotted_name(obj)):
        raise DirectiveError(f"invalid handler {text!r}: expected module[::object]")
    return HandlerSpec(text, module, obj if sep else None, silent, directory)


def parse_handler_line(directive: str, value: str) -> tuple[tuple[HandlerSpec, ...], tuple[str, ...]]:
    """`handler [handler ...] [| .ext [.ext ...]]` -> (handlers, extensions)."""
    handlers_part, bar, ext_part = value.partition("|")
    names = handlers_part.split()
    extensions = tuple(ext_part.split())
    if not names:
        raise DirectiveError(f"{directive}: no handler given")
    if bar and not extensions:
        raise DirectiveError(f'{directive}: "|" must be followed by extensions')
    if extensions and not BY_DIRECTIVE[directive].accepts_extensions:
        raise DirectiveError(f'{directive} does not accept "| .ext" syntax')
    return tuple(parse_handler_spec(name) for name in names), extensions


def parse_flag(directive: str, value: str) -> bool:
    """Apache's On/Off flag syntax (case-insensitive)."""
    lowered = value.strip().lower()
    if lowered not in ("on", "off"):
        raise DirectiveError(f"{directive} must be On or Off, not {value!r}")
    return lowered == "on"


def is_inside(path: str, roots: Sequence[str]) -> bool:
    """True when the real path of `path` is one of `roots` or lies below one (roots are real paths)."""
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _path_terms(node: ast.expr) -> list[ast.expr]:
    """Flatten `a + b + c` into its terms without recursion (a long chain must not exhaust the stack)."""
    terms: list[ast.expr] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add):
            stack.extend((current.right, current.left))
        else:
            terms.append(current)
    return terms


def parse_python_path(expr: str, current: Sequence[str]) -> tuple[str, ...]:
    """The entries of a PythonPath expression; `sys.path` expands to `current`.  Nothing is evaluated."""
    if len(expr) > MAX_PYTHON_PATH:
        raise DirectiveError(f"PythonPath is longer than {MAX_PYTHON_PATH} characters")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise DirectiveError(f"PythonPath {expr!r} is not a list expression: {exc}") from None
    entries: list[str] = []
    for term in _path_terms(tree.body):
        if isinstance(term, ast.List) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                              for e in term.elts):
            entries.extend(str(e.value) for e in term.elts if isinstance(e, ast.Constant))
        elif (isinstance(term, ast.Attribute) and term.attr == "path" and isinstance(term.value, ast.Name)
              and term.value.id == "sys"):
            entries.extend(current)
        else:
            raise DirectiveError(f"PythonPath {expr!r}: only list literals of strings, sys.path and + are "
                                 f"accepted, not {ast.unparse(term)!r}")
    return tuple(entries)


def restrict_python_path(entries: Sequence[str], roots: Sequence[str]) -> tuple[str, ...]:
    """Real, de-duplicated entries; an entry that is relative or outside `roots` is refused by name."""
    kept: dict[str, None] = {}
    for entry in entries:
        if not os.path.isabs(entry) or not is_inside(entry, roots):
            raise DirectiveError(f"PythonPath entry {entry!r} is outside the configured paths")
        kept.setdefault(os.path.realpath(entry), None)
    return tuple(kept)


@dataclass(frozen=True)
class Directives:
    """The mod_python configuration of one request, as the params gave it."""

    handlers: Mapping[str, Tuple[HandlerSpec, ...]] = field(default_factory=dict)
    ext_handlers: Mapping[Tuple[str, str], Tuple[HandlerSpec, ...]] = field(default_factory=dict)
    debug: bool = False
    autoreload: bool = True
    python_path: Optional[Tuple[str, ...]] = None
    interpreter: Optional[str] = None
    config: Tuple[Tuple[str, str], ...] = ()
    options: Tuple[Tuple[str, str], ...] = ()
    interp_per_directory: bool = False
    interp_per_directive: bool = False
    auth_name: Optional[str] = None
    auth_type: Optional[str] = None
    directory: Optional[str] = None     # the <Directory> the block came from (req.hlist.directory), with a slash
    location: Optional[str] = None      # the <Location>/<LocationMatch> path the block came from, as written
    server_name: Optional[str] = None   # the virtual host's ServerName (req.server.server_hostname)
    requires: Tuple[str, ...] = ()      # the block's Require lines' arguments, in order (req.requires())

    def handlers_for(self, phase: Phase, extension: Optional[str] = None) -> tuple[HandlerSpec, ...]:
        """The handler list of `phase`: the `| .ext` list for `extension` if there is one, else the plain list."""
        if extension:
            by_ext = self.ext_handlers.get((phase.directive, extension))
            if by_ext is not None:
                return by_ext
        return self.handlers.get(phase.directive, ())

    def get_config(self) -> table:
        """req.get_config()'s table: the non-handler directives present, flags as "1"/"0", in param order."""
        # Trusted: values come from Apache's params, already decoded (mod_python does not check those either).
        return table._from_trusted(self.config)

    def get_options(self) -> table:
        """req.get_options()'s table: the PythonOption.<key> values, empty ones removed."""
        return table._from_trusted(self.options)

    @functools.cached_property
    def config_table(self) -> table:
        """get_config()'s table made once per Directives, for the request to copy from (only copies reach handler
        code, so requests of the same block can share it)."""
        return self.get_config()

    @functools.cached_property
    def options_table(self) -> table:
        """get_options()'s table made once per Directives (shared the same way as `config_table`)."""
        return self.get_options()

    @functools.cached_property
    def _ext_directives(self) -> frozenset[str]:
        return frozenset(directive for directive, _ in self.ext_handlers)

    @functools.cached_property
    def configured_phases(self) -> frozenset[str]:
        """The directives (phases) that have a handler list, plain or `| .ext`: the others are skipped at once.
        Computed once per Directives, which the parse cache shares between requests of the same block."""
        return frozenset(self.handlers) | self._ext_directives

    def has_extension_lists(self, phase: Phase) -> bool:
        """True when some `| .ext` list exists for `phase` (req.extension is then worth computing)."""
        return phase.directive in self._ext_directives


def _add_handlers(handlers: Dict[str, Tuple[HandlerSpec, ...]], ext_handlers: Dict[Tuple[str, str],
                  Tuple[HandlerSpec, ...]], directive: str, value: str) -> None:
    for line in value.split(LIST_SEPARATOR):
        specs, extensions = parse_handler_line(directive, line)
        if not extensions:
            handlers[directive] = handlers.get(directive, ()) + specs
        for ext in extensions:
            ext_handlers[(directive, ext)] = ext_handlers.get((directive, ext), ()) + specs


def parse_directives(params: Mapping[str, str], roots: Sequence[str]) -> Directives:
    """Read every mod_python directive in `params` (in their order); `roots` are the allowed directories."""
    # A list comprehension, then one tuple: this runs on every request (the parse itself is cached).
    items = tuple([(name, value) for name, value in params.items()
                   if name.startswith(_DIRECTIVE_PREFIXES) and (name.startswith("Python") or name in AUTH_PARAMS)])
    return _parse_items(items, roots if isinstance(roots, tuple) else tuple(roots))


@functools.lru_cache(maxsize=256)
def _parse_items(items: Tuple[Tuple[str, str], ...], roots: Tuple[str, ...]) -> Directives:
    handlers: Dict[str, Tuple[HandlerSpec, ...]] = {}
    ext_handlers: Dict[Tuple[str, str], Tuple[HandlerSpec, ...]] = {}
    flags = {"PythonDebug": False, "PythonAutoReload": True, "PythonInterpPerDirectory": False,
             "PythonInterpPerDirective": False}
    strings: Dict[str, str] = {}
    config: list[tuple[str, str]] = []
    options: Dict[str, str] = {}
    requires: list[tuple[int, str]] = []
    for name, value in items:
        if name in BY_DIRECTIVE:
            _add_handlers(handlers, ext_handlers, name, value)
        elif name == HANDLER_MODULE:
            silent = parse_handler_spec(value.strip(), silent=True)
            for phase in PHASES:
                handlers[phase.directive] = handlers.get(phase.directive, ()) + (silent,)
        elif name in FLAG_DIRECTIVES:
            flags[name] = parse_flag(name, value)
            config.append((name, "1" if flags[name] else "0"))
        elif name in STRING_DIRECTIVES:
            if not value.strip():
                raise DirectiveError(f"{name} needs a value")
            strings[name] = value
            config.append((name, value))
        elif name in AUTH_PARAMS or name in (DIRECTORY_PARAM, LOCATION_PARAM, SERVER_NAME_PARAM):
            strings[name] = value
        elif name.startswith(REQUIRE_PREFIX):
            requires.append((_require_index(name), value))
        elif name.startswith(OPTION_PREFIX):
            key = name[len(OPTION_PREFIX):]
            if not key:
                raise DirectiveError(f"{name}: the option needs a key after the dot")
            options.pop(key, None)
            if value:
                options[key] = value
    python_path = None
    if "PythonPath" in strings:
        python_path = restrict_python_path(parse_python_path(strings["PythonPath"], roots), roots)
    return Directives(handlers=MappingProxyType(handlers), ext_handlers=MappingProxyType(ext_handlers),
                      debug=flags["PythonDebug"], autoreload=flags["PythonAutoReload"], python_path=python_path,
                      interpreter=strings.get("PythonInterpreter"), config=tuple(config),
                      options=tuple(options.items()), interp_per_directory=flags["PythonInterpPerDirectory"],
                      interp_per_directive=flags["PythonInterpPerDirective"],
                      auth_name=strings.get("AuthName") or None, auth_type=strings.get("AuthType") or None,
                      directory=_directory(strings.get(DIRECTORY_PARAM)),
                      location=strings.get(LOCATION_PARAM) or None, server_name=strings.get(SERVER_NAME_PARAM) or None,
                      requires=tuple(line for _, line in sorted(requires)))


def _require_index(name: str) -> int:
    # `PythonRequire.<n>`: n orders the lines (1, 2, ... as the translation numbers them).
    index = name[len(REQUIRE_PREFIX):]
    if not index.isdigit():
        raise DirectiveError(f"{name}: expected {REQUIRE_PREFIX}<number>")
    return int(index)


def _directory(path: Optional[str]) -> Optional[str]:
    # mod_python canonicalises a <Directory> path with a trailing slash.
    if not path:
        return None
    return path if path.endswith("/") else path + "/"
