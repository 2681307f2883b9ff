"""The translation of one mod_python configuration block into the block that sends its requests to the daemon.

Rule: Python* directives become FastCGI params through `SetEnv` (mod_proxy_fcgi passes the whole `subprocess_env`;
docs/apache-facts.md §2), merged as mod_python merges them within one section; `SetHandler mod_python`
becomes the proxy route; auth handlers go through mod_authnz_fcgi (see `config`'s module docstring). Two
params carry what Apache would not send otherwise: `CGIPassAuth On` (mod_python always sees `Authorization`; Apache
hands it to a FastCGI backend only with it) and, in a `<Directory>`, `PythonDirectory` (the section's path, which
mod_python reports as `req.hlist.directory`). Everything here is pure text in, text out.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence

from ..dispatch.directives import (AUTH_PARAMS, DIRECTORY_PARAM, DIRECTORY_SLASH_PARAM, FLAG_DIRECTIVES, HANDLER_MODULE,
                                   LIST_SEPARATOR, LOCATION_PARAM, NO_SETHANDLER_PARAM, REQUIRE_PREFIX,
                                   SERVER_NAME_PARAM, SERVER_SCOPE_PREFIX, STRING_DIRECTIVES)
from ..dispatch.phases import PHASES, Placement
from .config import (AuthnMode, Backend, Route, UnsupportedDirective, auth_provider_lines, authn_lines, authz_lines,
                     env_name, quote, setenvif_line)


# mod_python directives that become one FastCGI param each, value kept as written; the names are the dispatch
# layer's, which reads them. Handler lists are merged separately.
_PLAIN_DIRECTIVES = (*STRING_DIRECTIVES, HANDLER_MODULE)
_FLAG_DIRECTIVES = FLAG_DIRECTIVES
# Why each of the rest cannot be carried by a block sent to the daemon.
_UNSUPPORTED = {
    "pythonpostreadrequesthandler": "is server-level: a server-level `SetEnv PythonPostReadRequestHandler ...` has "
                                    "the daemon run it first for every request",
    "pythontranshandler": "is server-level: a server-level `SetEnv PythonTransHandler ...` has the daemon run it "
                          "after post-read-request (Apache's own URI translation has already run)",
    "pythonconnectionhandler": "handles the raw client connection, which only Apache holds",
    "pythoninputfilter": "is an Apache filter, and filters run inside Apache's process only",
    "pythonoutputfilter": "is an Apache filter, and filters run inside Apache's process only",
    "pythonimport": "is server-wide: give the daemon `--import MODULE[::FUNC] [INTERPRETER]`",
    "pythonoptimize": "is server-wide; start the daemon's Python with -OO instead",
}
# Phase handlers allowed in a directory-level block; the server-level ones are in _UNSUPPORTED.
_PHASE_DIRECTIVES = tuple(phase.directive for phase in PHASES if phase.directive.lower() not in _UNSUPPORTED)
_MOD_PYTHON_HANDLERS = ("mod_python", "python-program")
# Phase handlers mod_python runs for every request of a block, whatever its handler: a block with one of these and
# no `SetHandler mod_python` still goes to the daemon (NO_SETHANDLER_PARAM says the handler is Apache's own).
_EVERY_REQUEST_PHASES = frozenset(phase.directive for phase in PHASES
                                  if phase.placement not in (Placement.CONTENT, Placement.APACHE_AUTH))
# Server-level phases: valid in a <VirtualHost>, where their SetEnv has the daemon run them for every request.
_SERVER_PHASES = {name.lower(): name for name in ("PythonPostReadRequestHandler", "PythonTransHandler")}
_SERVER_SECTIONS = ("virtualhost",)
# Phases the daemon runs before the content handler whatever the auth mode: mod_dir's trailing-slash redirect must
# come after them (see DIRECTORY_SLASH_PARAM).
_EMULATED_PHASES = frozenset(phase.directive for phase in PHASES if phase.placement is Placement.BEFORE_CONTENT)
_CANONICAL = {name.lower(): name for name in (*_PLAIN_DIRECTIVES, *_FLAG_DIRECTIVES, *_PHASE_DIRECTIVES)}
_HANDLER_DIRECTIVES = frozenset(name.lower() for name in (*_PHASE_DIRECTIVES, HANDLER_MODULE))


def unsupported_reason(name: str) -> Optional[str]:
    """Why a mod_python directive cannot be carried by a block sent to the daemon; None when it can."""
    return _UNSUPPORTED.get(name.lower())


def split_arguments(line: str) -> list[str]:
    """Split one configuration line into words the way Apache does: quotes group, backslash escapes inside quotes."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] in "\"'":
            end_quote, i, word = line[i], i + 1, []
            while i < n and line[i] != end_quote:
                if line[i] == "\\" and i + 1 < n and line[i + 1] in (end_quote, "\\"):
                    i += 1
                word.append(line[i])
                i += 1
            if i >= n:
                raise ValueError(f"unterminated quote in {line!r}")
            words.append("".join(word))
            i += 1
        else:
            start = i
            while i < n and not line[i].isspace():
                i += 1
            words.append(line[start:i])
    return words


@dataclass(frozen=True)
class Context:
    """What Apache knows about a block and never sends a FastCGI backend; the translation passes it as params."""

    directory: Optional[str] = None     # a <Directory>'s path: req.hlist.directory
    location: Optional[str] = None      # a <Location>/<LocationMatch>'s path: where the block is mounted
    server_name: Optional[str] = None   # the virtual host's ServerName: req.server.server_hostname

    def params(self, requires: Sequence[str]) -> list[tuple[str, str]]:
        """(param, value) pairs for this context and the block's Require lines (their arguments as written)."""
        pairs = [(name, value) for name, value in ((DIRECTORY_PARAM, self.directory), (LOCATION_PARAM, self.location),
                                                   (SERVER_NAME_PARAM, self.server_name)) if value]
        return pairs + [(f"{REQUIRE_PREFIX}{index}", line) for index, line in enumerate(requires, 1)]


def mod_python_to_daemon(lines: Iterable[str], backend: Backend, *, container: str = "Location",
                         route: Route = "auto", auth: Optional[Backend] = None,
                         authn: AuthnMode = "check-authn", directory: Optional[str] = None,
                         context: Optional[Context] = None) -> list[str]:
    """Translate the directive lines of one mod_python block into lines that send the block to the daemon.

    Python* directives become `SetEnv` params, merged as mod_python merges them within one section (handler lists
    append, options and flags: last wins). One param carries a phase's handler lists: `PythonHandler h | .py` as
    written, several lists (a plain one, extension lists with different handlers) joined by `;`. `SetHandler mod_python`
    becomes `ProxyPass` (route "proxypass", or "auto" in a `<Location>`) or `SetHandler "proxy:..."`; `AddHandler
    mod_python .ext` becomes `AddHandler "proxy:..." .ext`. A block with PythonAuthenHandler/PythonAuthzHandler runs
    them inside Apache through mod_authnz_fcgi at `auth` (default: `backend` when it is TCP; see
    `authn_lines`/`authz_lines`, and `auth_provider_lines` for the server-level lines) with every param set by
    `SetEnvIfExpr`, plus AuthName/AuthType as params; with `authn="emulate"` (or no TCP address) the daemon runs them
    before the content handler instead; when it authenticates (PythonAuthenHandler), Apache's user-based Require lines
    and AuthType/AuthName go (AuthName and AuthType become params). Every block with mod_python directives gets
    `CGIPassAuth On` (mod_python always sees `Authorization`), and the params of `context` (`directory` is short for
    `Context(directory=...)`) and one per `Require` line (see `Context`). Other lines pass through unchanged. Raises
    UnsupportedDirective for directives a block cannot carry.
    """
    if context is None:
        context = Context(directory=directory)
    return _translate_block(lines, backend, container=container, route=route, auth=auth, authn=authn,
                            context=context)[0]


def _auth_target(backend: Backend, auth: Optional[Backend], authn: AuthnMode) -> Optional[Backend]:
    if authn == "emulate":
        return None
    target = auth if auth is not None else backend
    return None if target.socket is not None else target


# Require forms that need Apache to know the user: emulated auth phases take their place.
_USER_REQUIRES = ("valid-user", "user", "group")
_AUTH_HANDLERS = ("pythonauthenhandler", "pythonauthzhandler")
_AUTH_DIRECTIVES = ("PythonAuthenHandler", "PythonAuthzHandler")


@dataclass(frozen=True)
class _AuthPlan:
    """How one block's PythonAuthenHandler/PythonAuthzHandler are carried (see `mod_python_to_daemon`)."""

    authen: bool
    authz: bool
    target: Optional[Backend]   # mod_authnz_fcgi's address; None: the daemon emulates the phases
    authn: AuthnMode
    requires: tuple[str, ...]   # the block's own Require lines

    @property
    def active(self) -> bool:
        return self.authen or self.authz

    @property
    def emulated_authn(self) -> bool:
        return self.authen and self.target is None

    def drops(self, lowered: str, args: Sequence[str]) -> bool:
        """True for an Apache auth line this plan replaces."""
        if lowered in ("authname", "authtype"):
            return self.emulated_authn  # the daemon authenticates: Apache must not
        if lowered == "authbasicprovider":
            return self.authen
        if lowered == "require" and self.target is not None:
            return self.authz and not self.authen  # carried inside the RequireAll of `lines()`
        return lowered == "require" and self.emulated_authn and bool(args) and args[0].lower() in _USER_REQUIRES

    def lines(self) -> list[str]:
        """The Apache lines that take the place of the block's first auth handler directive."""
        if self.target is None:
            return []
        return authn_lines(self.target, self.authn) if self.authen else authz_lines(self.target, self.requires)


def _translate_block(lines: Iterable[str], backend: Backend, *, container: str, route: Route,
                     auth: Optional[Backend], authn: AuthnMode,
                     context: Context = Context()) -> tuple[list[str], bool]:
    """`mod_python_to_daemon`'s lines, and whether they use mod_authnz_fcgi providers."""
    if route == "proxypass" and container.lower() != "location":
        raise ValueError(f"ProxyPass is only valid in a <Location> block, not <{container}>")
    use_proxypass = route == "proxypass" or (route == "auto" and container.lower() == "location")
    logical = [(raw, split_arguments(raw)) for raw in _logical_lines(lines)]
    names = {words[0].lower() for _, words in logical if words}
    authen, authz = _AUTH_HANDLERS[0] in names, _AUTH_HANDLERS[1] in names
    plan = _AuthPlan(authen, authz, _auth_target(backend, auth, authn) if authen or authz else None, authn,
                     tuple(raw for raw, words in logical if words and words[0].lower() == "require"))
    slots: list[tuple[bool, str]] = []     # (is a key of `params`, text): a key stands for its final SetEnv line
    params: dict[str, dict[str, list[str]]] = {}   # param -> extension ("" for none) -> values
    placed = routed = every_request = False   # every_request: all the block's requests go to the daemon
    for raw, words in logical:
        if not words or words[0].startswith("#"):
            slots.append((False, raw))
            continue
        name, args = words[0], words[1:]
        lowered = name.lower()
        translated = _translate(name, args, server=container.lower() in _SERVER_SECTIONS)
        if plan.active and lowered in ("authname", "authtype") and args:
            # For req.auth_name()/auth_type(): Apache does not send them.
            translated.append((AUTH_PARAMS[0] if lowered == "authname" else AUTH_PARAMS[1], "", [args[0]], True))
        for key, extension, values, replace in translated:
            if key not in params:
                params[key] = {}
                slots.append((True, key))
            groups = params[key]
            groups[extension] = values if replace else groups.get(extension, []) + values
        if not placed and lowered in _AUTH_HANDLERS:
            placed = True
            slots += [(False, line) for line in plan.lines()]
        if lowered in ("sethandler", "addhandler") and args and args[0].lower() in _MOD_PYTHON_HANDLERS:
            routed, every_request = True, every_request or lowered == "sethandler"
            slots.append((False, _route_line(name, args, backend, use_proxypass)))
        elif not plan.drops(lowered, args) and not _is_python_directive(name):
            slots.append((False, raw))
    if not routed and any(key in _EVERY_REQUEST_PHASES for key in params):
        every_request = True
        slots.append((False, _route_line("SetHandler", ["mod_python"], backend, use_proxypass)))
        params[NO_SETHANDLER_PARAM] = {"": ["On"]}
        slots.append((True, NO_SETHANDLER_PARAM))
    emulated = _EMULATED_PHASES | (set(_AUTH_DIRECTIVES) if plan.active and plan.target is None else set())
    if (every_request and not use_proxypass and "directoryslash" not in names
            and any(key in emulated for key in params)):
        # mod_dir would redirect before the daemon runs the block's early phase handlers: the daemon does it after.
        slots += [(False, "DirectorySlash Off"),
                  (False, f'SetEnvIfExpr "-d %{{REQUEST_FILENAME}}" {quote(DIRECTORY_SLASH_PARAM + "=On")}')]
    routes = any(line.startswith(("ProxyPass ", "SetHandler \"proxy:", "AddHandler \"proxy:"))
                 for is_key, line in slots if not is_key)
    if params or routes:
        requires = [raw.split(None, 1)[1] if len(raw.split(None, 1)) == 2 else "" for raw in plan.requires]
        declares_handlers = any(key in _PHASE_DIRECTIVES or key == HANDLER_MODULE for key in params)
        for key, value in context.params(requires):
            # mod_python's req.hlist.directory is the section that declared the handler, and a <Location> is
            # mounted where it routes to mod_python: a block that does neither (options only) leaves the enclosing
            # block's values in place.
            if key == DIRECTORY_PARAM and not declares_handlers or key == LOCATION_PARAM and not (
                    declares_handlers or routes):
                continue
            if key not in params:
                params[key] = {"": [value]}
                slots.append((True, key))
    if (params or plan.emulated_authn) and "cgipassauth" not in names:
        # mod_python sees Authorization whatever the auth configuration; a FastCGI backend only with this.
        # CGIPassAuth is a directory-level directive: a server section carries it in a <Location "/"> of its own.
        slots += ([(False, line) for line in ('<Location "/">', "    CGIPassAuth On", "</Location>")]
                  if container.lower() in _SERVER_SECTIONS else [(False, "CGIPassAuth On")])
    setter = setenvif_line if plan.target is not None else _setenv
    converted = [setter(text, _param_value(text, params[text])) if is_key else text for is_key, text in slots]
    return converted, plan.target is not None


def mod_python_block_to_daemon(block: str, backend: Backend, *, route: Route = "auto", auth: Optional[Backend] = None,
                               authn: AuthnMode = "check-authn", define_providers: bool = True,
                               server_name: Optional[str] = None) -> str:
    """`mod_python_to_daemon` for a whole section (`<Location "/x"> ... </Location>`), nested sections included;
    when a section's auth phases go through mod_authnz_fcgi, the server-level `AuthnzFcgiDefineProvider` lines
    come first (`define_providers=False` leaves them to the caller's server configuration). `server_name` is the
    ServerName of the virtual host the section belongs to, passed on as a param (Apache sends the Host's name)."""
    text, uses_auth = _convert_block(block, backend, route, auth, authn, Context(server_name=server_name))
    if uses_auth and define_providers:
        target = _auth_target(backend, auth, authn)
        assert target is not None
        text = "\n".join([*auth_provider_lines(target), text])
    return text


def section_context(head: str, outer: Context = Context()) -> Context:
    """The context of a section from its opening line (`<Location "/x">`): a `<Directory>`'s or `<Location>`'s path
    (regex forms keep their pattern); a `<Files>`/`<FilesMatch>` keeps the enclosing section's (inside a
    `<Directory>`, mod_python's req.hlist.directory is that directory: upstream's test_files_directive); a section of
    another kind has neither. The ServerName is the enclosing one."""
    words = split_arguments(head.strip()[1:-1])
    kind, args = words[0].lower(), [word for word in words[1:] if word != "~"]
    own = Context(server_name=outer.server_name)
    if len(args) == 1 and kind in ("directory", "directorymatch"):
        return replace(own, directory=args[0])
    if len(args) == 1 and kind in ("location", "locationmatch"):
        return replace(own, location=args[0])
    if kind in ("files", "filesmatch"):
        return replace(own, directory=outer.directory, location=outer.location)
    return own


def _convert_block(block: str, backend: Backend, route: Route, auth: Optional[Backend],
                   authn: AuthnMode, outer: Context = Context()) -> tuple[str, bool]:
    lines = block.strip().splitlines()
    head, tail = lines[0].strip(), lines[-1].strip()
    if not (head.startswith("<") and head.endswith(">") and tail.startswith("</")):
        raise ValueError("expected one configuration section, from <Kind ...> to </Kind>")
    kind = split_arguments(head[1:-1])[0]
    body, uses_auth = _convert_body(lines[1:-1], kind, backend, route, auth, authn, section_context(head, outer))
    return "\n".join([head, *body, tail]), uses_auth


def _convert_body(lines: Sequence[str], kind: str, backend: Backend, route: Route, auth: Optional[Backend],
                  authn: AuthnMode, context: Context) -> tuple[list[str], bool]:
    """Convert a section body. Its own lines merge as one scope even when nested sections sit between them; each nested
    section is converted on its own, as mod_python merges per section."""
    flat: list[str] = []
    nested: list[list[str]] = []
    depth = 0
    for line in lines:
        text = line.strip()
        opens = text.startswith("<") and not text.startswith("</")
        if depth == 0 and opens:
            flat.append(f"\0section {len(nested)}")
            nested.append([])
        if depth > 0 or opens:
            nested[-1].append(text)
        else:
            flat.append(line)
        depth += 1 if opens else -1 if text.startswith("</") else 0
        if depth < 0:
            raise ValueError(f"unbalanced nested section in <{kind}>")
    if depth != 0:
        raise ValueError(f"unbalanced nested section in <{kind}>")
    if kind.lower() == "virtualhost":
        # The virtual host's own ServerName names the server for every section inside it.
        context = replace(context, server_name=_server_name(flat) or context.server_name)
    out: list[str] = []
    converted, uses_auth = _translate_block(flat, backend, container=kind, route=route, auth=auth, authn=authn,
                                            context=context)
    for line in converted:
        if line.startswith("\0section "):
            inner, inner_auth = _convert_block("\n".join(nested[int(line.split()[1])]), backend, route, auth, authn,
                                               context)
            uses_auth = uses_auth or inner_auth
            out += ["    " + x for x in inner.splitlines()]
        else:
            out.append("    " + line)
    return out, uses_auth


def _server_name(lines: Iterable[str]) -> Optional[str]:
    """The host of a `ServerName [scheme://]host[:port]` line among `lines`, as Apache keeps it for the server."""
    for line in lines:
        words = split_arguments(line.strip()) if not line.startswith("\0") else []
        if len(words) >= 2 and words[0].lower() == "servername":
            return server_host(words[1])
    return None


def server_host(value: str) -> str:
    """The host of a `ServerName` value `[scheme://]host[:port]`, as Apache keeps it for the server."""
    host = value.split("://", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"  # an IPv6 literal keeps its brackets
    return host.split(":", 1)[0]


def _logical_lines(lines: Iterable[str]) -> list[str]:
    """Strip lines and join trailing-backslash continuations, as Apache's config reader does."""
    result: list[str] = []
    pending = ""
    for line in lines:
        text = line.strip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        if text:
            result.append(text)
    if pending:
        result.append(pending.strip())
    return result


def _is_python_directive(name: str) -> bool:
    return name.lower() in _CANONICAL or name.lower() == "pythonoption" or name.lower() in _UNSUPPORTED


def _translate(name: str, args: list[str], *, server: bool = False) -> list[tuple[str, str, list[str], bool]]:
    """(param name, extension, values, replace?) for one mod_python directive; [] for any other directive. In a
    server section (`server`), the server-level phases are allowed and every non-handler directive is passed a second
    time under SERVER_SCOPE_PREFIX, for req.server's own tables."""
    lowered = name.lower()
    if server and lowered in _SERVER_PHASES:
        return _handler_params(_SERVER_PHASES[lowered], args)
    if lowered in _UNSUPPORTED:
        raise UnsupportedDirective(f"{name} {_UNSUPPORTED[lowered]}")
    found = _translate_directive(name, lowered, args)
    if server and found and lowered not in _HANDLER_DIRECTIVES:
        found += [(SERVER_SCOPE_PREFIX + key, ext, values, replace) for key, ext, values, replace in found]
    return found


def _translate_directive(name: str, lowered: str, args: list[str]) -> list[tuple[str, str, list[str], bool]]:
    if lowered == "pythonoption":
        if len(args) not in (1, 2):
            raise ValueError(f"PythonOption takes a key and an optional value: {args!r}")
        # A missing value stores "" and mod_python's get_options() drops the key, so "" carries the same meaning.
        return [("PythonOption." + args[0], "", [args[1] if len(args) == 2 else ""], True)]
    canonical = _CANONICAL.get(lowered)
    if canonical is None:
        return []
    if canonical in _FLAG_DIRECTIVES:
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            raise ValueError(f"{canonical} takes On or Off: {args!r}")
        return [(canonical, "", [args[0].capitalize()], True)]
    if canonical in _PLAIN_DIRECTIVES:
        if len(args) != 1:
            raise ValueError(f"{canonical} takes one argument: {args!r}")
        return [(canonical, "", args, True)]
    return _handler_params(canonical, args)


def _handler_params(directive: str, args: list[str]) -> list[tuple[str, str, list[str], bool]]:
    """`PythonHandler a b | .py .psp` -> the handlers once per extension, or once with no extension."""
    if "|" in args:
        bar = args.index("|")
        handlers, extensions = args[:bar], args[bar + 1:]
        if not extensions or not all(ext.startswith(".") for ext in extensions):
            raise ValueError(f"{directive}: '|' must be followed by extensions such as .py: {args!r}")
    else:
        handlers, extensions = args, []
    if not handlers:
        raise ValueError(f"{directive} needs at least one handler")
    return [(directive, ext, handlers, False) for ext in extensions or [""]]


def _param_value(key: str, groups: dict[str, list[str]]) -> str:
    """One param's value: its values, or for handler lists with extensions one `handlers | .ext ...` line per
    distinct list (extensions sharing a list stay on one line), joined by the dispatch layer's LIST_SEPARATOR."""
    if list(groups) == [""]:
        return " ".join(groups[""])
    lines: dict[tuple[str, ...], list[str]] = {}
    for extension, handlers in groups.items():
        lines.setdefault(tuple(handlers), []).append(extension)
    return f"{LIST_SEPARATOR} ".join(" ".join([*handlers, "|", *extensions]) if any(extensions) else " ".join(handlers)
                                     for handlers, extensions in lines.items())


def _route_line(name: str, args: list[str], backend: Backend, use_proxypass: bool) -> str:
    if name.lower() == "addhandler":
        return " ".join(["AddHandler", quote(backend.handler_name()), *args[1:]])
    if use_proxypass:
        return f"ProxyPass {quote(backend.worker_url())}"
    return f"SetHandler {quote(backend.handler_name())}"


def _setenv(key: str, value: str) -> str:
    return f"SetEnv {env_name(key)} {quote(value)}"
